import Foundation
import Testing
import TriplineTargets

@Suite("Webhook outcome: status classification and Retry-After")
struct WebhookOutcomeTests {
    enum Expected: Sendable, Equatable { case delivered, retry(Double?), permanent, notSent }

    static let now = Date(timeIntervalSince1970: 784_111_777) // Sun, 06 Nov 1994 08:49:37 GMT

    @Test(arguments: [
        (200, nil, Expected.delivered), (201, nil, .delivered), (204, nil, .delivered), (299, nil, .delivered),
        (500, nil, .retry(nil)), (502, nil, .retry(nil)), (503, "30", .retry(30)), (599, nil, .retry(nil)),
        (429, nil, .retry(nil)), (429, "7", .retry(7)), (429, " 12 ", .retry(12)), (429, "0", .retry(0)),
        (429, "Sun, 06 Nov 1994 08:50:37 GMT", .retry(60)),
        (429, "Sunday, 06-Nov-94 08:49:47 GMT", .retry(10)),
        (429, "Sun Nov  6 08:49:42 1994", .retry(5)),
        (429, "Sun, 06 Nov 1994 08:00:00 GMT", .retry(0)),
        (429, "99999999", .retry(3600)), (429, "999999999999999999999", .retry(3600)),
        (429, "soon", .retry(nil)), (429, "-5", .retry(nil)), (429, "1.5", .retry(nil)),
        (429, "Sun, 32 Nov 1994 08:49:37 GMT", .retry(nil)),
        (408, nil, .retry(nil)),
        (400, "5", .permanent), (401, nil, .permanent), (403, nil, .permanent), (404, nil, .permanent),
        (410, nil, .permanent), (422, nil, .permanent), (301, nil, .permanent), (302, nil, .permanent),
    ] as [(Int, String?, Expected)])
    func classifiesStatuses(status: Int, retryAfter: String?, expected: Expected) {
        let headers = retryAfter.map { [WebhookHeader(name: "Retry-After", value: $0)] } ?? []
        let result = WebhookResult(status: status, headers: headers, body: Array("server says no".utf8))
        let outcome = WebhookOutcome.classify(result, now: Self.now)
        switch (outcome, expected) {
        case (.delivered(let s), .delivered): #expect(s == status)
        case (.retry(let reason, let after), .retry(let want)):
            #expect(after == want)
            #expect(reason.hasPrefix("HTTP \(status)") && reason.contains("server says no"))
        case (.permanent(let reason), .permanent):
            #expect(reason.hasPrefix("HTTP \(status)") && reason.contains("server says no"))
        default: Issue.record("HTTP \(status) Retry-After \(retryAfter ?? "-"): got \(outcome), expected \(expected)")
        }
    }

    @Test(arguments: [
        (WebhookTransportError.Kind.timeout, Expected.retry(nil)), (.connect, .retry(nil)), (.connection, .retry(nil)),
        (.tls, .retry(nil)), (.cancelled, .retry(nil)), (.other, .retry(nil)), (.invalidRequest, .permanent), (.notSent, .notSent),
    ] as [(WebhookTransportError.Kind, Expected)])
    func classifiesTransportErrors(kind: WebhookTransportError.Kind, expected: Expected) {
        let result = WebhookResult(status: 0, error: WebhookTransportError(kind: kind, curlCode: 7, message: "boom"))
        let outcome = WebhookOutcome.classify(result, now: Self.now)
        switch (outcome, expected) {
        case (.retry(let reason, nil), .retry(nil)): #expect(reason.contains("boom"))
        case (.permanent(let reason), .permanent): #expect(reason.contains("boom"))
        case (.notSent(let reason, nil), .notSent): #expect(reason.contains("boom"))
        default: Issue.record("\(kind): got \(outcome), expected \(expected)")
        }
    }

    @Test func aStatusThatArrivedDecidesEvenIfTheTransferThenFailed() {
        let error = WebhookTransportError(kind: .connection, curlCode: 56, message: "reset")
        #expect(WebhookOutcome.classify(WebhookResult(status: 200, error: error)) == .delivered(status: 200))
        guard case .permanent = WebhookOutcome.classify(WebhookResult(status: 400, error: error)) else {
            Issue.record("a 400 stays permanent"); return
        }
    }

    @Test("a 1xx with no final response after it is retried, not taken for the server's answer", arguments: [100, 103, 199])
    func interimStatusAloneIsRetried(status: Int) {
        let error = WebhookTransportError(kind: .connection, curlCode: 52, message: "Empty reply from server")
        guard case .retry(let reason, nil) = WebhookOutcome.classify(WebhookResult(status: status, error: error)) else {
            Issue.record("HTTP \(status) then a close must be retried"); return
        }
        #expect(reason.contains("HTTP \(status)") && reason.contains("Empty reply"), "\(reason)")
    }

    @Test("a redirect is permanent and its reason says where it pointed and that redirects are not followed")
    func redirectNamesItsLocation() {
        let moved = WebhookResult(status: 308, headers: [WebhookHeader(name: "location", value: "https://new.example/${HOOK_TOKEN}")],
                                  body: Array("moved".utf8))
        #expect(WebhookOutcome.classify(moved) == .permanent(reason:
            "HTTP 308 Permanent Redirect to https://new.example/${HOOK_TOKEN} (redirects are not followed: point Url at it): moved"))
        #expect(WebhookOutcome.classify(WebhookResult(status: 302)) == .permanent(reason: "HTTP 302 Found (redirects are not followed)"))
    }

    @Test func retryAfterIsClampedToTheGivenMaximum() {
        let result = WebhookResult(status: 503, headers: [WebhookHeader(name: "retry-after", value: "86400")])
        #expect(WebhookOutcome.classify(result, now: Self.now, maxRetryAfterSeconds: 120) == .retry(reason: "HTTP 503 Service Unavailable", retryAfterSeconds: 120))
    }

    @Test func bodyPrefixIsShortSingleLineAndRedacted() {
        let body = Array(("line one\nline two token=hunter2 " + String(repeating: "y", count: 2000)).utf8)
        let result = WebhookResult(status: 400, body: body, redactor: Redactor(secrets: [("PASSWORD", "hunter2")]))
        #expect(!result.bodyPrefix.contains("\n"))
        #expect(result.bodyPrefix.utf8.count <= WebhookResult.bodyPrefixLimit + 3)
        #expect(result.bodyPrefix.contains("token=${PASSWORD}") && !result.bodyPrefix.contains("hunter2"))
        guard case .permanent(let reason) = WebhookOutcome.classify(result) else { Issue.record("400 is permanent"); return }
        #expect(reason.hasPrefix("HTTP 400 Bad Request: line one line two token=${PASSWORD}"))

        // A secret straddling the cut is hidden whole, not left half visible.
        let straddle = Array((String(repeating: "a", count: WebhookResult.bodyPrefixLimit - 3) + "hunter2").utf8)
        let cut = WebhookResult(status: 400, body: straddle, redactor: Redactor(secrets: [("PASSWORD", "hunter2")]))
        #expect(!cut.bodyPrefix.contains("hun"))
    }
}
