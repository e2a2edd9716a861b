import TriplineState

/// What to do with an input file that a checkpoint says was read before.
public enum SourceResumption: Sendable, Equatable {
    /// Read it from the start.
    case read
    /// Skip it: every item was handled.
    case skip
    /// Skip its first `afterItems` items, then read on.
    case resume(afterItems: Int)
    /// Read it from the start: the checkpoint is of other content than the file holds now (replaced,
    /// rewritten, truncated). `reason` says how it differs, for the log.
    case replaced(reason: String)

    /// The decision for a file of `size` bytes now, given its checkpoint `saved`.
    ///
    /// The checkpoint applies only while the file's first `saved.size` bytes still have the fingerprint
    /// it recorded (`fingerprint(extent)` computes the file's): then the same size means already read
    /// (whatever the modification time: touched or copied again), a larger one means appended to.
    /// Otherwise the path holds new content. A checkpoint from before fingerprints (empty) is judged
    /// by size and modification time, as it was written to be.
    public static func judging(_ saved: Checkpoint, size: Int64, modificationTime: Double,
                               fingerprint: (_ extent: Int64) -> FileFingerprint?) -> SourceResumption {
        guard !saved.fingerprint.isEmpty else {
            if size == saved.size && modificationTime == saved.modificationTime { return saved.complete ? .skip : .resume(afterItems: saved.items) }
            return size > saved.size ? .resume(afterItems: saved.items) : .read
        }
        guard size >= saved.size else {
            return .replaced(reason: "it is \(size) bytes long, shorter than the \(saved.size) bytes read before")
        }
        guard fingerprint(saved.size)?.hex == saved.fingerprint else {
            return .replaced(reason: "its first \(saved.size) bytes differ from the ones read before")
        }
        if size == saved.size && saved.complete { return .skip }
        return saved.items > 0 ? .resume(afterItems: saved.items) : .read
    }
}
