#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Testing
@testable import TriplineState

@Suite("State: store directory, lock, schema version, journal mode")
struct StateStoreTests {
    @Test("the write-ahead log is copied into the database every 4,000 pages, not SQLite's 1,000, and commits stay synced")
    func autocheckpointIsLonger() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore.open(directory: dir.path)
        try store.withDatabase { (db) throws(StateError) in
            #expect(try db.pragma("wal_autocheckpoint") == "4000")
            #expect(try db.pragma("journal_mode") == "wal")
            #expect(try db.pragma("synchronous") == "2", "FULL")
        }
    }

    @Test func aSecondOpenOfTheDirectoryIsRefusedNamingTheHoldersPid() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let first = try StateStore.open(directory: dir.path)
        try withExtendedLifetime(first) {
            let error = stateError { () throws(StateError) in try StateStore.open(directory: dir.path) }
            #expect(error == .locked(path: dir.path, holder: "pid \(getpid())"))
            #expect(error?.description.contains("pid \(getpid())") == true)
            #expect(error?.description.contains("in use by another tripline process") == true)
            // The lock file holds our pid for anyone to read.
            let text = try String(contentsOfFile: dir.appending(StateStore.lockName), encoding: .utf8)
            #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == "\(getpid())")
        }
    }

    @Test func theLockIsReleasedWhenTheStoreGoesAway() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        do {
            let first = try StateStore.open(directory: dir.path)
            _ = try DeliveryJournal(store: first).accept([newDelivery("e1")])
        }
        let second = try StateStore.open(directory: dir.path)
        #expect(try DeliveryJournal(store: second).count() == 1)
    }

    @Test func aReadOnlyOpenWorksNextToTheLockHolderAndSeesItsCommits() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try StateStore.open(directory: dir.path)
        let journal = DeliveryJournal(store: writer)
        _ = try journal.accept([newDelivery("e1"), newDelivery("e2")])
        let reader = try StateStore.open(directory: dir.path, readOnly: true)
        #expect(try DeliveryJournal(store: reader).count() == 2)
        // Later commits of the writer are visible to the reader (WAL: no blocking either way).
        _ = try journal.accept([newDelivery("e3")])
        #expect(try DeliveryJournal(store: reader).count() == 3)
        #expect(try DeliveryJournal(store: reader).summary().map(\.pending) == [3])
        withExtendedLifetime(writer) {}
    }

    @Test func aReadOnlyOpenOfADirectoryNothingRanWithIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let missing = dir.appending("never-used")
        for path in [missing, dir.path] {
            let error = stateError { () throws(StateError) in try StateStore.open(directory: path, readOnly: true) }
            guard case .unusableDirectory(let reported, _)? = error else {
                Issue.record("expected unusableDirectory for \(path), got \(String(describing: error))")
                continue
            }
            #expect(reported == path)
        }
        // A read-only open creates nothing.
        #expect(!FileManager.default.fileExists(atPath: missing))
        #expect(!FileManager.default.fileExists(atPath: dir.appending(StateStore.databaseName)))
    }

    @Test(arguments: [StateStore.Access.exclusive(createIfMissing: false), .shared(createIfMissing: false), .readOnly])
    func anOpenThatMayNotCreateRefusesAMissingDirectoryOrDatabaseAndCreatesNothing(_ access: StateStore.Access) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let missing = dir.appending("never-used")
        let error = stateError { () throws(StateError) in try StateStore.open(directory: missing, access: access) }
        #expect(error == .unusableDirectory(path: missing, reason: "it does not exist (nothing has run with it yet)"))
        #expect(!FileManager.default.fileExists(atPath: missing))
        let noDatabase = stateError { () throws(StateError) in try StateStore.open(directory: dir.path, access: access) }
        #expect(noDatabase == .unusableDirectory(path: dir.path, reason: "it holds no tripline.db (nothing has run with it yet)"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test(arguments: [StateStore.Access.exclusive(createIfMissing: true), .shared(createIfMissing: true)])
    func anOpenThatMayCreateCreatesTheDirectoryAndSchema(_ access: StateStore.Access) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending("new/state")
        let store = try StateStore.open(directory: path, access: access)
        #expect(try store.withDatabase { (db) throws(StateError) in try db.pragma("user_version") } == "\(StateStore.schemaVersion)")
        // Only the exclusive open writes its pid into the lock file.
        #expect(FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent(StateStore.lockName)) == (access == .exclusive(createIfMissing: true)))
    }

    @Test func aDatabaseWithANewerSchemaIsRefusedAndTheLockReleased() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        do {
            let store = try StateStore.open(directory: dir.path)
            try store.withDatabase { (db) throws(StateError) in try db.execute("PRAGMA user_version=\(StateStore.schemaVersion + 1)") }
        }
        let databasePath = dir.appending(StateStore.databaseName)
        for readOnly in [false, true] {
            let error = stateError { () throws(StateError) in try StateStore.open(directory: dir.path, readOnly: readOnly) }
            #expect(error == .newerSchema(path: databasePath, found: StateStore.schemaVersion + 1, supported: StateStore.schemaVersion))
            #expect(error?.description.contains("newer") == true)
        }
        #expect(lockIsFree(dir))
    }

    @Test func aFileThatIsNotADatabaseIsReportedAsDamaged() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data(String(repeating: "this is not a SQLite database. ", count: 64).utf8).write(to: URL(fileURLWithPath: dir.appending(StateStore.databaseName)))
        for readOnly in [false, true] {
            let error = stateError { () throws(StateError) in try StateStore.open(directory: dir.path, readOnly: readOnly) }
            #expect(error?.description.contains("damaged") == true, "\(String(describing: error))")
            #expect(error?.description.contains(dir.appending(StateStore.databaseName)) == true)
        }
        #expect(lockIsFree(dir))
    }

    @Test(arguments: [
        ("a regular file", "state", "not a directory"),
        ("a path below a regular file", "state/inner", "cannot create it"),
    ])
    func anUnusableDirectoryIsRefused(_ situation: String, _ relative: String, _ reason: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.appending("state")))
        let path = dir.appending(relative)
        let error = stateError { () throws(StateError) in try StateStore.open(directory: path) }
        guard case .unusableDirectory(let reported, let why)? = error else {
            Issue.record("\(situation): expected unusableDirectory, got \(String(describing: error))")
            return
        }
        #expect(reported == path)
        #expect(why.contains(reason), "\(situation): \(why)")
        #expect(error?.description.hasPrefix("state directory \(path) cannot be used") == true)
    }

    @Test(arguments: [(StateStore.Synchronous.full, "2"), (.normal, "1")])
    func aDirectoryStoreRunsInWALModeWithTheChosenSynchronous(_ synchronous: StateStore.Synchronous, _ expected: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore.open(directory: dir.path, synchronous: synchronous)
        #expect(store.directory == dir.path)
        #expect(store.databasePath == dir.appending(StateStore.databaseName))
        #expect(try store.withDatabase { (db) throws(StateError) in try db.pragma("journal_mode") } == "wal")
        #expect(try store.withDatabase { (db) throws(StateError) in try db.pragma("synchronous") } == expected)
        #expect(try store.withDatabase { (db) throws(StateError) in try db.pragma("user_version") } == "\(StateStore.schemaVersion)")
    }

    @Test func anInMemoryStoreHasTheSchemaAndNoDirectory() throws {
        let store = try StateStore.inMemory()
        #expect(store.directory == nil)
        #expect(store.path("x") == nil)
        #expect(try store.withDatabase { (db) throws(StateError) in try db.pragma("user_version") } == "\(StateStore.schemaVersion)")
        for table in ["deliveries", "dead_letters", "checkpoints", "settled"] { #expect(try rowCount(store, table) == 0) }
    }

    @Test func aVersion1DatabaseIsUpgradedKeepingItsRows() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending(StateStore.databaseName)
        do {
            let old = try SQLiteDatabase(path: path, create: true, readOnly: false)
            try old.execute(StateSchema.version1)
            try old.execute("PRAGMA user_version=1")
            try old.execute(#"INSERT INTO checkpoints VALUES ('a.json', 10, 1.5, 3, 1, 2.5)"#)
        }
        let store = try StateStore.open(directory: dir.path)
        #expect(try store.withDatabase { (db) throws(StateError) in try db.pragma("user_version") } == "\(StateStore.schemaVersion)")
        #expect(try rowCount(store, "checkpoints") == 1)
        #expect(try rowCount(store, "settled") == 0)
    }

    @Test func aVersion3DatabaseIsUpgradedKeepingItsDeadLettersAndTheirIds() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending(StateStore.databaseName)
        do {
            let old = try SQLiteDatabase(path: path, create: true, readOnly: false)
            for upgrade in StateSchema.upgrades[..<3] { try old.execute(upgrade) }
            try old.execute("PRAGMA user_version=3")
            // Letters 1 to 3 were written and 3 purged: what a version 3 database looks like after some use.
            for id in 1...3 {
                try old.execute("""
                    INSERT INTO dead_letters(id, idempotency_key, rule, target, event_id, origin, event, ingestion_time, accepted_at,
                                             dead_at, reason, attempts, history, file)
                    VALUES (\(id), 'e\(id):r:t', 'r', 't', 'e\(id)', 'o', x'7B7D', '2023-11-14T22:13:20Z', 1, 2, 'gone', 1, '[]', NULL)
                    """)
            }
            try old.execute("DELETE FROM dead_letters WHERE id = 3")
            try old.execute(#"INSERT INTO checkpoints(source, size, mtime, items, complete, updated_at, fingerprint) VALUES ('a.json', 10, 1.5, 3, 1, 2.5, 'abc')"#)
        }
        let store = try StateStore.open(directory: dir.path)
        #expect(try store.withDatabase { (db) throws(StateError) in try db.pragma("user_version") } == "\(StateStore.schemaVersion)")
        let kept = try DeadLetterStore(store: store).list(now: 10)
        #expect(kept.map(\.id) == [1, 2])
        #expect(kept.map(\.eventID) == ["e1", "e2"])
        #expect(kept.map(\.event) == [Array("{}".utf8), Array("{}".utf8)])
        #expect(try CheckpointStore(store: store).checkpoint(for: "a.json")?.items == 3)
        // The index survives the rebuild. From now on ids are not reused: after purging 2 (the highest
        // left), the next letter gets 3, where version 3 handed out 2 again. (3 itself, purged before the
        // upgrade, cannot be known.)
        #expect(try store.withDatabase { (db) throws(StateError) in
            try db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'dead_letters_by_target'").rows { $0.int(0) }
        } == [1])
        #expect(try DeadLetterStore(store: store).purge(DeadLetterFilter(ids: [2]), now: 10) == 1)
        let queued = try DeliveryJournal(store: store).accept([newDelivery("e9")])
        let letter = try DeliveryJournal(store: store).deadLetter(queued[0].id, failure: nil, reason: "gone", file: nil, at: 10)
        #expect(letter?.id == 3)
    }

    @Test func reopeningKeepsEverything() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        do {
            let store = try StateStore.open(directory: dir.path)
            let queued = try DeliveryJournal(store: store).accept([newDelivery("a"), newDelivery("b")],
                                                                   checkpoints: [Checkpoint(source: "/logs/1.json", size: 10, modificationTime: 5,
                                                                                            items: 3, complete: true, updatedAt: baseTime)])
            _ = try DeliveryJournal(store: store).deadLetter(queued[0].id, failure: nil, reason: "gone", file: nil, at: baseTime + 1)
        }
        let store = try StateStore.open(directory: dir.path)
        #expect(try DeliveryJournal(store: store).count() == 1)
        #expect(try DeadLetterStore(store: store).list(now: baseTime + 2).map(\.eventID) == ["a"])
        #expect(try CheckpointStore(store: store).checkpoint(for: "/logs/1.json")?.items == 3)
    }

    /// Whether another open file description can take the directory's lock right now.
    private func lockIsFree(_ dir: TemporaryDirectory) -> Bool {
        let fd = open(dir.appending(StateStore.lockName), O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return flock(fd, LOCK_EX | LOCK_NB) == 0
    }

    /// The bytes of the database and its write-ahead log in `dir`.
    private func databaseBytes(_ dir: TemporaryDirectory) -> Int {
        [StateStore.databaseName, StateStore.databaseName + "-wal"].reduce(0) { total, name in
            total + ((try? FileManager.default.attributesOfItem(atPath: dir.appending(name))[.size] as? Int) ?? 0)
        }
    }

    @Test func theWriteCheckLeavesNoLastingGrowth() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore.open(directory: dir.path)
        let journal = DeliveryJournal(store: store)
        var sizes: [Int] = []
        for run in 0..<6 {
            // What a run does first, then a commit of its own.
            try store.checkWritable()
            _ = try journal.accept([newDelivery("e\(run)")])
            sizes.append(databaseBytes(dir))
        }
        // The first check's pages stay in the database file, free, and later checks reuse them; its
        // frames do not stay in the write-ahead log (about 140 KB a check before).
        #expect(sizes[5] <= sizes[1] + 16 * 1024, "\(sizes)")
        let log = (try? FileManager.default.attributesOfItem(atPath: dir.appending(StateStore.databaseName + "-wal"))[.size] as? Int) ?? 0
        #expect(log < 64 * 1024, "\(log)")
        #expect(try journal.count() == 6)
        #expect(try rowCount(store, "settled") == 0)
    }
}
