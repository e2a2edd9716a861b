#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Inputs found incomplete at their end, held back from the log while they may still be being written.
///
/// Without a grace period every ``InputError/incomplete(origin:reason:)`` is reported at once. With
/// one (`--follow`), a file's is reported only once the file has been quiet that long (neither read
/// again nor modified) or when the run ends, and is forgotten when the file is read to its end, so
/// a file written in several appends does not fill the log with errors about its unfinished tail.
/// Standard input cannot grow after its end: reported at once.
struct IncompleteInputs {
    /// Seconds a file must stay quiet before its incomplete end is reported; nil: report at once.
    let grace: Double?
    private var waiting: [(error: InputError, since: Double)] = []
    /// Files whose incomplete end was reported after the grace period and not completed since.
    private var reported: Set<String> = []

    init(grace: Double?) {
        self.grace = grace
    }

    /// Whether reports are waiting.
    var isEmpty: Bool { waiting.isEmpty }

    /// Takes a newly found incomplete end, found at `now` (seconds since 1970); returns it when it is to be reported now.
    mutating func found(_ error: InputError, now: Double) -> InputError? {
        guard grace != nil, error.path != EventOrigin.standardInputName else { return error }
        waiting.removeAll { $0.error.path == error.path }
        waiting.append((error, now))
        return nil
    }

    /// `path` was read to its end: its earlier incomplete end was completed (or replaced). Returns
    /// true when that end had already been reported (after the grace period): the report no
    /// longer holds, and the caller takes it back.
    mutating func resolved(path: String) -> Bool {
        waiting.removeAll { $0.error.path == path }
        return reported.remove(path) != nil
    }

    /// The reports whose files have been quiet for the grace period at `now`, in the order found.
    mutating func due(now: Double) -> [InputError] {
        guard let grace, !waiting.isEmpty else { return [] }
        var due: [InputError] = []
        waiting.removeAll { entry in
            let quietSince = max(entry.since, Self.modificationTime(entry.error.path) ?? 0)
            guard now - quietSince >= grace else { return false }
            due.append(entry.error)
            reported.insert(entry.error.path)
            return true
        }
        return due
    }

    /// Every report still waiting (the run ends), in the order found.
    mutating func takeAll() -> [InputError] {
        defer { waiting.removeAll() }
        return waiting.map(\.error)
    }

    private static func modificationTime(_ path: String) -> Double? {
        var info = stat()
        guard PathText.withCString(path, { stat($0, &info) }) == 0 else { return nil }
        return Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1_000_000_000
    }
}
