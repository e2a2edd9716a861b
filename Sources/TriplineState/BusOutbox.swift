/// Events for the bus written by a process that is not the run: `tripline blocklist add|remove|expire`
/// put their `User Blocked` / `User Unblocked` / … events here, and `tripline run` routes them like
/// the events it emits itself.
///
/// A run takes the rows in id order (``pending(afterID:limit:)``), matches them, and deletes them
/// with ``remove(ids:store:)`` inside the transaction that accepts the deliveries they matched
/// (``DeliveryJournal/accept(_:checkpoints:alongside:)``): an event leaves the outbox exactly when its
/// deliveries are queued, so a crash either way routes it once. Rows a run never reached (none was
/// running, or it stopped first) wait for the next run, which takes them when it starts.
public struct BusOutbox: Sendable {
    /// One event waiting for a run.
    public struct Item: Sendable, Equatable {
        /// Increasing; a run takes rows above the last id it took.
        public var id: Int64
        /// The event, one line of JSON (an EventBridge envelope).
        public var event: [UInt8]
        /// Who wrote it (`tripline blocklist remove`, …), for log lines.
        public var origin: String
        /// Unix time it was written.
        public var addedAt: Double

        public init(id: Int64, event: [UInt8], origin: String, addedAt: Double) {
            self.id = id
            self.event = event
            self.origin = origin
            self.addedAt = addedAt
        }
    }

    public let store: StateStore

    public init(store: StateStore) { self.store = store }

    /// Writes `events` (each one line of JSON) in one transaction.
    public func add(_ events: [[UInt8]], origin: String, now: Double) throws(StateError) {
        guard !events.isEmpty else { return }
        try store.withDatabase { (db) throws(StateError) in
            try db.transaction { () throws(StateError) in
                let insert = try store.statement("INSERT INTO outbox(event, origin, added_at) VALUES (?1, ?2, ?3)")
                for event in events {
                    try insert.bind(.text(String(decoding: event, as: UTF8.self)), .text(origin), .real(now)).run()
                }
            }
        }
    }

    /// Rows with an id above `afterID`, oldest first, at most `limit`.
    public func pending(afterID: Int64 = 0, limit: Int = 1000) throws(StateError) -> [Item] {
        try store.withDatabase { (_) throws(StateError) in
            try store.statement("SELECT id, event, origin, added_at FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2")
                .bind(.integer(afterID), .int(limit)).rows { row in
                    Item(id: row.integer(0), event: Array((row.text(1) ?? "").utf8), origin: row.text(2) ?? "", addedAt: row.real(3))
                }
        }
    }

    /// How many events wait.
    public func count() throws(StateError) -> Int {
        try store.withDatabase { (_) throws(StateError) in
            let select = try store.statement("SELECT count(*) FROM outbox")
            try select.bind()
            defer { _ = try? select.bind() }
            return try select.step() ? select.int(0) : 0
        }
    }

    /// Deletes the rows `ids`; call inside a transaction of ``StateStore/withDatabase(_:)`` (the one
    /// accepting the deliveries their events matched).
    public static func remove(ids: [Int64], store: StateStore) throws(StateError) {
        guard !ids.isEmpty else { return }
        let delete = try store.statement("DELETE FROM outbox WHERE id = ?1")
        for id in ids { try delete.bind(.integer(id)).run() }
    }
}
