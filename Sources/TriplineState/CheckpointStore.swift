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
    /// The device (`st_dev`) of the directory the file was read in; 0 when not known (checkpoints
    /// written before it was recorded). A check that the file is gone trusts only a directory still on
    /// this device: an unmounted mount point is an empty directory on another one.
    public var directoryDevice: UInt64
    /// When a check first found the file gone (seconds since 1970); nil while it is there. Set and
    /// cleared by ``CheckpointStore/apply(_:)``; cleared whenever the checkpoint is saved again.
    public var missingSince: Double?

    public init(source: String, size: Int64, modificationTime: Double, fingerprint: String = "", items: Int, complete: Bool,
                updatedAt: Double, directoryDevice: UInt64 = 0, missingSince: Double? = nil) {
        self.source = source
        self.size = size
        self.modificationTime = modificationTime
        self.fingerprint = fingerprint
        self.items = items
        self.complete = complete
        self.updatedAt = updatedAt
        self.directoryDevice = directoryDevice
        self.missingSince = missingSince
    }
}

/// What a check of a checkpoint's file found, to record with ``CheckpointStore/apply(_:)``.
///
/// Each names the checkpoint by its source and the `updatedAt` it was read with: a checkpoint saved
/// again since (its file read anew) is left alone.
public enum CheckpointFinding: Sendable, Equatable {
    /// The file is there: it is not missing (an earlier finding is cleared), and an unknown directory
    /// device is filled in with `directoryDevice` (when not 0).
    case present(source: String, updatedAt: Double, directoryDevice: UInt64)
    /// The file is gone, first found so at `since`: the checkpoint is kept, with that time, until the
    /// file has been gone long enough (a time already recorded is kept).
    case missing(source: String, updatedAt: Double, since: Double)
    /// The file has been gone long enough: the checkpoint is deleted.
    case forget(source: String, updatedAt: Double)
}

/// Checkpoints of input files, so reading the same `AWSLogs/` tree again does not deliver twice.
///
/// Written in the same transaction as the deliveries they complete (``DeliveryJournal/accept(_:checkpoints:)``).
/// Checkpoints of files that are gone are forgotten through ``apply(_:)`` (the router decides when);
/// a renamed file's checkpoint follows it with ``move(from:to:keepingSource:)``.
public struct CheckpointStore: Sendable {
    public let store: StateStore

    public init(store: StateStore) { self.store = store }

    /// The checkpoint of `source`, if it was ever read.
    public func checkpoint(for source: String) throws(StateError) -> Checkpoint? {
        try store.withDatabase { (_) throws(StateError) in
            let select = try store.statement("SELECT \(Self.columns) FROM checkpoints WHERE source = ?1")
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

    /// How many checkpoints are of files a check found gone (kept until they have been gone long enough).
    public func missingCount() throws(StateError) -> Int {
        try store.withDatabase { (_) throws(StateError) in
            let select = try store.statement("SELECT count(*) FROM checkpoints WHERE missing_since IS NOT NULL")
            try select.bind()
            defer { _ = try? select.bind() }
            guard try select.step() else { return 0 }
            return select.int(0)
        }
    }

    /// At most `limit` checkpoints whose source starts with `prefix` (which ends in `/`), after
    /// `source` (exclusive), in the sources' byte order: a directory's checkpoints, page by page.
    public func checkpoints(prefix: String, after source: String? = nil, limit: Int = 1_000) throws(StateError) -> [Checkpoint] {
        guard !prefix.isEmpty else { return [] }
        return try store.withDatabase { (_) throws(StateError) in
            let select = try store.statement("""
                SELECT \(Self.columns) FROM checkpoints WHERE source >= ?1 AND source < ?2 AND source > ?3 ORDER BY source LIMIT ?4
                """)
            try select.bind(.text(prefix), .text(Self.end(ofPrefix: prefix)), .text(source ?? ""), .int(limit))
            return try select.rows(Self.checkpoint)
        }
    }

    /// Records what checks of files found, in one transaction; returns how many checkpoints were forgotten.
    @discardableResult
    public func apply(_ findings: [CheckpointFinding]) throws(StateError) -> Int {
        guard !findings.isEmpty else { return 0 }
        return try store.withDatabase { (db) throws(StateError) in
            try db.transaction { () throws(StateError) in
                let present = try store.statement("""
                    UPDATE checkpoints SET missing_since = NULL,
                                           directory_device = CASE WHEN directory_device = 0 THEN ?3 ELSE directory_device END
                    WHERE source = ?1 AND updated_at = ?2
                    """)
                let missing = try store.statement(
                    "UPDATE checkpoints SET missing_since = ?3 WHERE source = ?1 AND updated_at = ?2 AND missing_since IS NULL")
                let forget = try store.statement("DELETE FROM checkpoints WHERE source = ?1 AND updated_at = ?2")
                var forgotten = 0
                for finding in findings {
                    switch finding {
                    case .present(let source, let updatedAt, let device):
                        try present.bind(.text(source), .real(updatedAt), .integer(Int64(bitPattern: device))).run()
                    case .missing(let source, let updatedAt, let since):
                        try missing.bind(.text(source), .real(updatedAt), .real(since)).run()
                    case .forget(let source, let updatedAt):
                        try forget.bind(.text(source), .real(updatedAt)).run()
                        forgotten += db.changes
                    }
                }
                return forgotten
            }
        }
    }

    /// Gives the checkpoint of `source` to `destination` (a file renamed: the same bytes under another
    /// name), replacing any `destination` had; with `keepingSource`, `source` keeps its own too (another
    /// file is there under the old name already). Returns false when `source` had none (nothing changes).
    @discardableResult
    public func move(from source: String, to destination: String, keepingSource: Bool = false) throws(StateError) -> Bool {
        guard source != destination else { return false }
        return try store.withDatabase { (db) throws(StateError) in
            try db.transaction { () throws(StateError) in
                let copy = try store.statement("""
                    INSERT OR REPLACE INTO checkpoints(\(Self.columns))
                    SELECT ?2, size, mtime, items, complete, updated_at, fingerprint, NULL, directory_device FROM checkpoints WHERE source = ?1
                    """)
                try copy.bind(.text(source), .text(destination)).run()
                guard db.changes > 0 else { return false }
                if !keepingSource {
                    try store.statement("DELETE FROM checkpoints WHERE source = ?1").bind(.text(source)).run()
                }
                return true
            }
        }
    }

    /// Gives the checkpoints of the files under the directory prefix `source` (ending in `/`) to the
    /// same names under `destination` (a directory renamed); returns how many moved.
    @discardableResult
    public func moveAll(under source: String, to destination: String) throws(StateError) -> Int {
        guard source.hasSuffix("/"), destination.hasSuffix("/"), source != destination else { return 0 }
        return try store.withDatabase { (db) throws(StateError) in
            try db.transaction { () throws(StateError) in
                // substr and length both count characters, so the prefix is cut off exactly.
                let copy = try store.statement("""
                    INSERT OR REPLACE INTO checkpoints(\(Self.columns))
                    SELECT ?3 || substr(source, length(?1) + 1), size, mtime, items, complete, updated_at, fingerprint, NULL, directory_device
                    FROM checkpoints WHERE source >= ?1 AND source < ?2
                    """)
                try copy.bind(.text(source), .text(Self.end(ofPrefix: source)), .text(destination)).run()
                let moved = db.changes
                try store.statement("DELETE FROM checkpoints WHERE source >= ?1 AND source < ?2")
                    .bind(.text(source), .text(Self.end(ofPrefix: source))).run()
                return moved
            }
        }
    }

    /// Forgets every checkpoint (`--from-start`).
    public func reset() throws(StateError) {
        try store.withDatabase { (db) throws(StateError) in try db.execute("DELETE FROM checkpoints") }
    }

    /// Saves `checkpoints`; call inside a transaction of ``StateStore/withDatabase(_:)``.
    static func save(_ checkpoints: [Checkpoint], store: StateStore) throws(StateError) {
        guard !checkpoints.isEmpty else { return }
        // Saved means just read: not missing, whatever a check found before.
        let upsert = try store.statement("""
            INSERT INTO checkpoints(\(Self.columns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8)
            ON CONFLICT(source) DO UPDATE SET size = ?2, mtime = ?3, items = ?4, complete = ?5, updated_at = ?6, fingerprint = ?7,
                                              missing_since = NULL, directory_device = ?8
            """)
        for checkpoint in checkpoints {
            try upsert.bind(.text(checkpoint.source), .integer(checkpoint.size), .real(checkpoint.modificationTime), .int(checkpoint.items),
                            .int(checkpoint.complete ? 1 : 0), .real(checkpoint.updatedAt), .text(checkpoint.fingerprint),
                            .integer(Int64(bitPattern: checkpoint.directoryDevice))).run()
        }
    }

    /// The columns ``checkpoint(_:)`` reads, in its order.
    static let columns = "source, size, mtime, items, complete, updated_at, fingerprint, missing_since, directory_device"

    static func checkpoint(_ row: SQLiteStatement) -> Checkpoint {
        Checkpoint(source: row.text(0) ?? "", size: row.integer(1), modificationTime: row.real(2), fingerprint: row.text(6) ?? "",
                   items: row.int(3), complete: row.int(4) != 0, updatedAt: row.real(5), directoryDevice: UInt64(bitPattern: row.integer(8)),
                   missingSince: row.isNull(7) ? nil : row.real(7))
    }

    /// The least string above every string that starts with `prefix` (its last byte raised by one), so
    /// that `source >= prefix AND source < end` selects the prefix in SQLite's byte order. Prefixes here
    /// end in `/`, so the result stays valid UTF-8.
    static func end(ofPrefix prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last, last >= 0x7F { bytes.removeLast() }
        guard !bytes.isEmpty else { return "\u{10FFFF}" }
        bytes[bytes.count - 1] += 1
        return String(decoding: bytes, as: UTF8.self)
    }
}
