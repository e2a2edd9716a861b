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
