import Foundation
import TriplineTargets
import TriplineJSON

/// What one `tripline run` did: events read and skipped, rule matches, delivery results.
///
/// A value, filled in by ``Router`` as it goes (deliveries through ``DeliveryTally`` because they finish
/// on worker threads) and printed at the end as text or one JSON object.
public struct RunSummary: Sendable, Equatable {
    /// Files (and standard input) started.
    public var sources = 0
    /// Events read from the inputs (records, lines, documents), valid or not; over-large ones included.
    public var eventsRead = 0
    /// Events that parsed and were recognised (CloudTrail record or EventBridge event).
    public var eventsNormalized = 0
    /// Events skipped: too large, invalid JSON, or not an event.
    public var badRecords = 0
    /// Files that stopped early (unreadable, corrupt gzip, malformed CloudTrail log) or could not be opened.
    public var fileErrors = 0
    /// Events matched by at least one rule that receives them.
    public var eventsMatched = 0
    /// Matches per rule name, for every loaded rule (0 included).
    public var matchesPerRule: [String: Int] = [:]
    /// Loaded rule names, in load order (the order the summary lists them in).
    public var ruleOrder: [String] = []
    public var deliveriesSucceeded = 0
    public var deliveriesFailed = 0
    /// Failed deliveries that hit their timeout (counted in `deliveriesFailed` too).
    public var deliveriesTimedOut = 0
    /// The run stopped on SIGINT/SIGTERM before reading every input.
    public var stopped = false
    public var durationSeconds: Double = 0

    public init() {}

    /// Events read per second of the whole run.
    public var eventsPerSecond: Double { durationSeconds > 0 ? Double(eventsRead) / durationSeconds : 0 }

    /// Everything went well: no bad record, no file error, no failed delivery.
    public var isClean: Bool { badRecords == 0 && fileErrors == 0 && deliveriesFailed == 0 }

    /// The human-readable summary, several lines.
    public var text: String {
        var lines: [String] = []
        lines.append("Summary\(stopped ? " (stopped early)" : ""): \(eventsRead) events read from \(sources) source\(sources == 1 ? "" : "s") "
                     + "in \(formatSeconds(durationSeconds)) (\(Int(eventsPerSecond.rounded())) events/s)")
        lines.append("  normalized: \(eventsNormalized), bad records: \(badRecords), files with errors: \(fileErrors)")
        lines.append("  matched: \(eventsMatched) events")
        let width = ruleOrder.map(\.count).max() ?? 0
        for name in ruleOrder {
            lines.append("    " + name + String(repeating: " ", count: width - name.count) + "  \(matchesPerRule[name] ?? 0)")
        }
        var deliveries = "  deliveries: \(deliveriesSucceeded) ok, \(deliveriesFailed) failed"
        if deliveriesTimedOut > 0 { deliveries += " (\(deliveriesTimedOut) timed out)" }
        lines.append(deliveries)
        return lines.joined(separator: "\n")
    }

    /// The summary as one JSON object (`"type": "summary"`), without a newline.
    public var json: String {
        let rules = ruleOrder.map { JSONMember(key: $0, value: .number(JSONNumber(matchesPerRule[$0] ?? 0))) }
        let object = JSONObject([
            JSONMember(key: "type", value: "summary"),
            JSONMember(key: "sources", value: .number(JSONNumber(sources))),
            JSONMember(key: "eventsRead", value: .number(JSONNumber(eventsRead))),
            JSONMember(key: "eventsNormalized", value: .number(JSONNumber(eventsNormalized))),
            JSONMember(key: "badRecords", value: .number(JSONNumber(badRecords))),
            JSONMember(key: "fileErrors", value: .number(JSONNumber(fileErrors))),
            JSONMember(key: "eventsMatched", value: .number(JSONNumber(eventsMatched))),
            JSONMember(key: "matchesPerRule", value: .object(JSONObject(rules))),
            JSONMember(key: "deliveriesSucceeded", value: .number(JSONNumber(deliveriesSucceeded))),
            JSONMember(key: "deliveriesFailed", value: .number(JSONNumber(deliveriesFailed))),
            JSONMember(key: "deliveriesTimedOut", value: .number(JSONNumber(deliveriesTimedOut))),
            JSONMember(key: "stopped", value: .bool(stopped)),
            JSONMember(key: "durationSeconds", value: .number(JSONNumber((durationSeconds * 1000).rounded() / 1000))),
            JSONMember(key: "eventsPerSecond", value: .number(JSONNumber(eventsPerSecond.rounded()))),
        ])
        return JSONWriter.string(.object(object))
    }
}

/// Delivery results counted from worker threads.
public final class DeliveryTally: @unchecked Sendable {
    private let lock = NSLock()
    private var succeeded = 0
    private var failed = 0
    private var timedOut = 0

    public init() {}

    /// Counts one finished delivery attempt.
    public func count(_ report: DeliveryReport) {
        lock.lock()
        defer { lock.unlock() }
        if report.succeeded {
            succeeded += 1
        } else {
            failed += 1
            if report.outcome?.timedOut == true { timedOut += 1 }
        }
    }

    /// Counts a delivery that failed before it could be submitted (its input could not be rendered).
    public func countFailure() {
        lock.lock()
        defer { lock.unlock() }
        failed += 1
    }

    /// The counts so far: succeeded, failed, timed out.
    public var counts: (succeeded: Int, failed: Int, timedOut: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (succeeded, failed, timedOut)
    }
}
