import TriplineJSON

/// A delivery that will not be retried: its event, where it was going, and every attempt's error.
public struct DeadLetter: Sendable, Equatable {
    public var id: Int64
    public var idempotencyKey: String
    public var rule: String
    public var target: String
    public var eventID: String
    public var origin: String
    /// The normalized event, as compact JSON.
    public var event: [UInt8]
    public var ingestionTime: String
    /// Unix times: accepted for delivery, and dead-lettered.
    public var acceptedAt: Double
    public var deadAt: Double
    /// Why it will not be retried (retries exhausted, too old, a permanent error, …).
    public var reason: String
    public var history: [AttemptRecord]
    /// The dead-letter file it was also appended to, if any.
    public var file: String?

    /// The dead letter as one JSON object: what the dead-letter file holds and `dlq show --json` prints.
    public var json: JSONValue {
        let pairs: KeyValuePairs<String, JSONValue> = [
            "id": .number(JSONNumber(Int(id))), "rule": .string(rule), "target": .string(target), "eventId": .string(eventID),
            "idempotencyKey": .string(idempotencyKey), "origin": .string(origin), "reason": .string(reason),
            "acceptedAt": .string(StateTime.iso8601(acceptedAt)), "deadAt": .string(StateTime.iso8601(deadAt)),
            "attempts": .array(history.map(\.json)),
        ]
        var object = JSONObject(pairs)
        object["event"] = (try? JSONParser.parse(event)) ?? .string(String(decoding: event, as: UTF8.self))
        return .object(object)
    }
}

/// Which dead letters a `dlq` command acts on.
public struct DeadLetterFilter: Sendable, Equatable {
    public var rule: String?
    public var target: String?
    /// Only letters dead-lettered at least this many seconds before `now`.
    public var olderThanSeconds: Double?
    /// Only these ids (empty: any).
    public var ids: [Int64]

    public init(rule: String? = nil, target: String? = nil, olderThanSeconds: Double? = nil, ids: [Int64] = []) {
        self.rule = rule
        self.target = target
        self.olderThanSeconds = olderThanSeconds
        self.ids = ids
    }

    /// The SQL condition and its parameters (numbered from `?1`).
    func clause(now: Double) -> (String, [SQLiteValue]) {
        var conditions: [String] = []
        var values: [SQLiteValue] = []
        if let rule { values.append(.text(rule)); conditions.append("rule = ?\(values.count)") }
        if let target { values.append(.text(target)); conditions.append("target = ?\(values.count)") }
        if let olderThanSeconds { values.append(.real(now - olderThanSeconds)); conditions.append("dead_at <= ?\(values.count)") }
        if !ids.isEmpty {
            conditions.append("id IN (" + ids.map { id in values.append(.integer(id)); return "?\(values.count)" }.joined(separator: ", ") + ")")
        }
        return (conditions.isEmpty ? "1" : conditions.joined(separator: " AND "), values)
    }
}

/// Dead letters kept in the state database: listed, shown, sent back to the queue, or purged.
public struct DeadLetterStore: Sendable {
    public let store: StateStore

    public init(store: StateStore) { self.store = store }

    static let columns = """
        id, idempotency_key, rule, target, event_id, origin, event, ingestion_time, accepted_at, dead_at, reason, history, file
        """

    /// The dead letters `filter` selects, oldest first.
    public func list(_ filter: DeadLetterFilter = DeadLetterFilter(), now: Double) throws(StateError) -> [DeadLetter] {
        let (condition, values) = filter.clause(now: now)
        return try store.withDatabase { (db) throws(StateError) in
            try db.prepare("SELECT \(Self.columns) FROM dead_letters WHERE \(condition) ORDER BY id").bind(values).rows(Self.letter)
        }
    }

    /// Dead letters per `rule/target`.
    public func counts() throws(StateError) -> [(rule: String, target: String, count: Int, newest: Double)] {
        try store.withDatabase { (_) throws(StateError) in
            try store.statement("SELECT rule, target, count(*), max(dead_at) FROM dead_letters GROUP BY rule, target ORDER BY rule, target")
                .bind().rows { ($0.text(0) ?? "", $0.text(1) ?? "", $0.int(2), $0.real(3)) }
        }
    }

    /// Deletes the dead letters `filter` selects; returns how many.
    @discardableResult
    public func purge(_ filter: DeadLetterFilter, now: Double) throws(StateError) -> Int {
        let (condition, values) = filter.clause(now: now)
        return try store.withDatabase { (db) throws(StateError) in
            try db.prepare("DELETE FROM dead_letters WHERE \(condition)").bind(values).run()
            return db.changes
        }
    }

    /// Moves the dead letters `filter` selects back into the delivery queue as fresh deliveries
    /// (attempts and age start again, the idempotency key is kept); returns what was queued.
    ///
    /// A letter whose delivery is already queued again is just removed.
    public func redrive(_ filter: DeadLetterFilter, now: Double) throws(StateError) -> [QueuedDelivery] {
        let (condition, values) = filter.clause(now: now)
        return try store.withDatabase { (db) throws(StateError) in
            try db.transaction { () throws(StateError) -> [QueuedDelivery] in
                let letters = try db.prepare("SELECT \(Self.columns) FROM dead_letters WHERE \(condition) ORDER BY id").bind(values).rows(Self.letter)
                let insert = try store.statement("""
                    INSERT OR IGNORE INTO deliveries(idempotency_key, rule, target, event_id, origin, event, ingestion_time, accepted_at, next_attempt_at)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
                    """)
                let delete = try store.statement("DELETE FROM dead_letters WHERE id = ?1")
                var queued: [QueuedDelivery] = []
                for letter in letters {
                    try insert.bind(.text(letter.idempotencyKey), .text(letter.rule), .text(letter.target), .text(letter.eventID),
                                    .text(letter.origin), .blob(letter.event), .text(letter.ingestionTime), .real(now)).run()
                    if db.changes == 1 {
                        queued.append(QueuedDelivery(id: db.lastInsertRowID, rule: letter.rule, target: letter.target, attempts: 0,
                                                     nextAttemptAt: now, acceptedAt: now))
                    }
                    try delete.bind(.integer(letter.id)).run()
                }
                return queued
            }
        }
    }

    static func fetch(_ id: Int64, store: StateStore) throws(StateError) -> DeadLetter? {
        let select = try store.statement("SELECT \(columns) FROM dead_letters WHERE id = ?1")
        try select.bind(.integer(id))
        defer { _ = try? select.bind() }
        guard try select.step() else { return nil }
        return letter(select)
    }

    static func letter(_ row: SQLiteStatement) -> DeadLetter {
        DeadLetter(id: row.integer(0), idempotencyKey: row.text(1) ?? "", rule: row.text(2) ?? "", target: row.text(3) ?? "",
                   eventID: row.text(4) ?? "", origin: row.text(5) ?? "", event: row.blob(6), ingestionTime: row.text(7) ?? "",
                   acceptedAt: row.real(8), deadAt: row.real(9), reason: row.text(10) ?? "", history: AttemptRecord.decode(row.text(11)),
                   file: row.text(12))
    }
}
