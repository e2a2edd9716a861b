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

/// A target's dead-letter file: one JSON object per dead letter, appended (NDJSON).
///
/// The state database is the record `tripline dlq` works on; the file is the same letter in a form
/// any tool can read, kept as an append-only log (redrive and purge do not rewrite it).
public enum DeadLetterFile {
    /// The default file of a target inside the state directory: `dead-letters/<rule>.<target>.ndjson`.
    public static func defaultPath(stateDirectory: String, rule: String, target: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("dead-letters/\(rule).\(target).ndjson")
    }

    /// Appends `letter` as one line; returns false when the file cannot be written (the letter is
    /// still in the database).
    @discardableResult
    public static func append(_ letter: DeadLetter, to path: String) -> Bool {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var line = JSONWriter.bytes(letter.json)
        line.append(0x0A)
        return line.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
    }
}
