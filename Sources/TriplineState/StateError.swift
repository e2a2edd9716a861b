import CSQLite

/// Why the state directory or its database could not be used.
///
/// Each case reads as a complete sentence naming the file, so a user can act on it without the source.
public enum StateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A SQLite call failed: the file, what was being done, SQLite's result code and message.
    case sqlite(path: String, operation: String, code: Int32, message: String)
    /// The state directory cannot be created or written.
    case unusableDirectory(path: String, reason: String)
    /// Another process holds the state directory's lock.
    case locked(path: String, holder: String?)
    /// The database was written by a newer Tripline (its schema version is higher than ours).
    case newerSchema(path: String, found: Int, supported: Int)
    /// A stored row could not be read back (a damaged or hand-edited database).
    case damagedRow(path: String, table: String, detail: String)

    public var description: String {
        switch self {
        case .sqlite(let path, let operation, let code, let message):
            let primary = code & 0xFF
            var text = "state database \(path): \(operation) failed: \(message) (SQLite code \(code))"
            switch primary {
            case SQLITE_FULL:
                text += "; the disk is full: free some space; nothing accepted so far was lost"
            case SQLITE_CORRUPT, SQLITE_NOTADB:
                text += "; the database is damaged: move it aside (it can be inspected with the sqlite3 CLI) and start again"
            case SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM:
                text += "; check that the state directory is writable"
            case SQLITE_BUSY, SQLITE_LOCKED:
                text += "; another process is using the database"
            case SQLITE_IOERR:
                text += "; an I/O error (disk full or failing?)"
            default:
                break
            }
            return text
        case .unusableDirectory(let path, let reason):
            return "state directory \(path) cannot be used: \(reason)"
        case .locked(let path, let holder):
            return "state directory \(path) is in use by another tripline process\(holder.map { " (\($0))" } ?? ""); "
                + "run one tripline per state directory, or give this one its own with --state-dir"
        case .newerSchema(let path, let found, let supported):
            return "state database \(path) has schema version \(found), newer than this tripline understands (\(supported)); use a newer tripline"
        case .damagedRow(let path, let table, let detail):
            return "state database \(path): a row of \(table) cannot be read: \(detail)"
        }
    }

    /// True when the error is the disk (or its quota) being full.
    public var isDiskFull: Bool {
        if case .sqlite(_, _, let code, _) = self { return code & 0xFF == SQLITE_FULL }
        return false
    }
}
