#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One input source opened once: its readers read duplicates of this descriptor, and checkpoints take
/// the file's size, time, fingerprint and how far it was read from the same open file.
///
/// Reading and checkpointing one open file (not the path twice) keeps a checkpoint true to the bytes
/// actually read even when the path is replaced (`mv`, `cp`) while it is read. Standard input is
/// wrapped too; its descriptor is borrowed and never closed. Only regular files named by a path are
/// checkpointed (``isCheckpointable``): pipes and devices cannot be read again. Not thread-safe.
public final class SourceFile {
    /// What a checkpoint records about the file besides its fingerprint.
    public struct Status: Sendable, Equatable {
        /// The file's size now, in bytes as stored (compressed for gzip).
        public var size: Int64
        /// Its modification time, in seconds since 1970.
        public var modificationTime: Double
    }

    /// Where the bytes come from.
    public let source: InputSource
    /// The path (or `stdin`), as every message names it.
    public var path: String { source.description }
    /// Whether this is a regular file: it can be read again from its start, sampled, checkpointed.
    public let isRegularFile: Bool
    /// Whether checkpoints apply: a regular file named by a path.
    public var isCheckpointable: Bool {
        if case .file = source { return isRegularFile }
        return false
    }

    /// The device (`st_dev`) of the directory the path is in, as the file was opened; 0 for standard
    /// input or when it cannot be found. Kept in the checkpoint: a later check that the file is gone
    /// trusts its directory only while it is on this device (not an unmounted, empty mount point).
    public let directoryDevice: UInt64

    let descriptor: Int32
    private let owned: Bool
    /// Where reading starts: 0 for a file opened here, the inherited offset for standard input.
    private let startOffset: Int64
    /// The raw bytes the readers took, as a fingerprint samples them: the first ones from where
    /// reading starts, and the last ones before `readEnd` (offsets relative to `startOffset`).
    /// A checkpoint's fingerprint comes from these, so it describes what was parsed even when the
    /// file is rewritten in place (`cp` over it) while it is read.
    private var readHead: [UInt8] = []
    private var readTail: [UInt8] = []
    private var readEnd: Int64 = 0

    /// Opens `source`: a file by its path, or standard input (`standardInput`, borrowed).
    public init(_ source: InputSource, standardInput: Int32 = STDIN_FILENO) throws(IngestionError) {
        self.source = source
        let fd: Int32
        switch source {
        case .file(let path):
            fd = PathText.withCString(path) { open($0, O_RDONLY | O_CLOEXEC) }
            guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
            owned = true
        case .standardInput:
            fd = standardInput
            owned = false
        }
        descriptor = fd
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            if owned { _ = close(fd) }
            throw .cannotOpen(path: source.description, reason: reason)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            if owned { _ = close(fd) }
            throw .cannotOpen(path: source.description, reason: "is a directory")
        }
        isRegularFile = (info.st_mode & S_IFMT) == S_IFREG
        if case .file(let path) = source { directoryDevice = CheckpointPruner.device(ofDirectory: CheckpointPruner.directory(of: path)) ?? 0 } else { directoryDevice = 0 }
        startOffset = isRegularFile ? max(0, Int64(lseek(fd, 0, SEEK_CUR))) : 0
    }

    deinit {
        if owned { _ = close(descriptor) }
    }

    /// The file's size and modification time now (`fstat`); nil if that fails.
    public func status() -> Status? {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        return Status(size: Int64(info.st_size),
                      modificationTime: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1_000_000_000)
    }

    /// How many bytes the readers have taken from the file so far (the shared file offset); for a
    /// regular file only, else 0.
    public var bytesRead: Int64 {
        guard isRegularFile else { return 0 }
        return max(0, Int64(lseek(descriptor, 0, SEEK_CUR)) - startOffset)
    }

    /// The fingerprint of the file's first `extent` bytes (from where reading starts): of the bytes
    /// the readers took when `extent` is how far they read, else of what the file holds now; nil for
    /// a file that is not regular or is shorter than that now.
    public func fingerprint(extent: Int64) -> FileFingerprint? {
        guard isRegularFile, startOffset == 0 else { return nil }
        if extent == readEnd, let read = FileFingerprint.of(extent: extent, head: readHead, tail: readTail) { return read }
        return FileFingerprint.of(descriptor: descriptor, extent: extent)
    }

    /// Samples one raw read at absolute `offset`.
    private func recordRead(offset: Int64, bytes: UnsafeBufferPointer<UInt8>) {
        let sample = FileFingerprint.sampleBytes
        let start = offset - startOffset
        guard start >= 0 else { return }
        if start < Int64(sample), start <= Int64(readHead.count) {
            // Sequential, or read again from an earlier point (a rewind): what was read last counts.
            readHead.removeSubrange(Int(start)...)
            readHead.append(contentsOf: bytes.prefix(sample - Int(start)))
        }
        if start != readEnd { readTail.removeAll(keepingCapacity: true) }
        readTail.append(contentsOf: bytes.suffix(sample))
        if readTail.count > sample { readTail.removeFirst(readTail.count - sample) }
        readEnd = start + Int64(bytes.count)
    }

    /// A reader of the content (`rewind` moves a regular file back to where reading started first;
    /// without it, reading goes on from the shared offset). For a pipe or terminal, `beforeWaiting`
    /// runs before each read that would block.
    func reader(rewind: Bool = false, chunkSize: Int = CompressedFileReader.defaultChunkSize,
                beforeWaiting: (() -> Void)? = nil) throws(IngestionError) -> CompressedFileReader {
        if rewind, isRegularFile, lseek(descriptor, off_t(startOffset), SEEK_SET) < 0 {
            throw .readFailed(path: path, offset: 0, reason: "cannot go back to the start: " + String(cString: strerror(errno)))
        }
        let copy = dup(descriptor)
        guard copy >= 0 else { throw .cannotOpen(path: path, reason: "dup: " + String(cString: strerror(errno))) }
        _ = fcntl(copy, F_SETFD, FD_CLOEXEC)
        return try CompressedFileReader(descriptor: copy, path: path, chunkSize: chunkSize, beforeWaiting: beforeWaiting,
                                        onRead: isCheckpointable ? { [weak self] in self?.recordRead(offset: $0, bytes: $1) } : nil)
    }
}
