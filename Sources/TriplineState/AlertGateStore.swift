/// One alert key's noise-control state (`Suppress` / `Threshold`) as stored.
public struct AlertGateRecord: Sendable, Equatable {
    public var key: String
    public var lastSentAt: Double?
    public var heldBack: Int
    public var recentMatches: [Double]
    public var lastSeenAt: Double

    public init(key: String, lastSentAt: Double?, heldBack: Int, recentMatches: [Double], lastSeenAt: Double) {
        self.key = key
        self.lastSentAt = lastSentAt
        self.heldBack = heldBack
        self.recentMatches = recentMatches
        self.lastSeenAt = lastSeenAt
    }
}

/// Alert-gate state per target, so suppression windows and thresholds survive restarts.
public struct AlertGateStore: Sendable {
    public let store: StateStore

    public init(store: StateStore) { self.store = store }

    /// Every stored key of `target` (`rule/target`).
    public func load(target: String) throws(StateError) -> [AlertGateRecord] {
        try store.withDatabase { (_) throws(StateError) in
            try store.statement("SELECT key, last_sent_at, held_back, recent, last_seen_at FROM alert_gates WHERE target = ?1 ORDER BY key")
                .bind(.text(target)).rows { row in
                    AlertGateRecord(key: row.text(0) ?? "", lastSentAt: row.isNull(1) ? nil : row.real(1), heldBack: row.int(2),
                                    recentMatches: (row.text(3) ?? "").split(separator: ",").compactMap { Double($0) }, lastSeenAt: row.real(4))
                }
        }
    }

    /// Replaces the stored state of `target` with `records`; call inside a transaction of
    /// ``StateStore/withDatabase(_:)`` (``DeliveryJournal/accept(_:checkpoints:alongside:)`` gives one).
    public static func replace(target: String, with records: [AlertGateRecord], in store: StateStore) throws(StateError) {
        try store.statement("DELETE FROM alert_gates WHERE target = ?1").bind(.text(target)).run()
        let insert = try store.statement("""
            INSERT INTO alert_gates(target, key, last_sent_at, held_back, recent, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            """)
        for record in records {
            try insert.bind(.text(target), .text(record.key), record.lastSentAt.map(SQLiteValue.real) ?? .null, .int(record.heldBack),
                            .text(record.recentMatches.map { String($0) }.joined(separator: ",")), .real(record.lastSeenAt)).run()
        }
    }
}
