/// How far into one input file events have been fully accepted, and which content that was.
///
/// `size` and `fingerprint` are the file's identity: a later read resumes only when the file's first
/// `size` bytes still have this fingerprint (the same file, perhaps grown); otherwise the path holds
/// new content and is read from its start.
public struct Checkpoint: Sendable, Equatable {
    /// The file's path, as found.
    public var source: String
    /// How many bytes of the file (as stored: compressed for gzip) had been read: the extent `fingerprint` covers.
    public var size: Int64
    /// The file's modification time when the checkpoint was taken (informational since fingerprints).
    public var modificationTime: Double
    /// A digest of the file's first `size` bytes (`FileFingerprint` in the router); empty in checkpoints
    /// written before fingerprints existed.
    public var fingerprint: String
    /// Items (events and skipped bad records) fully handled, from the start of the file.
    public var items: Int
    /// True once the whole file was read (false while an incomplete item at its end waits to be read again).
    public var complete: Bool
    public var updatedAt: Double

    public init(source: String, size: Int64, modificationTime: Double, fingerprint: String = "", items: Int, complete: Bool,
                updatedAt: Double) {
        self.source = source
        self.size = size
        self.modificationTime = modificationTime
        self.fingerprint = fingerprint
        self.items = items
        self.complete = complete
        self.updatedAt = updatedAt
    }
}

/// Checkpoints of input files, so reading the same `AWSLogs/` tree again does not deliver twice.
///
/// Written in the same transaction as the deliveries they complete (``DeliveryJournal/accept(_:checkpoints:)``).
public struct CheckpointStore: Sendable {
    public let store: StateStore

    public init(store: StateStore) { self.store = store }

    /// The checkpoint of `source`, if it was ever read.
    public func checkpoint(for source: String) throws(StateError) -> Checkpoint? {
        try store.withDatabase { (_) throws(StateError) in
            let select = try store.statement("SELECT source, size, mtime, items, complete, updated_at, fingerprint FROM checkpoints WHERE source = ?1")
            try select.bind(.text(source))
            defer { _ = try? select.bind() }
            guard try select.step() else { return nil }
            return Self.checkpoint(select)
        }
    }

    /// How many files are complete, and how many were left part-way.
    public func counts() throws(StateError) -> (complete: Int, partial: Int) {
        try store.withDatabase { (_) throws(StateError) in
            let select = try store.statement("SELECT sum(complete = 1), sum(complete = 0) FROM checkpoints")
            try select.bind()
            defer { _ = try? select.bind() }
            guard try select.step() else { return (0, 0) }
            return (select.int(0), select.int(1))
        }
    }

    /// Forgets every checkpoint (`--from-start`).
    public func reset() throws(StateError) {
        try store.withDatabase { (db) throws(StateError) in try db.execute("DELETE FROM checkpoints") }
    }

    /// Saves `checkpoints`; call inside a transaction of ``StateStore/withDatabase(_:)``.
    static func save(_ checkpoints: [Checkpoint], store: StateStore) throws(StateError) {
        guard !checkpoints.isEmpty else { return }
        let upsert = try store.statement("""
            INSERT INTO checkpoints(source, size, mtime, items, complete, updated_at, fingerprint) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            ON CONFLICT(source) DO UPDATE SET size = ?2, mtime = ?3, items = ?4, complete = ?5, updated_at = ?6, fingerprint = ?7
            """)
        for checkpoint in checkpoints {
            try upsert.bind(.text(checkpoint.source), .integer(checkpoint.size), .real(checkpoint.modificationTime), .int(checkpoint.items),
                            .int(checkpoint.complete ? 1 : 0), .real(checkpoint.updatedAt), .text(checkpoint.fingerprint)).run()
        }
    }

    static func checkpoint(_ row: SQLiteStatement) -> Checkpoint {
        Checkpoint(source: row.text(0) ?? "", size: row.integer(1), modificationTime: row.real(2), fingerprint: row.text(6) ?? "",
                   items: row.int(3), complete: row.int(4) != 0, updatedAt: row.real(5))
    }
}
