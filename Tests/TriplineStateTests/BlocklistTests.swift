import Foundation
import Testing
import TriplineJSON
@testable import TriplineState

private func entry(_ key: String, at: Double = 1_000, expiresAt: Double? = nil, dryRun: Bool = false, accessKeyId: String? = nil,
                   enforcement: BlockEntry.Enforcement = .pending) -> BlockEntry {
    BlockEntry(key: key, principal: ["kind": "iamUser", "key": .string(key), "arn": .string(key)], kind: "iamUser", arn: key,
               accessKeyId: accessKeyId, accountId: "111122223333", region: "us-east-1", reason: "test", rule: "r", targetID: "block",
               eventID: "e-\(key.count)", addedAt: at, expiresAt: expiresAt, addedBy: "rule r", dryRun: dryRun,
               enforce: "Handlers/block-user.sh", enforcement: enforcement)
}

private func withStateDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tripline-blocklist-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}

@Suite("Blocklist: the durable store")
struct BlocklistTests {
    @Test("adding is idempotent: an actively blocked principal is not written again")
    func addIsIdempotent() throws {
        let blocklist = try Blocklist(store: try StateStore.inMemory())
        let alice = entry("arn:aws:iam::111122223333:user/alice", expiresAt: 5_000)
        #expect(try blocklist.add(alice, now: 1_000) == .added(alice))
        var again = entry("arn:aws:iam::111122223333:user/alice", at: 2_000, expiresAt: 9_000)
        again.reason = "second"
        #expect(try blocklist.add(again, now: 2_000) == .alreadyBlocked(alice))
        #expect(try blocklist.entry(alice.key) == alice)
        #expect(try blocklist.count() == 1)
    }

    @Test("an expired entry, or a dry-run entry met by a real block, is replaced")
    func replacesExpiredAndDryRun() throws {
        let blocklist = try Blocklist(store: try StateStore.inMemory())
        let key = "arn:aws:iam::111122223333:user/bob"
        _ = try blocklist.add(entry(key, expiresAt: 1_500), now: 1_000)
        let renewed = entry(key, at: 2_000, expiresAt: 3_000)
        #expect(try blocklist.add(renewed, now: 2_000) == .added(renewed), "expired at 1500")
        let dry = entry("arn:aws:iam::111122223333:user/carol", dryRun: true)
        _ = try blocklist.add(dry, now: 1_000)
        #expect(try blocklist.add(entry(dry.key, dryRun: true), now: 1_100) == .alreadyBlocked(dry))
        let real = entry(dry.key, at: 1_200)
        #expect(try blocklist.add(real, now: 1_200) == .added(real))
    }

    @Test("remove returns the entry; entry, list and expired see what is there")
    func removeListExpired() throws {
        let blocklist = try Blocklist(store: try StateStore.inMemory())
        let forever = entry("arn:aws:iam::1:user/a", at: 100)
        let short = entry("arn:aws:iam::1:user/b", at: 200, expiresAt: 300)
        let long = entry("arn:aws:iam::1:user/c", at: 300, expiresAt: 10_000)
        for e in [forever, short, long] { _ = try blocklist.add(e, now: e.addedAt) }
        #expect(try blocklist.list(now: 400).map(\.key) == [forever.key, short.key, long.key])
        #expect(try blocklist.list(includeExpired: false, now: 400).map(\.key) == [forever.key, long.key])
        #expect(try blocklist.expired(now: 299).isEmpty)
        #expect(try blocklist.expired(now: 300).map(\.key) == [short.key], "an expiry at now has expired")
        #expect(try blocklist.remove(short.key) == short)
        #expect(try blocklist.remove(short.key) == nil)
        #expect(try blocklist.entry(short.key) == nil)
        #expect(try blocklist.count() == 2)
    }

    @Test("isBlocked and the snapshot know keys, ARNs and access key ids, and honour expiry")
    func lookups() throws {
        let blocklist = try Blocklist(store: try StateStore.inMemory())
        var role = entry("arn:aws:iam::1:role/Deploy", expiresAt: 2_000, accessKeyId: "ASIAEXAMPLEKEY000001")
        role.arn = "arn:aws:sts::1:assumed-role/Deploy/ci"
        _ = try blocklist.add(role, now: 1_000)
        _ = try blocklist.add(entry("arn:aws:iam::1:user/dry", dryRun: true), now: 1_000)
        for identifier in [role.key, "arn:aws:sts::1:assumed-role/Deploy/ci", "ASIAEXAMPLEKEY000001"] {
            #expect(try blocklist.isBlocked(identifier, now: 1_500), "\(identifier)")
            #expect(!(try blocklist.isBlocked(identifier, now: 2_000)), "\(identifier) after expiry")
        }
        #expect(!(try blocklist.isBlocked("arn:aws:iam::1:user/someone", now: 1_500)))
        let snapshot = try blocklist.snapshot(now: 1_500)
        #expect(snapshot.count == 4)
        #expect(snapshot.isBlocked("ASIAEXAMPLEKEY000001", now: 1_500))
        #expect(!snapshot.isBlocked("ASIAEXAMPLEKEY000001", now: 2_500), "a snapshot honours expiry as time passes")
        #expect(snapshot.isDryRun("arn:aws:iam::1:user/dry") && !snapshot.isDryRun(role.key))
        #expect(try blocklist.snapshot(now: 2_500).count == 1, "expired entries are left out")
        #expect(BlockedKeys.empty.isEmpty)
    }

    @Test("enforcement status: failed counts attempts and keeps the error; enforced clears it")
    func enforcement() throws {
        let blocklist = try Blocklist(store: try StateStore.inMemory())
        let alice = entry("arn:aws:iam::1:user/alice")
        _ = try blocklist.add(alice, now: 1_000)
        try blocklist.markFailed(alice.key, error: "exit status 3")
        var stored = try #require(try blocklist.entry(alice.key))
        #expect(stored.enforcement == .failed && stored.enforcementAttempts == 1 && stored.lastError == "exit status 3")
        try blocklist.markEnforced(alice.key, at: 1_010, enforce: "other.sh")
        stored = try #require(try blocklist.entry(alice.key))
        #expect(stored.enforcement == .enforced && stored.enforcementAttempts == 2 && stored.lastError == nil)
        #expect(stored.enforcedAt == 1_010 && stored.enforce == "other.sh")
        try blocklist.recordError(alice.key, error: "unblock failed")
        #expect(try blocklist.entry(alice.key)?.enforcement == .enforced)
        #expect(try blocklist.entry(alice.key)?.lastError == "unblock failed")
    }

    @Test("entries and the breaker's state survive closing and reopening the state directory")
    func persistence() throws {
        try withStateDirectory { dir in
            let alice = entry("arn:aws:iam::1:user/alice", expiresAt: 4_600, accessKeyId: "AKIAEXAMPLEKEY000001")
            do {
                let blocklist = try Blocklist(store: try StateStore.open(directory: dir))
                _ = try blocklist.add(alice, now: 1_000, breaker: BlockBreakerState(recentBlocks: [1_000], isTripped: false))
                try blocklist.saveBreakerState(BlockBreakerState(recentBlocks: [900, 1_000.5], isTripped: true), now: 1_001)
            }
            let reopened = try Blocklist(store: try StateStore.open(directory: dir))
            #expect(try reopened.entry(alice.key) == alice)
            #expect(try reopened.breakerState() == BlockBreakerState(recentBlocks: [900, 1_000.5], isTripped: true))
            #expect(try reopened.breakerState(name: "other") == BlockBreakerState())
            #expect(try reopened.expired(now: 4_600).map(\.key) == [alice.key])
            // A read-only view (as `blocklist list` opens it next to a run) sees the same.
            let readOnly = try Blocklist(store: try StateStore.open(directory: dir, readOnly: true))
            #expect(try readOnly.list(now: 0) == [alice])
        }
    }

    @Test("the breaker's state is saved only when the block is written")
    func breakerWithAdd() throws {
        let blocklist = try Blocklist(store: try StateStore.inMemory())
        let alice = entry("arn:aws:iam::1:user/alice")
        _ = try blocklist.add(alice, now: 1_000, breaker: BlockBreakerState(recentBlocks: [1_000]))
        _ = try blocklist.add(alice, now: 1_001, breaker: BlockBreakerState(recentBlocks: [1_000, 1_001]))
        #expect(try blocklist.breakerState() == BlockBreakerState(recentBlocks: [1_000]))
    }

    @Test("the breaker's state keeps the run's limit and window; a save without them keeps the last ones")
    func breakerLimits() throws {
        let blocklist = try Blocklist(store: try StateStore.inMemory())
        #expect(try blocklist.savedBreakerState() == nil)
        try blocklist.saveBreakerState(BlockBreakerState(recentBlocks: [1_000, 1_500], isTripped: false, maxBlocks: 2, windowSeconds: 600), now: 1_500)
        let saved = try #require(try blocklist.savedBreakerState())
        #expect(saved.updatedAt == 1_500)
        #expect(saved.state == BlockBreakerState(recentBlocks: [1_000, 1_500], maxBlocks: 2, windowSeconds: 600))
        try blocklist.saveBreakerState(BlockBreakerState(recentBlocks: [1_500], isTripped: true), now: 1_700)
        #expect(try blocklist.breakerState() == BlockBreakerState(recentBlocks: [1_500], isTripped: true, maxBlocks: 2, windowSeconds: 600))
    }

    @Test("open while the window holds the limit's number of blocks; reopens when enough of them have left it")
    func breakerStateArithmetic() {
        let state = BlockBreakerState(recentBlocks: [100, 200, 300], maxBlocks: 2, windowSeconds: 1_000)
        #expect(state.blocksInWindow(now: 350) == 3 && state.isOpen(now: 350) == true)
        // Two must leave for one more to fit: the one at 200 leaves at 1200.
        #expect(state.reopensAt(now: 350) == 1_200)
        #expect(state.blocksInWindow(now: 1_150) == 2 && state.isOpen(now: 1_150) == true && state.reopensAt(now: 1_150) == 1_200)
        #expect(state.isOpen(now: 1_200) == false && state.reopensAt(now: 1_200) == nil)
        let unknown = BlockBreakerState(recentBlocks: [100], isTripped: true)
        #expect(unknown.blocksInWindow(now: 200) == nil && unknown.isOpen(now: 200) == nil && unknown.reopensAt(now: 200) == nil)
    }

    @Test("a breaker saved before limits were kept reads as unknown, also read-only, and keeps its row through the upgrade")
    func breakerFromVersion5() throws {
        try withStateDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            do {
                let old = try SQLiteDatabase(path: (dir as NSString).appendingPathComponent(StateStore.databaseName), create: true, readOnly: false)
                for upgrade in StateSchema.upgrades[..<5] { try old.execute(upgrade) }
                try old.execute("""
                    CREATE TABLE block_breaker(name TEXT PRIMARY KEY, recent_blocks TEXT NOT NULL, tripped INTEGER NOT NULL, updated_at REAL NOT NULL);
                    INSERT INTO block_breaker VALUES ('default', '[900,1000]', 1, 1001);
                    PRAGMA user_version=5;
                    """)
            }
            let readOnly = try Blocklist(store: try StateStore.open(directory: dir, readOnly: true))
            #expect(try readOnly.savedBreakerState()?.state == BlockBreakerState(recentBlocks: [900, 1_000], isTripped: true))
            let upgraded = try Blocklist(store: try StateStore.open(directory: dir))
            #expect(try upgraded.breakerState() == BlockBreakerState(recentBlocks: [900, 1_000], isTripped: true))
            try upgraded.saveBreakerState(BlockBreakerState(recentBlocks: [1_000], maxBlocks: 3, windowSeconds: 60), now: 1_002)
            #expect(try upgraded.breakerState().maxBlocks == 3)
        }
    }

    @Test("the entry's JSON has every field, times in ISO 8601")
    func json() throws {
        let alice = entry("arn:aws:iam::1:user/alice", at: 1_764_064_800, expiresAt: 1_764_068_400)
        let json = alice.json
        #expect(json["key"] == "arn:aws:iam::1:user/alice")
        #expect(json["addedAt"] == "2025-11-25T10:00:00.000Z")
        #expect(json["expiresAt"] == "2025-11-25T11:00:00.000Z")
        #expect(json["enforcement"] == "pending" && json["dryRun"] == false && json["addedBy"] == "rule r")
        #expect(json["principal"]?["kind"] == "iamUser")
    }
}
