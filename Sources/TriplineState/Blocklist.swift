import Foundation
import TriplineJSON

/// The durable blocklist: principals blocked by rules or by hand, with their expiry, and the
/// blocking circuit breaker's state.
///
/// Lives in the state database in its own tables (`blocklist`, `block_breaker`), created by
/// ``init(store:)`` when missing, so the store's versioned schema is not involved. One row per
/// principal key: adding a principal that is already actively blocked changes nothing and returns
/// the existing entry (``AddResult/alreadyBlocked(_:)``; ``extend(_:to:)`` lengthens it). An entry that has expired, or that is a dry
/// run while the new one is real, is replaced. Expired entries stay until ``remove(_:)`` (after the
/// unblock path ran); ``expired(now:)`` lists them.
public struct Blocklist: Sendable {
    public let store: StateStore
    /// False for a read-only store of a database older than schema version 6, whose `block_breaker`
    /// has no limit and window (they read as unknown).
    private let breakerKeepsLimits: Bool

    /// What ``add(_:now:breaker:)`` did.
    public enum AddResult: Sendable, Equatable {
        /// The entry was written (new, or replacing an expired or dry-run entry).
        case added(BlockEntry)
        /// The principal is already blocked; nothing was written. The existing entry.
        case alreadyBlocked(BlockEntry)
    }

    /// The name the circuit breaker's state is saved under by default.
    public static let defaultBreaker = "default"

    static let schema = blocklistSchema + "\n" + breakerSchema

    static let blocklistSchema = """
        CREATE TABLE IF NOT EXISTS blocklist(
            key TEXT PRIMARY KEY,
            principal TEXT NOT NULL,
            kind TEXT NOT NULL,
            arn TEXT,
            access_key_id TEXT,
            account_id TEXT,
            region TEXT,
            reason TEXT NOT NULL,
            rule TEXT,
            target TEXT,
            event_id TEXT,
            added_at REAL NOT NULL,
            expires_at REAL,
            added_by TEXT NOT NULL,
            dry_run INTEGER NOT NULL DEFAULT 0,
            enforce TEXT,
            enforcement TEXT NOT NULL DEFAULT 'pending',
            enforcement_attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            enforced_at REAL
        );
        """

    static let breakerSchema = """
        CREATE TABLE IF NOT EXISTS block_breaker(
            name TEXT PRIMARY KEY,
            recent_blocks TEXT NOT NULL,
            tripped INTEGER NOT NULL,
            updated_at REAL NOT NULL,
            max_blocks INTEGER,
            window_seconds REAL
        );
        """

    static let columns = """
        key, principal, kind, arn, access_key_id, account_id, region, reason, rule, target, event_id, added_at, expires_at, added_by,
        dry_run, enforce, enforcement, enforcement_attempts, last_error, enforced_at
        """

    /// The blocklist of `store`; creates its tables when they are missing.
    ///
    /// A read-only store is not written: when its tables are missing (nothing was ever blocked), empty
    /// temporary ones stand in for them, for this connection only.
    public init(store: StateStore) throws(StateError) {
        self.store = store
        breakerKeepsLimits = try store.withDatabase { (db) throws(StateError) -> Bool in
            if store.isReadOnly {
                // Only the missing ones: a temporary table would hide the real one of the same name.
                for (name, schema) in [("blocklist", Self.blocklistSchema), ("block_breaker", Self.breakerSchema)] {
                    let exists = try db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1").bind(.text(name)).rows { $0.int(0) }
                    if exists.first == 0 { try db.execute(schema.replacingOccurrences(of: "CREATE TABLE", with: "CREATE TEMP TABLE")) }
                }
                let columns = try db.prepare("SELECT count(*) FROM pragma_table_info('block_breaker') WHERE name = 'max_blocks'").rows { $0.int(0) }
                return columns.first == 1
            }
            try db.execute(Self.schema)
            return true
        }
    }

    /// Adds `entry` unless its principal is already blocked at `now`; when it is added and `breaker`
    /// is given, saves that breaker state in the same transaction (a block is counted iff it is written).
    public func add(_ entry: BlockEntry, now: Double, breaker: BlockBreakerState? = nil,
                    breakerName: String = Blocklist.defaultBreaker) throws(StateError) -> AddResult {
        try store.withDatabase { (db) throws(StateError) in
            try db.transaction { () throws(StateError) -> AddResult in
                if let existing = try fetch(entry.key), existing.isActive(now: now), !(existing.dryRun && !entry.dryRun) {
                    return .alreadyBlocked(existing)
                }
                try store.statement("""
                    INSERT OR REPLACE INTO blocklist(\(Self.columns))
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
                    """).bind(Self.values(entry)).run()
                if let breaker { try save(breaker, name: breakerName, now: now) }
                return .added(entry)
            }
        }
    }

    /// Removes the entry `key`; returns it, or nil when there was none.
    @discardableResult
    public func remove(_ key: String) throws(StateError) -> BlockEntry? {
        try store.withDatabase { (db) throws(StateError) in
            try db.transaction { () throws(StateError) -> BlockEntry? in
                guard let existing = try fetch(key) else { return nil }
                try store.statement("DELETE FROM blocklist WHERE key = ?1").bind(.text(key)).run()
                return existing
            }
        }
    }

    /// The entry `key`, expired or not; nil when there is none.
    public func entry(_ key: String) throws(StateError) -> BlockEntry? {
        try store.withDatabase { (_) throws(StateError) in try fetch(key) }
    }

    /// The entries whose key starts with `prefix` (byte for byte), oldest first.
    public func entries(keyPrefix prefix: String) throws(StateError) -> [BlockEntry] {
        try store.withDatabase { (_) throws(StateError) in
            let select = try store.statement("""
                SELECT \(Self.columns) FROM blocklist WHERE substr(key, 1, length(?1)) = ?1 ORDER BY added_at, key
                """)
            return try rows(select.bind(.text(prefix)))
        }
    }

    /// Every entry, oldest first; without `includeExpired`, only those still active at `now`.
    public func list(includeExpired: Bool = true, now: Double) throws(StateError) -> [BlockEntry] {
        try store.withDatabase { (_) throws(StateError) in
            let select = try store.statement("""
                SELECT \(Self.columns) FROM blocklist WHERE ?1 OR expires_at IS NULL OR expires_at > ?2 ORDER BY added_at, key
                """)
            return try rows(select.bind(.int(includeExpired ? 1 : 0), .real(now)))
        }
    }

    /// Entries whose expiry is at or before `now`, soonest expired first: what the unblock path lifts.
    public func expired(now: Double) throws(StateError) -> [BlockEntry] {
        try store.withDatabase { (_) throws(StateError) in
            let select = try store.statement("""
                SELECT \(Self.columns) FROM blocklist WHERE expires_at IS NOT NULL AND expires_at <= ?1 ORDER BY expires_at, key
                """)
            return try rows(select.bind(.real(now)))
        }
    }

    /// Whether `identifier` (a key, an ARN or an access key id) names an entry active at `now`.
    public func isBlocked(_ identifier: String, now: Double) throws(StateError) -> Bool {
        try store.withDatabase { (_) throws(StateError) in
            let select = try store.statement("""
                SELECT 1 FROM blocklist WHERE (key = ?1 OR arn = ?1 OR access_key_id = ?1) AND (expires_at IS NULL OR expires_at > ?2) LIMIT 1
                """)
            try select.bind(.text(identifier), .real(now))
            defer { _ = try? select.bind() }
            return try select.step()
        }
    }

    /// The entries active at `now`, as an in-memory set for marking events.
    public func snapshot(now: Double) throws(StateError) -> BlockedKeys {
        BlockedKeys(entries: try list(includeExpired: false, now: now))
    }

    /// How many entries there are, expired ones included.
    public func count() throws(StateError) -> Int {
        try store.withDatabase { (_) throws(StateError) in
            let select = try store.statement("SELECT count(*) FROM blocklist")
            try select.bind()
            defer { _ = try? select.bind() }
            return try select.step() ? select.int(0) : 0
        }
    }

    /// Moves the expiry of the entry `key` to `expiresAt` (nil: never), for a longer block of a
    /// principal already blocked; the caller decides that it is later.
    public func extend(_ key: String, to expiresAt: Double?) throws(StateError) {
        try store.withDatabase { (_) throws(StateError) in
            try store.statement("UPDATE blocklist SET expires_at = ?2 WHERE key = ?1")
                .bind(.text(key), expiresAt.map(SQLiteValue.real) ?? .null).run()
        }
    }

    /// Records that the handler (`enforce`, when it changed) applied the block of `key` at `at`
    /// (one more handler run).
    public func markEnforced(_ key: String, at: Double, enforce: String? = nil) throws(StateError) {
        try store.withDatabase { (_) throws(StateError) in
            try store.statement("""
                UPDATE blocklist SET enforcement = 'enforced', enforcement_attempts = enforcement_attempts + 1, enforced_at = ?2,
                last_error = NULL, enforce = coalesce(?3, enforce) WHERE key = ?1
                """).bind(.text(key), .real(at), .optionalText(enforce)).run()
        }
    }

    /// Records that the handler (`enforce`, when it changed) failed to apply the block of `key`
    /// (one more handler run): a retry runs it again.
    public func markFailed(_ key: String, error: String, enforce: String? = nil) throws(StateError) {
        try store.withDatabase { (_) throws(StateError) in
            try store.statement("""
                UPDATE blocklist SET enforcement = 'failed', enforcement_attempts = enforcement_attempts + 1, last_error = ?2,
                enforce = coalesce(?3, enforce) WHERE key = ?1
                """).bind(.text(key), .text(error), .optionalText(enforce)).run()
        }
    }

    /// Records a failure that leaves the entry's enforcement as it is (an unblock that failed).
    public func recordError(_ key: String, error: String) throws(StateError) {
        try store.withDatabase { (_) throws(StateError) in
            try store.statement("UPDATE blocklist SET last_error = ?2 WHERE key = ?1").bind(.text(key), .text(error)).run()
        }
    }

    /// The saved circuit-breaker state `name` (empty when never saved).
    public func breakerState(name: String = Blocklist.defaultBreaker) throws(StateError) -> BlockBreakerState {
        try store.withDatabase { (db) throws(StateError) in
            try breakerRow(name: name, db: db)?.state ?? BlockBreakerState()
        }
    }

    /// The saved circuit-breaker state `name` and when it was saved; nil when it never was (no
    /// automatic block was ever counted or refused).
    public func savedBreakerState(name: String = Blocklist.defaultBreaker) throws(StateError) -> (state: BlockBreakerState, updatedAt: Double)? {
        try store.withDatabase { (db) throws(StateError) in try breakerRow(name: name, db: db) }
    }

    private func breakerRow(name: String, db: SQLiteDatabase) throws(StateError) -> (state: BlockBreakerState, updatedAt: Double)? {
        let limits = breakerKeepsLimits ? "max_blocks, window_seconds" : "NULL, NULL"
        let select = try store.statement("SELECT recent_blocks, tripped, updated_at, \(limits) FROM block_breaker WHERE name = ?1")
        try select.bind(.text(name))
        defer { _ = try? select.bind() }
        guard try select.step() else { return nil }
        let text = select.text(0) ?? "[]"
        guard let value = try? JSONParser.parse(text), let items = value.arrayValue else {
            throw StateError.damagedRow(path: db.path, table: "block_breaker", detail: "recent_blocks is not a JSON array: \(text.prefix(80))")
        }
        let state = BlockBreakerState(recentBlocks: items.compactMap { $0.numberValue?.value }, isTripped: select.int(1) != 0,
                                      maxBlocks: select.isNull(3) ? nil : select.int(3), windowSeconds: select.isNull(4) ? nil : select.real(4))
        return (state, select.real(2))
    }

    /// Saves the circuit-breaker state `name`.
    public func saveBreakerState(_ state: BlockBreakerState, name: String = Blocklist.defaultBreaker, now: Double) throws(StateError) {
        try store.withDatabase { (_) throws(StateError) in try save(state, name: name, now: now) }
    }

    // MARK: - Rows

    private func save(_ state: BlockBreakerState, name: String, now: Double) throws(StateError) {
        let times = JSONWriter.string(.array(state.recentBlocks.map { .number(JSONNumber($0)) }))
        try store.statement("""
            INSERT INTO block_breaker(name, recent_blocks, tripped, updated_at, max_blocks, window_seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            ON CONFLICT(name) DO UPDATE SET recent_blocks = ?2, tripped = ?3, updated_at = ?4,
                max_blocks = coalesce(?5, max_blocks), window_seconds = coalesce(?6, window_seconds)
            """).bind(.text(name), .text(times), .int(state.isTripped ? 1 : 0), .real(now),
                      state.maxBlocks.map(SQLiteValue.int) ?? .null, state.windowSeconds.map(SQLiteValue.real) ?? .null).run()
    }

    /// The entry `key`; call inside ``StateStore/withDatabase(_:)``.
    private func fetch(_ key: String) throws(StateError) -> BlockEntry? {
        let select = try store.statement("SELECT \(Self.columns) FROM blocklist WHERE key = ?1")
        try select.bind(.text(key))
        defer { _ = try? select.bind() }
        guard try select.step() else { return nil }
        return try entry(select)
    }

    private func rows(_ select: SQLiteStatement) throws(StateError) -> [BlockEntry] {
        try select.rows { (row) throws(StateError) in try entry(row) }
    }

    private func entry(_ row: SQLiteStatement) throws(StateError) -> BlockEntry {
        let key = row.text(0) ?? ""
        let principalText = row.text(1) ?? ""
        guard let principal = try? JSONParser.parse(principalText), principal.objectValue != nil else {
            throw .damagedRow(path: store.databasePath, table: "blocklist", detail: "the principal of \(key) is not a JSON object")
        }
        let enforcementText = row.text(16) ?? ""
        guard let enforcement = BlockEntry.Enforcement(rawValue: enforcementText) else {
            throw .damagedRow(path: store.databasePath, table: "blocklist", detail: "the enforcement of \(key) is \"\(enforcementText)\"")
        }
        return BlockEntry(key: key, principal: principal, kind: row.text(2) ?? "", arn: row.text(3), accessKeyId: row.text(4),
                          accountId: row.text(5), region: row.text(6), reason: row.text(7) ?? "", rule: row.text(8), targetID: row.text(9),
                          eventID: row.text(10), addedAt: row.real(11), expiresAt: row.isNull(12) ? nil : row.real(12),
                          addedBy: row.text(13) ?? "", dryRun: row.int(14) != 0, enforce: row.text(15), enforcement: enforcement,
                          enforcementAttempts: row.int(17), lastError: row.text(18), enforcedAt: row.isNull(19) ? nil : row.real(19))
    }

    private static func values(_ entry: BlockEntry) -> [SQLiteValue] {
        [.text(entry.key), .text(JSONWriter.string(entry.principal)), .text(entry.kind), .optionalText(entry.arn),
         .optionalText(entry.accessKeyId), .optionalText(entry.accountId), .optionalText(entry.region), .text(entry.reason),
         .optionalText(entry.rule), .optionalText(entry.targetID), .optionalText(entry.eventID), .real(entry.addedAt),
         entry.expiresAt.map(SQLiteValue.real) ?? .null, .text(entry.addedBy), .int(entry.dryRun ? 1 : 0), .optionalText(entry.enforce),
         .text(entry.enforcement.rawValue), .int(entry.enforcementAttempts), .optionalText(entry.lastError),
         entry.enforcedAt.map(SQLiteValue.real) ?? .null]
    }
}
