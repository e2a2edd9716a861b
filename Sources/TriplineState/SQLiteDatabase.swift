import CSQLite

/// `SQLITE_TRANSIENT`: tells SQLite to copy bound text and blobs (the C macro does not import).
private let transientDestructor = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection, used by one thread at a time (callers serialise access).
///
/// A thin layer: prepared statements with typed binds and columns, transactions, and errors that name
/// the database file, the statement and SQLite's own message. The C handle never escapes.
public final class SQLiteDatabase: @unchecked Sendable {
    /// The database file.
    public let path: String
    private var handle: OpaquePointer?

    /// Opens (creating when `create`) the database at `path`.
    public init(path: String, create: Bool = true, readOnly: Bool = false) throws(StateError) {
        self.path = path
        var flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        flags |= SQLITE_OPEN_NOMUTEX
        var db: OpaquePointer?
        let code = sqlite3_open_v2(path, &db, flags, nil)
        guard code == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_close(db)
            throw StateError.sqlite(path: path, operation: "open", code: code, message: message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, Self.busyTimeoutMilliseconds)
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements without results (schema, pragmas).
    public func execute(_ sql: String) throws(StateError) {
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &message)
        if code != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? errorMessage
            sqlite3_free(message)
            throw error(code, operation: Self.firstWords(sql), message: text)
        }
    }

    /// A prepared statement for `sql`; bind, step, read columns, reset, reuse.
    public func prepare(_ sql: String) throws(StateError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard code == SQLITE_OK, let statement else {
            throw error(code, operation: Self.firstWords(sql), message: errorMessage)
        }
        return SQLiteStatement(database: self, statement: statement, sql: sql)
    }

    /// How many ``transaction(_:)`` calls committed on this connection: each is one sync of the log
    /// with `synchronous=FULL`, so tests and benchmarks see group commit as fewer commits than writes.
    public private(set) var committedTransactions = 0

    /// Runs `body` in one transaction (`BEGIN IMMEDIATE` … `COMMIT`), rolled back when it throws.
    public func transaction<T>(_ body: () throws(StateError) -> T) throws(StateError) -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            committedTransactions += 1
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// The rowid of the last successful insert on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Rows changed by the last insert, update or delete.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// How long a statement waits for another connection's lock before it fails (`SQLITE_BUSY`).
    public static let busyTimeoutMilliseconds: Int32 = 5_000

    /// Copies every committed page of the write-ahead log into the database file and truncates the
    /// log to zero bytes (`PRAGMA wal_checkpoint(TRUNCATE)`), without waiting: when another
    /// connection is reading or writing, it does what it can and returns false. True when the log
    /// was emptied. Does nothing (and returns true) on a database not in WAL mode.
    @discardableResult
    public func checkpointTruncatingLog() throws(StateError) -> Bool {
        sqlite3_busy_timeout(handle, 0)
        defer { sqlite3_busy_timeout(handle, Self.busyTimeoutMilliseconds) }
        let statement = try prepare("PRAGMA wal_checkpoint(TRUNCATE)")
        // One row: busy (1 when it could not finish), frames in the log, frames checkpointed.
        guard try statement.step() else { return true }
        return statement.int(0) == 0
    }

    /// The value of a pragma that returns one row, as text.
    public func pragma(_ name: String) throws(StateError) -> String? {
        let statement = try prepare("PRAGMA \(name)")
        guard try statement.step() else { return nil }
        return statement.text(0)
    }

    var errorMessage: String { String(cString: sqlite3_errmsg(handle)) }

    func error(_ code: Int32, operation: String, message: String? = nil) -> StateError {
        StateError.sqlite(path: path, operation: operation, code: code, message: message ?? errorMessage)
    }

    /// `INSERT INTO deliveries` from a long statement: enough to say which one failed.
    static func firstWords(_ sql: String) -> String {
        let words = sql.split(whereSeparator: { $0 == " " || $0 == "\n" }).prefix(3)
        return words.joined(separator: " ")
    }
}

/// A prepared statement of one ``SQLiteDatabase``; not shared between threads.
public final class SQLiteStatement {
    private let database: SQLiteDatabase
    private let statement: OpaquePointer
    private let sql: String

    init(database: SQLiteDatabase, statement: OpaquePointer, sql: String) {
        self.database = database
        self.statement = statement
        self.sql = sql
    }

    deinit { sqlite3_finalize(statement) }

    /// Binds `values` to the parameters `?1…?n`, after clearing the previous run.
    @discardableResult
    public func bind(_ values: SQLiteValue...) throws(StateError) -> SQLiteStatement {
        try bind(values)
    }

    @discardableResult
    public func bind(_ values: [SQLiteValue]) throws(StateError) -> SQLiteStatement {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .null: code = sqlite3_bind_null(statement, index)
            case .integer(let number): code = sqlite3_bind_int64(statement, index, number)
            case .real(let number): code = sqlite3_bind_double(statement, index, number)
            case .text(let text): code = sqlite3_bind_text(statement, index, text, -1, transientDestructor)
            case .blob(let bytes):
                code = bytes.withUnsafeBytes { buffer in
                    sqlite3_bind_blob(statement, index, buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(buffer.count), transientDestructor)
                }
            }
            guard code == SQLITE_OK else { throw database.error(code, operation: "bind " + SQLiteDatabase.firstWords(sql)) }
        }
        return self
    }

    /// Advances to the next row: true when there is one, false when done.
    public func step() throws(StateError) -> Bool {
        let code = sqlite3_step(statement)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = database.error(code, operation: SQLiteDatabase.firstWords(sql))
            sqlite3_reset(statement)
            throw error
        }
    }

    /// Runs a statement that returns no rows (insert, update, delete); resets it for reuse.
    public func run() throws(StateError) {
        while try step() {}
        sqlite3_reset(statement)
    }

    /// Every row, each turned into a value by `row` (which reads this statement's columns).
    public func rows<T>(_ row: (SQLiteStatement) throws(StateError) -> T) throws(StateError) -> [T] {
        var result: [T] = []
        while try step() { result.append(try row(self)) }
        sqlite3_reset(statement)
        return result
    }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

    public func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

    public func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(statement, column)) }

    public func real(_ column: Int32) -> Double { sqlite3_column_double(statement, column) }

    /// The column as text; nil for NULL.
    public func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(statement, column) else { return nil }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    /// The column as bytes; empty for NULL or an empty blob.
    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let pointer = sqlite3_column_blob(statement, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}

/// A value bound to a statement parameter.
public enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public static func int(_ value: Int) -> SQLiteValue { .integer(Int64(value)) }

    public static func optionalText(_ value: String?) -> SQLiteValue { value.map(SQLiteValue.text) ?? .null }
}
