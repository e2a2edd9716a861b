import Foundation
import Testing
import TriplineJSON
import TriplineState
@testable import TriplineRouter
import TriplineTargets

/// Real CloudTrail identities (invictus-ir/aws_dataset, the CloudTrail user guide) in EventBridge envelopes.
private enum Identities {
    static let iamUser = #"{"type":"IAMUser","principalId":"AIDATFQR7NSC5AU2ZV3IE","arn":"arn:aws:iam::123837392027:user/bert-jan","accountId":"123837392027","accessKeyId":"AKIATFQR7NSC8Q4X20BJ","userName":"bert-jan"}"#
    static let assumedRole = #"{"accessKeyId":"ASIAIOSFODNN7EXAMPLE","accountId":"123456789012","arn":"arn:aws:sts::123456789012:assumed-role/MyAppRole/i-0abcdef1234567890","principalId":"AROAEXAMPLE:i-0abcdef1234567890","type":"AssumedRole","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::123456789012:role/MyAppRole","accountId":"123456789012","userName":"MyAppRole"},"attributes":{"creationDate":"2024-01-15T09:00:00Z","mfaAuthenticated":"false"}}}"#
    static let otherSession = #"{"accessKeyId":"ASIAOTHERSESSION0001","accountId":"123456789012","arn":"arn:aws:sts::123456789012:assumed-role/MyAppRole/other-session","principalId":"AROAEXAMPLE:other-session","type":"AssumedRole","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::123456789012:role/MyAppRole","userName":"MyAppRole"}}}"#
    static let federatedUser = #"{"type":"FederatedUser","principalId":"123456789012:federated-user","arn":"arn:aws:sts::123456789012:federated-user/federated-user","accountId":"123456789012","accessKeyId":"ASIA123456789EXAMPLE","sessionContext":{"sessionIssuer":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::123456789012:user/admin","accountId":"123456789012","userName":"admin"}}}"#
    static let identityCenterUser = #"{"type":"IdentityCenterUser","accountId":"111122223333","onBehalfOf":{"userId":"544894e8-80c1-707f-60e3-3ba6510dfac1","identityStoreArn":"arn:aws:identitystore::111122223333:identitystore/d-1234567890"},"credentialId":"EXAMPLEVHULjJdTUdPJfofVa1sufHDoj7aYcOYcxFVllWR_Whr1fEXAMPLE"}"#
    static let root = #"{"type":"Root","principalId":"493859302102","arn":"arn:aws:iam::493859302102:root","accountId":"493859302102","accessKeyId":"ASIAXDBZJ7ZQF6PP2QWY","sessionContext":{"attributes":{"creationDate":"2023-07-10T11:50:34Z","mfaAuthenticated":"false"}}}"#
    static let service = #"{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"}"#

    static func user(_ name: String) -> String {
        #"{"type":"IAMUser","principalId":"AIDA\#(name.uppercased())","arn":"arn:aws:iam::123837392027:user/\#(name)","accountId":"123837392027","userName":"\#(name)"}"#
    }

    /// An API call by `identity` as EventBridge delivers it.
    static func event(_ identity: String, id: String = "e-1", account: String = "123837392027", region: String = "eu-west-1") -> JSONValue {
        let text = """
            {"version":"0","id":"\(id)","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","account":"\(account)",
             "time":"2024-01-15T10:30:00Z","region":"\(region)","resources":[],
             "detail":{"eventVersion":"1.08","userIdentity":\(identity),"eventTime":"2024-01-15T10:30:00Z","eventSource":"iam.amazonaws.com",
                       "eventName":"CreateAccessKey","awsRegion":"\(region)","eventID":"\(id)","recipientAccountId":"\(account)"}}
            """
        do { return try JSONParser.parse(text) } catch { fatalError("fixture does not parse: \(error)") }
    }
}

/// A stub enforcement handler that appends what it got to a log, and fails while a flag file exists.
private struct StubHandler {
    let dir: URL
    let path: String
    var log: String { dir.appendingPathComponent("calls.log").path }
    var failFlag: String { dir.appendingPathComponent("fail").path }

    struct Call {
        var rule: String
        var target: String
        var attempt: String
        var dryRunVariable: String
        var eventID: String
        var request: JSONValue
    }

    init(dir: URL) throws {
        self.dir = dir
        path = try writeScript("""
            payload=$(cat)
            printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$TRIPLINE_RULE" "$TRIPLINE_TARGET" "$TRIPLINE_ATTEMPT" "${TRIPLINE_DRY_RUN:-}" "$TRIPLINE_EVENT_ID" "$payload" >> "\(dir.path)/calls.log"
            if [ -f "\(dir.path)/fail" ]; then echo "stub: told to fail" >&2; exit 3; fi
            echo "stub: done"
            """, "stub-enforce.sh", in: dir)
    }

    func calls() throws -> [Call] {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return Call(rule: fields[0], target: fields[1], attempt: fields[2], dryRunVariable: fields[3], eventID: fields[4],
                        request: try JSONParser.parse(fields[5]))
        }
    }

    func setFailing(_ failing: Bool) {
        if failing { _ = FileManager.default.createFile(atPath: failFlag, contents: nil) } else { try? FileManager.default.removeItem(atPath: failFlag) }
    }
}

private let start: Double = 1_764_064_800  // 2025-11-25T10:00:00Z

private func target(_ handler: String, duration: Double? = 3600, dryRun: Bool = false) throws -> BlockUserTarget {
    BlockUserTarget(principalPath: try AlertValuePath(parsing: "$.detail.userIdentity"), reason: "access key created outside change window",
                    durationSeconds: duration, enforce: handler, dryRun: dryRun)
}

private func executor(_ store: StateStore, settings: BlockUserExecutor.Settings = BlockUserExecutor.Settings()) throws -> BlockUserExecutor {
    try BlockUserExecutor(blocklist: try Blocklist(store: store), settings: settings)
}

private func delivery(_ identity: String, _ handler: String, id: String = "e-1", attempt: Int = 1, dryRun: Bool = false,
                      duration: Double? = 3600) throws -> BlockUserExecutor.Delivery {
    BlockUserExecutor.Delivery(rule: "key-outside-window", targetID: "block", target: try target(handler, duration: duration, dryRun: dryRun),
                               event: Identities.event(identity, id: id), eventID: id, attempt: attempt)
}

@Suite("Blocking: BlockUserExecutor", .serialized)
struct BlockUserExecutorTests {
    struct IdentityCase: Sendable, CustomTestStringConvertible {
        var name: String
        var identity: String
        var principal: JSONValue
        var testDescription: String { name }
    }

    static let identityCases: [IdentityCase] = [
        IdentityCase(name: "IAM user", identity: Identities.iamUser, principal: [
            "kind": "iamUser", "key": "arn:aws:iam::123837392027:user/bert-jan", "arn": "arn:aws:iam::123837392027:user/bert-jan",
            "accountId": "123837392027", "userName": "bert-jan", "accessKeyId": "AKIATFQR7NSC8Q4X20BJ"]),
        IdentityCase(name: "assumed role", identity: Identities.assumedRole, principal: [
            "kind": "assumedRole", "key": "arn:aws:iam::123456789012:role/MyAppRole",
            "arn": "arn:aws:sts::123456789012:assumed-role/MyAppRole/i-0abcdef1234567890", "accountId": "123456789012",
            "roleName": "MyAppRole", "roleArn": "arn:aws:iam::123456789012:role/MyAppRole", "sessionName": "i-0abcdef1234567890",
            "accessKeyId": "ASIAIOSFODNN7EXAMPLE"]),
        IdentityCase(name: "federated user (the IAM user that issued it)", identity: Identities.federatedUser, principal: [
            "kind": "iamUser", "key": "arn:aws:iam::123456789012:user/admin", "arn": "arn:aws:iam::123456789012:user/admin",
            "accountId": "123456789012", "userName": "admin", "sessionName": "federated-user",
            "federatedUserArn": "arn:aws:sts::123456789012:federated-user/federated-user"]),
        IdentityCase(name: "Identity Center user", identity: Identities.identityCenterUser, principal: [
            "kind": "identityCenterUser",
            "key": "arn:aws:identitystore::111122223333:identitystore/d-1234567890/user/544894e8-80c1-707f-60e3-3ba6510dfac1",
            "arn": "arn:aws:identitystore::111122223333:identitystore/d-1234567890", "accountId": "111122223333",
            "userName": "544894e8-80c1-707f-60e3-3ba6510dfac1"]),
    ]

    @Test("each identity type: the handler gets the block request for the right principal; User Blocked is emitted", arguments: identityCases)
    func identityTypes(_ testCase: IdentityCase) throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let store = try StateStore.inMemory()
            let outcome = try executor(store).block(try delivery(testCase.identity, stub.path, id: "evt-1", attempt: 1), now: start)
            guard case .blocked(let entry) = outcome.result else { Issue.record("\(outcome.summary)"); return }
            #expect(outcome.succeeded && entry.enforcement == .enforced && entry.enforcementAttempts == 1)
            let calls = try stub.calls()
            try #require(calls.count == 1)
            let call = calls[0]
            #expect(call.rule == "key-outside-window" && call.target == "block" && call.attempt == "1" && call.eventID == "evt-1")
            #expect(call.dryRunVariable == "", "TRIPLINE_DRY_RUN is only set for a dry run")
            #expect(call.request == .object(JSONObject([
                "action": "block", "dryRun": false, "principal": testCase.principal, "reason": "access key created outside change window",
                "rule": "key-outside-window", "eventId": "evt-1", "requestedAt": "2025-11-25T10:00:00Z", "expiresAt": "2025-11-25T11:00:00Z",
            ])))

            try #require(outcome.events.count == 1)
            let event = outcome.events[0]
            #expect(event["source"] == "tripline" && event["detail-type"] == "User Blocked" && event["version"] == "0")
            #expect(event["account"] == "123837392027", "copied from the triggering event")
            #expect(event["region"] == "eu-west-1" && event["time"] == "2025-11-25T10:00:00Z")
            #expect(event["id"]?.stringValue?.count == 36)
            #expect(event["resources"]?.arrayValue?.first == testCase.principal["key"])
            let detail = try #require(event["detail"])
            #expect(detail["principal"] == testCase.principal)
            #expect(detail["reason"] == "access key created outside change window" && detail["rule"] == "key-outside-window")
            #expect(detail["triggeringEventId"] == "evt-1" && detail["expiresAt"] == "2025-11-25T11:00:00Z" && detail["dryRun"] == false)
            #expect(detail["addedBy"] == "rule key-outside-window")
            #expect(detail["enforcement"]?["handler"] == .string(stub.path))

            let stored = try #require(try Blocklist(store: store).entry(entry.key))
            #expect(stored.principal == testCase.principal && stored.eventID == "evt-1" && stored.rule == "key-outside-window")
            #expect(stored.expiresAt == start + 3600 && stored.addedBy == "rule key-outside-window" && stored.enforcement == .enforced)
        }
    }

    @Test("root and AWS services are refused with a User Block Refused event; nothing runs or is recorded",
          arguments: [(Identities.root, "root"), (Identities.service, "awsService")])
    func refusals(_ identity: String, _ code: String) throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let store = try StateStore.inMemory()
            let outcome = try executor(store).block(try delivery(identity, stub.path), now: start)
            guard case .refused(let refusal) = outcome.result else { Issue.record("\(outcome.summary)"); return }
            #expect(BlockEvent.code(refusal) == code)
            #expect(outcome.succeeded, "a refusal is not retried")
            #expect(try stub.calls().isEmpty)
            #expect(try Blocklist(store: store).count() == 0)
            let event = try #require(outcome.events.first)
            #expect(event["detail-type"] == "User Block Refused" && event["source"] == "tripline" && event["account"] == "123837392027")
            #expect(event["detail"]?["refusal"]?["code"] == .string(code))
            #expect(event["detail"]?["refusal"]?["message"] == .string(refusal.description))
            #expect(event["detail"]?["userIdentity"] == (try JSONParser.parse(identity)), "who it was, for the alert")
            #expect(event["detail"]?["triggeringEventId"] == "e-1" && event["detail"]?["breakerOpened"] == false)
        }
    }

    @Test("a protected principal is never blocked")
    func protected() throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let store = try StateStore.inMemory()
            let settings = BlockUserExecutor.Settings(protected: try ProtectedPrincipals(patterns: ["arn:aws:iam::*:role/MyApp*"]))
            let outcome = try executor(store, settings: settings).block(try delivery(Identities.assumedRole, stub.path), now: start)
            #expect(outcome.result == .refused(.protected(arn: "arn:aws:iam::123456789012:role/MyAppRole", pattern: "arn:aws:iam::*:role/MyApp*")))
            #expect(outcome.events.first?["detail"]?["refusal"]?["code"] == "protected")
            #expect(outcome.events.first?["detail"]?["principal"]?["roleName"] == "MyAppRole")
            #expect(try stub.calls().isEmpty && (try Blocklist(store: store).count()) == 0)
            #expect(try executor(store, settings: settings).circuitBreaker.blocksInWindow(now: start) == 0, "refusals do not count")
        }
    }

    @Test("the circuit breaker opens after N blocks, alerts loudly once, survives a restart, and closes after the window")
    func circuitBreaker() throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let stateDir = dir.appendingPathComponent("state").path
            let settings = BlockUserExecutor.Settings(maxBlocks: 2, windowSeconds: 600)
            do {
                let blocker = try executor(try StateStore.open(directory: stateDir), settings: settings)
                for (i, name) in ["ann", "ben"].enumerated() {
                    let outcome = blocker.block(try delivery(Identities.user(name), stub.path, id: "e-\(name)"), now: start + Double(i))
                    #expect(outcome.events.first?["detail-type"] == "User Blocked", "\(outcome.summary)")
                }
                // Re-blocking an already blocked principal is a no-op and does not count.
                let again = blocker.block(try delivery(Identities.user("ann"), stub.path, id: "e-ann-2"), now: start + 2)
                #expect(again.result.isAlreadyBlocked && again.events.isEmpty)

                let third = blocker.block(try delivery(Identities.user("cat"), stub.path, id: "e-cat"), now: start + 3)
                #expect(third.breakerOpened && third.succeeded, "a refusal is not retried")
                #expect(third.result == .refused(.circuitOpen(blocksInWindow: 2, limit: 2, windowSeconds: 600)))
                #expect(third.summary.hasPrefix("CIRCUIT BREAKER OPEN"))
                let loud = try #require(third.events.first)
                #expect(loud["detail-type"] == "User Block Refused" && loud["detail"]?["breakerOpened"] == true)
                #expect(loud["detail"]?["circuitBreaker"] == ["opened": true, "blocksInWindow": 2, "limit": 2, "windowSeconds": 600])
                #expect(loud["detail"]?["principal"]?["userName"] == "cat")

                let fourth = blocker.block(try delivery(Identities.user("dan"), stub.path, id: "e-dan"), now: start + 4)
                #expect(!fourth.breakerOpened && fourth.events.first?["detail"]?["refusal"]?["code"] == "circuitOpen",
                        "every refusal is emitted; only the first is the loud one")
            }
            #expect(try stub.calls().count == 2)
            // A restart remembers the blocks in the window, and that the breaker already tripped.
            let restarted = try executor(try StateStore.open(directory: stateDir), settings: settings)
            let afterRestart = restarted.block(try delivery(Identities.user("eve"), stub.path, id: "e-eve"), now: start + 5)
            #expect(afterRestart.result.isRefused && !afterRestart.breakerOpened)
            // Once the window has passed, blocking resumes.
            let later = restarted.block(try delivery(Identities.user("eve"), stub.path, id: "e-eve-2"), now: start + 601)
            #expect(later.result.isBlocked, "\(later.summary)")
            #expect(try stub.calls().count == 3)
        }
    }

    @Test("dry run: TRIPLINE_DRY_RUN=1 and \"dryRun\": true, from the target or the settings; the entry and the event say so",
          arguments: [(true, false), (false, true)])
    func dryRun(_ fromTarget: Bool, _ fromSettings: Bool) throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let store = try StateStore.inMemory()
            let blocker = try executor(store, settings: BlockUserExecutor.Settings(dryRun: fromSettings))
            let outcome = blocker.block(try delivery(Identities.iamUser, stub.path, dryRun: fromTarget), now: start)
            guard case .blocked(let entry) = outcome.result else { Issue.record("\(outcome.summary)"); return }
            #expect(entry.dryRun && outcome.summary.hasPrefix("dry run: would block"))
            let call = try #require(try stub.calls().first)
            #expect(call.dryRunVariable == "1" && call.request["dryRun"] == true)
            #expect(outcome.events.first?["detail"]?["dryRun"] == true)
            #expect(try Blocklist(store: store).snapshot(now: start).isDryRun(entry.key))
            // A real block of the same principal later replaces the dry-run entry and runs the handler for real.
            let real = try executor(store).block(try delivery(Identities.iamUser, stub.path, id: "e-2"), now: start + 10)
            #expect(real.result.isBlocked)
            #expect(try stub.calls().last?.dryRunVariable == "" && (try stub.calls().last?.request["dryRun"]) == false)
        }
    }

    @Test("idempotent: a retry after a handler failure runs the handler again; a duplicate after success does not")
    func idempotentRetries() throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let store = try StateStore.inMemory()
            let blocker = try executor(store, settings: BlockUserExecutor.Settings(maxBlocks: 1, windowSeconds: 3600))
            stub.setFailing(true)
            let first = blocker.block(try delivery(Identities.iamUser, stub.path, attempt: 1), now: start)
            guard case .failed(let failedEntry, let error, let retryable) = first.result else { Issue.record("\(first.summary)"); return }
            #expect(!first.succeeded && retryable && first.events.isEmpty)
            #expect(error == "exit status 3 in " + formatSeconds(first.handler?.durationSeconds ?? 0) + ": stub: told to fail")
            #expect(failedEntry?.enforcement == .failed)
            let stored = try #require(try Blocklist(store: store).entry("arn:aws:iam::123837392027:user/bert-jan"))
            #expect(stored.enforcement == .failed && stored.lastError == error && stored.enforcementAttempts == 1)

            stub.setFailing(false)
            let retry = blocker.block(try delivery(Identities.iamUser, stub.path, attempt: 2), now: start + 30)
            guard case .blocked(let entry) = retry.result else { Issue.record("\(retry.summary)"); return }
            #expect(entry.enforcementAttempts == 2 && entry.addedAt == start, "the block keeps its original time")
            #expect(retry.events.first?["detail-type"] == "User Blocked", "the block is announced once it is applied")
            #expect(try stub.calls().map(\.attempt) == ["1", "2"])
            #expect(try stub.calls().last?.request["requestedAt"] == "2025-11-25T10:00:00Z")

            let duplicate = blocker.block(try delivery(Identities.iamUser, stub.path, attempt: 1), now: start + 60)
            #expect(duplicate.result.isAlreadyBlocked && duplicate.events.isEmpty && duplicate.handler == nil)
            let otherRule = blocker.block(try delivery(Identities.iamUser, stub.path, id: "e-other"), now: start + 70)
            #expect(otherRule.result.isAlreadyBlocked)
            #expect(try stub.calls().count == 2)
            #expect(blocker.circuitBreaker.blocksInWindow(now: start + 70) == 1, "the retry did not count as a second block")
        }
    }

    @Test("a handler that cannot be started fails without retry; concurrent deliveries for one principal run the handler once")
    func permanentFailureAndConcurrency() throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let missing = try executor(try StateStore.inMemory()).block(try delivery(Identities.iamUser, dir.appendingPathComponent("nope.sh").path), now: start)
            guard case .failed(_, let error, let retryable) = missing.result else { Issue.record("\(missing.summary)"); return }
            #expect(!retryable && error.contains("cannot start handler"))

            let blocker = try executor(try StateStore.inMemory())
            let outcomes = ConcurrentResults()
            DispatchQueue.concurrentPerform(iterations: 6) { i in
                let outcome = blocker.block(try! delivery(Identities.assumedRole, stub.path, id: "e-\(i)"), now: start)
                outcomes.append(outcome.result.isBlocked)
            }
            #expect(outcomes.values.filter { $0 }.count == 1)
            #expect(try stub.calls().count == 1)
        }
    }

    @Test("TTL expiry across a restart: the unblock path runs, the entry goes, User Unblocked is emitted")
    func expiryAcrossRestart() throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let stateDir = dir.appendingPathComponent("state").path
            do {
                let blocker = try executor(try StateStore.open(directory: stateDir))
                #expect(blocker.block(try delivery(Identities.assumedRole, stub.path, id: "evt-role"), now: start).result.isBlocked)
                #expect(blocker.block(try delivery(Identities.user("forever"), stub.path, id: "evt-forever", duration: nil), now: start).result.isBlocked)
            }
            let blocker = try executor(try StateStore.open(directory: stateDir))
            #expect(try blocker.expire(now: start + 3599).isEmpty)
            #expect(try blocker.blocklist.isBlocked("ASIAIOSFODNN7EXAMPLE", now: start + 3599))

            stub.setFailing(true)
            let failed = try blocker.expire(now: start + 3600)
            #expect(failed.count == 1 && !failed[0].removed, "an applied block whose unblock fails stays")
            // …and says so on the bus (it used to be silent: finding 8).
            #expect(failed.first?.events.map { $0["detail-type"] } == ["User Unblock Failed"])
            #expect(try blocker.blocklist.entry("arn:aws:iam::123456789012:role/MyAppRole")?.lastError?.hasPrefix("unblock failed: exit status 3") == true)

            stub.setFailing(false)
            let lifted = try blocker.expire(now: start + 3700)
            try #require(lifted.count == 1)
            #expect(lifted[0].removed && lifted[0].error == nil)
            let call = try #require(try stub.calls().last)
            #expect(call.request["action"] == "unblock" && call.request["principal"]?["roleName"] == "MyAppRole")
            #expect(call.request["principal"]?["key"] == "arn:aws:iam::123456789012:role/MyAppRole")
            #expect(call.request["expiresAt"] == "2025-11-25T11:00:00Z" && call.rule == "key-outside-window" && call.eventID == "evt-role")
            let event = try #require(lifted[0].events.first)
            #expect(event["detail-type"] == "User Unblocked" && event["source"] == "tripline" && event["region"] == "eu-west-1")
            #expect(event["account"] == "123837392027" && event["resources"] == ["arn:aws:iam::123456789012:role/MyAppRole",
                                                                                 "arn:aws:sts::123456789012:assumed-role/MyAppRole/i-0abcdef1234567890"])
            #expect(event["detail"]?["unblockedBy"] == "expiry" && event["detail"]?["wasEnforced"] == true)
            #expect(event["detail"]?["triggeringEventId"] == "evt-role" && event["detail"]?["reason"] == "access key created outside change window")
            #expect(try blocker.blocklist.entry("arn:aws:iam::123456789012:role/MyAppRole") == nil)
            #expect(try blocker.blocklist.list(now: start + 3700).map(\.key) == ["arn:aws:iam::123837392027:user/forever"], "no expiry: stays")
            #expect(try blocker.expire(now: start + 10 * 86_400).isEmpty)
        }
    }

    @Test("removal by hand runs the given unblock path; a block never applied is removed even when its unblock fails")
    func removeByHand() throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let blocker = try executor(try StateStore.inMemory())
            let principal = try BlockPrincipalCoding.principal(arn: "arn:aws:iam::111122223333:user/alice")!.get()
            let added = blocker.block(principal: principal, reason: "by hand", durationSeconds: nil, enforce: nil, dryRun: false, now: start)
            guard case .blocked(let entry) = added.result else { Issue.record("\(added.summary)"); return }
            #expect(entry.enforcement == .recorded && entry.addedBy == "cli" && added.handler == nil)
            let removed = try #require(try blocker.unblock(key: principal.key, enforce: stub.path, now: start + 5))
            #expect(removed.removed && removed.events.first?["detail"]?["unblockedBy"] == "cli")
            #expect(try stub.calls().first?.request["action"] == "unblock")
            #expect(try blocker.unblock(key: principal.key, enforce: nil, now: start + 6) == nil)

            stub.setFailing(true)
            let failing = blocker.block(principal: principal, reason: "by hand", durationSeconds: 60, enforce: stub.path, dryRun: false, now: start)
            #expect(failing.result.isFailed)
            let expired = try blocker.expire(now: start + 61)
            #expect(expired.count == 1 && expired[0].removed && expired[0].error != nil && expired[0].events.first?["detail"]?["wasEnforced"] == false)
        }
    }

    @Test("removal by hand runs the unblock path of the handler that applied the block, unless told to keep its enforcement")
    func removeRunsTheStoredHandler() throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let blocker = try executor(try StateStore.inMemory())
            let principal = try BlockPrincipalCoding.principal(arn: "arn:aws:iam::111122223333:user/alice")!.get()
            let added = blocker.block(principal: principal, reason: "by hand", durationSeconds: nil, enforce: stub.path, dryRun: false, now: start)
            guard case .blocked(let entry) = added.result else { Issue.record("\(added.summary)"); return }
            #expect(entry.enforcement == .enforced && entry.enforce == stub.path)
            let lifted = try #require(try blocker.unblock(key: principal.key, enforce: nil, now: start + 5))
            #expect(lifted.removed && !lifted.keptEnforcement && lifted.handler != nil)
            #expect(try stub.calls().map { $0.request["action"] } == ["block", "unblock"])
            #expect(lifted.summary.hasPrefix("unblocked \(principal.key); unblock path ran"), "\(lifted.summary)")
            #expect(lifted.events.first?["detail"]?["keptEnforcement"] == false)

            _ = blocker.block(principal: principal, reason: "again", durationSeconds: nil, enforce: stub.path, dryRun: false, now: start + 10)
            let forgotten = try #require(try blocker.unblock(key: principal.key, enforce: nil, keepEnforcement: true, now: start + 15))
            #expect(forgotten.removed && forgotten.keptEnforcement && forgotten.handler == nil)
            #expect(try stub.calls().map { $0.request["action"] } == ["block", "unblock", "block"], "no unblock path ran")
            #expect(forgotten.summary.contains("enforcement kept"), "\(forgotten.summary)")
            #expect(forgotten.events.first?["detail-type"] == "User Unblocked" && forgotten.events.first?["detail"]?["keptEnforcement"] == true)
            #expect(try blocker.blocklist.entry(principal.key) == nil)

            // An applied block whose unblock path fails stays, as at expiry.
            _ = blocker.block(principal: principal, reason: "third", durationSeconds: nil, enforce: stub.path, dryRun: false, now: start + 20)
            stub.setFailing(true)
            let failed = try #require(try blocker.unblock(key: principal.key, enforce: nil, now: start + 25))
            #expect(!failed.removed && failed.error != nil && failed.events.first?["detail-type"] == "User Unblock Failed")
            #expect(try blocker.blocklist.entry(principal.key) != nil)
        }
    }

    @Test("a role's key without its path finds the entry under a path: same account, same name; several are ambiguous")
    func lookupAcrossPaths() throws {
        let blocker = try executor(try StateStore.inMemory())
        func add(_ arn: String) throws {
            let principal = try BlockPrincipalCoding.principal(arn: arn)!.get()
            #expect(blocker.block(principal: principal, reason: "r", durationSeconds: nil, enforce: nil, dryRun: false, now: start).succeeded)
        }
        try add("arn:aws:iam::111122223333:role/emergency/BreakGlassOps")
        try add("arn:aws:iam::444455556666:role/BreakGlassOps")
        try add("arn:aws:iam::111122223333:user/ops/alice")
        let session = try BlockPrincipalCoding.principal(arn: "arn:aws:sts::111122223333:assumed-role/BreakGlassOps/s")!.get()
        #expect(session.key == "arn:aws:iam::111122223333:role/BreakGlassOps")
        #expect(try BlockPrincipalCoding.lookup(key: session.key, in: blocker.blocklist) == .found("arn:aws:iam::111122223333:role/emergency/BreakGlassOps"))
        #expect(try BlockPrincipalCoding.lookup(key: "arn:aws:iam::111122223333:user/alice", in: blocker.blocklist) == .found("arn:aws:iam::111122223333:user/ops/alice"))
        #expect(try BlockPrincipalCoding.lookup(key: "arn:aws:iam::444455556666:role/BreakGlassOps", in: blocker.blocklist) == .found("arn:aws:iam::444455556666:role/BreakGlassOps"))
        #expect(try BlockPrincipalCoding.lookup(key: "arn:aws:iam::777777777777:role/BreakGlassOps", in: blocker.blocklist) == .notFound, "another account")
        #expect(try BlockPrincipalCoding.lookup(key: "arn:aws:iam::111122223333:role/BreakGlass", in: blocker.blocklist) == .notFound, "another name")
        #expect(try BlockPrincipalCoding.lookup(key: "arn:aws:iam::111122223333:user/BreakGlassOps", in: blocker.blocklist) == .notFound, "a user is no role")
        try add("arn:aws:iam::111122223333:role/other/BreakGlassOps")
        #expect(try BlockPrincipalCoding.lookup(key: session.key, in: blocker.blocklist) == .ambiguous([
            "arn:aws:iam::111122223333:role/emergency/BreakGlassOps", "arn:aws:iam::111122223333:role/other/BreakGlassOps"]))
    }

    @Test("ARNs typed by hand resolve as CloudTrail identities would; root is refused; other ARNs are not principals")
    func principalsFromARNs() throws {
        #expect(try BlockPrincipalCoding.principal(arn: "arn:aws:iam::111122223333:role/Deploy")?.get().key == "arn:aws:iam::111122223333:role/Deploy")
        #expect(try BlockPrincipalCoding.principal(arn: "arn:aws:sts::111122223333:assumed-role/Deploy/ci")?.get().sessionName == "ci")
        #expect(try BlockPrincipalCoding.principal(arn: "arn:aws:sts::111122223333:federated-user/bob")?.get().kind == .federatedUser)
        #expect(BlockPrincipalCoding.principal(arn: "arn:aws:iam::111122223333:root") == .failure(.root(accountId: "111122223333")))
        #expect(BlockPrincipalCoding.principal(arn: "arn:aws:s3:::bucket") == nil)
        #expect(BlockPrincipalCoding.principal(arn: "alice") == nil)
        let principal = try BlockPrincipalCoding.principal(arn: "arn:aws:iam::111122223333:user/ops/alice")!.get()
        #expect(BlockPrincipalCoding.principal(json: principal.json) == principal)
    }

    @Test("enrich adds tripline.blocked beside detail for blocked principals, by key, ARN or access key; forged marks go")
    func enrich() throws {
        let store = try StateStore.inMemory()
        let blocklist = try Blocklist(store: store)
        let blocker = try executor(store)
        let role = try BlockPrincipalCoding.principal(arn: "arn:aws:iam::123456789012:role/MyAppRole")!.get()
        _ = blocker.block(principal: role, reason: "r", durationSeconds: 3600, enforce: nil, dryRun: false, now: start)
        var keyOnly = try BlockPrincipalCoding.principal(arn: "arn:aws:iam::123837392027:user/someone-else")!.get()
        keyOnly.accessKeyId = "AKIATFQR7NSC8Q4X20BJ"
        _ = blocker.block(principal: keyOnly, reason: "r", durationSeconds: nil, enforce: nil, dryRun: true, now: start)
        let snapshot = try blocklist.snapshot(now: start)

        // Another session of the blocked role: marked, right after detail.
        let session = BlockUserExecutor.enrich(Identities.event(Identities.otherSession), with: snapshot, now: start + 1)
        #expect(session["tripline"] == ["blocked": true])
        #expect(session.objectValue?.keys == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail", "tripline"])
        // The access key of a (dry-run) block marks the IAM user that used it.
        #expect(BlockUserExecutor.enrich(Identities.event(Identities.iamUser), with: snapshot, now: start)["tripline"] == ["blocked": true, "dryRun": true])
        // Not blocked, expired, or nothing blocked at all: unchanged.
        let other = Identities.event(Identities.user("nobody"))
        #expect(BlockUserExecutor.enrich(other, with: snapshot, now: start) == other)
        #expect(BlockUserExecutor.enrich(Identities.event(Identities.otherSession), with: snapshot, now: start + 3600)["tripline"] == nil)
        #expect(BlockUserExecutor.enrich(other, with: .empty, now: start) == other)
        // A forged mark is removed.
        guard case .object(var forged) = other else { return }
        forged["tripline"] = ["blocked": true]
        #expect(BlockUserExecutor.enrich(.object(forged), with: .empty, now: start) == other)
        #expect(BlockUserExecutor.enrich(.object(forged), with: snapshot, now: start) == other)
        // Bytes: nil when unchanged, the marked event otherwise.
        #expect(BlockUserExecutor.enrich(eventBytes: JSONWriter.bytes(other), with: .empty, now: start) == nil)
        #expect(BlockUserExecutor.enrich(eventBytes: JSONWriter.bytes(other), with: snapshot, now: start) == nil)
        let marked = try #require(BlockUserExecutor.enrich(eventBytes: JSONWriter.bytes(Identities.event(Identities.assumedRole)), with: snapshot, now: start))
        #expect(try JSONParser.parse(marked)["tripline"] == ["blocked": true])
        // Bytes with an empty blocklist: a forged mark is found wherever it sits, and removed.
        let stripped = try #require(BlockUserExecutor.enrich(eventBytes: JSONWriter.bytes(.object(forged)), with: .empty, now: start))
        #expect(try JSONParser.parse(stripped) == other)
        let first = Array(#"{"tripline":{"blocked":true},"detail":{"n":"tripline"}}"#.utf8)
        let unforged = try #require(BlockUserExecutor.enrich(eventBytes: first, with: .empty, now: start))
        #expect(try JSONParser.parse(unforged) == ["detail": ["n": "tripline"]])
        #expect(BlockUserExecutor.enrich(eventBytes: Array(#"{"detail":{"n":"tripline"},"x":"\"trip"}"#.utf8), with: .empty, now: start) == nil)
    }
}

/// Results appended from several threads.
private final class ConcurrentResults: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Bool] = []
    func append(_ value: Bool) { lock.lock(); items.append(value); lock.unlock() }
    var values: [Bool] { lock.lock(); defer { lock.unlock() }; return items }
}

extension BlockOutcome.Result {
    var isBlocked: Bool { if case .blocked = self { return true }; return false }
    var isAlreadyBlocked: Bool { if case .alreadyBlocked = self { return true }; return false }
    /// Already blocked, kept as it was or extended: no new block.
    var isNoNewBlock: Bool {
        switch self {
        case .alreadyBlocked, .extended: return true
        default: return false
        }
    }
    var isRefused: Bool { if case .refused = self { return true }; return false }
    var isFailed: Bool { if case .failed = self { return true }; return false }
}

/// A handler that appends `action AWS_PROFILE STATIC` (or `-` for unset) to `env.log` and succeeds.
private func environmentHandler(in dir: URL) throws -> (path: String, log: URL) {
    let log = dir.appendingPathComponent("env.log")
    let path = try writeScript("""
        payload=$(cat)
        action=$(printf '%s' "$payload" | sed 's/.*"action":"\\([a-z]*\\)".*/\\1/')
        echo "$action ${AWS_PROFILE:--} ${STATIC:--}" >> "\(log.path)"
        """, "env-enforce.sh", in: dir)
    return (path, log)
}

private func logLines(_ url: URL) -> [String] {
    ((try? String(contentsOf: url, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
}

@Suite("Blocking: the enforcement handler's Environment", .serialized)
struct BlockUserEnvironmentTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        /// The target's `Environment` as written.
        var written: [String: String]
        /// What `run` resolved for `key-outside-window/block`; nil: not resolved.
        var resolved: [String: String]?
        /// `tripline blocklist --env`.
        var given: [String: String]
        /// The handler's `action AWS_PROFILE STATIC` for the block and the unblock at expiry; nil: the block fails for good.
        var expected: [String]?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "resolved at start, used for the block and again for the unblock at expiry",
             written: ["AWS_PROFILE": "${P}", "STATIC": "s"], resolved: ["AWS_PROFILE": "secops", "STATIC": "s"], given: [:],
             expected: ["block secops s", "unblock secops s"]),
        Case(name: "--env goes over the target's Environment",
             written: ["AWS_PROFILE": "${P}"], resolved: ["AWS_PROFILE": "secops"], given: ["AWS_PROFILE": "cli"],
             expected: ["block cli -", "unblock cli -"]),
        Case(name: "not resolved, but no placeholders: the values as written",
             written: ["STATIC": "lit"], resolved: nil, given: [:], expected: ["block - lit", "unblock - -"]),
        Case(name: "nothing configured: no extra variables", written: [:], resolved: nil, given: [:], expected: ["block - -", "unblock - -"]),
        Case(name: "not resolved and a placeholder: fails for good, naming the variable",
             written: ["AWS_PROFILE": "${P}"], resolved: nil, given: [:], expected: nil),
    ]

    @Test("which environment the handler gets", arguments: cases)
    func environments(_ testCase: Case) throws {
        try withRouterTempDirectory { dir in
            let (handler, log) = try environmentHandler(in: dir)
            var settings = BlockUserExecutor.Settings(environment: testCase.given)
            if let resolved = testCase.resolved { settings.targetEnvironments = ["key-outside-window/block": resolved] }
            let blocking = try executor(try StateStore.inMemory(), settings: settings)
            var block = try target(handler, duration: 3600)
            block.environment = testCase.written
            let outcome = blocking.block(BlockUserExecutor.Delivery(rule: "key-outside-window", targetID: "block", target: block,
                                                                    event: Identities.event(Identities.iamUser), eventID: "e-1"), now: start)
            guard let expected = testCase.expected else {
                guard case .failed(_, let error, let retryable) = outcome.result else { Issue.record("\(outcome.summary)"); return }
                #expect(!retryable && error.contains("needs environment variable P, which is not set"), "\(error)")
                #expect(logLines(log).isEmpty)
                return
            }
            #expect(outcome.result.isBlocked, "\(outcome.summary)")
            // The unblock at expiry finds the environment by the entry's rule and target (never stored).
            let lifted = try blocking.expire(now: start + 3601)
            #expect(lifted.count == 1 && lifted.allSatisfy(\.removed))
            #expect(logLines(log) == expected)
        }
    }

    @Test("the resolved environment is never written to the state database")
    func notStored() throws {
        try withRouterTempDirectory { dir in
            let (handler, _) = try environmentHandler(in: dir)
            let store = try StateStore.open(directory: dir.appendingPathComponent("state").path)
            let settings = BlockUserExecutor.Settings(targetEnvironments: ["key-outside-window/block": ["AWS_SECRET_ACCESS_KEY": "s3cr3t-value-8812"]])
            let outcome = try executor(store, settings: settings).block(try delivery(Identities.iamUser, handler), now: start)
            #expect(outcome.result.isBlocked, "\(outcome.summary)")
            let entry = try #require(try Blocklist(store: store).entry("arn:aws:iam::123837392027:user/bert-jan"))
            #expect(!JSONWriter.string(entry.json).contains("s3cr3t"))
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("state").path) {
                let bytes = (try? Data(contentsOf: dir.appendingPathComponent("state/" + name))) ?? Data()
                #expect(bytes.range(of: Data("s3cr3t-value-8812".utf8)) == nil, "\(name) holds the secret")
            }
        }
    }

    @Test("BlockUserEnvironments resolves ${NAME} from the environment given; an unset one is reported as a webhook's is")
    func resolveRuleSet() throws {
        let text = #"""
            [{"Name": "r", "EventPattern": {"source": ["aws.iam"]},
              "Targets": [{"Id": "b", "BlockUser": {"Reason": "x", "Enforce": "/bin/true",
                           "Environment": {"AWS_PROFILE": "${PROFILE}", "AWS_REGION": "eu-${R}-1", "LITERAL": "a$$b"}}}]}]
            """#
        let parsed = RuleFile.parse(bytes: Array(text.utf8), file: "/p/Rules/r.json", currentDirectory: "/p")
        #expect(parsed.errors.isEmpty, "\(parsed.errors)")
        let rules = RuleSet(rules: parsed.rules)
        let ok = BlockUserEnvironments.resolve(rules: rules, environment: ["PROFILE": "secops", "R": "west"])
        #expect(ok.errors.isEmpty && ok.environments == ["r/b": ["AWS_PROFILE": "secops", "AWS_REGION": "eu-west-1", "LITERAL": "a$b"]])
        let missing = BlockUserEnvironments.resolve(rules: rules, environment: ["R": "west"])
        #expect(missing.missingVariables && missing.environments.isEmpty)
        #expect(missing.errors == ["/p/Rules/r.json: rule r, target b: BlockUser Environment AWS_PROFILE needs environment variable PROFILE, which is not set"])
    }

    static let invalid: [(String, String)] = [
        (#"{"1X": "a"}"#, #"Targets[0].BlockUser.Environment.1X: expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*), got "1X""#),
        (#"{"X": 1}"#, "Targets[0].BlockUser.Environment.X: expected a string, got 1"),
        (#""AWS_PROFILE=x""#, #"Targets[0].BlockUser.Environment: expected an object of string values, got "AWS_PROFILE=x""#),
        (#"{"X": "${1A}"}"#, #"Targets[0].BlockUser.Environment.X: bad placeholder in "${1A}" at offset 0"#),
        (#"{"X": "${OPEN"}"#, #"Targets[0].BlockUser.Environment.X: bad placeholder in "${OPEN" at offset 0: "${" has no closing "}""#),
    ]

    @Test("Environment is validated as a Function's, and its placeholders as a webhook's", arguments: invalid)
    func validation(_ environment: String, _ message: String) {
        let text = #"{"Name": "r", "EventPattern": {"source": ["aws.iam"]}, "Targets": [{"Id": "b", "BlockUser": {"Reason": "x", "Enforce": "/bin/true", "Environment": "# + environment + "}}]}"
        let parsed = RuleFile.parse(bytes: Array(text.utf8), file: "/p/Rules/r.json", currentDirectory: "/p")
        #expect(parsed.rules.isEmpty)
        #expect(parsed.errors.count == 1 && parsed.errors.contains { $0.description.contains(message) }, "\(parsed.errors)")
    }
}

@Suite("Blocking: federated sessions count as the IAM user that issued them", .serialized)
struct FederatedSessionTests {
    static func session(_ name: String) -> String {
        #"{"type":"FederatedUser","principalId":"111111111111:\#(name)","arn":"arn:aws:sts::111111111111:federated-user/\#(name)","accountId":"111111111111","sessionContext":{"sessionIssuer":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/mallory","accountId":"111111111111","userName":"mallory"}}}"#
    }

    @Test("eleven session names of one user: one entry, one breaker slot, one handler run; its other sessions and the user are marked")
    func oneUserManySessions() throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let blocking = try executor(try StateStore.inMemory(), settings: BlockUserExecutor.Settings(maxBlocks: 2))
            var results: [BlockOutcome.Result] = []
            for i in 0...10 {
                results.append(blocking.block(try delivery(Self.session("x\(i)"), stub.path, id: "f-\(i)"), now: start + Double(i)).result)
            }
            #expect(results.first?.isBlocked == true && results.dropFirst().allSatisfy(\.isNoNewBlock), "\(results)")
            #expect(blocking.circuitBreaker.blocksInWindow(now: start + 10) == 1)
            let calls = try stub.calls()
            #expect(calls.count == 1 && calls.first?.request["principal"]?["userName"] == "mallory")
            // The user itself is then not a new block either, and the breaker still has room for someone else.
            #expect(blocking.block(try delivery(Identities.user("mallory").replacingOccurrences(of: "123837392027", with: "111111111111"), stub.path, id: "m"),
                                   now: start + 11).result.isNoNewBlock)
            #expect(blocking.block(try delivery(Identities.user("other"), stub.path, id: "o"), now: start + 12).result.isBlocked)
            let snapshot = try blocking.blocklist.snapshot(now: start + 13)
            let marked = BlockUserExecutor.enrich(Identities.event(Self.session("fresh-name")), with: snapshot, now: start + 13)
            #expect(marked["tripline"]?["blocked"] == true)
        }
    }
}

@Suite("Blocking: dry runs and the circuit breaker", .serialized)
struct DryRunBreakerTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        /// `--dry-run-blocks`.
        var forcedDryRun: Bool
        /// Each block in order: the user and whether the target is a dry run.
        var blocks: [(user: String, dryRun: Bool)]
        /// Blocked (b), refused (r) for each block.
        var expected: String
        var counted: Int
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "dry runs alone never fill it", forcedDryRun: false,
             blocks: (0..<5).map { ("d\($0)", true) }, expected: "bbbbb", counted: 0),
        Case(name: "after dry runs, real blocks still have the whole limit; once it is full dry runs still go through", forcedDryRun: false,
             blocks: [("d0", true), ("d1", true), ("d2", true), ("r0", false), ("r1", false), ("r2", false), ("d3", true)],
             expected: "bbbbbrb", counted: 2),
        Case(name: "--dry-run-blocks makes every block a dry run: none counts", forcedDryRun: true,
             blocks: (0..<4).map { ("u\($0)", false) }, expected: "bbbb", counted: 0),
        Case(name: "a real block replacing a dry-run entry counts", forcedDryRun: false,
             blocks: [("a", true), ("a", false), ("b", false), ("c", false)], expected: "bbbr", counted: 2),
    ]

    @Test("dry-run blocks neither count nor are refused", arguments: cases)
    func breaker(_ testCase: Case) throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let blocking = try executor(try StateStore.inMemory(), settings: BlockUserExecutor.Settings(maxBlocks: 2, dryRun: testCase.forcedDryRun))
            var letters = ""
            for (index, block) in testCase.blocks.enumerated() {
                let outcome = blocking.block(try delivery(Identities.user(block.user), stub.path, id: "e-\(index)", dryRun: block.dryRun),
                                             now: start + Double(index))
                letters += outcome.result.isBlocked ? "b" : outcome.result.isRefused ? "r" : "?"
            }
            #expect(letters == testCase.expected)
            #expect(blocking.circuitBreaker.blocksInWindow(now: start + 10) == testCase.counted)
        }
    }
}

@Suite("Blocking: expiry under --dry-run-blocks", .serialized)
struct DryRunExpiryTests {
    @Test("a dry-run executor lifts dry-run and recorded entries, and leaves real enforced or failed ones for a real run")
    func leavesRealUnblocks() throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let store = try StateStore.inMemory()
            let real = try executor(store)
            #expect(real.block(try delivery(Identities.user("enforced"), stub.path, id: "a"), now: start).result.isBlocked)
            #expect(real.block(try delivery(Identities.user("dry"), stub.path, id: "b", dryRun: true), now: start).result.isBlocked)
            stub.setFailing(true)
            #expect(real.block(try delivery(Identities.user("failed"), stub.path, id: "c"), now: start).result.isFailed)
            stub.setFailing(false)
            let recorded = try PrincipalResolver.resolve(userIdentity: JSONParser.parse(Identities.user("recorded"))).get()
            #expect(real.block(principal: recorded, reason: "r", durationSeconds: 60, enforce: nil, dryRun: false, now: start).result.isBlocked)
            let before = try stub.calls().count

            let dryRun = try executor(store, settings: BlockUserExecutor.Settings(dryRun: true))
            let later = start + 3601
            let lifted = try dryRun.expire(now: later)
            #expect(Set(lifted.map(\.entry.key)) == ["arn:aws:iam::123837392027:user/dry", "arn:aws:iam::123837392027:user/recorded"])
            let calls = try stub.calls().dropFirst(before)
            #expect(calls.count == 1 && calls.allSatisfy { $0.request["dryRun"] == true && $0.dryRunVariable == "1" }, "only the dry-run entry's unblock ran, as a dry run")
            let left = try dryRun.expiredNeedingRealUnblock(now: later).map(\.key)
            #expect(left == ["arn:aws:iam::123837392027:user/enforced", "arn:aws:iam::123837392027:user/failed"])
            #expect(try real.expiredNeedingRealUnblock(now: later).isEmpty, "a real executor lifts everything")
            #expect(try real.expire(now: later).count == 2)
            #expect(try real.blocklist.count() == 0)
        }
    }
}

@Suite("Blocking: principals AWS does not let anyone block", .serialized)
struct UnblockablePrincipalTests {
    static let cases: [(name: String, identity: String, code: String, fragment: String)] = [
        ("permission-set role by path",
         #"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_DevAdmin_635426549a280cc6/bob@example.com","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/us-west-2/AWSReservedSSO_DevAdmin_635426549a280cc6","userName":"AWSReservedSSO_DevAdmin_635426549a280cc6"}}}"#,
         "identityCenterRole", "block the user (bob@example.com) in IAM Identity Center"),
        ("the hidden user name of a failed sign-in",
         #"{"type":"IAMUser","principalId":"","accountId":"111111111111","accessKeyId":"","userName":"HIDDEN_DUE_TO_SECURITY_REASONS"}"#,
         "hiddenUserName", "placeholder"),
    ]

    @Test("refused with their own reason and a User Block Refused event; nothing recorded, no breaker slot, no handler run", arguments: cases)
    func refused(_ name: String, _ identity: String, _ code: String, _ fragment: String) throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let blocking = try executor(try StateStore.inMemory(), settings: BlockUserExecutor.Settings(maxBlocks: 1))
            let outcome = blocking.block(try delivery(identity, stub.path), now: start)
            #expect(outcome.result.isRefused && outcome.summary.contains(fragment), "\(outcome.summary)")
            #expect(outcome.events.count == 1 && outcome.events.first?["detail-type"] == "User Block Refused")
            #expect(outcome.events.first?["detail"]?["refusal"]?["code"] == .string(code))
            #expect(try blocking.blocklist.count() == 0 && blocking.circuitBreaker.blocksInWindow(now: start) == 0)
            #expect(try stub.calls().isEmpty)
        }
    }
}

@Suite("Blocking: a longer block extends the entry", .serialized)
struct ExtendBlockTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        /// The first block: duration and dry run.
        var first: (duration: Double?, dryRun: Bool)
        /// The second, 100 s later.
        var second: (duration: Double?, dryRun: Bool)
        /// "extended", "already" or "blocked" (replaced).
        var result: String
        /// The entry's expiry afterwards, in seconds after `start`; nil: never.
        var expiry: Double?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "a later expiry extends", first: (3600, false), second: (7200, false), result: "extended", expiry: 7300),
        Case(name: "permanent after temporary extends to never", first: (3600, false), second: (nil, false), result: "extended", expiry: nil),
        Case(name: "a shorter one is a no-op", first: (7200, false), second: (3600, false), result: "already", expiry: 7200),
        Case(name: "the same duration again is a no-op, though it would end later: repeats never keep a block going",
             first: (3600, false), second: (3600, false), result: "already", expiry: 3600),
        Case(name: "anything after a permanent block is a no-op", first: (nil, false), second: (7200, false), result: "already", expiry: nil),
        Case(name: "a dry run never extends a real block", first: (3600, false), second: (nil, true), result: "already", expiry: 3600),
        Case(name: "a dry run extends a dry-run block", first: (3600, true), second: (7200, true), result: "extended", expiry: 7300),
        Case(name: "a real block replaces a dry-run one", first: (7200, true), second: (3600, false), result: "blocked", expiry: 3700),
    ]

    @Test("extends only for a longer block ending later, or none; the handler does not run again", arguments: cases)
    func extend(_ testCase: Case) throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let blocking = try executor(try StateStore.inMemory())
            let user = Identities.user("alice")
            #expect(blocking.block(try delivery(user, stub.path, id: "a", dryRun: testCase.first.dryRun, duration: testCase.first.duration), now: start).result.isBlocked)
            let outcome = blocking.block(try delivery(user, stub.path, id: "b", dryRun: testCase.second.dryRun, duration: testCase.second.duration),
                                         now: start + 100)
            switch (testCase.result, outcome.result) {
            case ("extended", .extended(let entry, let previous)):
                #expect(previous == testCase.first.duration.map { start + $0 })
                #expect(entry.expiresAt == testCase.expiry.map { start + $0 })
                #expect(outcome.summary.contains("already blocked; expiry extended to"), "\(outcome.summary)")
                #expect(outcome.events.isEmpty)
            case ("already", .alreadyBlocked), ("blocked", .blocked):
                break
            default:
                Issue.record("expected \(testCase.result), got \(outcome.summary)")
            }
            let stored = try #require(try blocking.blocklist.entry("arn:aws:iam::123837392027:user/alice"))
            #expect(stored.expiresAt == testCase.expiry.map { start + $0 })
            #expect(try stub.calls().count == (testCase.result == "blocked" ? 2 : 1))
        }
    }
}

@Suite("Blocking: failed unblocks and unenforced marks", .serialized)
struct FailedEnforcementTests {
    @Test("an unblock that fails at expiry keeps the entry and carries a User Unblock Failed event, with a stable id")
    func unblockFailed() throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let blocking = try executor(try StateStore.inMemory())
            #expect(blocking.block(try delivery(Identities.iamUser, stub.path), now: start).result.isBlocked)
            stub.setFailing(true)
            let first = try blocking.expire(now: start + 3601)
            let again = try blocking.expire(now: start + 3631)
            let outcome = try #require(first.first)
            #expect(!outcome.removed && outcome.events.count == 1, "\(outcome.summary)")
            let event = try #require(outcome.events.first)
            #expect(event["detail-type"] == "User Unblock Failed" && event["source"] == "tripline")
            #expect(event["detail"]?["error"]?.stringValue?.contains("stub: told to fail") == true)
            #expect(event["detail"]?["unblockedBy"] == "expiry")
            #expect(again.first?.events.first?["id"] == event["id"], "one id per entry, so the journal folds repeats")
            stub.setFailing(false)
            let lifted = try blocking.expire(now: start + 3661)
            #expect(lifted.first?.removed == true && lifted.first?.events.first?["detail-type"] == "User Unblocked")
        }
    }

    @Test("enforced: false marks principals whose block failed, and only while every block naming them failed")
    func unenforcedMark() throws {
        try withRouterTempDirectory { dir in
            let stub = try StubHandler(dir: dir)
            let blocking = try executor(try StateStore.inMemory())
            stub.setFailing(true)
            let failed = blocking.block(try delivery(Identities.iamUser, stub.path), now: start)
            guard case .failed(let entry?, let error, _) = failed.result else { Issue.record("\(failed.summary)"); return }
            let event = BlockEvent.blockFailed(entry, error: error, now: start)
            #expect(event["detail-type"] == "User Block Failed" && event["detail"]?["error"] == .string(error))
            let marked = BlockUserExecutor.enrich(Identities.event(Identities.iamUser), with: try blocking.blocklist.snapshot(now: start), now: start)
            #expect(marked["tripline"] == ["blocked": true, "enforced": false])
            stub.setFailing(false)
            #expect(blocking.block(try delivery(Identities.iamUser, stub.path, attempt: 2), now: start + 1).result.isBlocked)
            let enforced = BlockUserExecutor.enrich(Identities.event(Identities.iamUser), with: try blocking.blocklist.snapshot(now: start), now: start)
            #expect(enforced["tripline"] == ["blocked": true])
        }
    }
}

@Suite("Blocking: pending blocks mark later events before the block lands")
struct PendingBlocksTests {
    private static func block(_ key: String, identifiers: [String]? = nil, expiresAt: Double = start + 3600, dryRun: Bool = false) -> PendingBlocks.Block {
        PendingBlocks.Block(key: key, identifiers: identifiers ?? [key], expiresAt: expiresAt, dryRun: dryRun)
    }

    @Test("added by delivery, found by any identifier until it expires; settled, skipped and expired blocks go")
    func bookkeeping() {
        var pending = PendingBlocks.empty
        #expect(pending.isEmpty && pending.mark(["a"], now: start) == nil)
        pending.add(delivery: "e1:r:t", Self.block("user/a", identifiers: ["user/a", "AKIAA"]))
        pending.add(delivery: "e2:r:t", Self.block("user/a", dryRun: true))
        pending.add(delivery: "e3:r:t", Self.block("user/b", expiresAt: start + 60, dryRun: true))
        // A copy of a delivery already pending changes nothing.
        pending.add(delivery: "e3:r:t", Self.block("user/b", expiresAt: start + 9999))
        #expect(pending.count == 3 && pending.realPrincipals == 1 && pending.hasRealBlock(key: "user/a") && !pending.hasRealBlock(key: "user/b"))
        // A real pending block and a dry-run one: not a dry run. By the access key too.
        #expect(pending.mark(["user/a"], now: start) == PendingBlocks.Mark(dryRun: false))
        #expect(pending.mark(["nobody", "AKIAA"], now: start) == PendingBlocks.Mark(dryRun: false))
        #expect(pending.mark(["user/b"], now: start) == PendingBlocks.Mark(dryRun: true))
        #expect(pending.mark(["user/b"], now: start + 60) == nil, "expired")
        #expect(pending.mark(["user/c"], now: start) == nil)

        // Settling the real one leaves the dry run.
        pending.settle(delivery: "e1:r:t")
        #expect(pending.mark(["user/a"], now: start) == PendingBlocks.Mark(dryRun: true) && pending.realPrincipals == 0)
        #expect(pending.mark(["AKIAA"], now: start) == nil)
        // Queued by the journal: a skipped copy of it keeps it; not queued, a skipped copy takes it away.
        pending.queued(delivery: "e2:r:t")
        pending.skipped(delivery: "e2:r:t")
        #expect(pending.block(delivery: "e2:r:t")?.queued == true)
        pending.skipped(delivery: "e3:r:t")
        #expect(pending.block(delivery: "e3:r:t") == nil && pending.mark(["user/b"], now: start) == nil)
        pending.add(delivery: "e4:r:t", Self.block("user/d", expiresAt: start + 60))
        pending.removeExpired(now: start + 60)
        #expect(pending.count == 1 && pending.realPrincipals == 0)
        pending.settle(delivery: "e2:r:t")
        pending.settle(delivery: "unknown")
        #expect(pending == .empty)
    }

    @Test("enrich marks a pending block {blocked, pending} (dryRun for a dry run); a real block on the list wins, a dry-run one gives way to a real pending one")
    func enrich() throws {
        let store = try StateStore.inMemory()
        let blocker = try executor(store)
        let identity = try JSONParser.parse(Identities.iamUser)
        let key = try PrincipalResolver.resolve(userIdentity: identity).get().key
        let event = Identities.event(Identities.iamUser)
        var pending = PendingBlocks.empty
        pending.add(delivery: "d1", Self.block(key))
        #expect(BlockUserExecutor.enrich(event, with: .empty, pending: pending, now: start)["tripline"] == ["blocked": true, "pending": true])
        // By the access key alone (another identity that used it).
        var byKey = PendingBlocks.empty
        byKey.add(delivery: "d1", Self.block("other", identifiers: ["other", "AKIATFQR7NSC8Q4X20BJ"], dryRun: true))
        #expect(BlockUserExecutor.enrich(event, with: .empty, pending: byKey, now: start)["tripline"] == ["blocked": true, "pending": true, "dryRun": true])
        #expect(BlockUserExecutor.enrich(Identities.event(Identities.user("nobody")), with: .empty, pending: pending, now: start)["tripline"] == nil)
        let marked = try #require(BlockUserExecutor.enrich(eventBytes: JSONWriter.bytes(event), with: .empty, pending: pending, now: start))
        #expect(try JSONParser.parse(marked)["tripline"] == ["blocked": true, "pending": true])

        // On the list in dry run: a real pending block says pending (not dry run); a dry-run one leaves the list's mark.
        let principal = try PrincipalResolver.resolve(userIdentity: identity).get()
        _ = blocker.block(principal: principal, reason: "r", durationSeconds: 3600, enforce: nil, dryRun: true, now: start)
        let dryListed = try blocker.blocklist.snapshot(now: start)
        #expect(BlockUserExecutor.enrich(event, with: dryListed, pending: pending, now: start)["tripline"] == ["blocked": true, "pending": true])
        #expect(BlockUserExecutor.enrich(event, with: dryListed, pending: byKey, now: start)["tripline"] == ["blocked": true, "dryRun": true])
        // Really on the list: the list's mark.
        _ = blocker.block(principal: principal, reason: "r", durationSeconds: 3600, enforce: nil, dryRun: false, now: start)
        let listed = try blocker.blocklist.snapshot(now: start)
        #expect(BlockUserExecutor.enrich(event, with: listed, pending: pending, now: start)["tripline"] == ["blocked": true])
    }

    @Test("expectedBlock: the block a delivery will make, with the entry's identifiers; none for root, AWS services, protected principals")
    func expectedBlock() throws {
        let store = try StateStore.inMemory()
        let protected = try ProtectedPrincipals(patterns: ["arn:aws:iam::*:role/MyAppRole"])
        let blocker = try executor(store, settings: BlockUserExecutor.Settings(protected: protected))
        let blockTarget = try target("/bin/true", duration: 600)
        let expected = try #require(blocker.expectedBlock(of: Identities.event(Identities.iamUser), rule: "r", targetID: "t", target: blockTarget, now: start))
        #expect(expected == PendingBlocks.Block(key: "arn:aws:iam::123837392027:user/bert-jan",
                                                identifiers: ["arn:aws:iam::123837392027:user/bert-jan", "AKIATFQR7NSC8Q4X20BJ"],
                                                expiresAt: start + 600, dryRun: false))
        // What the executor writes is what marks: the same identifiers as the entry's.
        _ = blocker.block(try delivery(Identities.iamUser, "/bin/true"), now: start)
        let entry = try #require(try blocker.blocklist.entry(expected.key))
        #expect(entry.identifiers == expected.identifiers)
        for identity in [Identities.root, Identities.service, Identities.assumedRole] {
            #expect(blocker.expectedBlock(of: Identities.event(identity), rule: "r", targetID: "t", target: blockTarget, now: start) == nil, "\(identity)")
        }
        let forever = try target("/bin/true", duration: nil, dryRun: true)
        let federated = blocker.expectedBlock(of: Identities.event(Identities.federatedUser), rule: "r", targetID: "t", target: forever, now: start)
        #expect(federated?.expiresAt == .infinity && federated?.dryRun == true, "\(String(describing: federated))")
        let dryRunAll = try executor(try StateStore.inMemory(), settings: BlockUserExecutor.Settings(dryRun: true))
        #expect(dryRunAll.expectedBlock(of: Identities.event(Identities.iamUser), rule: "r", targetID: "t", target: blockTarget, now: start)?.dryRun == true)
    }
}
