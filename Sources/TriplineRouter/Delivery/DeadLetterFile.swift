#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import TriplineJSON
import TriplineState

/// Why a dead letter could not be appended to its target's dead-letter file (the letter is still in
/// the state database).
public enum DeadLetterFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened (or created) for appending: the path and the system's reason.
    case cannotOpen(path: String, reason: String)
    /// Writing the line failed (a full disk, a file-size limit, `/dev/full`): the path and the reason.
    case cannotWrite(path: String, reason: String)

    /// The file the letter was for.
    public var path: String {
        switch self {
        case .cannotOpen(let path, _), .cannotWrite(let path, _): return path
        }
    }

    /// The system's reason (`strerror` text).
    public var reason: String {
        switch self {
        case .cannotOpen(_, let reason), .cannotWrite(_, let reason): return reason
        }
    }

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): return "cannot open dead-letter file \(path) to append to it: \(reason)"
        case .cannotWrite(let path, let reason): return "cannot append to dead-letter file \(path): \(reason)"
        }
    }
}

/// A target's dead-letter file: one JSON object per dead letter, appended (NDJSON).
///
/// The state database is the record `tripline dlq` works on; the file is the same letter in a form
/// any tool can read, kept as an append-only log (redrive and purge do not rewrite it).
public enum DeadLetterFile {
    /// The default file of a target inside the state directory: `dead-letters/<rule>.<target>.ndjson`.
    public static func defaultPath(stateDirectory: String, rule: String, target: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("dead-letters/\(rule).\(target).ndjson")
    }

    /// Appends `letter` as one line, creating the file and its directories as needed. On failure the
    /// letter is still in the database; a line cut short by a failed write is cut off again, so the
    /// next letter starts a line of its own.
    public static func append(_ letter: DeadLetter, to path: String) throws(DeadLetterFileError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var status = stat()
        let start: off_t? = fstat(fd, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG ? status.st_size : nil
        var line = JSONWriter.bytes(letter.json)
        line.append(0x0A)
        let failure = AppendFiles.writeAll(line, to: fd)
        guard let failure else { return }
        if let start { _ = ftruncate(fd, start) }
        throw .cannotWrite(path: path, reason: String(cString: strerror(failure)))
    }

    /// Why dead letters could not be appended at `path`, as far as can be told without writing: it is
    /// a directory, or the file or the directory that would hold it is not writable (read-only file
    /// system, permissions). Nil when it looks writable. A full disk shows only when a letter is written.
    public static func problem(path: String) -> String? {
        var status = stat()
        if stat(path, &status) == 0 {
            if (status.st_mode & S_IFMT) == S_IFDIR { return "it is a directory" }
            if access(path, W_OK) != 0 { return "it is not writable (\(String(cString: strerror(errno))))" }
            return nil
        }
        // The file is created when the first letter comes, with the directories above it: the nearest
        // one that exists must let us do that.
        var ancestor = (path as NSString).deletingLastPathComponent
        if ancestor.isEmpty { ancestor = "." }
        while stat(ancestor, &status) != 0 {
            let parent = (ancestor as NSString).deletingLastPathComponent
            if parent.isEmpty || parent == ancestor { return nil }
            ancestor = parent
        }
        if (status.st_mode & S_IFMT) != S_IFDIR { return "\(ancestor) is not a directory" }
        if access(ancestor, W_OK | X_OK) != 0 {
            return "its directory \(ancestor) is not writable (\(String(cString: strerror(errno))))"
        }
        return nil
    }
}
