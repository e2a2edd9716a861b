/// Where one event came from: a file (or standard input) and its position in it.
///
/// Every diagnostic about an event names its origin, so a bad record among thousands of files can be
/// found again: `logs/x.json.gz Records[12]` (0-based index in the `Records` array, as a JSON path),
/// `events.ndjson:34` (1-based line), or just the path for a file holding a single JSON document.
public struct EventOrigin: Sendable, Hashable, CustomStringConvertible {
    /// The position inside the source.
    public enum Position: Sendable, Hashable {
        /// Element `index` (0-based) of a CloudTrail log file's top-level `Records` array.
        case record(Int)
        /// Line `number` (1-based) of an NDJSON input.
        case line(Int)
        /// The whole source is one JSON document.
        case document
    }

    /// The file path as given or found, or `stdin`.
    public var source: String
    public var position: Position

    public init(source: String, position: Position) {
        self.source = source
        self.position = position
    }

    /// The name used for standard input.
    public static let standardInputName = "stdin"

    public var description: String {
        switch position {
        case .record(let index): return "\(source) Records[\(index)]"
        case .line(let number): return "\(source):\(number)"
        case .document: return source
        }
    }
}

/// Why an input, or one event in it, could not be read.
///
/// Errors that end a file (`file`, `malformedLog`, `incomplete`) name the file and, where known, the
/// record reached; errors about one event (`eventTooLarge`, `invalidEvent`) carry its ``EventOrigin`` and
/// the run continues with the next event. `description` is one line: `origin: what went wrong`.
public enum InputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Opening, reading or decompressing the file failed; the rest of the file is skipped (said
    /// only when some of it was read).
    case file(IngestionError)
    /// A CloudTrail log file is not well-formed around `offset` (decompressed bytes); records before the
    /// damage were read, the rest of the file is skipped. `record` is the index being read, if any.
    case malformedLog(path: String, offset: Int64, record: Int?, detail: String)
    /// The event is larger than `limit` bytes (EventBridge's event size limit); it was skipped unread.
    case eventTooLarge(origin: EventOrigin, limit: Int)
    /// The event is not valid JSON or not an event Tripline understands; it was skipped.
    case invalidEvent(origin: EventOrigin, detail: String)
    /// A path named on the command line does not exist or is not a file, directory or `-`.
    case notFound(path: String, reason: String)
    /// The input ends inside the item at `origin` (a last line without a newline that is not JSON yet,
    /// a file ending inside its `Records` array, a gzip stream ending early): a file still being
    /// written, or cut short. It is not counted as read, so it is read again from here when the file grows.
    case incomplete(origin: EventOrigin, reason: String)
    /// The input at `origin` is a CloudTrail digest file (``CloudTrailNormalizer/isDigest(_:)``): it
    /// holds no events, so it is skipped. Not an error: reported as a note, not counted as a bad record.
    case cloudTrailDigest(origin: EventOrigin)
    /// A directory entry with an input's name that is not a regular file (`kind`: a FIFO, a socket,
    /// a device): not read, as it may never end. Not an error: reported as a note.
    case notARegularFile(path: String, kind: String)
    /// The folder `--follow` watches went away, came back, was replaced, or changed faster than its
    /// notifications could be queued (``FollowedFolderChange``).
    /// Not an error: reported as a note.
    case followedFolder(path: String, change: FollowedFolderChange)

    /// The file the error is about (`stdin` for standard input).
    public var path: String {
        switch self {
        case .file(let error): return error.path
        case .malformedLog(let path, _, _, _), .notFound(let path, _), .notARegularFile(let path, _),
             .followedFolder(let path, _):
            return path
        case .eventTooLarge(let origin, _), .invalidEvent(let origin, _), .incomplete(let origin, _), .cloudTrailDigest(let origin):
            return origin.source
        }
    }

    /// The event (or, for `incomplete`, the unfinished item) the error is about.
    public var origin: EventOrigin? {
        switch self {
        case .eventTooLarge(let origin, _), .invalidEvent(let origin, _), .incomplete(let origin, _), .cloudTrailDigest(let origin):
            return origin
        case .file, .malformedLog, .notFound, .notARegularFile, .followedFolder: return nil
        }
    }

    /// Whether reading of the file stopped here (otherwise only one event was skipped).
    public var endsFile: Bool {
        switch self {
        case .eventTooLarge, .invalidEvent, .cloudTrailDigest, .followedFolder: return false
        case .file, .malformedLog, .notFound, .incomplete, .notARegularFile: return true
        }
    }

    /// ``description`` for a reader that keeps no checkpoints (`tripline normalize`): there, an
    /// incomplete end is only skipped, never read again.
    public var descriptionWithoutCheckpoints: String {
        guard case .incomplete(let origin, let reason) = self else { return description }
        return "\(origin): incomplete at end of \(origin.source == EventOrigin.standardInputName ? "input" : "file") (\(reason)); skipped"
    }

    /// Whether this counts as a problem with the input (a bad record, an unreadable file); false for
    /// an input that only holds no events (``cloudTrailDigest(origin:)``) or is not read
    /// (``notARegularFile(path:kind:)``), which is noted and skipped, and for a note about the followed
    /// folder (``followedFolder(path:change:)``).
    public var isError: Bool {
        switch self {
        case .cloudTrailDigest, .notARegularFile, .followedFolder: return false
        default: return true
        }
    }

    /// Whether this is the unfinished end of an input (``incomplete(origin:reason:)``).
    public var isIncomplete: Bool {
        if case .incomplete = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .file(.cannotOpen(let path, let reason)):
            // Nothing was read: there is no "rest" to skip.
            return IngestionError.cannotOpen(path: path, reason: reason).description
        case .file(let error):
            return error.description + "; the rest of the file is skipped"
        case .malformedLog(let path, let offset, let record, let detail):
            let place = record.map { " in Records[\($0)]" } ?? ""
            return "\(path): malformed CloudTrail log at byte \(offset)\(place): \(detail); the rest of the file is skipped"
        case .eventTooLarge(let origin, let limit):
            return "\(origin): event is larger than \(limit) bytes; skipped"
        case .invalidEvent(let origin, let detail):
            return "\(origin): \(detail); skipped"
        case .notFound(let path, let reason):
            return "\(path): \(reason)"
        case .notARegularFile(let path, let kind):
            return "\(path): \(kind), not a regular file; skipped (name it on the command line to read it)"
        case .followedFolder(let path, .gone):
            return "tripline run: the followed folder \(path) was moved or deleted; waiting for it to reappear"
        case .followedFolder(let path, .reappeared):
            return "tripline run: the followed folder \(path) is there again; following it and reading its files"
        case .followedFolder(let path, .eventsLost):
            return "tripline run: more changed at once in the followed folder \(path) than inotify could queue "
                + "(fs.inotify.max_queued_events); rescanned it: files renamed meanwhile are read again under their new names "
                + "(their events are duplicates, skipped within --dedupe-window)"
        case .followedFolder(let path, .replaced):
            return "tripline run: the followed folder \(path) was replaced by another folder; following that one and reading its files"
        case .cloudTrailDigest(let origin) where origin.position == .document:
            // A digest file given whole (one JSON object, on one line or several): name the file.
            return "\(origin.source) is a CloudTrail digest file (no events); skipped"
        case .cloudTrailDigest(let origin):
            return "\(origin) is a CloudTrail digest (no events); skipped"
        case .incomplete(let origin, let reason) where origin.source == EventOrigin.standardInputName:
            return "\(origin): incomplete at end of input (\(reason)); skipped"
        case .incomplete(let origin, let reason):
            return "\(origin): incomplete at end of file (\(reason)); it is read again from here if the file grows"
        }
    }
}

/// What happened to the folder `--follow` watches (``InputError/followedFolder(path:change:)``).
///
/// The watch is on the directory the path named when it was set up; once the path names another
/// directory (or none), the old one's files are no longer followed, and a directory at the path is
/// watched afresh and its files read (those read before are skipped by their checkpoints).
public enum FollowedFolderChange: Sendable, Equatable {
    /// Nothing (or no directory) is at the path any more: moved away, deleted, or a parent renamed.
    case gone
    /// A directory is at the path again after it was gone.
    case reappeared
    /// Another directory took the path's place before it was seen gone (`rm -r` and `mkdir` in quick
    /// succession, a symbolic link pointed elsewhere, a file system mounted over it).
    case replaced
    /// The kernel dropped change notifications (its queue overflowed): the folder was listed afresh,
    /// and renames in the lost notifications cannot be told from new files.
    case eventsLost
}
