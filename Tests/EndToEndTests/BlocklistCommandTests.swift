import Foundation
import Testing
import TriplineJSON

/// A project directory with a stub `aws` (first on PATH) that records its arguments, and the shipped
/// Handlers/block-user.sh as the enforcement handler.
private struct BlocklistProject {
    let dir: URL
    let tripline: TriplineBinary
    var awsLog: String { dir.appendingPathComponent("aws.log").path }
    var handler: String { TriplineBinary.packageRoot.appendingPathComponent("Handlers/block-user.sh").path }
    var database: String { dir.appendingPathComponent(".tripline/tripline.db").path }

    init(dir: URL) throws {
        self.dir = dir
        tripline = try TriplineBinary.locate()
        let bin = dir.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let stub = """
            #!/usr/bin/env python3
            import json, os, sys
            with open(os.environ["STUB_AWS_LOG"], "a") as f:
                f.write(json.dumps(sys.argv[1:]) + "\\n")
            if sys.argv[1:3] == ["sts", "get-caller-identity"]:
                print(os.environ.get("STUB_AWS_ACCOUNT", ""))
            if "list-access-keys" in sys.argv:
                print(json.dumps({"AccessKeyMetadata": [
                    {"UserName": "bert-jan", "AccessKeyId": "AKIATFQR7NSC8Q4X20BJ", "Status": "Active"}]}))
            if "list-user-policies" in sys.argv:
                print(json.dumps({"PolicyNames": ["ReadOnly", "TriplineBlock-AKIATFQR7NSC8Q4X20BJ"]}))
            """
        try Data(stub.utf8).write(to: bin.appendingPathComponent("aws"))
        chmod(bin.appendingPathComponent("aws").path, 0o755)
    }

    /// Runs `tripline blocklist …` in the project with the stub first on PATH; the stub's credentials
    /// are for `account`, by default the account of the first ARN among the arguments.
    func blocklist(_ arguments: [String], account: String? = nil) throws -> TriplineBinary.Result {
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = dir.appendingPathComponent("bin").path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        var full = ["blocklist"] + arguments
        let credentials = account ?? arguments.lazy.compactMap { $0.hasPrefix("arn:aws:") ? $0.split(separator: ":", omittingEmptySubsequences: false).dropFirst(4).first.map(String.init) : nil }.first
        if ["add", "remove", "expire"].contains(arguments.first ?? "") {
            full += ["--env", "STUB_AWS_LOG=" + awsLog, "--env", "STUB_AWS_ACCOUNT=" + (credentials ?? "")]
        }
        return try BackgroundRun(tripline, full, in: dir, environment: environment).wait()
    }

    /// The aws calls recorded since the last call of this method, but the handler's check of its
    /// credentials' account (which comes first whenever anything else does).
    func takeAWSCalls() throws -> [[String]] {
        guard let text = try? String(contentsOfFile: awsLog, encoding: .utf8) else { return [] }
        try FileManager.default.removeItem(atPath: awsLog)
        let calls = try text.split(separator: "\n").map { try JSONParser.parse(String($0)).arrayValue?.compactMap(\.stringValue) ?? [] }
        let check = ["sts", "get-caller-identity", "--query", "Account", "--output", "text"]
        #expect(calls.first == check, "the account is checked first: \(calls)")
        return calls.filter { $0 != check }
    }

    /// Moves every expiry into the past, as if the blocks' time had run out.
    func expireEverything() throws { try expireEveryBlock(in: database) }
}

private let bertJan = "arn:aws:iam::123837392027:user/bert-jan"
private let role = "arn:aws:iam::123456789012:role/MyAppRole"

@Suite("tripline blocklist (end to end)", .serialized)
struct BlocklistCommandTests {
    @Test("add in a dry run: block-user.sh prints the aws commands, aws is never called; list shows the entry")
    func dryRunAdd() throws {
        try withTemporaryDirectory { dir in
            let project = try BlocklistProject(dir: dir)
            let add = try project.blocklist(["add", "--arn", bertJan, "--reason", "keys leaked", "--duration", "3600",
                                             "--enforce", project.handler, "--dry-run", "--json"])
            #expect(add.status == 0, "\(add)")
            // Standard output is exactly the JSON result; what the handler printed is on standard error.
            #expect(add.stdoutLines.count == 1, "\(add.stdout)")
            let result = try JSONParser.parse(add.stdout)
            #expect(add.stderr.contains("would run: aws iam list-access-keys --user-name=bert-jan --output json"), "\(add.stderr)")
            #expect(add.stderr.contains("dry run, nothing changed: blocked IAM user bert-jan"), "\(add.stderr)")
            #expect(result["result"] == "blocked" && result["entry"]?["dryRun"] == true && result["entry"]?["enforcement"] == "enforced")
            #expect(result["events"]?.arrayValue?.first?["detail-type"] == "User Blocked")
            #expect(try project.takeAWSCalls().isEmpty)

            let list = try project.tripline.run(["blocklist", "list", "--json"], in: dir)
            #expect(list.status == 0, "\(list)")
            let entries = try list.stdoutLines.map { try JSONParser.parse($0) }
            #expect(entries.count == 1)
            #expect(entries.first?["key"] == .string(bertJan) && entries.first?["reason"] == "keys leaked" && entries.first?["addedBy"] == "cli")
            #expect(entries.first?["expiresAt"] != .null && entries.first?["principal"]?["userName"] == "bert-jan")
            let text = try project.tripline.run(["blocklist", "list"], in: dir)
            #expect(text.stdout.contains("enforced (dry run)") && text.stdout.hasSuffix("1 blocked principal\n"), "\(text)")
        }
    }

    @Test("real blocks call aws through block-user.sh; adding again is a no-op; remove and expire run the unblock path")
    func realBlocks() throws {
        try withTemporaryDirectory { dir in
            let project = try BlocklistProject(dir: dir)
            let user = try project.blocklist(["add", "--arn", bertJan, "--reason", "keys leaked", "--duration", "600", "--enforce", project.handler])
            #expect(user.status == 0 && user.stdout.contains("blocked IAM user bert-jan"), "\(user)")
            #expect(try project.takeAWSCalls() == [
                ["iam", "list-access-keys", "--user-name=bert-jan", "--output", "json"],
                ["iam", "put-user-policy", "--user-name=bert-jan", "--policy-name", "TriplineBlock-AKIATFQR7NSC8Q4X20BJ", "--policy-document",
                 #"{"Version":"2012-10-17","Statement":[{"Sid":"TriplineBlock","Effect":"Deny","Action":"*","Resource":"*"}]}"#],
                ["iam", "update-access-key", "--user-name=bert-jan", "--access-key-id", "AKIATFQR7NSC8Q4X20BJ", "--status", "Inactive"],
            ])

            let roleBlock = try project.blocklist(["add", "--arn", role, "--reason", "odd calls", "--enforce", project.handler, "--json"])
            #expect(roleBlock.status == 0, "\(roleBlock)")
            #expect(try project.takeAWSCalls().map { Array($0.prefix(5)) } == [
                ["iam", "put-role-policy", "--role-name=MyAppRole", "--policy-name", "TriplineRevokeSessions"]])
            let again = try project.blocklist(["add", "--arn", role, "--reason", "again", "--enforce", project.handler, "--json"])
            let againResult = try JSONParser.parse(again.stdout)
            #expect(again.status == 0 && againResult["result"] == "alreadyBlocked", "\(again)")
            #expect(try project.takeAWSCalls().isEmpty, "re-blocking is a no-op")

            let root = try project.blocklist(["add", "--arn", "arn:aws:iam::123456789012:root", "--reason", "x", "--enforce", project.handler])
            #expect(root.status == 1 && root.stderr.contains("root user"), "\(root)")

            let remove = try project.blocklist(["remove", role, "--enforce", project.handler, "--json"])
            #expect(remove.status == 0, "\(remove)")
            let removed = try JSONParser.parse(remove.stdout)
            #expect(removed["removed"] == true && removed["key"] == .string(role), "\(remove.stdout)")
            #expect(try project.takeAWSCalls() == [["iam", "delete-role-policy", "--role-name=MyAppRole", "--policy-name", "TriplineRevokeSessions"]])
            let missing = try project.blocklist(["remove", role])
            #expect(missing.status == 1 && missing.stderr.contains("is not on the blocklist"), "\(missing)")

            let early = try project.blocklist(["expire"])
            #expect(early.status == 0 && early.stdout == "0 of 0 expired blocks lifted\n", "\(early)")
            let earlyJSON = try project.blocklist(["expire", "--json"])
            #expect(earlyJSON.status == 0 && earlyJSON.stdout == #"{"expired":0,"lifted":0,"blocks":[]}"# + "\n", "\(earlyJSON)")
            try project.expireEverything()
            let listed = try project.tripline.run(["blocklist", "list"], in: dir)
            #expect(listed.stdout.contains("EXPIRED") && listed.stdout.contains("1 expired"), "\(listed)")
            let expire = try project.blocklist(["expire", "--json"], account: "123837392027")
            #expect(expire.status == 0, "\(expire)")
            let expired = try JSONParser.parse(expire.stdout)
            #expect(expired["expired"] == 1 && expired["lifted"] == 1, "\(expire.stdout)")
            let result = try #require(expired["blocks"]?.arrayValue?.first)
            #expect(result["removed"] == true && result["key"] == .string(bertJan))
            let event = try #require(result["events"]?.arrayValue?.first)
            #expect(event["detail-type"] == "User Unblocked" && event["source"] == "tripline" && event["detail"]?["unblockedBy"] == "expiry")
            #expect(try project.takeAWSCalls() == [
                ["iam", "list-user-policies", "--user-name=bert-jan", "--output", "json"],
                ["iam", "update-access-key", "--user-name=bert-jan", "--access-key-id", "AKIATFQR7NSC8Q4X20BJ", "--status", "Active"],
                ["iam", "delete-user-policy", "--user-name=bert-jan", "--policy-name", "TriplineBlock-AKIATFQR7NSC8Q4X20BJ"],
            ], "the handler that applied the block lifts it")
            let empty = try project.tripline.run(["blocklist", "list", "--json"], in: dir)
            #expect(empty.status == 0 && empty.stdout.isEmpty, "\(empty)")
        }
    }

    @Test("add from a CloudTrail record's userIdentity; mistakes are usage errors")
    func principalJSONAndMistakes() throws {
        try withTemporaryDirectory { dir in
            let project = try BlocklistProject(dir: dir)
            let record = #"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:i-0abc","arn":"arn:aws:sts::123456789012:assumed-role/MyAppRole/i-0abc","accountId":"123456789012","accessKeyId":"ASIAIOSFODNN7EXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::123456789012:role/MyAppRole","userName":"MyAppRole"}}},"eventName":"RunInstances"}"#
            try Data(record.utf8).write(to: dir.appendingPathComponent("record.json"))
            let add = try project.blocklist(["add", "--principal-json", "record.json", "--reason", "crypto mining", "--json"])
            #expect(add.status == 0, "\(add)")
            let result = try JSONParser.parse(add.stdout)
            #expect(result["entry"]?["key"] == .string(role) && result["entry"]?["enforcement"] == "recorded")
            #expect(result["entry"]?["principal"]?["sessionName"] == "i-0abc")

            let noReason = try project.tripline.run(["blocklist", "add", "--arn", bertJan], in: dir)
            #expect(noReason.status == 64 && noReason.stderr.contains("--reason"), "\(noReason)")
            let badARN = try project.tripline.run(["blocklist", "add", "--arn", "arn:aws:s3:::bucket", "--reason", "x"], in: dir)
            #expect(badARN.status == 64 && badARN.stderr.contains("is not the ARN of an IAM user"), "\(badARN)")
            let wrongOption = try project.tripline.run(["blocklist", "list", "--reason", "x"], in: dir)
            #expect(wrongOption.status == 64 && wrongOption.stderr.contains("--reason does not apply to 'list'"), "\(wrongOption)")
            let shortDuration = try project.tripline.run(["blocklist", "add", "--arn", bertJan, "--reason", "x", "--duration", "5"], in: dir)
            #expect(shortDuration.status == 64, "\(shortDuration)")
        }
    }

    @Test("remove with an assumed-role session ARN removes the role's entry, which add stored it under")
    func removeBySessionARN() throws {
        try withTemporaryDirectory { dir in
            let project = try BlocklistProject(dir: dir)
            let session = "arn:aws:sts::123456789012:assumed-role/MyAppRole/sess"
            let add = try project.blocklist(["add", "--arn", session, "--reason", "r"])
            #expect(add.status == 0 && add.stdout.contains(role), "\(add)")
            let remove = try project.blocklist(["remove", session])
            #expect(remove.status == 0, "\(remove)")
            #expect(remove.stdout.hasPrefix("\(session) is blocked under its key \(role)\n"), "\(remove.stdout)")
            #expect(remove.stdout.contains("unblocked " + role), "\(remove.stdout)")
            let again = try project.blocklist(["remove", session])
            #expect(again.status == 1, "\(again)")
            #expect(again.stderr.contains("\(session) is not on the blocklist in ./.tripline (looked up under its key \(role))"), "\(again.stderr)")
        }
    }

    @Test("remove lifts with the handler that applied the block; --keep-enforcement only forgets the entry, and says so")
    func removeLiftsOrKeeps() throws {
        try withTemporaryDirectory { dir in
            let project = try BlocklistProject(dir: dir)
            let add = try project.blocklist(["add", "--arn", bertJan, "--reason", "keys leaked", "--enforce", project.handler])
            #expect(add.status == 0, "\(add)")
            _ = try project.takeAWSCalls()
            let remove = try project.blocklist(["remove", bertJan])
            #expect(remove.status == 0 && remove.stdout.contains("unblocked \(bertJan); unblock path ran"), "\(remove)")
            #expect(try project.takeAWSCalls() == [
                ["iam", "list-user-policies", "--user-name=bert-jan", "--output", "json"],
                ["iam", "update-access-key", "--user-name=bert-jan", "--access-key-id", "AKIATFQR7NSC8Q4X20BJ", "--status", "Active"],
                ["iam", "delete-user-policy", "--user-name=bert-jan", "--policy-name", "TriplineBlock-AKIATFQR7NSC8Q4X20BJ"],
            ], "the stored handler's unblock path ran without --enforce")

            let again = try project.blocklist(["add", "--arn", bertJan, "--reason", "keys leaked", "--enforce", project.handler])
            #expect(again.status == 0, "\(again)")
            _ = try project.takeAWSCalls()
            let keep = try project.blocklist(["remove", bertJan, "--keep-enforcement", "--json"])
            #expect(keep.status == 0, "\(keep)")
            let kept = try JSONParser.parse(keep.stdout)
            #expect(kept["removed"] == true && kept["keptEnforcement"] == true, "\(keep.stdout)")
            #expect(kept["events"]?.arrayValue?.first?["detail"]?["keptEnforcement"] == true)
            #expect(try project.takeAWSCalls().isEmpty, "nothing lifted in AWS")

            _ = try project.blocklist(["add", "--arn", bertJan, "--reason", "keys leaked", "--enforce", project.handler])
            _ = try project.takeAWSCalls()
            let text = try project.blocklist(["remove", bertJan, "--keep-enforcement"])
            #expect(text.status == 0 && text.stdout.contains("enforcement kept") && text.stdout.contains("stays in AWS"), "\(text)")
            let both = try project.tripline.run(["blocklist", "remove", bertJan, "--keep-enforcement", "--enforce", project.handler], in: dir)
            #expect(both.status == 64 && both.stderr.contains("cannot be combined with --enforce"), "\(both)")
        }
    }

    @Test("remove with a session ARN finds the role's entry under its path")
    func removeBySessionARNWithPath() throws {
        try withTemporaryDirectory { dir in
            let project = try BlocklistProject(dir: dir)
            let record = #"{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/BreakGlassOps/s","accountId":"123456789012","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::123456789012:role/emergency/BreakGlassOps","userName":"BreakGlassOps"}}}}"#
            try Data(record.utf8).write(to: dir.appendingPathComponent("record.json"))
            let add = try project.blocklist(["add", "--principal-json", "record.json", "--reason", "r"])
            #expect(add.status == 0 && add.stdout.contains("role/emergency/BreakGlassOps"), "\(add)")
            let remove = try project.blocklist(["remove", "arn:aws:sts::123456789012:assumed-role/BreakGlassOps/other-session"])
            #expect(remove.status == 0, "\(remove)")
            #expect(remove.stdout.contains("is blocked under its key arn:aws:iam::123456789012:role/emergency/BreakGlassOps"), "\(remove.stdout)")
            let list = try project.tripline.run(["blocklist", "list", "--json"], in: dir)
            #expect(list.status == 0 && list.stdout.isEmpty, "\(list)")
        }
    }
}
