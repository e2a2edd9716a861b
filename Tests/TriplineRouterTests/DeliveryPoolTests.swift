import Foundation
import Testing
@testable import TriplineRouter
import TriplineTargets

/// Collects reports from worker threads.
final class ReportBox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [DeliveryReport] = []

    func add(_ report: DeliveryReport) {
        lock.lock()
        items.append(report)
        lock.unlock()
    }

    var reports: [DeliveryReport] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

/// Writes an executable `#!/bin/sh` script; returns its path.
func writeScript(_ body: String, _ name: String, in dir: URL) throws -> String {
    let path = try writeFile("#!/bin/sh\n" + body + "\n", name, in: dir)
    chmod(path, 0o755)
    return path
}

@Suite("Delivery pool: concurrency limits, backpressure, reports")
struct DeliveryPoolTests {
    func job(_ handler: String, rule: String = "r", target: String = "t", event: String, maxConcurrency: Int, payload: String = "{}") -> DeliveryJob {
        DeliveryJob(delivery: HandlerEnvironment.Delivery(ruleName: rule, targetID: target, eventID: event), handler: handler,
                    timeoutSeconds: 20, maxConcurrency: maxConcurrency, payload: Array(payload.utf8),
                    origin: EventOrigin(source: "test", position: .line(1)))
    }

    /// Start and end times printed by the timing handler.
    func intervals(_ reports: [DeliveryReport]) -> [(Double, Double)] {
        reports.compactMap { report in
            let fields = String(decoding: report.outcome?.stdout ?? [], as: UTF8.self).split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
            return fields.count == 2 ? (fields[0], fields[1]) : nil
        }
    }

    /// Most intervals overlapping at one time.
    func maxOverlap(_ intervals: [(Double, Double)]) -> Int {
        intervals.map { probe in intervals.filter { $0.0 <= probe.0 && probe.0 < $0.1 }.count }.max() ?? 0
    }

    @Test func perTargetMaxConcurrencyIsRespected() throws {
        try withRouterTempDirectory { dir in
            let script = try writeScript("date +%s.%N\nsleep 0.3\ndate +%s.%N", "timed.sh", in: dir)
            let box = ReportBox()
            let pool = DeliveryPool(configuration: .init(maxConcurrent: 8, queueCapacity: 64)) { box.add($0) }
            for i in 0..<6 { pool.submit(job(script, target: "slow", event: "e\(i)", maxConcurrency: 2)) }
            for i in 0..<6 { pool.submit(job(script, target: "wide", event: "f\(i)", maxConcurrency: 6)) }
            pool.finish()
            let reports = box.reports
            #expect(reports.count == 12)
            #expect(reports.allSatisfy { $0.succeeded })
            let slow = intervals(reports.filter { $0.job.delivery.targetID == "slow" })
            let wide = intervals(reports.filter { $0.job.delivery.targetID == "wide" })
            #expect(slow.count == 6 && wide.count == 6)
            #expect(maxOverlap(slow) <= 2)
            #expect(maxOverlap(wide) >= 3, "the wide target should run several at once")
            // Jobs of one target are taken in the order they were submitted (two at a time here, so
            // neighbours may print their start in either order).
            let slowStarts = reports.filter { $0.job.delivery.targetID == "slow" }.sorted { intervals([$0])[0].0 < intervals([$1])[0].0 }
            for (position, report) in slowStarts.enumerated() {
                let index = Int(report.job.delivery.eventID.dropFirst())!
                #expect(abs(position - index) <= 1, "\(slowStarts.map(\.job.delivery.eventID))")
            }
        }
    }

    @Test func globalLimitCapsAllTargets() throws {
        try withRouterTempDirectory { dir in
            let script = try writeScript("date +%s.%N\nsleep 0.2\ndate +%s.%N", "timed.sh", in: dir)
            let box = ReportBox()
            let pool = DeliveryPool(configuration: .init(maxConcurrent: 2, queueCapacity: 64)) { box.add($0) }
            for i in 0..<6 { pool.submit(job(script, target: "t\(i)", event: "e\(i)", maxConcurrency: 10)) }
            pool.finish()
            #expect(box.reports.count == 6)
            #expect(maxOverlap(intervals(box.reports)) <= 2)
        }
    }

    @Test func fullQueueBlocksTheSubmitter() throws {
        try withRouterTempDirectory { dir in
            let script = try writeScript("sleep 0.3", "slow.sh", in: dir)
            let box = ReportBox()
            let pool = DeliveryPool(configuration: .init(maxConcurrent: 1, queueCapacity: 1)) { box.add($0) }
            let start = Date()
            // One runs, one waits in the queue; the third submit must wait for the first to finish.
            for i in 0..<3 { pool.submit(job(script, event: "e\(i)", maxConcurrency: 1)) }
            let submitted = Date().timeIntervalSince(start)
            pool.finish()
            #expect(submitted >= 0.25, "submit returned after \(submitted)s with a full queue")
            #expect(box.reports.count == 3)
        }
    }

    @Test func failuresAreReportedNotThrown() throws {
        try withRouterTempDirectory { dir in
            let failing = try writeScript("echo oops >&2\nexit 7", "fail.sh", in: dir)
            let box = ReportBox()
            let pool = DeliveryPool { box.add($0) }
            pool.submit(job(failing, event: "a", maxConcurrency: 1))
            pool.submit(job(dir.path + "/missing.sh", event: "b", maxConcurrency: 1))
            pool.finish()
            pool.finish()  // idempotent
            let reports = box.reports.sorted { $0.job.delivery.eventID < $1.job.delivery.eventID }
            #expect(reports.count == 2)
            #expect(reports[0].outcome?.exitStatus == 7 && !reports[0].succeeded)
            #expect(reports[1].outcome == nil && !reports[1].succeeded)
            #expect(reports[1].summary.contains("cannot start handler"))
        }
    }

    @Test func logTagsHandlerOutputAndFailures() throws {
        try withRouterTempDirectory { dir in
            let outPath = dir.appendingPathComponent("out").path
            let errPath = dir.appendingPathComponent("err").path
            let out = open(outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            let err = open(errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            let script = try writeScript("printf 'one\\ntwo\\r\\n'\necho warn >&2\nexit 1", "talk.sh", in: dir)
            for format in LogFormat.allCases {
                let log = DeliveryLog(format: format, console: RunConsole(output: out, errors: err, showProgress: false))
                let pool = DeliveryPool { log.record($0) }
                pool.submit(job(script, rule: "rule-a", target: "tgt", event: "evt-1", maxConcurrency: 1))
                pool.finish()
                log.badInput(.invalidEvent(origin: EventOrigin(source: "f.json", position: .record(3)), detail: "invalid JSON: x"))
            }
            close(out)
            close(err)
            let output = try String(contentsOfFile: outPath, encoding: .utf8).split(separator: "\n").map(String.init)
            let errors = try String(contentsOfFile: errPath, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(Array(output.prefix(4)) == [
                "[rule-a/tgt] one", "[rule-a/tgt] two", "[rule-a/tgt] stderr: warn",
                "[rule-a/tgt] delivery failed: " + output[3].dropFirst("[rule-a/tgt] delivery failed: ".count),
            ])
            #expect(output[3].hasPrefix("[rule-a/tgt] delivery failed: exit status 1 in ") && output[3].hasSuffix("(event evt-1 from test:1)"))
            #expect(errors[0] == "f.json Records[3]: invalid JSON: x; skipped")
            // JSON: one object per line with a type.
            let json = output.dropFirst(4)
            #expect(json.count == 4)
            #expect(json.allSatisfy { $0.hasPrefix("{\"type\":") })
            #expect(json.contains(#"{"type":"output","rule":"rule-a","target":"tgt","eventId":"evt-1","stream":"stdout","line":"two"}"#))
            #expect(json.last?.contains(#""type":"delivery""#) == true && json.last?.contains(#""ok":false,"exitStatus":1"#) == true)
            #expect(errors[1].hasPrefix(#"{"type":"badInput","file":"f.json","origin":"f.json Records[3]""#))
        }
    }
}
