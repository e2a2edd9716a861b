#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The state directory: one SQLite database (`tripline.db`) holding everything durable, and the lock
/// that keeps a second process out.
///
/// The database runs in WAL mode (readers such as `tripline status` or the `sqlite3` CLI never block
/// the run) with `synchronous=FULL` by default: a committed transaction survives a process crash and a
/// power loss. `NORMAL` keeps the process-crash guarantee and may lose the last transactions on power
/// loss. One connection writes, used by one thread at a time: every access goes through
/// ``withDatabase(_:)``, which serialises callers and caches prepared statements. Reads on the delivery
/// path (a delivery loaded before its attempt, a page of the queue) go through ``withReader(_:)``
/// instead: a second, read-only connection to the same file, which WAL lets read the last committed
/// state while the writer is inside a transaction or syncing a commit, so they do not wait for it.
public final class StateStore: @unchecked Sendable {
    /// How hard SQLite works to make commits durable (`PRAGMA synchronous`).
    public enum Synchronous: String, Sendable {
        /// Every commit is on disk before it returns: survives power loss.
        case full = "FULL"
        /// Commits survive a crash of the process, not necessarily of the machine.
        case normal = "NORMAL"
    }

    /// The file name of the database inside the state directory.
    public static let databaseName = "tripline.db"
    /// The lock file; holds the pid of the process using the directory.
    public static let lockName = "lock"
    /// The schema this build writes; older databases are upgraded, newer ones refused.
    public static let schemaVersion = StateSchema.upgrades.count

    /// The state directory, or nil for an in-memory store.
    public let directory: String?
    /// True when the database was opened with ``Access/readOnly``: nothing may be written.
    public let isReadOnly: Bool
    /// Where the database lives (`:memory:` for an in-memory store).
    public var databasePath: String { database.path }

    private let database: SQLiteDatabase
    private let mutex = NSLock()
    private var statements: [String: SQLiteStatement] = [:]
    private let lockDescriptor: Int32

    /// The read-only connection of ``withReader(_:)``, opened at its first use (guarded by `readerMutex`).
    private var reader: SQLiteDatabase?
    private let readerMutex = NSLock()
    private var readerStatements: [String: SQLiteStatement] = [:]
    /// Whether ``withReader(_:)`` has a connection of its own: a database on disk opened for writing
    /// (in WAL mode). An in-memory database cannot be shared between connections, and a read-only
    /// store has only readers anyway.
    private var hasOwnReader: Bool { !isReadOnly && directory != nil }

    /// How a command uses the state directory.
    public enum Access: Sendable, Equatable {
        /// Takes the directory's lock (one such process at a time; refused with
        /// ``StateError/locked(path:holder:)`` otherwise) and upgrades the schema: `run`, delivering
        /// `dlq redrive`. With `createIfMissing` the directory and database are created as needed.
        case exclusive(createIfMissing: Bool)
        /// Short writes without the lock, next to a running process (WAL and the busy timeout keep
        /// them apart): `dlq purge`, `dlq redrive --queue-only`, `blocklist add|remove|expire`.
        /// Without `createIfMissing` a directory that holds no database is refused.
        case shared(createIfMissing: Bool)
        /// Reading only, without the lock: `status`, `dlq list|show`, `blocklist list`. The database
        /// must exist and is never written (not even a zero-byte file), so this works on a copy the
        /// user cannot write too.
        case readOnly

        var takesLock: Bool { if case .exclusive = self { return true } else { return false } }

        var createsIfMissing: Bool {
            switch self {
            case .exclusive(let create), .shared(let create): return create
            case .readOnly: return false
            }
        }
    }

    /// Opens the state directory for a process that will change it, creating it as needed.
    ///
    /// Refuses with ``StateError/locked(path:holder:)`` when another process holds the directory.
    /// `readOnly` opens with ``Access/readOnly`` instead.
    public static func open(directory: String, synchronous: Synchronous = .full, readOnly: Bool = false) throws(StateError) -> StateStore {
        try open(directory: directory, synchronous: synchronous, access: readOnly ? .readOnly : .exclusive(createIfMissing: true))
    }

    /// Opens the state directory for `access`.
    ///
    /// A directory or database that is missing is created only when `access` says so; otherwise, like a
    /// zero-byte or never-initialised `tripline.db`, it is refused with
    /// ``StateError/unusableDirectory(path:reason:)`` saying that nothing has run with it yet.
    public static func open(directory: String, synchronous: Synchronous = .full, access: Access) throws(StateError) -> StateStore {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            if !access.createsIfMissing { throw .unusableDirectory(path: directory, reason: "it does not exist (nothing has run with it yet)") }
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw .unusableDirectory(path: directory, reason: "cannot create it: \((error as NSError).localizedDescription)")
            }
        } else if !isDirectory.boolValue {
            throw .unusableDirectory(path: directory, reason: "it is not a directory")
        }
        let path = (directory as NSString).appendingPathComponent(databaseName)
        if !access.createsIfMissing {
            // Checked before anything is opened: SQLite would turn a zero-byte file into a database.
            var isDatabaseDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDatabaseDirectory) {
                throw .unusableDirectory(path: directory, reason: "it holds no \(databaseName) (nothing has run with it yet)")
            }
            if isDatabaseDirectory.boolValue {
                throw .unusableDirectory(path: directory, reason: "its \(databaseName) is a directory, not a database file")
            }
            if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber, size.intValue == 0 {
                throw .unusableDirectory(path: directory, reason: "its \(databaseName) is empty (0 bytes), so nothing has run with it yet; "
                                         + "remove the file, or give the state directory of a run")
            }
        }
        let lockDescriptor = access.takesLock ? try Self.acquireLock(directory: directory) : -1
        let database: SQLiteDatabase
        do throws(StateError) {
            database = try SQLiteDatabase(path: path, create: access.createsIfMissing, readOnly: access == .readOnly)
        } catch {
            if lockDescriptor >= 0 { _ = Glibc.close(lockDescriptor) }
            throw error
        }
        // From here the store owns the lock: its deinit closes it, also when configure fails (closing it
        // here as well would close the descriptor twice, possibly another thread's file by then).
        let store = StateStore(directory: directory, database: database, lockDescriptor: lockDescriptor, isReadOnly: access == .readOnly)
        try store.configure(synchronous: synchronous, access: access)
        return store
    }

    /// A store that lives in memory only: the same behaviour, nothing survives the process.
    public static func inMemory() throws(StateError) -> StateStore {
        let store = StateStore(directory: nil, database: try SQLiteDatabase(path: ":memory:"), lockDescriptor: -1, isReadOnly: false)
        try store.configure(synchronous: .normal, access: .exclusive(createIfMissing: true))
        return store
    }

    private init(directory: String?, database: SQLiteDatabase, lockDescriptor: Int32, isReadOnly: Bool) {
        self.directory = directory
        self.isReadOnly = isReadOnly
        self.database = database
        self.lockDescriptor = lockDescriptor
    }

    deinit {
        statements.removeAll()
        readerStatements.removeAll()
        if lockDescriptor >= 0 { _ = Glibc.close(lockDescriptor) }
    }

    /// Runs `body` with exclusive use of the connection.
    public func withDatabase<T>(_ body: (SQLiteDatabase) throws(StateError) -> T) throws(StateError) -> T {
        mutex.lock()
        defer { mutex.unlock() }
        return try body(database)
    }

    /// A cached prepared statement for `sql`; call only inside ``withDatabase(_:)``.
    public func statement(_ sql: String) throws(StateError) -> SQLiteStatement {
        if let cached = statements[sql] { return cached }
        let statement = try database.prepare(sql)
        statements[sql] = statement
        return statement
    }

    /// Runs `body` with a connection that only reads, and `statement` giving its cached prepared
    /// statements; it never waits for the writer (``withDatabase(_:)``), not even for a commit
    /// being synced to disk.
    ///
    /// Each statement `body` runs must be reset when done (``SQLiteStatement/rows(_:)`` does; a
    /// stepped statement is reset by binding it again): it is a read transaction of its own, which
    /// sees exactly what was committed when it started, never a transaction in progress, and while
    /// it lasts a checkpoint cannot copy later commits into the database file. So it sees every
    /// commit that returned before `body` was called. On a store in memory or opened read-only it
    /// is the one connection, under ``withDatabase(_:)``'s lock.
    public func withReader<T>(_ body: (_ db: SQLiteDatabase, _ statement: (String) throws(StateError) -> SQLiteStatement) throws(StateError) -> T)
        throws(StateError) -> T {
        guard hasOwnReader else {
            return try withDatabase { (db) throws(StateError) in try body(db, { (sql) throws(StateError) in try statement(sql) }) }
        }
        readerMutex.lock()
        defer { readerMutex.unlock() }
        let db: SQLiteDatabase
        if let reader {
            db = reader
        } else {
            db = try SQLiteDatabase(path: database.path, create: false, readOnly: true)
            reader = db
        }
        return try body(db) { (sql) throws(StateError) -> SQLiteStatement in
            if let cached = readerStatements[sql] { return cached }
            let prepared = try db.prepare(sql)
            readerStatements[sql] = prepared
            return prepared
        }
    }

    /// A path inside the state directory (for files that belong next to the database).
    public func path(_ name: String) -> String? {
        directory.map { ($0 as NSString).appendingPathComponent(name) }
    }

    // MARK: - Set-up

    private func configure(synchronous: Synchronous, access: Access) throws(StateError) {
        try withDatabase { (db) throws(StateError) in
            if access == .readOnly {
                // Read the schema now: a file that is not a database fails here, not mid-command.
                let version = Int(try db.pragma("user_version") ?? "0") ?? 0
                if version > Self.schemaVersion {
                    throw .newerSchema(path: db.path, found: version, supported: Self.schemaVersion)
                }
                if version == 0 {
                    throw .unusableDirectory(path: directory ?? db.path,
                                             reason: "its \(Self.databaseName) holds no tripline state (nothing has run with it yet)")
                }
                return
            }
            if db.path != ":memory:" {
                _ = try db.pragma("journal_mode=WAL")
                // Copy the log into the database every 4,000 pages (16 MiB) rather than SQLite's 1,000:
                // a delivery touches a few index pages at random, written again by every commit that
                // touches them; a longer log copies each of those pages back once for more commits
                // (and syncs the database file less often). Commits are as durable as before.
                _ = try db.pragma("wal_autocheckpoint=\(Self.autocheckpointPages)")
            }
            try db.execute("PRAGMA synchronous=\(synchronous.rawValue)")
            let version = Int(try db.pragma("user_version") ?? "0") ?? 0
            if version > Self.schemaVersion {
                throw .newerSchema(path: db.path, found: version, supported: Self.schemaVersion)
            }
            if version == 0 && !access.createsIfMissing {
                throw .unusableDirectory(path: directory ?? db.path,
                                         reason: "its \(Self.databaseName) holds no tripline state (nothing has run with it yet)")
            }
            if version < Self.schemaVersion {
                try db.transaction { () throws(StateError) in
                    // Read again under the write lock: a process that opened it at the same time may have upgraded it.
                    let current = Int(try db.pragma("user_version") ?? "0") ?? 0
                    guard current < Self.schemaVersion else { return }
                    for upgrade in StateSchema.upgrades[current...] { try db.execute(upgrade) }
                    try db.execute("PRAGMA user_version=\(Self.schemaVersion)")
                }
            }
            // Read the schema now: a file that is not a database fails here, not mid-run.
            _ = try db.pragma("schema_version")
        }
    }

    /// Commits a transaction that writes about `headroom` bytes (a row added to `settled` and removed
    /// again, so nothing is left behind), and throws when that cannot be committed: a full disk, a
    /// file-size limit, a read-only file system.
    ///
    /// A run calls it before it resumes queued deliveries: on a database that cannot commit, the
    /// completion of each would go unrecorded and the next run would run it again. The write is that
    /// large because a commit that failed on a full disk leaves its partly written frames at the end
    /// of the write-ahead log, where a small commit still fits. Passing is no promise that later
    /// commits succeed (the disk may fill meanwhile).
    ///
    /// Its frames (about twice `headroom`: the key is in the table and in its index) would stay in
    /// the write-ahead log, which SQLite reuses but never shrinks, and pile up run after run until
    /// an automatic checkpoint: so it then checkpoints and truncates the log (without waiting for
    /// another process's reader; then the log is left as it is). The pages the row took in the
    /// database file are free again and reused by the next check, so the file grows by them once.
    public func checkWritable(headroom: Int = 64 * 1024) throws(StateError) {
        // Not an idempotency key: those are `<event id>:<rule>:<target>`, and a target id is short.
        let key = Self.writeCheckKey + String(repeating: "0", count: max(0, headroom))
        try withDatabase { (db) throws(StateError) in
            try db.transaction { () throws(StateError) in
                try statement("INSERT OR REPLACE INTO settled(idempotency_key, settled_at) VALUES(?1, 0)").bind(.text(key)).run()
                try statement("DELETE FROM settled WHERE idempotency_key = ?1").bind(.text(key)).run()
            }
            // Best effort: the check passed; a checkpoint that cannot finish now is retried by SQLite later.
            _ = try? db.checkpointTruncatingLog()
        }
    }

    /// Pages in the write-ahead log past which a commit copies it into the database (`PRAGMA wal_autocheckpoint`).
    static let autocheckpointPages = 4_000

    /// The key of the row ``checkWritable(headroom:)`` writes and removes.
    static let writeCheckKey = "tripline:write-check:"

    /// A number that changes whenever another connection (another process) commits to the database:
    /// a long-running process compares it to notice changes made next to it (`PRAGMA data_version`).
    public func externalChanges() throws(StateError) -> Int64 {
        try withDatabase { (db) throws(StateError) in Int64(try db.pragma("data_version") ?? "0") ?? 0 }
    }

    /// Takes an exclusive, non-blocking `flock` on the directory's lock file and writes our pid into it.
    private static func acquireLock(directory: String) throws(StateError) -> Int32 {
        let path = (directory as NSString).appendingPathComponent(lockName)
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .unusableDirectory(path: directory, reason: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            var holder: String?
            if let text = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty {
                holder = "pid \(text)"
            }
            _ = Glibc.close(fd)
            if code == EWOULDBLOCK { throw .locked(path: directory, holder: holder) }
            throw .unusableDirectory(path: directory, reason: "cannot lock \(path): \(String(cString: strerror(code)))")
        }
        _ = ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return fd
    }
}

/// The database schema, one statement list per version.
enum StateSchema {
    /// `upgrades[n]` takes a database from version n to n + 1; a new database runs them all.
    static let upgrades = [version1, version2, version3, version4, version5, version6, version7]

    /// Deliveries done with (delivered or dead-lettered), by idempotency key: a match seen again
    /// within the de-duplication window is not queued a second time.
    static let version2 = """
        CREATE TABLE IF NOT EXISTS settled(
            idempotency_key TEXT PRIMARY KEY,
            settled_at REAL NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS settled_by_time ON settled(settled_at);
        """

    static let version1 = """
        CREATE TABLE IF NOT EXISTS deliveries(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            idempotency_key TEXT NOT NULL UNIQUE,
            rule TEXT NOT NULL,
            target TEXT NOT NULL,
            event_id TEXT NOT NULL,
            origin TEXT NOT NULL,
            event BLOB NOT NULL,
            ingestion_time TEXT NOT NULL,
            accepted_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error TEXT,
            history TEXT NOT NULL DEFAULT '[]',
            suppressed INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX IF NOT EXISTS deliveries_by_target ON deliveries(rule, target);
        CREATE TABLE IF NOT EXISTS dead_letters(
            id INTEGER PRIMARY KEY,
            idempotency_key TEXT NOT NULL,
            rule TEXT NOT NULL,
            target TEXT NOT NULL,
            event_id TEXT NOT NULL,
            origin TEXT NOT NULL,
            event BLOB NOT NULL,
            ingestion_time TEXT NOT NULL,
            accepted_at REAL NOT NULL,
            dead_at REAL NOT NULL,
            reason TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            history TEXT NOT NULL,
            file TEXT
        );
        CREATE INDEX IF NOT EXISTS dead_letters_by_target ON dead_letters(rule, target);
        CREATE TABLE IF NOT EXISTS alert_gates(
            target TEXT NOT NULL,
            key TEXT NOT NULL,
            last_sent_at REAL,
            held_back INTEGER NOT NULL,
            recent TEXT NOT NULL,
            last_seen_at REAL NOT NULL,
            PRIMARY KEY(target, key)
        );
        CREATE TABLE IF NOT EXISTS checkpoints(
            source TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            items INTEGER NOT NULL,
            complete INTEGER NOT NULL,
            updated_at REAL NOT NULL
        );
        """

    /// Checkpoints keep a fingerprint of the bytes read, so a file replaced by other content is told
    /// from one that grew ('' for checkpoints written before: judged by size and time as they were).
    static let version3 = """
        ALTER TABLE checkpoints ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
        """

    /// Dead-letter ids are never used twice (`AUTOINCREMENT`): an id read from `dlq list` earlier
    /// cannot name another letter after a redrive or purge. SQLite cannot add `AUTOINCREMENT` to a
    /// table, so the table is rebuilt with its rows and ids; the next id follows the highest one kept
    /// (ids of letters purged before this upgrade that were above it are not known any more).
    static let version4 = """
        CREATE TABLE dead_letters_v4(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            idempotency_key TEXT NOT NULL,
            rule TEXT NOT NULL,
            target TEXT NOT NULL,
            event_id TEXT NOT NULL,
            origin TEXT NOT NULL,
            event BLOB NOT NULL,
            ingestion_time TEXT NOT NULL,
            accepted_at REAL NOT NULL,
            dead_at REAL NOT NULL,
            reason TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            history TEXT NOT NULL,
            file TEXT
        );
        INSERT INTO dead_letters_v4(id, idempotency_key, rule, target, event_id, origin, event, ingestion_time, accepted_at, dead_at,
                                    reason, attempts, history, file)
            SELECT id, idempotency_key, rule, target, event_id, origin, event, ingestion_time, accepted_at, dead_at,
                   reason, attempts, history, file FROM dead_letters;
        DROP TABLE dead_letters;
        ALTER TABLE dead_letters_v4 RENAME TO dead_letters;
        CREATE INDEX IF NOT EXISTS dead_letters_by_target ON dead_letters(rule, target);
        """

    /// Events made outside a run (`tripline blocklist add|remove|expire`: User Blocked, User
    /// Unblocked, …) that a run puts on the bus (``BusOutbox``): kept until a run has accepted
    /// their deliveries, in the same transaction.
    static let version5 = """
        CREATE TABLE IF NOT EXISTS outbox(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            event TEXT NOT NULL,
            origin TEXT NOT NULL,
            added_at REAL NOT NULL
        );
        """

    /// The circuit breaker's state keeps the limit and window of the run that saved it, so `status`
    /// and `blocklist list` can say whether it is open. The table is the blocklist's own (created by
    /// `Blocklist` when missing), so it is created here first, in its version 5 shape.
    static let version6 = """
        CREATE TABLE IF NOT EXISTS block_breaker(
            name TEXT PRIMARY KEY,
            recent_blocks TEXT NOT NULL,
            tripped INTEGER NOT NULL,
            updated_at REAL NOT NULL
        );
        ALTER TABLE block_breaker ADD COLUMN max_blocks INTEGER;
        ALTER TABLE block_breaker ADD COLUMN window_seconds REAL;
        """

    /// Checkpoints of files that are gone can be forgotten: `missing_since` is when a check first
    /// found the file absent (NULL while present), and `directory_device` the device of the directory
    /// the file was read in (0: not known), so a directory that is now on another device (a mount point
    /// left empty by an unmount) is never taken as proof that its files are gone.
    static let version7 = """
        ALTER TABLE checkpoints ADD COLUMN missing_since REAL;
        ALTER TABLE checkpoints ADD COLUMN directory_device INTEGER NOT NULL DEFAULT 0;
        """
}
