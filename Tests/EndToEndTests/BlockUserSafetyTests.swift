import Foundation
import Testing
import TriplineJSON

/// A project whose BlockUser rule enforces with a recording handler: each handler run appends
/// `action dryRun AWS_PROFILE` to `handler.log`.
private struct SafetyProject {
    let dir: URL
    let tripline: TriplineBinary
    var database: String { dir.appendingPathComponent(".tripline/tripline.db").path }

    init(dir: URL, environment: String = "", dryRun: Bool = false, failing: Bool = false) throws {
        self.dir = dir
        tripline = try TriplineBinary.locate()
        let handler = """
            #!/bin/sh
            payload=$(cat)
            action=$(printf '%s' "$payload" | sed 's/.*"action":"\\([a-z]*\\)".*/\\1/')
            dry=$(printf '%s' "$payload" | sed 's/.*"dryRun":\\([a-z]*\\).*/\\1/')
            echo "$action $dry ${AWS_PROFILE:--}" >> "\(dir.path)/handler.log"
            \(failing ? "echo 'AccessDenied: not allowed' >&2; exit 65" : "")
            """
        try write(handler, "enforce.sh")
        chmod(dir.appendingPathComponent("enforce.sh").path, 0o755)
        try write("#!/bin/sh\ncat >> \"\(dir.path)/emitted.ndjson\"\necho >> \"\(dir.path)/emitted.ndjson\"\n", "record.sh")
        chmod(dir.appendingPathComponent("record.sh").path, 0o755)
        let env = environment.isEmpty ? "" : #", "Environment": \#(environment)"#
        try write("""
            [{"Name": "tamper", "EventPattern": {"source": ["aws.cloudtrail"], "detail": {"eventName": ["StopLogging"]}},
              "Targets": [{"Id": "block", "BlockUser": {"Reason": "tampering", "DurationSeconds": 3600, "Enforce": "\(dir.path)/enforce.sh",
                           "DryRun": \(dryRun)\(env)}, "RetryPolicy": {"MaximumRetryAttempts": 0}}]},
             {"Name": "events", "EventPattern": {"source": ["tripline"]},
              "Targets": [{"Id": "rec", "Function": {"Handler": "\(dir.path)/record.sh", "MaxConcurrency": 1}}]},
             {"Name": "activity", "EventPattern": {"tripline": {"blocked": [true]}},
              "Targets": [{"Id": "rec", "Function": {"Handler": "\(dir.path)/record.sh", "MaxConcurrency": 1}}]}]
            """, "Rules/rules.json")
    }

    func write(_ text: String, _ relative: String) throws {
        let url = dir.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// `tripline ARGS…` in the project, with `environment` added to this process's.
    func tripline(_ arguments: [String], environment: [String: String] = [:]) throws -> TriplineBinary.Result {
        var all = ProcessInfo.processInfo.environment
        all.merge(environment) { _, new in new }
        return try BackgroundRun(tripline, arguments, in: dir, environment: all).wait()
    }

    /// Runs the identities given, one `StopLogging` each, through `tripline run`.
    func run(_ identities: [String], arguments: [String] = [], environment: [String: String] = [:], name: String = "events") throws -> TriplineBinary.Result {
        let lines = identities.enumerated().map { index, identity in
            BlockUserTargetTests.record("StopLogging", id: "\(name)-\(index)", identity: identity)
        }
        try write(lines.joined(separator: "\n") + "\n", name + ".ndjson")
        return try tripline(["run", "--rules", "Rules"] + arguments + [name + ".ndjson"], environment: environment)
    }

    var handlerLog: [String] {
        ((try? String(contentsOf: dir.appendingPathComponent("handler.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    var emitted: [JSONValue] {
        ((try? String(contentsOf: dir.appendingPathComponent("emitted.ndjson"), encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
    }

    /// Moves every expiry into the past, as if the blocks' time had run out.
    func expireEverything() throws { try expireEveryBlock(in: database) }
}

private func user(_ name: String, account: String = "111122223333") -> String {
    #"{"type":"IAMUser","arn":"arn:aws:iam::\#(account):user/\#(name)","accountId":"\#(account)","userName":"\#(name)"}"#
}

@Suite("BlockUser safety: environment, breaker, dry runs, refusals, extensions, failures (end to end)", .serialized)
struct BlockUserSafetyTests {
    @Test("Environment ${NAME} reaches the handler for the block, for the unblock at expiry in run and in 'blocklist expire --rules'; unset refuses")
    func environment() throws {
        try withTemporaryDirectory { dir in
            let project = try SafetyProject(dir: dir, environment: #"{"AWS_PROFILE": "${TEST_BLOCK_PROFILE}"}"#)
            let refused = try project.run([user("ann")])
            #expect(refused.status == 2, "\(refused)")
            #expect(refused.stderr.contains("rules.json: rule tamper, target block: BlockUser Environment AWS_PROFILE needs environment variable TEST_BLOCK_PROFILE, which is not set"), "\(refused.stderr)")
            #expect(project.handlerLog.isEmpty)

            let validated = try project.tripline(["validate", "Rules"])
            #expect(validated.stdout.contains("target block needs ${TEST_BLOCK_PROFILE}, not set here"), "\(validated)")

            let blocked = try project.run([user("ann")], environment: ["TEST_BLOCK_PROFILE": "secops-7731"])
            #expect(blocked.status == 0, "\(blocked)")
            #expect(project.handlerLog == ["block false secops-7731"])
            // Expiry during a run: the same environment, found from the entry's rule and target.
            try project.expireEverything()
            let expired = try project.run([], environment: ["TEST_BLOCK_PROFILE": "secops-7731"], name: "empty")
            #expect(expired.status == 0, "\(expired)")
            #expect(project.handlerLog == ["block false secops-7731", "unblock false secops-7731"])

            // Expiry from the command line reads the rules for it; an unset variable leaves the entry alone.
            _ = try project.run([user("bob")], environment: ["TEST_BLOCK_PROFILE": "secops-7731"], name: "bob")
            try project.expireEverything()
            let unset = try project.tripline(["blocklist", "expire", "--rules", "Rules"])
            #expect(unset.status == 2 && unset.stderr.contains("needs environment variable TEST_BLOCK_PROFILE, which is not set"), "\(unset)")
            let cli = try project.tripline(["blocklist", "expire", "--rules", "Rules"], environment: ["TEST_BLOCK_PROFILE": "from-cli"])
            #expect(cli.status == 0 && cli.stdout.contains("1 of 1 expired block lifted"), "\(cli)")
            #expect(project.handlerLog.last == "unblock false from-cli", "\(project.handlerLog)")
            // The profile is nowhere in the state directory.
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent(".tripline").path) {
                let bytes = (try? Data(contentsOf: dir.appendingPathComponent(".tripline/" + name))) ?? Data()
                #expect(bytes.range(of: Data("secops-7731".utf8)) == nil, "\(name) holds the environment")
            }
        }
    }

    @Test("run --dry-run-blocks never runs a real unblock: an expired real block is left, said once, for a run without the flag")
    func dryRunRunLeavesRealUnblocks() throws {
        try withTemporaryDirectory { dir in
            let project = try SafetyProject(dir: dir)
            #expect(try project.run([user("dave")]).status == 0)
            try project.expireEverything()
            let dry = try project.run([], arguments: ["--dry-run-blocks"], name: "empty")
            #expect(dry.status == 0, "\(dry)")
            #expect(project.handlerLog == ["block false -"], "no unblock ran")
            let note = "--dry-run-blocks: 1 expired block was applied for real (arn:aws:iam::111122223333:user/dave); left on the blocklist"
            #expect(dry.stdout.components(separatedBy: note).count + dry.stderr.components(separatedBy: note).count == 3, "said once: \(dry)")
            let list = try project.tripline(["blocklist", "list"])
            #expect(list.stdout.contains("user/dave") && list.stdout.contains("EXPIRED"), "\(list)")
            let real = try project.run([], name: "empty2")
            #expect(real.status == 0, "\(real)")
            #expect(project.handlerLog == ["block false -", "unblock false -"])
        }
    }

    @Test("blocklist add of a blocked principal: a longer block extends the expiry and says so; a shorter one is a no-op")
    func addExtends() throws {
        try withTemporaryDirectory { dir in
            let project = try SafetyProject(dir: dir)
            let arn = "arn:aws:iam::111111111111:user/alice"
            #expect(try project.tripline(["blocklist", "add", "--arn", arn, "--reason", "auto", "--duration", "60"]).status == 0)
            let longer = try project.tripline(["blocklist", "add", "--arn", arn, "--reason", "r", "--duration", "7200"])
            #expect(longer.status == 0 && longer.stdout.contains("already blocked; expiry extended to ") && longer.stdout.contains("(was "), "\(longer)")
            let shorter = try project.tripline(["blocklist", "add", "--arn", arn, "--reason", "r", "--duration", "600", "--json"])
            let shorterResult = try JSONParser.parse(shorter.stdout)["result"]
            #expect(shorter.status == 0 && shorterResult == "alreadyBlocked", "\(shorter)")
            let permanent = try project.tripline(["blocklist", "add", "--arn", arn, "--reason", "confirmed compromise"])
            #expect(permanent.status == 0 && permanent.stdout.contains("already blocked; expiry extended to never"), "\(permanent)")
            let list = try project.tripline(["blocklist", "list"])
            #expect(list.stdout.contains("no expiry"), "\(list)")
        }
    }

    @Test("a block that fails for good emits User Block Failed, and later events of the principal say enforced: false")
    func blockFailed() throws {
        try withTemporaryDirectory { dir in
            let project = try SafetyProject(dir: dir, failing: true)
            let first = try project.run([user("u0")])
            #expect(first.status == 1, "dead-lettered: \(first)")
            let failed = project.emitted.filter { $0["detail-type"] == "User Block Failed" }
            #expect(failed.count == 1, "\(project.emitted)")
            #expect(failed.first?["source"] == "tripline" && failed.first?["detail"]?["key"] == "arn:aws:iam::111122223333:user/u0")
            #expect(failed.first?["detail"]?["error"]?.stringValue?.contains("AccessDenied: not allowed") == true, "\(failed)")
            #expect(!project.emitted.contains { $0["detail-type"] == "User Blocked" })
            // The principal keeps going: marked blocked, but not enforced.
            let later = BlockUserTargetTests.record("DescribeTrails", id: "later", identity: user("u0"))
            try project.write(later + "\n", "later.ndjson")
            #expect(try project.tripline(["run", "--rules", "Rules", "later.ndjson"]).status == 0)
            let marked = project.emitted.filter { $0["tripline"] != nil }
            #expect(marked.count == 1 && marked.first?["tripline"] == ["blocked": true, "enforced": false], "\(marked)")
        }
    }
}
