import TriplineJSON

/// The durable delivery queue: accepted matches wait here until their target succeeds.
///
/// A delivery is inserted (in a batch, with the input checkpoints it completes) before it counts as
/// accepted, and deleted once its target succeeded; failed attempts move its next attempt time and
/// append to its history; an exhausted delivery moves to ``DeadLetterStore`` in the same transaction.
/// The idempotency key is unique: accepting a delivery that is already queued is a no-op, and so is
/// accepting one whose key was settled (delivered or dead-lettered) within ``deduplicationWindow``:
/// the same record read twice (a duplicate in CloudTrail's output, the same file under two names)
/// is delivered once, whether or not its first copy is still queued.
public struct DeliveryJournal: Sendable {
    public let store: StateStore
    /// How long a settled key keeps later copies out, in seconds; 0 turns de-duplication of settled
    /// deliveries off (copies of a still-queued delivery are always folded into it).
    public let deduplicationWindow: Double

    /// A day: CloudTrail's own duplicates arrive within minutes, and a re-read of old files is
    /// already stopped by checkpoints.
    public static let defaultDeduplicationWindow: Double = 86_400

    public init(store: StateStore, deduplicationWindow: Double = DeliveryJournal.defaultDeduplicationWindow) {
        self.store = store
        self.deduplicationWindow = max(0, deduplicationWindow)
    }

    /// Inserts `deliveries` and records `checkpoints` in one transaction; returns the deliveries that
    /// were new (those already queued under the same idempotency key, or settled within the
    /// de-duplication window, are skipped).
    ///
    /// `alongside` runs inside the same transaction (alert-gate state, which must agree with what was
    /// queued); `skipped` hears the index in `deliveries` of each one skipped (told before the
    /// transaction commits: it counts only when this returns).
    public func accept(_ deliveries: [NewDelivery], checkpoints: [Checkpoint] = [],
                       alongside: ((StateStore) throws(StateError) -> Void)? = nil,
                       skipped: (Int) -> Void = { _ in }) throws(StateError) -> [QueuedDelivery] {
        try acceptStored(deliveries, checkpoints: checkpoints, alongside: alongside, skipped: skipped).map(\.queued)
    }

    /// ``accept(_:checkpoints:alongside:skipped:)`` returning the new deliveries as ``load(_:)``
    /// would read them right after the commit (no attempt made yet): a dispatcher given them need
    /// not read them back before their first attempt.
    public func acceptStored(_ deliveries: [NewDelivery], checkpoints: [Checkpoint] = [],
                             alongside: ((StateStore) throws(StateError) -> Void)? = nil,
                             skipped: (Int) -> Void = { _ in }) throws(StateError) -> [StoredDelivery] {
        try store.withDatabase { (db) throws(StateError) in
            try db.transaction { () throws(StateError) in
                let queued = try insert(deliveries, db: db, skipped: skipped)
                try CheckpointStore.save(checkpoints, store: store)
                try alongside?(store)
                return queued
            }
        }
    }

    /// Inserts `deliveries` (inside the caller's transaction); returns those that were new and tells
    /// `skipped` the index of each one already queued or settled within the window.
    private func insert(_ deliveries: [NewDelivery], db: SQLiteDatabase, skipped: (Int) -> Void) throws(StateError) -> [StoredDelivery] {
        let insert = try store.statement("""
            INSERT OR IGNORE INTO deliveries(idempotency_key, rule, target, event_id, origin, event, ingestion_time, accepted_at,
                                             next_attempt_at, suppressed)
            SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9
            WHERE NOT EXISTS (SELECT 1 FROM settled WHERE idempotency_key = ?1 AND settled_at >= ?10)
            """)
        // Nothing is settled in the future: a zero window lets every key through.
        let settledSince = deduplicationWindow > 0 ? StateTime.now() - deduplicationWindow : Double.infinity
        var queued: [StoredDelivery] = []
        queued.reserveCapacity(deliveries.count)
        for (index, delivery) in deliveries.enumerated() {
            try insert.bind(.text(delivery.idempotencyKey), .text(delivery.rule), .text(delivery.target), .text(delivery.eventID),
                            .text(delivery.origin), .blob(delivery.event), .text(delivery.ingestionTime), .real(delivery.acceptedAt),
                            .int(delivery.suppressedCount), .real(settledSince)).run()
            if db.changes == 1 {
                // What `load` reads back: the row as inserted, with the columns' defaults (no attempt, no history).
                queued.append(StoredDelivery(
                    queued: QueuedDelivery(id: db.lastInsertRowID, rule: delivery.rule, target: delivery.target, attempts: 0,
                                           nextAttemptAt: delivery.acceptedAt, acceptedAt: delivery.acceptedAt),
                    eventID: delivery.eventID, origin: delivery.origin, event: delivery.event, ingestionTime: delivery.ingestionTime,
                    history: [], suppressedCount: delivery.suppressedCount))
            } else {
                skipped(index)
            }
        }
        return queued
    }

    /// Queued deliveries with an id above `afterID`, oldest first, at most `limit`: what a restarted
    /// run resumes, and how deliveries beyond the in-memory window are paged in. Read like
    /// ``load(_:)``, without waiting for a commit in progress.
    public func pending(afterID: Int64 = 0, limit: Int = Int.max) throws(StateError) -> [QueuedDelivery] {
        try store.withReader { (_, statement) throws(StateError) in
            try statement("SELECT id, rule, target, attempts, next_attempt_at, accepted_at FROM deliveries WHERE id > ?1 ORDER BY id LIMIT ?2")
                .bind(.integer(afterID), .int(min(limit, Int(Int64.max)))).rows { row in
                QueuedDelivery(id: row.integer(0), rule: row.text(1) ?? "", target: row.text(2) ?? "", attempts: row.int(3),
                               nextAttemptAt: row.real(4), acceptedAt: row.real(5))
            }
        }
    }

    /// The queued delivery `id` with its event; nil when it is no longer queued.
    ///
    /// Read through the store's reader connection (``StateStore/withReader(_:)``): it does not wait
    /// for a commit in progress, and sees every commit that returned before it was called (a
    /// delivery is handed to the dispatcher only once committed), never an uncommitted one.
    public func load(_ id: Int64) throws(StateError) -> StoredDelivery? {
        try store.withReader { (_, statement) throws(StateError) in
            let select = try statement("SELECT \(Self.storedColumns) FROM deliveries WHERE id = ?1")
            try select.bind(.integer(id))
            defer { _ = try? select.bind() }
            guard try select.step() else { return nil }
            return Self.stored(select)
        }
    }

    /// The queued deliveries to `rule`/`target` with their events, oldest first, at most `limit`: what a
    /// run must know of an earlier run's work for that target before any of it runs again.
    public func stored(rule: String, target: String, limit: Int) throws(StateError) -> [StoredDelivery] {
        try store.withReader { (_, statement) throws(StateError) in
            try statement("SELECT \(Self.storedColumns) FROM deliveries WHERE rule = ?1 AND target = ?2 ORDER BY id LIMIT ?3")
                .bind(.text(rule), .text(target), .int(max(0, limit))).rows { Self.stored($0) }
        }
    }

    private static let storedColumns = "id, rule, target, attempts, next_attempt_at, accepted_at, event_id, origin, event, ingestion_time, history, suppressed"

    /// The row of a select of ``storedColumns``.
    private static func stored(_ row: SQLiteStatement) -> StoredDelivery {
        StoredDelivery(
            queued: QueuedDelivery(id: row.integer(0), rule: row.text(1) ?? "", target: row.text(2) ?? "", attempts: row.int(3),
                                   nextAttemptAt: row.real(4), acceptedAt: row.real(5)),
            eventID: row.text(6) ?? "", origin: row.text(7) ?? "", event: row.blob(8), ingestionTime: row.text(9) ?? "",
            history: AttemptRecord.decode(row.text(10)), suppressedCount: row.int(11))
    }

    /// Removes deliveries whose target succeeded (one transaction for the lot), settling their keys.
    public func complete(_ ids: [Int64]) throws(StateError) {
        _ = try complete(ids, adding: [])
    }

    /// Removes deliveries whose target succeeded, settling their keys, and inserts the deliveries
    /// those successes add (a topic publish's subscription deliveries), all in one transaction:
    /// after a crash either both happened or neither did (the publish is then attempted again, and
    /// adds the same idempotency keys). Returns the added deliveries that were new, like
    /// ``accept(_:checkpoints:alongside:skipped:)``; `skipped` hears the index in `deliveries` of
    /// each one already queued or settled within the window (told before the commit).
    public func complete(_ ids: [Int64], adding deliveries: [NewDelivery],
                         skipped: (Int) -> Void = { _ in }) throws(StateError) -> [QueuedDelivery] {
        try completeStored(ids, adding: deliveries, skipped: skipped).map(\.queued)
    }

    /// ``complete(_:adding:skipped:)`` returning the added deliveries as ``load(_:)`` would read
    /// them right after the commit (see ``acceptStored(_:checkpoints:alongside:skipped:)``).
    public func completeStored(_ ids: [Int64], adding deliveries: [NewDelivery],
                               skipped: (Int) -> Void = { _ in }) throws(StateError) -> [StoredDelivery] {
        guard !ids.isEmpty || !deliveries.isEmpty else { return [] }
        let now = StateTime.now()
        return try store.withDatabase { (db) throws(StateError) in
            try db.transaction { () throws(StateError) in
                let queued = try insert(deliveries, db: db, skipped: skipped)
                let settle = try store.statement(Self.settleSQL)
                let delete = try store.statement("DELETE FROM deliveries WHERE id = ?1")
                for id in ids {
                    try settle.bind(.integer(id), .real(now)).run()
                    try delete.bind(.integer(id)).run()
                }
                return queued
            }
        }
    }

    /// Forgets settled keys older than the de-duplication window; returns how many.
    @discardableResult
    public func pruneSettled(now: Double = StateTime.now()) throws(StateError) -> Int {
        try store.withDatabase { (db) throws(StateError) in
            try store.statement("DELETE FROM settled WHERE settled_at < ?1").bind(.real(now - deduplicationWindow)).run()
            return db.changes
        }
    }

    /// How many keys are settled (delivered or dead-lettered within the window, or not yet pruned).
    public func settledCount() throws(StateError) -> Int {
        try store.withDatabase { (_) throws(StateError) in
            let select = try store.statement("SELECT count(*) FROM settled")
            try select.bind()
            defer { _ = try? select.bind() }
            return try select.step() ? select.int(0) : 0
        }
    }

    /// Records the key of queued delivery ?1 as settled at ?2.
    private static let settleSQL = "INSERT OR REPLACE INTO settled(idempotency_key, settled_at) SELECT idempotency_key, ?2 FROM deliveries WHERE id = ?1"

    /// Records a failed attempt and when the next one is due.
    public func reschedule(_ id: Int64, failure: AttemptRecord, nextAttemptAt: Double) throws(StateError) {
        try store.withDatabase { (db) throws(StateError) in
            try db.transaction { () throws(StateError) in
                let history = try Self.history(id, store: store)
                try store.statement("UPDATE deliveries SET attempts = ?2, next_attempt_at = ?3, last_error = ?4, history = ?5 WHERE id = ?1")
                    .bind(.integer(id), .int(failure.attempt), .real(nextAttemptAt), .text(failure.error),
                          .text(AttemptRecord.encode(history + [failure]))).run()
            }
        }
    }

    /// Sets when a delivery is next due without counting an attempt (nothing was sent).
    public func postpone(_ id: Int64, until nextAttemptAt: Double) throws(StateError) {
        try store.withDatabase { (_) throws(StateError) in
            try store.statement("UPDATE deliveries SET next_attempt_at = ?2 WHERE id = ?1").bind(.integer(id), .real(nextAttemptAt)).run()
        }
    }

    /// Moves a delivery to the dead letters, with its last failure and the reason it will not be
    /// retried; returns the dead letter (nil when the delivery is no longer queued).
    public func deadLetter(_ id: Int64, failure: AttemptRecord?, reason: String, file: String?, at now: Double) throws(StateError) -> DeadLetter? {
        try store.withDatabase { (db) throws(StateError) in
            try db.transaction { () throws(StateError) -> DeadLetter? in
                let history = try Self.history(id, store: store) + (failure.map { [$0] } ?? [])
                try store.statement("""
                    INSERT INTO dead_letters(idempotency_key, rule, target, event_id, origin, event, ingestion_time, accepted_at, dead_at,
                                             reason, attempts, history, file)
                    SELECT idempotency_key, rule, target, event_id, origin, event, ingestion_time, accepted_at, ?2, ?3, ?4, ?5, ?6
                    FROM deliveries WHERE id = ?1
                    """).bind(.integer(id), .real(now), .text(reason), .int(history.count), .text(AttemptRecord.encode(history)),
                              .optionalText(file)).run()
                guard db.changes == 1 else { return nil }
                let letterID = db.lastInsertRowID
                try store.statement(Self.settleSQL).bind(.integer(id), .real(now)).run()
                try store.statement("DELETE FROM deliveries WHERE id = ?1").bind(.integer(id)).run()
                return try DeadLetterStore.fetch(letterID, store: store)
            }
        }
    }

    /// How many deliveries are queued.
    public func count() throws(StateError) -> Int {
        try store.withDatabase { (_) throws(StateError) in
            let select = try store.statement("SELECT count(*) FROM deliveries")
            try select.bind()
            defer { _ = try? select.bind() }
            return try select.step() ? select.int(0) : 0
        }
    }

    /// Queued deliveries per `rule/target`: how many, how many have failed at least once, the next due time.
    public func summary() throws(StateError) -> [QueueSummary] {
        try store.withDatabase { (_) throws(StateError) in
            try store.statement("""
                SELECT rule, target, count(*), sum(attempts > 0), min(next_attempt_at), max(attempts)
                FROM deliveries GROUP BY rule, target ORDER BY rule, target
                """).bind().rows { row in
                QueueSummary(rule: row.text(0) ?? "", target: row.text(1) ?? "", pending: row.int(2), retrying: row.int(3),
                             nextAttemptAt: row.real(4), mostAttempts: row.int(5))
            }
        }
    }

    private static func history(_ id: Int64, store: StateStore) throws(StateError) -> [AttemptRecord] {
        let select = try store.statement("SELECT history FROM deliveries WHERE id = ?1")
        try select.bind(.integer(id))
        defer { _ = try? select.bind() }
        guard try select.step() else { return [] }
        return AttemptRecord.decode(select.text(0))
    }
}
