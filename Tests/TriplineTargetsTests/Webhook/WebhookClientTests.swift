import Foundation
import LoopbackHTTP
import Testing
import TriplineTargets

@Suite("Webhook client: deliveries to a loopback server", .serialized)
struct WebhookClientTests {
    func request(_ server: LoopbackHTTPServer, path: String = "/hook", body: String = #"{"n":1}"#, timeout: Double = 10,
                 maxResponseBytes: Int = 64 * 1024) -> WebhookRequest {
        WebhookRequest(url: server.url(path), headers: [WebhookHeader(name: "Content-Type", value: "application/json")],
                       body: Array(body.utf8), timeoutSeconds: timeout, maxResponseBytes: maxResponseBytes)
    }

    @Test func deliversBodyMethodAndHeaders() throws {
        let server = try LoopbackHTTPServer { _ in .text(202, "accepted") }
        let client = try WebhookClient()
        defer { client.shutdown(); server.stop() }
        var req = request(server, body: #"{"detail":{"x":"é"}}"#)
        req.headers.append(WebhookHeader(name: "X-Empty", value: ""))
        let result = client.sendAndWait(req)
        #expect(result.status == 202 && result.error == nil)
        #expect(WebhookOutcome.classify(result) == .delivered(status: 202))
        #expect(String(decoding: result.body, as: UTF8.self) == "accepted")
        let got = try #require(server.requests.first)
        #expect(got.method == "POST" && got.path == "/hook")
        #expect(got.bodyText == #"{"detail":{"x":"é"}}"#)
        #expect(got.header("content-type") == "application/json")
        #expect(got.header("X-Empty") == "")
        #expect(got.header("Expect") == nil)
    }

    @Test(arguments: [
        (LoopbackResponse.text(500, "internal oops"), "retry", "internal oops"),
        (.text(503, "maintenance", headers: [LoopbackHeader(name: "Retry-After", value: "3")]), "retry 3", "maintenance"),
        (.tooManyRequests(retryAfter: "2"), "retry 2", "slow down"),
        (.text(400, #"{"error":"invalid_payload","detail":"missing text field"}"#), "permanent", "invalid_payload"),
        (.text(404, "no such hook"), "permanent", "no such hook"),
        (.text(302, "", headers: [LoopbackHeader(name: "Location", value: "/elsewhere")]), "permanent", "HTTP 302 Found to /elsewhere (redirects are not followed"),
        (.text(204), "delivered", ""),
        // Garbled replies and an interim status alone are network-level failures: retried, never dead-lettered at once.
        (.raw("hello there, this is not HTTP\r\n\r\n"), "retry", "transport error"),
        (.raw("HTTTP/9.9 abc\r\n\r\n"), "retry", "transport error"),
        (.raw("HTTP/1.1 099 x\r\n\r\n"), "retry", "transport error"),
        (.raw("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"), "retry", "HTTP 103"),
        (.raw("HTTP/1.1 100 Continue\r\n\r\n"), "retry", "HTTP 100"),
        (.raw("\0\0\u{12}\u{04}\0\0\0\0\0"), "retry", "transport error"),
    ] as [(LoopbackResponse, String, String)])
    func classifiesWhatTheServerAnswers(response: LoopbackResponse, expected: String, reasonContains: String) throws {
        let server = try LoopbackHTTPServer { _ in response }
        let client = try WebhookClient()
        defer { client.shutdown(); server.stop() }
        let outcome = WebhookOutcome.classify(client.sendAndWait(request(server)))
        switch outcome {
        case .delivered: #expect(expected == "delivered")
        case .retry(let reason, let after):
            #expect(expected == (after.map { "retry \(Int($0))" } ?? "retry"))
            #expect(reason.contains(reasonContains))
        case .permanent(let reason):
            #expect(expected == "permanent")
            #expect(reason.contains(reasonContains), "\(reason)")
        case .notSent(let reason, _):
            Issue.record("every request here is sent: \(reason)")
        }
        #expect(server.requestCount == 1, "the client itself never retries or follows redirects")
    }

    @Test func fiveHundredThenSuccessOnTheNextAttempt() throws {
        let server = try LoopbackHTTPServer { request in request.sequence == 1 ? .text(500, "try later") : .ok() }
        let client = try WebhookClient()
        defer { client.shutdown(); server.stop() }
        guard case .retry = WebhookOutcome.classify(client.sendAndWait(request(server))) else { Issue.record("first attempt retries"); return }
        #expect(WebhookOutcome.classify(client.sendAndWait(request(server))) == .delivered(status: 200))
    }

    @Test("a long Retry-After pause hands requests back unsent, to retry when it ends; a short one is waited out")
    func longPauseReturnsRequestsUnsent() throws {
        let server = try LoopbackHTTPServer { _ in .ok() }
        let client = try WebhookClient()
        defer { client.shutdown(); server.stop() }
        let pause = DeliveryPause()
        pause.pause(forSeconds: 600)
        var paused = request(server)
        paused.pause = pause
        let started = monotonicSeconds()
        let outcome = WebhookOutcome.classify(client.sendAndWait(paused))
        #expect(monotonicSeconds() - started < 5, "not held for the pause")
        guard case .notSent(let reason, let after) = outcome else { Issue.record("\(outcome)"); return }
        #expect(reason.contains("not sent") && (after ?? 0) > 590 && (after ?? 0) <= 600, "\(reason) \(String(describing: after))")
        #expect(server.requestCount == 0)

        let short = DeliveryPause()
        short.pause(forSeconds: 0.5)
        var waited = request(server)
        waited.pause = short
        #expect(WebhookOutcome.classify(client.sendAndWait(waited)) == .delivered(status: 200))
        #expect(server.requestCount == 1)
    }

    @Test func connectionResetIsARetryableTransportError() throws {
        let server = try LoopbackHTTPServer { _ in .reset }
        let client = try WebhookClient()
        defer { client.shutdown(); server.stop() }
        let result = client.sendAndWait(request(server))
        #expect(result.status == 0)
        let error = try #require(result.error)
        #expect(error.kind == .connection, "\(error)")
        guard case .retry(let reason, nil) = WebhookOutcome.classify(result) else { Issue.record("reset retries"); return }
        #expect(reason.contains("transport error"))
    }

    @Test func connectionRefusedIsARetryableConnectError() throws {
        let client = try WebhookClient()
        defer { client.shutdown() }
        let result = client.sendAndWait(WebhookRequest(url: "http://127.0.0.1:\(unusedLoopbackPort())/x", timeoutSeconds: 5))
        #expect(result.error?.kind == .connect, "\(result)")
        guard case .retry = WebhookOutcome.classify(result) else { Issue.record("refused retries"); return }
    }

    @Test func slowServerTimesOutAndRetries() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackResponse.ok().delayed(by: 5) }
        let client = try WebhookClient()
        defer { client.shutdown(); server.stop() }
        let started = Date()
        let result = client.sendAndWait(request(server, timeout: 0.5))
        let elapsed = Date().timeIntervalSince(started)
        #expect(result.error?.kind == .timeout, "\(result)")
        #expect(elapsed >= 0.4 && elapsed < 4.5, "took \(elapsed)s (the server answers after 5 s)")
        guard case .retry = WebhookOutcome.classify(result) else { Issue.record("timeout retries"); return }
    }

    @Test func hugeBodyIsCutAtTheCapWithoutReadingItAll() throws {
        let server = try LoopbackHTTPServer { _ in .huge(200 * 1024 * 1024, status: 400) }
        let client = try WebhookClient()
        defer { client.shutdown(); server.stop() }
        let started = Date()
        let result = client.sendAndWait(request(server, maxResponseBytes: 64 * 1024))
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(result.status == 400 && result.error == nil, "\(result)")
        #expect(result.body.count == 64 * 1024 && result.bodyTruncated)
        guard case .permanent(let reason) = WebhookOutcome.classify(result) else { Issue.record("400 is permanent"); return }
        #expect(reason.utf8.count < 700)
    }

    @Test func signatureHeadersVerifyIndependently() throws {
        let server = try LoopbackHTTPServer()
        let client = try WebhookClient()
        defer { client.shutdown(); server.stop() }
        let secret = StandardWebhookSignatureTests.specSecret
        let config = WebhookConfiguration(url: server.url("/signed"), signingSecretVariable: "HOOK_SECRET")
        let target = try config.resolve(environment: ["HOOK_SECRET": secret])
        let body = Array(#"{"detail":{"id":42}}"#.utf8)
        let before = Int(Date().timeIntervalSince1970)
        #expect(client.sendAndWait(target.request(body: body, messageID: "evt-1:rule:target")).status == 200)
        let got = try #require(server.requests.first)
        let id = try #require(got.header("webhook-id"))
        let timestamp = try #require(got.header("webhook-timestamp"))
        let signature = try #require(got.header("webhook-signature"))
        #expect(id == "evt-1:rule:target")
        #expect(abs((Int(timestamp) ?? 0) - before) <= 2)
        #expect(got.body == body)
        #expect(signature == IndependentHMAC.standardWebhookSignature(secret: secret, id: id, timestamp: timestamp, body: got.body))
        #expect(!server.requests.contains { $0.headers.contains { $0.value.contains("MfKQ9r8GKYq") } }, "the secret itself is never sent")
    }

    @Test func secretsInURLAndHeadersAreRedactedFromEveryText() throws {
        // The server echoes what it got (path, query, auth header) in its body and a header.
        let server = try LoopbackHTTPServer { request in
            .text(401, "denied \(request.target) auth=\(request.header("Authorization") ?? "")",
                  headers: [LoopbackHeader(name: "X-Echo", value: request.header("Authorization") ?? "")])
        }
        let client = try WebhookClient()
        defer { client.shutdown(); server.stop() }
        let env = ["HOOK_TOKEN": "T0KEN-abc123", "API_KEY": "key/with+chars", "RESOLVE_ME": "no-such-host-tripline.invalid"]
        let config = WebhookConfiguration(url: server.url("/hooks/${HOOK_TOKEN}?key=${API_KEY}"),
                                          headers: [WebhookHeader(name: "Authorization", value: "Bearer ${API_KEY}")])
        let target = try config.resolve(environment: env)
        let result = client.sendAndWait(target.request(body: Array("{}".utf8), messageID: "m1"))
        #expect(server.requests.first?.target.contains("T0KEN-abc123") == true, "the real secret was sent")
        let outcome = WebhookOutcome.classify(result)
        var texts = [outcome.description, result.description, result.bodyPrefix]
        texts += result.headers.map(\.description)
        if case .permanent(let reason) = outcome { texts.append(reason) } else { Issue.record("401 is permanent") }
        #expect(outcome.description.contains("${HOOK_TOKEN}"))

        // Transport errors: an unresolvable secret host, and a refused connection to a secret path.
        let hostConfig = WebhookConfiguration(url: "http://${RESOLVE_ME}:9/x/${HOOK_TOKEN}", timeoutSeconds: 5)
        let hostResult = client.sendAndWait(try hostConfig.resolve(environment: env).request(body: [], messageID: "m2"))
        #expect(hostResult.error?.message.contains("${RESOLVE_ME}") == true, "\(hostResult)")
        texts += [hostResult.description, WebhookOutcome.classify(hostResult).description, hostResult.error?.message ?? ""]
        let refused = WebhookConfiguration(url: "http://127.0.0.1:\(unusedLoopbackPort())/${HOOK_TOKEN}", timeoutSeconds: 5)
        let refusedResult = client.sendAndWait(try refused.resolve(environment: env).request(body: [], messageID: "m3"))
        texts += [refusedResult.description, WebhookOutcome.classify(refusedResult).description]
        for text in texts {
            for secret in env.values { #expect(!text.contains(secret), "leaked in: \(text)") }
            #expect(!text.contains("key%2Fwith") && !text.contains("key/with"), "leaked in: \(text)")
        }
    }

    @Test func sequentialRequestsReuseOneKeptAliveConnection() throws {
        let server = try LoopbackHTTPServer(options: .init(recordRequests: false))
        let client = try WebhookClient(options: .init(maxConnections: 4))
        defer { client.shutdown(); server.stop() }
        var newConnections = 0
        for i in 0..<100 {
            let result = client.sendAndWait(request(server, body: #"{"i":\#(i)}"#))
            #expect(result.status == 200)
            newConnections += result.newConnections
        }
        #expect(server.requestCount == 100)
        #expect(server.connectionCount == 1)
        #expect(newConnections == 1)
    }

    @Test func manyConcurrentDeliveriesStayWithinTheConnectionLimit() throws {
        let server = try LoopbackHTTPServer(options: .init(recordRequests: false)) { _ in LoopbackResponse.ok().delayed(by: 0.01) }
        let client = try WebhookClient(options: .init(maxConnections: 8))
        defer { client.shutdown(); server.stop() }
        let collector = ResultCollector()
        for i in 0..<400 { client.send(request(server)) { collector.add(i, $0, at: Date().timeIntervalSince1970) } }
        let results = collector.wait(for: 400, timeoutSeconds: 30)
        #expect(results.count == 400)
        #expect(results.allSatisfy { $0.result.status == 200 })
        #expect(server.connectionCount <= 8 && server.connectionCount >= 2, "\(server.connectionCount) connections")
        #expect(client.pendingCount == 0)
    }

    @Test func rateLimitSpacesDeliveriesAcrossInFlightRequests() throws {
        let server = try LoopbackHTTPServer()
        let client = try WebhookClient()
        defer { client.shutdown(); server.stop() }
        let config = WebhookConfiguration(url: server.url("/limited"), rateLimitPerSecond: 5)
        let target = try config.resolve(environment: [:])
        let collector = ResultCollector()
        let started = Date()
        for i in 0..<10 {
            client.send(target.request(body: Array("{}".utf8), messageID: "m\(i)")) { collector.add(i, $0, at: Date().timeIntervalSince1970) }
        }
        let results = collector.wait(for: 10, timeoutSeconds: 15)
        let elapsed = Date().timeIntervalSince(started)
        #expect(results.count == 10 && results.allSatisfy { $0.result.status == 200 })
        #expect(elapsed >= 1.7 && elapsed < 6, "10 deliveries at 5/s took \(elapsed)s")
        let arrivals = server.requests.map(\.receivedAt.timeIntervalSince1970)
        for (a, b) in zip(arrivals, arrivals.dropFirst()) { #expect(b - a >= 0.15, "arrivals \(b - a)s apart") }
        #expect(results.map(\.result.queuedSeconds).max() ?? 0 >= 1.6)
    }

    @Test func shutdownCancelCompletesEverythingAndLaterSendsFailFast() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackResponse.ok().delayed(by: 10) }
        let client = try WebhookClient()
        defer { server.stop() }
        let collector = ResultCollector()
        let limiter = TokenBucket(ratePerSecond: 0.1)
        for i in 0..<3 {
            var req = request(server)
            if i == 2 { req.rateLimiter = limiter; _ = limiter.reserve() }  // held for ~10s
            client.send(req) { collector.add(i, $0, at: 0) }
        }
        #expect(server.waitForRequests(2, timeoutSeconds: 5))
        let started = Date()
        client.shutdown(.cancel)
        #expect(Date().timeIntervalSince(started) < 6, "not held up by the ~10 s rate-limit wait")
        let results = collector.wait(for: 3, timeoutSeconds: 5).sorted { $0.index < $1.index }
        #expect(results.map { $0.result.error?.kind } == [.cancelled, .cancelled, .notSent], "the held one was never sent")
        let late = client.sendAndWait(request(server))
        #expect(late.error?.kind == .notSent)
    }

    @Test("a request held by a limiter for longer than a poll can wait (here ~1e300 s) neither traps nor blocks others")
    func holdsOfAnyLengthCannotTrap() throws {
        let server = try LoopbackHTTPServer()
        let client = try WebhookClient()
        defer { server.stop() }
        let limiter = TokenBucket(ratePerSecond: 1e-300)
        let collector = ResultCollector()
        for i in 0..<2 {
            var req = request(server)
            req.rateLimiter = limiter
            client.send(req) { collector.add(i, $0, at: 0) }
        }
        let first = collector.wait(for: 1, timeoutSeconds: 5)
        #expect(first.count == 1 && first.first?.result.status == 200, "the first used the burst token")
        #expect(client.pendingCount == 1, "the second is held, and the loop keeps running")
        #expect(client.sendAndWait(request(server)).status == 200, "an unlimited request still goes through")
        client.shutdown(.cancel)
        let all = collector.wait(for: 2, timeoutSeconds: 5)
        #expect(all.count == 2 && all.contains { $0.result.error?.kind == .notSent })
    }

    @Test("rate limits outside 0.001…100000 per second are refused, naming the range")
    func rateLimitRange() throws {
        for rate in [4e-7, 1e-300, 0, -1, 100_001, .infinity, .nan] {
            #expect(throws: WebhookConfigurationError.self, "rate \(rate)") {
                try WebhookConfiguration(url: "http://127.0.0.1/x", rateLimitPerSecond: rate).validate()
            }
        }
        for rate in [0.001, 1, 100_000] { try WebhookConfiguration(url: "http://127.0.0.1/x", rateLimitPerSecond: rate).validate() }
        #expect(WebhookConfigurationError.invalidRateLimit(4e-7).description.contains("0.001…100000 deliveries per second"))
    }

    @Test("interruptInFlight ends a hanging transfer at once as a retryable failure; the client keeps working")
    func interruptEndsTransfersInFlight() throws {
        let server = try LoopbackHTTPServer { request in request.sequence == 1 ? LoopbackResponse.ok().delayed(by: 30) : .ok() }
        let client = try WebhookClient()
        defer { client.shutdown(); server.stop() }
        let collector = ResultCollector()
        client.send(request(server, timeout: 60)) { collector.add(0, $0, at: 0) }
        #expect(server.waitForRequests(1, timeoutSeconds: 5))
        let started = Date()
        client.interruptInFlight(reason: "the test stops")
        let results = collector.wait(for: 1, timeoutSeconds: 10)
        #expect(Date().timeIntervalSince(started) < 5, "ended at once, not after the server's 30 s")
        let result = try #require(results.first?.result)
        #expect(result.error?.kind == .cancelled && result.error?.message.contains("interrupted") == true, "\(result)")
        guard case .retry = WebhookOutcome.classify(result) else { Issue.record("an interrupted attempt is retried"); return }
        #expect(client.sendAndWait(request(server)).status == 200)
    }

    @Test("interruptInFlight hands requests held for their rate-limit slot back as not sent, which is no attempt")
    func interruptHandsHeldRequestsBackUnsent() throws {
        let server = try LoopbackHTTPServer { _ in .ok() }
        let client = try WebhookClient()
        defer { client.shutdown(); server.stop() }
        let limiter = TokenBucket(ratePerSecond: 0.1)
        let collector = ResultCollector()
        for i in 0..<2 {
            var req = request(server)
            req.rateLimiter = limiter
            client.send(req) { collector.add(i, $0, at: 0) }
        }
        #expect(collector.wait(for: 1, timeoutSeconds: 5).first?.result.status == 200, "the first used the burst token")
        client.interruptInFlight(reason: "the test stops")
        let results = collector.wait(for: 2, timeoutSeconds: 5).sorted { $0.index < $1.index }
        try #require(results.count == 2)
        #expect(results[0].result.status == 200)
        let held = results[1].result
        #expect(held.error?.kind == .notSent && held.error?.message == "not sent: the test stops", "\(held)")
        #expect(WebhookOutcome.classify(held) == .notSent(reason: "not sent: the test stops", retryAfterSeconds: nil))
        #expect(server.requestCount == 1)
    }

    @Test func shutdownFinishWaitsForInFlightDeliveries() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackResponse.ok().delayed(by: 1) }
        let client = try WebhookClient()
        defer { server.stop() }
        let collector = ResultCollector()
        for i in 0..<5 { client.send(request(server)) { collector.add(i, $0, at: 0) } }
        let started = Date()
        client.shutdown(.finish)
        let elapsed = Date().timeIntervalSince(started)
        // One after another they would take 5 s; a loaded machine may add a second or two.
        #expect(elapsed >= 0.9 && elapsed < 3.5, "the five ran in parallel and were waited for: \(elapsed) s")
        let results = collector.wait(for: 5, timeoutSeconds: 0.1)
        #expect(results.count == 5 && results.allSatisfy { $0.result.status == 200 })
    }

    @Test("a request carrying a framing header is refused before anything is sent")
    func framingHeadersAreNeverSent() throws {
        let server = try LoopbackHTTPServer()
        let client = try WebhookClient()
        defer { client.shutdown(); server.stop() }
        var req = request(server)
        req.headers.append(WebhookHeader(name: "content-length", value: "1"))
        let result = client.sendAndWait(req)
        #expect(result.error?.kind == .invalidRequest && server.requestCount == 0, "\(result)")
    }

    @Test func unsupportedSchemesAreRefusedPermanently() throws {
        let client = try WebhookClient()
        defer { client.shutdown() }
        for url in ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/x", "http://[::1/x"] {
            let result = client.sendAndWait(WebhookRequest(url: url, method: "GET"))
            #expect(result.error?.kind == .invalidRequest, "\(url): \(result)")
            guard case .permanent = WebhookOutcome.classify(result) else { Issue.record("\(url) is permanent"); continue }
        }
    }
}
