import Dispatch
import Foundation
import LoopbackHTTP
import TriplineJSON
import TriplineTargets

/// The webhook throughput benchmark: deliveries per second through ``WebhookClient`` to a loopback server.
///
/// For each connection count: a fresh client limited to that many connections (and as many transfers in
/// flight), a warm-up that opens the connections, then `deliveries` POSTs of a small JSON body submitted at
/// once and timed until the last completes. The server answers 200 at once and records nothing.
public enum WebhookBenchmark {
    public struct Result: Sendable {
        public var connections: Int
        public var deliveries: Int
        public var seconds: Double
        /// Deliveries that did not come back 200 (should be 0).
        public var failures: Int
        public var deliveriesPerSecond: Double { Double(deliveries) / seconds }

        /// `{"group":"webhook","connections":C,"deliveries":N,"seconds":S,"deliveriesPerSecond":R}`, plus
        /// `"failures"` when any delivery failed.
        public var jsonLine: String {
            var members = [
                JSONMember(key: "group", value: .string("webhook")),
                JSONMember(key: "connections", value: .number(JSONNumber(connections))),
                JSONMember(key: "deliveries", value: .number(JSONNumber(deliveries))),
                JSONMember(key: "seconds", value: .number(JSONNumber(text: String(format: "%.4f", seconds)))),
                JSONMember(key: "deliveriesPerSecond", value: .number(JSONNumber(Int(deliveriesPerSecond.rounded())))),
            ]
            if failures > 0 { members.append(JSONMember(key: "failures", value: .number(JSONNumber(failures)))) }
            return JSONWriter.string(.object(JSONObject(members)))
        }
    }

    /// Runs one timed pass per entry of `connectionCounts`; `report` gets each result's JSON line as it is measured.
    public static func run(deliveries: Int = 20_000, connectionCounts: [Int] = [1, 64], bodyBytes: Int = 256,
                           report: (String) -> Void = { print($0) }) throws -> [Result] {
        let server = try LoopbackHTTPServer(options: .init(recordRequests: false)) { _ in .text(200, "ok") }
        defer { server.stop() }
        var body = Array(#"{"detail-type":"bench","detail":{"pad":""#.utf8)
        body += [UInt8](repeating: UInt8(ascii: "x"), count: max(0, bodyBytes - body.count - 3))
        body += Array(#""}}"#.utf8)
        let request = WebhookRequest(url: server.url("/bench"), headers: [WebhookHeader(name: "Content-Type", value: "application/json")],
                                     body: body, timeoutSeconds: 30)
        var results: [Result] = []
        for connections in connectionCounts {
            let client = try WebhookClient(options: .init(maxConnections: connections))
            defer { client.shutdown(.cancel) }
            _ = deliver(client, request, count: max(connections * 4, 200))
            let started = monotonicSeconds()
            let failures = deliver(client, request, count: deliveries)
            let result = Result(connections: connections, deliveries: deliveries, seconds: monotonicSeconds() - started, failures: failures)
            report(result.jsonLine)
            results.append(result)
        }
        return results
    }

    /// Submits `count` copies of `request` at once; waits for all; returns how many were not HTTP 200.
    private static func deliver(_ client: WebhookClient, _ request: WebhookRequest, count: Int) -> Int {
        guard count > 0 else { return 0 }
        let tally = Tally(target: count)
        for _ in 0..<count {
            client.send(request) { tally.record(ok: $0.status == 200) }
        }
        tally.done.wait()
        return tally.failures
    }

    private final class Tally: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private let target: Int
        private var finished = 0
        private(set) var failures = 0

        init(target: Int) { self.target = target }

        func record(ok: Bool) {
            lock.lock()
            finished += 1
            if !ok { failures += 1 }
            let last = finished == target
            lock.unlock()
            if last { done.signal() }
        }
    }
}
