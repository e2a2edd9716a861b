import Testing
import TriplineJSON
@testable import TriplineTargets

private func identity(_ text: String) -> JSONValue { SlackMessageFixtures.parse(text) }

@Suite("Blocking: principals from userIdentity")
struct PrincipalResolverTests {
    @Test("an IAM user from a real record: ARN, name, account, access key; keyed by the ARN")
    func iamUser() throws {
        let event = SlackMessageFixtures.iamUserAccessDenied
        let principal = try PrincipalResolver.resolve(userIdentity: event["detail"]?["userIdentity"] ?? .null).get()
        #expect(principal == BlockPrincipal(kind: .iamUser, arn: "arn:aws:iam::123837392027:user/bert-jan", accountId: "123837392027",
                                            userName: "bert-jan", accessKeyId: "AKIATFQR7NSC8Q4X20BJ",
                                            key: "arn:aws:iam::123837392027:user/bert-jan"))
        #expect(principal.description == "IAM user bert-jan")
    }

    @Test("an assumed role from a real record: the role from sessionIssuer, the session from the ARN")
    func assumedRole() throws {
        let event = SlackMessageFixtures.assumedRole
        let principal = try PrincipalResolver.resolve(userIdentity: event["detail"]?["userIdentity"] ?? .null).get()
        #expect(principal.kind == .assumedRole)
        #expect(principal.roleArn == "arn:aws:iam::123456789012:role/MyAppRole")
        #expect(principal.roleName == "MyAppRole")
        #expect(principal.sessionName == "i-0abcdef1234567890")
        #expect(principal.arn == "arn:aws:sts::123456789012:assumed-role/MyAppRole/i-0abcdef1234567890")
        #expect(principal.accountId == "123456789012")
        #expect(principal.accessKeyId == "ASIAIOSFODNN7EXAMPLE")
        #expect(principal.key == "arn:aws:iam::123456789012:role/MyAppRole", "every session of the role shares one blocklist key")
        #expect(principal.protectableARNs == ["arn:aws:sts::123456789012:assumed-role/MyAppRole/i-0abcdef1234567890",
                                              "arn:aws:iam::123456789012:role/MyAppRole"])
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let identity: String
        let expected: Result<BlockPrincipal, BlockRefusal>
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "IAM user without an ARN (console sign-in records)",
             identity: #"{"type":"IAMUser","principalId":"AIDATFQR7NSC5AU2ZV3IE","accountId":"123837392027","accessKeyId":"","userName":"bert-jan"}"#,
             expected: .success(BlockPrincipal(kind: .iamUser, accountId: "123837392027", userName: "bert-jan", key: "arn:aws:iam::123837392027:user/bert-jan"))),
        Case(name: "IAM user with a path: the name is the ARN's last part",
             identity: #"{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/division/alice"}"#,
             expected: .success(BlockPrincipal(kind: .iamUser, arn: "arn:aws:iam::111122223333:user/division/alice", accountId: "111122223333",
                                               userName: "alice", key: "arn:aws:iam::111122223333:user/division/alice"))),
        Case(name: "IAM user with a name only", identity: #"{"type":"IAMUser","userName":"alice"}"#,
             expected: .failure(.missingFields(["arn", "accountId"], type: "IAMUser"))),
        Case(name: "IAM user with nothing", identity: #"{"type":"IAMUser"}"#,
             expected: .failure(.missingFields(["arn", "userName"], type: "IAMUser"))),
        Case(name: "assumed role without sessionContext",
             identity: #"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Deploy/ci-run-7","accountId":"111122223333"}"#,
             expected: .success(BlockPrincipal(kind: .assumedRole, arn: "arn:aws:sts::111122223333:assumed-role/Deploy/ci-run-7", accountId: "111122223333",
                                               roleName: "Deploy", roleArn: "arn:aws:iam::111122223333:role/Deploy", sessionName: "ci-run-7",
                                               key: "arn:aws:iam::111122223333:role/Deploy"))),
        Case(name: "assumed role with a role path and a session from principalId",
             identity: #"{"type":"AssumedRole","principalId":"AROAEXAMPLE:bob@example.com","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/division/Admin","userName":"Admin"}}}"#,
             expected: .success(BlockPrincipal(kind: .assumedRole, accountId: "111122223333", roleName: "Admin",
                                               roleArn: "arn:aws:iam::111122223333:role/division/Admin", sessionName: "bob@example.com",
                                               key: "arn:aws:iam::111122223333:role/division/Admin"))),
        Case(name: "Identity Center permission-set role (its aws-reserved path): refused, naming the SSO user",
             identity: #"{"type":"AssumedRole","principalId":"AROAEXAMPLE:bob@example.com","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/us-west-2/DevAdmin","userName":"DevAdmin"}}}"#,
             expected: .failure(.identityCenterRole(roleName: "DevAdmin", sessionName: "bob@example.com"))),
        Case(name: "Identity Center permission-set role (its AWSReservedSSO_ name, no path)",
             identity: #"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_DevAdmin_635426549a280cc6/alice","accountId":"111122223333"}"#,
             expected: .failure(.identityCenterRole(roleName: "AWSReservedSSO_DevAdmin_635426549a280cc6", sessionName: "alice"))),
        Case(name: "CloudTrail's hidden user name (a failed sign-in)",
             identity: #"{"type":"IAMUser","principalId":"","accountId":"111111111111","accessKeyId":"","userName":"HIDDEN_DUE_TO_SECURITY_REASONS"}"#,
             expected: .failure(.hiddenUserName("HIDDEN_DUE_TO_SECURITY_REASONS"))),
        Case(name: "the hidden user name as a federation issuer",
             identity: #"{"type":"FederatedUser","arn":"arn:aws:sts::111111111111:federated-user/q","accountId":"111111111111","sessionContext":{"sessionIssuer":{"type":"IAMUser","userName":"HIDDEN_DUE_TO_SECURITY_REASONS","accountId":"111111111111"}}}"#,
             expected: .failure(.hiddenUserName("HIDDEN_DUE_TO_SECURITY_REASONS"))),
        Case(name: "assumed role with too little", identity: #"{"type":"AssumedRole","userName":"TestRole"}"#,
             expected: .failure(.missingFields(["sessionContext.sessionIssuer.arn", "arn"], type: "AssumedRole"))),
        Case(name: "federated user",
             identity: #"{"type":"FederatedUser","principalId":"123456789012:federated-user","arn":"arn:aws:sts::123456789012:federated-user/federated-user","accountId":"123456789012","accessKeyId":"ASIA123456789EXAMPLE"}"#,
             expected: .success(BlockPrincipal(kind: .federatedUser, arn: "arn:aws:sts::123456789012:federated-user/federated-user", accountId: "123456789012",
                                               userName: "federated-user", accessKeyId: "ASIA123456789EXAMPLE",
                                               key: "arn:aws:sts::123456789012:federated-user/federated-user"))),
        Case(name: "federated session issued by an IAM user: that user, keeping the session's name and ARN",
             identity: #"{"type":"FederatedUser","principalId":"111111111111:x7","arn":"arn:aws:sts::111111111111:federated-user/x7","accountId":"111111111111","accessKeyId":"ASIAFEDERATED0000001","sessionContext":{"sessionIssuer":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/mallory","accountId":"111111111111","userName":"mallory"}}}"#,
             expected: .success(BlockPrincipal(kind: .iamUser, arn: "arn:aws:iam::111111111111:user/mallory", accountId: "111111111111",
                                               userName: "mallory", sessionName: "x7", federatedUserArn: "arn:aws:sts::111111111111:federated-user/x7",
                                               key: "arn:aws:iam::111111111111:user/mallory"))),
        Case(name: "federated session whose issuer has only an ARN (with a path)",
             identity: #"{"type":"FederatedUser","arn":"arn:aws:sts::111111111111:federated-user/y","accountId":"111111111111","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::222222222222:user/ops/carol"}}}"#,
             expected: .success(BlockPrincipal(kind: .iamUser, arn: "arn:aws:iam::222222222222:user/ops/carol", accountId: "222222222222",
                                               userName: "carol", sessionName: "y", federatedUserArn: "arn:aws:sts::111111111111:federated-user/y",
                                               key: "arn:aws:iam::222222222222:user/ops/carol"))),
        Case(name: "federated session issued by root: refused as root",
             identity: #"{"type":"FederatedUser","arn":"arn:aws:sts::111111111111:federated-user/z","accountId":"111111111111","sessionContext":{"sessionIssuer":{"type":"Root","arn":"arn:aws:iam::111111111111:root","accountId":"111111111111"}}}"#,
             expected: .failure(.root(accountId: "111111111111"))),
        Case(name: "federated session issued by root, told only by the ARN",
             identity: #"{"type":"FederatedUser","arn":"arn:aws:sts::111111111111:federated-user/z","accountId":"111111111111","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::333333333333:root"}}}"#,
             expected: .failure(.root(accountId: "333333333333"))),
        Case(name: "Identity Center user",
             identity: #"{"type":"IdentityCenterUser","accountId":"111122223333","onBehalfOf":{"userId":"544894e8-80c1-707f-60e3-3ba6510dfac1","identityStoreArn":"arn:aws:identitystore::111122223333:identitystore/d-1234567890"},"credentialId":"EXAMPLE"}"#,
             expected: .success(BlockPrincipal(kind: .identityCenterUser, arn: "arn:aws:identitystore::111122223333:identitystore/d-1234567890",
                                               accountId: "111122223333", userName: "544894e8-80c1-707f-60e3-3ba6510dfac1",
                                               key: "arn:aws:identitystore::111122223333:identitystore/d-1234567890/user/544894e8-80c1-707f-60e3-3ba6510dfac1"))),
        Case(name: "Identity Center user without a user id", identity: #"{"type":"IdentityCenterUser","accountId":"1"}"#,
             expected: .failure(.missingFields(["onBehalfOf.userId"], type: "IdentityCenterUser"))),
        Case(name: "root", identity: #"{"accountId":"493859302102","arn":"arn:aws:iam::493859302102:root","principalId":"493859302102","type":"Root","userName":"root"}"#,
             expected: .failure(.root(accountId: "493859302102"))),
        Case(name: "AWS service", identity: #"{"invokedBy":"lambda.amazonaws.com","type":"AWSService"}"#,
             expected: .failure(.awsService("lambda.amazonaws.com"))),
        Case(name: "another account", identity: #"{"type":"AWSAccount","accountId":"111111111111","principalId":"AROAEXAMPLE:session-name"}"#,
             expected: .failure(.awsAccount(accountId: "111111111111"))),
        Case(name: "Unknown type", identity: #"{"accountId":"1","principalId":"x","type":"Unknown","userName":"<victim display name>"}"#,
             expected: .failure(.unknownType("Unknown"))),
        Case(name: "no type", identity: #"{"userName":"alice"}"#, expected: .failure(.unknownType(nil))),
        Case(name: "not an object", identity: #""IAMUser""#, expected: .failure(.missingFields(["userIdentity"], type: "event"))),
        Case(name: "wrong JSON types are ignored", identity: #"{"type":"IAMUser","arn":5,"userName":["x"]}"#,
             expected: .failure(.missingFields(["arn", "accountId"], type: "IAMUser"))),
        Case(name: "control characters", identity: #"{"type":"IAMUser","arn":"arn:aws:iam::1:user/a\nb"}"#,
             expected: .failure(.invalidField("arn", reason: "contains control characters"))),
    ]

    @Test("each identity type", arguments: cases)
    func table(_ testCase: Case) {
        let result = PrincipalResolver.resolve(userIdentity: identity(testCase.identity))
        #expect(result == testCase.expected)
    }

    @Test("service-linked roles are AWS services, from a real record")
    func serviceLinkedRole() {
        let event = SlackMessageFixtures.serviceLinkedRole
        let result = PrincipalResolver.resolve(userIdentity: event["detail"]?["userIdentity"] ?? .null)
        #expect(result == .failure(.awsService("the service-linked role AWSServiceRoleForRDS (used by rds.amazonaws.com)")))
    }

    @Test("refusals read as sentences", arguments: [
        (BlockRefusal.root(accountId: "1"), "the root user of account 1 is never blocked automatically"),
        (.awsService("lambda.amazonaws.com"), "lambda.amazonaws.com is an AWS service principal"),
        (.awsAccount(accountId: nil), "the caller is another AWS account; only that account"),
        (.unknownType("SAMLUser"), "userIdentity type \"SAMLUser\" cannot be blocked automatically"),
        (.missingFields(["arn", "accountId"], type: "IAMUser"), "the IAMUser identity lacks arn, accountId"),
        (.protected(arn: "arn:x", pattern: "arn:*"), "arn:x is protected (matches arn:*)"),
        (.identityCenterRole(roleName: "AWSReservedSSO_Dev_1", sessionName: "bob@example.com"),
         "AWSReservedSSO_Dev_1 is an IAM Identity Center permission-set role, which only AWS can change; block the user (bob@example.com) in IAM Identity Center"),
        (.hiddenUserName("HIDDEN_DUE_TO_SECURITY_REASONS"), "HIDDEN_DUE_TO_SECURITY_REASONS is CloudTrail's placeholder"),
        (.circuitOpen(blocksInWindow: 3, limit: 3, windowSeconds: 3600), "3 blocks in the last 1 hour reached the limit of 3"),
    ])
    func descriptions(_ refusal: BlockRefusal, _ fragment: String) {
        #expect(refusal.description.contains(fragment), "\(refusal.description)")
    }

    @Test("the principal's JSON for the handler has the known fields only")
    func principalJSON() throws {
        let principal = BlockPrincipal(kind: .assumedRole, arn: "arn:aws:sts::1:assumed-role/R/s", accountId: "1", roleName: "R",
                                       roleArn: "arn:aws:iam::1:role/R", sessionName: "s", key: "arn:aws:iam::1:role/R")
        #expect(JSONWriter.string(principal.json) == #"{"kind":"assumedRole","key":"arn:aws:iam::1:role/R","arn":"arn:aws:sts::1:assumed-role/R/s","accountId":"1","roleName":"R","roleArn":"arn:aws:iam::1:role/R","sessionName":"s"}"#)
    }
}
