import Foundation
import Testing
import TriplineJSON
@testable import TriplineTargets

/// Runs Handlers/block-user.sh with a stub `aws` first on PATH that records its arguments.
private struct BlockUserHarness {
    let dir: URL
    let log: String

    /// The package root: the first folder above this file holding Package.swift.
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    static var handler: String { packageRoot.appendingPathComponent("Handlers/block-user.sh").path }

    /// A stub aws in `dir/bin`: appends its arguments as a JSON array to `dir/aws.log`, answers
    /// the two list calls with canned keys and policies, and `sts get-caller-identity` with
    /// `STUB_AWS_ACCOUNT`.
    init(dir: URL) throws {
        self.dir = dir
        self.log = dir.appendingPathComponent("aws.log").path
        let stub = """
            #!/usr/bin/env python3
            import json, os, sys
            with open(os.environ["STUB_AWS_LOG"], "a") as f:
                f.write(json.dumps(sys.argv[1:]) + "\\n")
            if sys.argv[1:3] == ["sts", "get-caller-identity"]:
                print(os.environ.get("STUB_AWS_ACCOUNT", ""))
            if "list-access-keys" in sys.argv:
                print(json.dumps({"AccessKeyMetadata": [
                    {"UserName": "bert-jan", "AccessKeyId": "AKIATFQR7NSC8Q4X20BJ", "Status": "Active"},
                    {"UserName": "bert-jan", "AccessKeyId": "AKIAOLDKEY0000000000", "Status": "Inactive"},
                    {"UserName": "bert-jan", "AccessKeyId": "AKIASECONDKEY0000000", "Status": "Active"}]}))
            if "list-user-policies" in sys.argv:
                print(json.dumps({"PolicyNames": ["ReadOnly", "TriplineBlock-AKIATFQR7NSC8Q4X20BJ-AKIASECONDKEY0000000", "TriplineBlock", "TriplineBlock-$(x)"]}))
            if os.environ.get("STUB_AWS_FAIL") and sys.argv[2:3] == [os.environ["STUB_AWS_FAIL"]]:
                sys.stderr.write("An error occurred (AccessDenied)\\n")
                sys.exit(254)
            """
        try writeFile(stub, "bin/aws", in: dir)
        chmod(dir.appendingPathComponent("bin/aws").path, 0o755)
        // A PATH without aws: only what the handler needs besides it.
        let bare = dir.appendingPathComponent("bare")
        try FileManager.default.createDirectory(at: bare, withIntermediateDirectories: true)
        for tool in ["bash", "python3", "cat"] {
            for prefix in ["/usr/bin/", "/bin/", "/usr/local/bin/"] where FileManager.default.isExecutableFile(atPath: prefix + tool) {
                try? FileManager.default.createSymbolicLink(atPath: bare.appendingPathComponent(tool).path, withDestinationPath: prefix + tool)
                break
            }
        }
    }

    struct Run {
        let outcome: FunctionOutcome
        /// The aws calls but the account check.
        let awsCalls: [[String]]
        /// Whether the handler asked which account its credentials are for.
        let checkedAccount: Bool
        var stdout: String { String(decoding: outcome.stdout, as: UTF8.self) }
        var stderr: String { String(decoding: outcome.stderr, as: UTF8.self) }
    }

    /// Runs the handler on `request`; the stub's credentials are for the principal's account unless
    /// `extraEnvironment` sets `STUB_AWS_ACCOUNT`.
    func run(_ request: JSONValue, withAWS: Bool = true, extraEnvironment: [String: String] = [:]) throws -> Run {
        try? FileManager.default.removeItem(atPath: log)
        var path = dir.appendingPathComponent("bare").path
        if withAWS { path = dir.appendingPathComponent("bin").path + ":" + path }
        var environment = ["PATH": path, "STUB_AWS_LOG": log, "TRIPLINE_RULE": "r", "TRIPLINE_TARGET": "block",
                           "STUB_AWS_ACCOUNT": request["principal"]?["accountId"]?.stringValue ?? ""]
        environment.merge(extraEnvironment) { $1 }
        let invocation = FunctionInvocation(executable: Self.handler, environment: environment, payload: JSONWriter.bytes(request), timeoutSeconds: 30)
        let outcome = try FunctionRunner().run(invocation)
        var calls: [[String]] = []
        var checkedAccount = false
        if let text = try? String(contentsOfFile: log, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let value = try JSONParser.parse(String(line))
                let call = (value.arrayValue ?? []).compactMap(\.stringValue)
                if call == ["sts", "get-caller-identity", "--query", "Account", "--output", "text"] {
                    #expect(calls.isEmpty, "the account is checked before anything is changed")
                    checkedAccount = true
                } else {
                    calls.append(call)
                }
            }
        }
        return Run(outcome: outcome, awsCalls: calls, checkedAccount: checkedAccount)
    }
}

private func request(_ action: BlockRequest.Action, _ principal: BlockPrincipal, dryRun: Bool = false) -> JSONValue {
    BlockRequest(action: action, dryRun: dryRun, principal: principal, reason: "test", rule: "r", eventId: "e1",
                 requestedAt: 1_764_064_800, expiresAt: nil).json
}

private let blockedUser = BlockPrincipal(kind: .iamUser, arn: "arn:aws:iam::123837392027:user/bert-jan", accountId: "123837392027",
                                  userName: "bert-jan", accessKeyId: "AKIATFQR7NSC8Q4X20BJ", key: "arn:aws:iam::123837392027:user/bert-jan")
private let blockedRole = BlockPrincipal(kind: .assumedRole, arn: "arn:aws:sts::123456789012:assumed-role/MyAppRole/i-0abc", accountId: "123456789012",
                                  roleName: "MyAppRole", roleArn: "arn:aws:iam::123456789012:role/MyAppRole", sessionName: "i-0abc",
                                  key: "arn:aws:iam::123456789012:role/MyAppRole")
private let denyAll = #"{"Version":"2012-10-17","Statement":[{"Sid":"TriplineBlock","Effect":"Deny","Action":"*","Resource":"*"}]}"#
private let revoke = #"{"Version":"2012-10-17","Statement":[{"Sid":"TriplineRevokeOlderSessions","Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2025-11-25T10:00:00Z"}}}]}"#

@Suite("Blocking: Handlers/block-user.sh with a stub aws CLI", .serialized)
struct BlockUserHandlerTests {
    @Test("blocking an IAM user: deny-all policy naming the keys, every active key deactivated")
    func blockUser() throws {
        try withTargetsTempDirectory { dir in
            let run = try BlockUserHarness(dir: dir).run(request(.block, blockedUser))
            #expect(run.outcome.termination == .exited(0), "\(run.stderr)")
            #expect(run.checkedAccount)
            #expect(run.awsCalls == [
                ["iam", "list-access-keys", "--user-name=bert-jan", "--output", "json"],
                ["iam", "put-user-policy", "--user-name=bert-jan", "--policy-name", "TriplineBlock-AKIATFQR7NSC8Q4X20BJ-AKIASECONDKEY0000000",
                 "--policy-document", denyAll],
                ["iam", "update-access-key", "--user-name=bert-jan", "--access-key-id", "AKIATFQR7NSC8Q4X20BJ", "--status", "Inactive"],
                ["iam", "update-access-key", "--user-name=bert-jan", "--access-key-id", "AKIASECONDKEY0000000", "--status", "Inactive"],
            ])
            #expect(run.stdout.contains("blocked IAM user bert-jan"))
        }
    }

    @Test("unblocking an IAM user: the keys each TriplineBlock policy names come back, the policies go")
    func unblockUser() throws {
        try withTargetsTempDirectory { dir in
            let run = try BlockUserHarness(dir: dir).run(request(.unblock, blockedUser))
            #expect(run.outcome.termination == .exited(0), "\(run.stderr)")
            #expect(run.awsCalls == [
                ["iam", "list-user-policies", "--user-name=bert-jan", "--output", "json"],
                ["iam", "update-access-key", "--user-name=bert-jan", "--access-key-id", "AKIATFQR7NSC8Q4X20BJ", "--status", "Active"],
                ["iam", "update-access-key", "--user-name=bert-jan", "--access-key-id", "AKIASECONDKEY0000000", "--status", "Active"],
                ["iam", "delete-user-policy", "--user-name=bert-jan", "--policy-name", "TriplineBlock-AKIATFQR7NSC8Q4X20BJ-AKIASECONDKEY0000000"],
                ["iam", "delete-user-policy", "--user-name=bert-jan", "--policy-name", "TriplineBlock"],
            ], "other policies, and names that are not Tripline's, are left alone")
        }
    }

    @Test("blocking and unblocking a role: revoke sessions issued before the block, then lift it")
    func role() throws {
        try withTargetsTempDirectory { dir in
            let harness = try BlockUserHarness(dir: dir)
            let block = try harness.run(request(.block, blockedRole))
            #expect(block.outcome.termination == .exited(0), "\(block.stderr)")
            #expect(block.awsCalls == [["iam", "put-role-policy", "--role-name=MyAppRole", "--policy-name", "TriplineRevokeSessions",
                                        "--policy-document", revoke]])
            let unblock = try harness.run(request(.unblock, blockedRole))
            #expect(unblock.outcome.termination == .exited(0), "\(unblock.stderr)")
            #expect(unblock.awsCalls == [["iam", "delete-role-policy", "--role-name=MyAppRole", "--policy-name", "TriplineRevokeSessions"]])
        }
    }

    @Test("dry runs print the commands and call nothing", arguments: [
        (BlockRequest.Action.block, true, false),
        (.unblock, true, false),
        (.block, false, true),   // TRIPLINE_DRY_RUN=1
    ])
    func dryRun(_ action: BlockRequest.Action, _ flag: Bool, _ environment: Bool) throws {
        try withTargetsTempDirectory { dir in
            let harness = try BlockUserHarness(dir: dir)
            for principal in [blockedUser, blockedRole] {
                let run = try harness.run(request(action, principal, dryRun: flag), extraEnvironment: environment ? ["TRIPLINE_DRY_RUN": "1"] : [:])
                #expect(run.outcome.termination == .exited(0), "\(run.stderr)")
                #expect(run.awsCalls.isEmpty, "a dry run never calls aws")
                let lines = run.stdout.split(separator: "\n").map(String.init)
                #expect(lines.last?.hasPrefix("dry run, nothing changed: ") == true, "\(run.stdout)")
                let expected: [String]
                switch (action, principal.kind) {
                case (.block, .iamUser):
                    expected = ["would run: aws iam list-access-keys --user-name=bert-jan --output json",
                                "would run: aws iam put-user-policy --user-name=bert-jan --policy-name TriplineBlock-AKIATFQR7NSC8Q4X20BJ --policy-document '\(denyAll)'",
                                "would run: aws iam update-access-key --user-name=bert-jan --access-key-id AKIATFQR7NSC8Q4X20BJ --status Inactive"]
                case (.unblock, .iamUser):
                    expected = ["would run: aws iam list-user-policies --user-name=bert-jan --output json",
                                "would run: aws iam update-access-key --user-name=bert-jan --access-key-id AKIATFQR7NSC8Q4X20BJ --status Active",
                                "would run: aws iam delete-user-policy --user-name=bert-jan --policy-name TriplineBlock-AKIATFQR7NSC8Q4X20BJ"]
                case (.block, _):
                    expected = ["would run: aws iam put-role-policy --role-name=MyAppRole --policy-name TriplineRevokeSessions --policy-document '\(revoke)'"]
                case (.unblock, _):
                    expected = ["would run: aws iam delete-role-policy --role-name=MyAppRole --policy-name TriplineRevokeSessions"]
                }
                let check = ["would check: aws sts get-caller-identity --query Account --output text",
                             "  (must print \(principal.accountId!), the principal's account)"]
                #expect(Array(lines.dropLast()) == check + expected)
            }
        }
    }

    @Test("names that look like options (a user named --no-paginate, a role named -R) reach aws as --user-name=NAME / --role-name=NAME")
    func optionLikeNames() throws {
        try withTargetsTempDirectory { dir in
            let harness = try BlockUserHarness(dir: dir)
            let user = BlockPrincipal(kind: .iamUser, arn: "arn:aws:iam::123837392027:user/--no-paginate", accountId: "123837392027",
                                      userName: "--no-paginate", accessKeyId: "AKIATFQR7NSC8Q4X20BJ", key: "arn:aws:iam::123837392027:user/--no-paginate")
            let role = BlockPrincipal(kind: .assumedRole, arn: "arn:aws:sts::123456789012:assumed-role/-R/s", accountId: "123456789012",
                                      roleName: "-R", roleArn: "arn:aws:iam::123456789012:role/-R", sessionName: "s", key: "arn:aws:iam::123456789012:role/-R")
            for (principal, option) in [(user, "--user-name"), (role, "--role-name")] {
                for action in [BlockRequest.Action.block, .unblock] {
                    let run = try harness.run(request(action, principal))
                    #expect(run.outcome.termination == .exited(0), "\(run.stderr)")
                    #expect(!run.awsCalls.isEmpty)
                    for call in run.awsCalls {
                        // A separate "--user-name" followed by "--no-paginate" is what the aws CLI rejects
                        // ("expected one argument"): the name must travel inside the option's argument.
                        #expect(!call.contains(option), "\(call)")
                        let name = principal.userName ?? principal.roleName ?? ""
                        #expect(call.contains(option + "=" + name), "\(call)")
                        #expect(!call.contains(name), "the name appears as an argument of its own: \(call)")
                    }
                }
            }
        }
    }

    @Test("a dry run works without aws; a real run without it fails clearly and for good (no day of retries)")
    func awsMissing() throws {
        try withTargetsTempDirectory { dir in
            let harness = try BlockUserHarness(dir: dir)
            let dry = try harness.run(request(.block, blockedUser, dryRun: true), withAWS: false)
            #expect(dry.outcome.termination == .exited(0), "\(dry.stderr)")
            let real = try harness.run(request(.block, blockedUser), withAWS: false)
            #expect(real.outcome.termination == .exited(65))
            #expect(real.stderr.contains("the aws CLI is not on PATH") && real.stderr.contains("tripline dlq redrive"))
        }
    }

    @Test("a failing aws command fails the delivery with its status")
    func awsFails() throws {
        try withTargetsTempDirectory { dir in
            let run = try BlockUserHarness(dir: dir).run(request(.block, blockedUser), extraEnvironment: ["STUB_AWS_FAIL": "put-user-policy"])
            #expect(run.outcome.termination == .exited(254))
            #expect(!run.awsCalls.contains { $0.contains("update-access-key") }, "no key is touched after the policy failed")
        }
    }

    @Test("bad or hostile requests are refused before any aws call", arguments: [
        "not json", "[]", #"{"action":"delete","principal":{"kind":"iamUser","userName":"a"}}"#,
        #"{"action":"block","principal":{"kind":"iamUser","userName":"a;touch /tmp/pwned"}}"#,
        #"{"action":"block","principal":{"kind":"iamUser","userName":"$(id)"}}"#,
        #"{"action":"block","principal":{"kind":"assumedRole","roleName":"R\nx"}}"#,
        #"{"action":"block","principal":{"kind":"iamUser","userName":"a","accessKeyId":"AKIA-1"}}"#,
        #"{"action":"block","principal":{"kind":"assumedRole","roleName":"R"},"requestedAt":"2025\"}"}"#,
        #"{"action":"block","dryRun":"no","principal":{"kind":"iamUser","userName":"a"}}"#,
        #"{"action":"block","principal":{"kind":"root"}}"#,
    ])
    func badRequests(_ text: String) throws {
        try withTargetsTempDirectory { dir in
            let harness = try BlockUserHarness(dir: dir)
            try? FileManager.default.removeItem(atPath: harness.log)
            var environment = ["PATH": dir.appendingPathComponent("bin").path + ":" + dir.appendingPathComponent("bare").path, "STUB_AWS_LOG": harness.log]
            environment["HOME"] = dir.path
            let outcome = try FunctionRunner().run(FunctionInvocation(executable: BlockUserHarness.handler, environment: environment,
                                                                      payload: Array(text.utf8), timeoutSeconds: 30))
            #expect(outcome.termination == .exited(65), "\(String(decoding: outcome.stderr, as: UTF8.self))")
            #expect(String(decoding: outcome.stderr, as: UTF8.self).contains("bad request"))
            #expect(!FileManager.default.fileExists(atPath: harness.log), "aws was called")
        }
    }

    @Test("credentials for another account change nothing: a same-named user or role there is a bystander", arguments: [
        (blockedUser, "999999999999"), (blockedRole, "999999999999"), (blockedUser, ""),
    ])
    func otherAccount(_ principal: BlockPrincipal, _ credentialsAccount: String) throws {
        try withTargetsTempDirectory { dir in
            let harness = try BlockUserHarness(dir: dir)
            for action in [BlockRequest.Action.block, .unblock] {
                let run = try harness.run(request(action, principal), extraEnvironment: ["STUB_AWS_ACCOUNT": credentialsAccount])
                #expect(run.outcome.termination == .exited(65), "\(run.stderr)")
                #expect(run.checkedAccount)
                #expect(run.awsCalls.isEmpty, "changed something with the wrong account's credentials: \(run.awsCalls)")
                #expect(run.stderr.contains("but the principal is in account \(principal.accountId!)"), "\(run.stderr)")
            }
        }
    }

    @Test("a principal without a usable account id is refused before any aws call")
    func missingAccount() throws {
        try withTargetsTempDirectory { dir in
            let harness = try BlockUserHarness(dir: dir)
            var noAccount = blockedUser
            noAccount.accountId = nil
            var badAccount = blockedRole
            badAccount.accountId = "12345"
            for principal in [noAccount, badAccount] {
                let run = try harness.run(request(.block, principal))
                #expect(run.outcome.termination == .exited(65), "\(run.stderr)")
                #expect(!run.checkedAccount && run.awsCalls.isEmpty)
                #expect(run.stderr.contains("accountId"), "\(run.stderr)")
            }
        }
    }

    @Test("federated and Identity Center users are not enforceable here, and say so", arguments: [
        BlockPrincipal(kind: .federatedUser, arn: "arn:aws:sts::1:federated-user/bob", accountId: "1", userName: "bob", key: "arn:aws:sts::1:federated-user/bob"),
        BlockPrincipal(kind: .identityCenterUser, accountId: "1", userName: "u-1", key: "identitystore/user/u-1"),
    ])
    func unenforceable(_ principal: BlockPrincipal) throws {
        try withTargetsTempDirectory { dir in
            let run = try BlockUserHarness(dir: dir).run(request(.block, principal))
            #expect(run.outcome.termination == .exited(65))
            #expect(run.stderr.contains("cannot be blocked with IAM policies"))
            #expect(run.awsCalls.isEmpty)
        }
    }
}
