/// A failure while reading an input file (plain or gzip-compressed) or splitting it into lines.
///
/// Every case names the file so a message is actionable on its own when many files are ingested;
/// `description` is a single line of the form `path: what went wrong`.
public enum IngestionError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file could not be opened (or is not a regular file); `reason` is the system's explanation.
    case cannotOpen(path: String, reason: String)
    /// A read from an open file failed at compressed-byte `offset`; `reason` is the system's explanation.
    case readFailed(path: String, offset: Int64, reason: String)
    /// The gzip stream is invalid; `offset` is the position in the file where zlib gave up.
    case corruptCompressedData(path: String, offset: Int64, detail: String)
    /// The file ends in the middle of a gzip member.
    case truncated(path: String)
    /// The decompressor could not be set up or ran out of memory.
    case decompressorFailed(path: String, detail: String)
    /// The decompressed content exceeds `limit` bytes.
    case tooLarge(path: String, limit: Int)
    /// Line `line` (1-based) is longer than `limit` bytes; it was skipped.
    case lineTooLong(path: String, line: Int, limit: Int)

    /// The file the error is about.
    public var path: String {
        switch self {
        case .cannotOpen(let path, _), .readFailed(let path, _, _),
             .corruptCompressedData(let path, _, _), .truncated(let path),
             .decompressorFailed(let path, _), .tooLarge(let path, _),
             .lineTooLong(let path, _, _):
            return path
        }
    }

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            return "\(path): cannot open: \(reason)"
        case .readFailed(let path, let offset, let reason):
            return "\(path): read failed at byte \(offset): \(reason)"
        case .corruptCompressedData(let path, let offset, let detail):
            return "\(path): corrupt gzip data at byte \(offset): \(detail)"
        case .truncated(let path):
            return "\(path): truncated gzip data (file ends inside a compressed stream)"
        case .decompressorFailed(let path, let detail):
            return "\(path): gzip decompressor failed: \(detail)"
        case .tooLarge(let path, let limit):
            return "\(path): decompressed content exceeds the limit of \(limit) bytes"
        case .lineTooLong(let path, let line, let limit):
            return "\(path): line \(line) is longer than \(limit) bytes; skipped"
        }
    }
}
