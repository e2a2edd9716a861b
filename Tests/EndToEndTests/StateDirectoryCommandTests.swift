import Foundation
import Testing
import TriplineJSON

/// Every state command but `blocklist add`, each on a path nothing has run with.
private let stateCommands: [[String]] = [
    ["status"], ["dlq", "list"], ["dlq", "show", "1"], ["dlq", "redrive"], ["dlq", "redrive", "--queue-only"], ["dlq", "purge", "--all"],
    ["blocklist", "list"], ["blocklist", "remove", "arn:aws:iam::123456789012:user/bob"], ["blocklist", "expire"],
]

@Suite("State commands on a state directory that is missing or not a run's")
struct StateDirectoryCommandTests {
    @Test("a missing state directory is refused as status refuses it, and nothing is created", arguments: stateCommands)
    func missingDirectoryIsRefused(_ command: [String]) throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let result = try tripline.run(command + ["--state-dir", "st/typo"], in: dir)
            let name = command[0]
            #expect(result.status == 2, "\(command): \(result)")
            #expect(result.stderr.hasPrefix("tripline \(name): state directory st/typo cannot be used: it does not exist (nothing has run with it yet)"),
                    "\(command): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(command): \(result.stdout)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("st").path), "\(command) created the state directory")
        }
    }

    @Test("an empty directory (no tripline.db) is refused too, and left empty", arguments: stateCommands)
    func directoryWithoutDatabaseIsRefused(_ command: [String]) throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("st"), withIntermediateDirectories: true)
            let result = try tripline.run(command + ["--state-dir", "st"], in: dir)
            #expect(result.status == 2, "\(command): \(result)")
            #expect(result.stderr.contains("holds no tripline.db (nothing has run with it yet)"), "\(command): \(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("st").path).isEmpty)
        }
    }

    @Test("blocklist add creates a missing state directory, as documented, and says so on stderr")
    func addCreatesAndSaysSo() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let add = try tripline.run(["blocklist", "add", "--arn", "arn:aws:iam::123456789012:user/bob", "--reason", "r",
                                        "--state-dir", "st/new"], in: dir)
            #expect(add.status == 0, "\(add)")
            #expect(add.stderr.contains("created the state directory st/new (nothing had run with it yet)"), "\(add.stderr)")
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("st/new/tripline.db").path))
            // Once it exists, adding again does not say it was created.
            let again = try tripline.run(["blocklist", "add", "--arn", "arn:aws:iam::123456789012:user/eve", "--reason", "r",
                                          "--state-dir", "st/new"], in: dir)
            #expect(again.status == 0 && !again.stderr.contains("created"), "\(again)")
            let list = try tripline.run(["blocklist", "list", "--state-dir", "st/new"], in: dir)
            #expect(list.status == 0 && list.stdout.contains("2 blocked principals"), "\(list)")
        }
    }
}

@Suite("State commands next to a running tripline run", .serialized)
struct StateCommandsNextToARunTests {
    private static let alice = "arn:aws:iam::111122223333:user/alice"

    /// The delivered events whose `detail.eventID` is `id`.
    private func delivered(_ project: CatchAllProject, _ id: String) -> [JSONValue] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: project.out.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.compactMap { name in
            (try? Data(contentsOf: project.out.appendingPathComponent(name))).flatMap { try? JSONParser.parse([UInt8]($0)) }
        }.filter { $0["detail"]?["eventID"]?.stringValue == id }
    }

    private func waitFor(_ project: CatchAllProject, _ id: String) -> JSONValue? {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let event = delivered(project, id).first { return event }
            usleep(50_000)
        }
        return nil
    }

    @Test("blocklist add/remove work while a run holds the lock, and the run marks events by the list as it is now")
    func blocklistChangesTakeEffectInTheRun() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("incoming"), withIntermediateDirectories: true)
            let run = try BackgroundRun(tripline, ["run", "--rules", "rules", "--follow", "incoming"], in: dir)
            defer { run.signal(SIGKILL) }
            let lock = dir.appendingPathComponent(".tripline/lock")
            let deadline = Date().addingTimeInterval(20)
            while ((try? String(contentsOf: lock, encoding: .utf8)) ?? "").isEmpty && Date() < deadline { usleep(20_000) }

            let add = try tripline.run(["blocklist", "add", "--arn", Self.alice, "--reason", "leaked keys"], in: dir)
            #expect(add.status == 0, "\(add)")
            try project.write(cloudTrailLog(["while-blocked"]), "incoming/1.json")
            let blocked = try #require(waitFor(project, "while-blocked"), "the run did not deliver the event")
            #expect(blocked["tripline"]?["blocked"] == true, "\(blocked)")

            let remove = try tripline.run(["blocklist", "remove", Self.alice], in: dir)
            #expect(remove.status == 0, "\(remove)")
            usleep(1_500_000)  // the run looks for changes made next to it once a second
            try project.write(cloudTrailLog(["after-removal"]), "incoming/2.json")
            let lifted = try #require(waitFor(project, "after-removal"), "the run did not deliver the event")
            #expect(lifted["tripline"] == nil, "\(lifted)")

            let expire = try tripline.run(["blocklist", "expire"], in: dir)
            #expect(expire.status == 0, "\(expire)")
            let queueOnly = try tripline.run(["dlq", "redrive", "--queue-only", "--rules", "rules"], in: dir)
            #expect(queueOnly.status == 0 && queueOnly.stdout == "redrove 0 dead letters\n", "\(queueOnly)")
            let purge = try tripline.run(["dlq", "purge", "--all"], in: dir)
            #expect(purge.status == 0, "\(purge)")

            // Delivering needs the directory to itself: the advice is to stop the run, not another --state-dir.
            let redrive = try tripline.run(["dlq", "redrive", "--rules", "rules"], in: dir)
            #expect(redrive.status == 2, "\(redrive)")
            #expect(redrive.stderr.contains("is in use by a running tripline (pid \(run.process.processIdentifier)); stop it first"), "\(redrive.stderr)")
            #expect(!redrive.stderr.contains("--state-dir"), "\(redrive.stderr)")

            run.signal(SIGTERM)
            #expect(run.wait().status == 0)
        }
    }
}

@Suite("tripline dlq: options that do not apply to the action are usage errors")
struct DeadLetterOptionTests {
    @Test(arguments: [
        (["list", "--all"], "--all does not apply to 'list'"),
        (["list", "--queue-only"], "--queue-only does not apply to 'list'"),
        (["show", "1", "--rule", "x"], "--rule does not apply to 'show'"),
        (["show", "1", "--older-than", "5"], "--older-than does not apply to 'show'"),
        (["purge", "--all", "--queue-only"], "--queue-only does not apply to 'purge'"),
        (["redrive", "--all"], "--all does not apply to 'redrive'"),
        (["purge", "--all", "--rule", "all-iam"], "purge takes --all or a filter, not both (--all with --rule)"),
        (["purge", "--all", "--older-than", "60"], "purge takes --all or a filter, not both (--all with --older-than)"),
        (["purge", "--all", "3"], "purge takes --all or ids, not both (--all with '3')"),
    ])
    func rejected(_ arguments: [String], _ message: String) throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let result = try tripline.run(["dlq"] + arguments, in: dir)
            #expect(result.status == 64, "\(arguments): \(result)")
            #expect(result.stderr.hasPrefix("tripline dlq: \(message)"), "\(arguments): \(result.stderr)")
        }
    }
}

@Suite("Read-only state commands never write the state database")
struct ReadOnlyStateCommandTests {
    @Test("a zero-byte tripline.db is reported, not turned into a database", arguments: [
        ["status"], ["dlq", "list"], ["dlq", "show", "1"], ["blocklist", "list"], ["dlq", "purge", "--all"], ["blocklist", "expire"],
    ])
    func zeroByteDatabase(_ command: [String]) throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let state = dir.appendingPathComponent("st")
            try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: state.appendingPathComponent("tripline.db").path, contents: nil)
            let result = try tripline.run(command + ["--state-dir", "st"], in: dir)
            #expect(result.status == 2, "\(command): \(result)")
            #expect(result.stderr.contains("its tripline.db is empty (0 bytes), so nothing has run with it yet"), "\(command): \(result.stderr)")
            #expect(!result.stderr.contains("SQLite"), "\(command): \(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: state.path) == ["tripline.db"])
            let size = try FileManager.default.attributesOfItem(atPath: state.appendingPathComponent("tripline.db").path)[.size] as? NSNumber
            #expect(size == 0)
        }
    }

    @Test("status opens the database read-only: a run's database is left byte-identical")
    func statusDoesNotWrite() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let add = try tripline.run(["blocklist", "add", "--arn", "arn:aws:iam::1:user/x", "--reason", "r", "--state-dir", "st"], in: dir)
            #expect(add.status == 0, "\(add)")
            let database = dir.appendingPathComponent("st/tripline.db")
            let before = try Data(contentsOf: database)
            for command in [["status"], ["dlq", "list"], ["blocklist", "list"]] {
                let result = try tripline.run(command + ["--state-dir", "st"], in: dir)
                #expect(result.status == 0, "\(command): \(result)")
            }
            #expect(try Data(contentsOf: database) == before)
        }
    }
}

@Suite("tripline blocklist help states the --duration range")
struct BlocklistDurationHelpTests {
    @Test func helpGivesTheRangeTheCommandEnforces() throws {
        let tripline = try TriplineBinary.locate()
        let help = try tripline.run(["blocklist", "--help"])
        #expect(help.status == 0 && help.stdout.contains("--duration SECONDS     add: lift the block after this long, 60 to 7776000 (90 days)"), "\(help)")
        let tooShort = try tripline.run(["blocklist", "add", "--arn", "arn:aws:iam::1:user/x", "--reason", "r", "--duration", "59"])
        #expect(tooShort.status == 64 && tooShort.stderr.contains("from 60 to 7776000"), "\(tooShort)")
    }
}
