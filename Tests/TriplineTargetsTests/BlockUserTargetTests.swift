import Testing
import TriplineJSON
@testable import TriplineTargets

@Suite("Blocking: protected principals, requests and the BlockUser option")
struct BlockUserTargetTests {
    static let protected = try! ProtectedPrincipals(patterns: [
        "arn:aws:iam::*:role/BreakGlass*", "arn:aws:iam::111122223333:user/admin", "*:role/TriplineEnforcer",
    ])

    @Test("ARN globs protect users and roles, also through a session", arguments: [
        ("arn:aws:iam::999999999999:role/BreakGlassAdmin", "arn:aws:iam::*:role/BreakGlass*"),
        ("arn:aws:iam::999999999999:role/breakglass", "arn:aws:iam::*:role/BreakGlass*"),
        ("arn:aws:iam::111122223333:user/admin", "arn:aws:iam::111122223333:user/admin"),
        ("arn:aws:iam::1:role/TriplineEnforcer", "*:role/TriplineEnforcer"),
        ("arn:aws:iam::111122223333:user/admin2", nil),
        ("arn:aws:iam::111122223333:user/adm", nil),
        ("arn:aws:iam::1:role/path/BreakGlass", nil),
        ("arn:aws:iam::1:role/TriplineEnforcerX", nil),
    ] as [(String, String?)])
    func patterns(_ arn: String, _ pattern: String?) {
        #expect(Self.protected.protectingPattern(forARN: arn) == pattern)
    }

    @Test("an assumed-role session is protected by its role's ARN")
    func sessionOfProtectedRole() throws {
        let identity = SlackMessageFixtures.parse(#"{"type":"AssumedRole","arn":"arn:aws:sts::5:assumed-role/BreakGlassOps/alice","accountId":"5","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::5:role/BreakGlassOps"}}}"#)
        let principal = try PrincipalResolver.resolve(userIdentity: identity).get()
        #expect(Self.protected.refusal(for: principal) == .protected(arn: "arn:aws:iam::5:role/BreakGlassOps", pattern: "arn:aws:iam::*:role/BreakGlass*"))
        #expect(ProtectedPrincipals.none.refusal(for: principal) == nil)
    }

    @Test("a role or user with a path is protected by a pattern for its ARN without the path")
    func pathsDoNotDodgeProtection() throws {
        let session = SlackMessageFixtures.parse(#"{"type":"AssumedRole","arn":"arn:aws:sts::5:assumed-role/BreakGlassOps/alice","accountId":"5","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::5:role/emergency/BreakGlassOps","userName":"BreakGlassOps"}}}"#)
        let role = try PrincipalResolver.resolve(userIdentity: session).get()
        #expect(role.key == "arn:aws:iam::5:role/emergency/BreakGlassOps")
        #expect(role.protectableARNs.contains("arn:aws:iam::5:role/BreakGlassOps"))
        #expect(Self.protected.refusal(for: role) == .protected(arn: "arn:aws:iam::5:role/BreakGlassOps", pattern: "arn:aws:iam::*:role/BreakGlass*"))
        let user = try PrincipalResolver.resolve(userIdentity: SlackMessageFixtures.parse(
            #"{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/ops/team/admin","accountId":"111122223333","userName":"admin"}"#)).get()
        #expect(Self.protected.refusal(for: user) == .protected(arn: "arn:aws:iam::111122223333:user/admin", pattern: "arn:aws:iam::111122223333:user/admin"))
        // A pattern with the path still matches the full ARN; another name under the path is not protected.
        #expect(try ProtectedPrincipals(patterns: ["arn:aws:iam::*:role/emergency/*"]).refusal(for: role) != nil)
        let other = try PrincipalResolver.resolve(userIdentity: SlackMessageFixtures.parse(
            #"{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/ops/admin2","accountId":"111122223333","userName":"admin2"}"#)).get()
        #expect(Self.protected.refusal(for: other) == nil)
    }

    @Test("the ARN without its path", arguments: [
        ("arn:aws:iam::5:role/emergency/BreakGlassOps", "arn:aws:iam::5:role/BreakGlassOps"),
        ("arn:aws-cn:iam::5:user/a/b/c/alice", "arn:aws-cn:iam::5:user/alice"),
        ("arn:aws:iam::5:role/BreakGlassOps", nil), ("arn:aws:sts::5:assumed-role/R/s", nil), ("arn:aws:iam::5:role/p/", nil),
        ("arn:aws:iam::5:group/p/g", nil),
    ] as [(String, String?)])
    func withoutPath(_ arn: String, _ expected: String?) {
        #expect(BlockPrincipal.withoutPath(arn) == expected)
    }

    @Test("glob matching", arguments: [
        ("abc", "abc", true), ("abc", "a*c", true), ("ac", "a*c", true), ("abc", "*", true), ("", "*", true), ("abc", "**b**", true),
        ("abc", "a*d", false), ("abcabd", "*abd", true), ("aaaa", "a*a*a*a*a", false), ("x", "", false),
    ])
    func glob(_ text: String, _ pattern: String, _ matches: Bool) {
        #expect(ProtectedPrincipals.matches(Array(text.utf8), Array(pattern.utf8)) == matches)
    }

    @Test("bad patterns are rejected", arguments: ["", "arn:\n*", "notanarn", "m/e.json", "role/Admin*"])
    func badPatterns(_ pattern: String) {
        #expect(throws: ProtectedPrincipals.PatternError.self) { try ProtectedPrincipals(patterns: [pattern]) }
    }

    @Test("times in requests are UTC ISO 8601", arguments: [
        (0.0, "1970-01-01T00:00:00Z"), (1_764_064_800, "2025-11-25T10:00:00Z"), (951_782_400, "2000-02-29T00:00:00Z"),
        (-1, "1969-12-31T23:59:59Z"), (1e300, "9999-12-31T23:59:59Z"), (.nan, "1970-01-01T00:00:00Z"), (1.9, "1970-01-01T00:00:01Z"),
    ])
    func iso8601(_ seconds: Double, _ text: String) {
        #expect(BlockRequest.iso8601(seconds) == text)
    }

    @Test("the BlockUser option parses, with defaults")
    func parseTarget() throws {
        let value = SlackMessageFixtures.parse(#"{"Reason":"stopped CloudTrail","DurationSeconds":3600,"Enforce":"Handlers/block-user.sh"}"#)
        let target = try BlockUserTarget.parse(value).get()
        #expect(target.principalPath.text == "$.detail.userIdentity")
        #expect(target.reason == "stopped CloudTrail" && target.durationSeconds == 3600 && target.enforce == "Handlers/block-user.sh" && !target.dryRun)
    }

    @Test("mistakes in the BlockUser option are all reported", arguments: [
        (#"{"Enforce":"x"}"#, "BlockUser.Reason: is required"),
        (#"{"Reason":"r"}"#, "BlockUser.Enforce: is required"),
        (#"{"Reason":"r","Enforce":"x","DurationSeconds":5}"#, "BlockUser.DurationSeconds: must be a number of seconds from 60"),
        (#"{"Reason":"r","Enforce":"x","Principal":"detail"}"#, "BlockUser.Principal: invalid path"),
        (#"{"Reason":"r","Enforce":"x","DryRun":"yes"}"#, "BlockUser.DryRun: must be true or false"),
        (#"{"Reason":"r","Enforce":"x","Duration":60}"#, "BlockUser.Duration: is not a known field"),
        (#"true"#, "BlockUser: must be an object"),
    ])
    func badTargets(_ text: String, _ fragment: String) {
        switch BlockUserTarget.parse(SlackMessageFixtures.parse(text)) {
        case .success: Issue.record("accepted \(text)")
        case .failure(let error): #expect(error.description.contains(fragment), "\(error.description)")
        }
    }

    @Test("a matched event becomes the handler's request")
    func request() throws {
        let target = BlockUserTarget(principalPath: try AlertValuePath(parsing: "$.detail.userIdentity"), reason: "denied AssumeRole",
                                     durationSeconds: 3600, enforce: "Handlers/block-user.sh")
        var breaker = BlockCircuitBreaker(maxBlocks: 5, windowSeconds: 3600)
        let request = try target.request(for: SlackMessageFixtures.iamUserAccessDenied, rule: "deny-storm", now: 1_764_064_800,
                                          protected: .none, breaker: &breaker).get()
        #expect(JSONWriter.string(request.json) == #"{"action":"block","dryRun":false,"principal":{"kind":"iamUser","key":"arn:aws:iam::123837392027:user/bert-jan","arn":"arn:aws:iam::123837392027:user/bert-jan","accountId":"123837392027","userName":"bert-jan","accessKeyId":"AKIATFQR7NSC8Q4X20BJ"},"reason":"denied AssumeRole","rule":"deny-storm","eventId":"e-denied","requestedAt":"2025-11-25T10:00:00Z","expiresAt":"2025-11-25T11:00:00Z"}"#)
        #expect(breaker.recentBlocks == [1_764_064_800])
    }

    @Test("refusals come before the circuit breaker counts anything")
    func refusalOrder() throws {
        let target = BlockUserTarget(principalPath: try AlertValuePath(parsing: "$.detail.userIdentity"), reason: "r", enforce: "h")
        var breaker = BlockCircuitBreaker(maxBlocks: 1, windowSeconds: 3600)
        let root = target.request(for: SlackMessageFixtures.rootAttachUserPolicy, rule: "r", now: 0, protected: .none, breaker: &breaker)
        #expect(root.map(\.principal) == .failure(.root(accountId: "493859302102")))
        let userProtected = try ProtectedPrincipals(patterns: ["*:user/bert-jan"])
        let denied = target.request(for: SlackMessageFixtures.iamUserAccessDenied, rule: "r", now: 0, protected: userProtected, breaker: &breaker)
        #expect(denied.map(\.principal) == .failure(.protected(arn: "arn:aws:iam::123837392027:user/bert-jan", pattern: "*:user/bert-jan")))
        #expect(breaker.recentBlocks.isEmpty)
        #expect((try? target.request(for: SlackMessageFixtures.assumedRole, rule: "r", now: 1, protected: .none, breaker: &breaker).get()) != nil)
        let third = target.request(for: SlackMessageFixtures.iamUserAccessDenied, rule: "r", now: 2, protected: .none, breaker: &breaker)
        #expect(third.map(\.principal) == .failure(.circuitOpen(blocksInWindow: 1, limit: 1, windowSeconds: 3600)))
        #expect(breaker.isTripped)
    }
}
