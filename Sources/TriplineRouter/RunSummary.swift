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
    /// Inputs reported as ending inside an item (a file still being written, or cut short): the item
    /// is read again from there if the file grows.
    public var incompleteInputs = 0
    /// Events matched by at least one rule that receives them.
    public var eventsMatched = 0
    /// Matches per rule name, for every loaded rule (0 included).
    public var matchesPerRule: [String: Int] = [:]
    /// Loaded rule names, in load order (the order the summary lists them in).
    public var ruleOrder: [String] = []
    /// Deliveries whose target succeeded during this run, and that success was recorded (the delivery
    /// left the queue).
    public var deliveriesSucceeded = 0
    /// Deliveries whose target succeeded but whose completion the state database could not record
    /// (it failed meanwhile): still queued, so the next run delivers them again. Not in
    /// `deliveriesSucceeded`; counted in `deliveriesLeftQueued`.
    public var deliveriesUnrecorded = 0
    /// Deliveries that failed for good: dead-lettered during this run.
    public var deliveriesFailed = 0
    /// Attempts that failed (a delivery retried twice and then delivered counts 2 here).
    public var failedAttempts = 0
    /// Failed attempts that hit their timeout (counted in `failedAttempts` too).
    public var deliveriesTimedOut = 0
    /// Dead letters that could not be appended to their target's dead-letter file (they are in the
    /// state database: `tripline dlq list`).
    public var deadLetterFileErrors = 0
    /// Deliveries found queued from an earlier run and resumed.
    public var deliveriesResumed = 0
    /// Deliveries still queued when the run ended (waiting for a retry, or cut short by a stop).
    public var deliveriesLeftQueued = 0
    /// Events Tripline emitted and routed itself (`User Blocked`, …).
    public var eventsEmitted = 0
    /// Of ``eventsMatched``, those Tripline emitted itself.
    public var emittedEventsMatched = 0
    /// Matches a target's `Suppress` or `Threshold` held back (no delivery made).
    public var alertsHeldBack = 0
    /// Matches not queued again: the same event for the same target was already queued, or was
    /// delivered or dead-lettered within the de-duplication window.
    public var duplicatesSkipped = 0
    /// Input files skipped because a checkpoint says they were read whole before (and are unchanged).
    public var filesSkipped = 0
    /// Input files read from part-way: a checkpoint says their first items were handled before (they
    /// grew, or an earlier run stopped in them). Counted in `sources` too.
    public var filesResumed = 0
    /// The state database failed (disk full, unwritable): the run stopped accepting events.
    public var stateError: String?
    /// The run kept its state in memory (`--ephemeral`): what is still queued at the end, and dead
    /// letters not written to a dead-letter file, are gone with it.
    public var ephemeral = false
    /// The run stopped on SIGINT/SIGTERM before reading every input.
    public var stopped = false
    /// The run stopped to load changed rules (SIGHUP); what it left queued, the next one delivers,
    /// and an input it found incomplete, the next one reads again from there.
    public var endedForReload = false
    /// The run went on from a part that stopped to reload the rules (what it resumed was queued there).
    public var startedAfterReload = false
    public var durationSeconds: Double = 0

    public init() {}

    /// Events read per second of the whole run.
    public var eventsPerSecond: Double { durationSeconds > 0 ? Double(eventsRead) / durationSeconds : 0 }

    /// Everything went well: no bad record, no file error, no dead letter, nothing left queued.
    public var isClean: Bool {
        badRecords == 0 && fileErrors == 0 && (incompleteInputs == 0 || endedForReload) && deliveriesFailed == 0 && stateError == nil && (stopped || endedForReload || deliveriesLeftQueued == 0)
    }

    /// The human-readable summary, several lines.
    public var text: String {
        var lines: [String] = []
        lines.append("Summary\(endedForReload ? " (until the rules were reloaded)" : stopped ? " (stopped early)" : ""): \(eventsRead) event\(eventsRead == 1 ? "" : "s") read from \(sources) source\(sources == 1 ? "" : "s") "
                     + "in \(formatSeconds(durationSeconds)) (\(Int(eventsPerSecond.rounded())) events/s)")
        lines.append("  normalized: \(eventsNormalized), bad records: \(badRecords), files with errors: \(fileErrors)"
                     + (incompleteInputs > 0 ? ", incomplete at the end: \(incompleteInputs) (read again when they grow)" : ""))
        lines.append("  matched: \(eventsMatched) event\(eventsMatched == 1 ? "" : "s")" + (emittedEventsMatched > 0 ? " (\(emittedEventsMatched) emitted by tripline itself included)" : ""))
        if eventsEmitted > 0 {
            lines.append("  emitted by tripline: \(eventsEmitted) event\(eventsEmitted == 1 ? "" : "s") (User Blocked, User Block Refused, User Unblocked)")
        }
        let width = ruleOrder.map(\.count).max() ?? 0
        for name in ruleOrder {
            lines.append("    " + name + String(repeating: " ", count: width - name.count) + "  \(matchesPerRule[name] ?? 0)")
        }
        if filesResumed > 0 { lines.insert("  files resumed part-way (checkpoints: items handled before were skipped): \(filesResumed)", at: 2) }
        if filesSkipped > 0 {
            lines.insert(startedAfterReload ? "  files read before the reload: \(filesSkipped)"
                         : "  files already read (checkpoints; --from-start to read them again): \(filesSkipped)", at: 2)
        }
        var deliveries = "  deliveries: \(deliveriesSucceeded) ok, \(deliveriesFailed) failed"
        if deliveriesFailed > 0 { deliveries += ephemeral ? " (dead-lettered; --ephemeral keeps only those written to a DeadLetterConfig file)" : " (dead-lettered)" }
        if failedAttempts > 0 {
            deliveries += "; \(failedAttempts) failed attempt\(failedAttempts == 1 ? "" : "s")"
            if deliveriesTimedOut > 0 { deliveries += " (\(deliveriesTimedOut) timed out)" }
        }
        if deliveriesUnrecorded > 0 {
            deliveries += "; \(deliveriesUnrecorded) completed but not recorded (the state database failed): they run again in the next run"
        }
        if deliveriesResumed > 0 { deliveries += "; \(deliveriesResumed) resumed from " + (startedAfterReload ? "before the reload" : "an earlier run") }
        if alertsHeldBack > 0 { deliveries += "; \(alertsHeldBack) held back by Suppress/Threshold" }
        if duplicatesSkipped > 0 {
            deliveries += "; \(duplicatesSkipped) duplicate\(duplicatesSkipped == 1 ? "" : "s") skipped (same event and target already queued or done)"
        }
        if deliveriesLeftQueued > 0 {
            deliveries += endedForReload ? "; \(deliveriesLeftQueued) queued, taken over by the reloaded rules"
                : ephemeral ? "; \(deliveriesLeftQueued) still queued at the end, dropped (--ephemeral: nothing survives the run)"
                : "; \(deliveriesLeftQueued) left queued for the next run"
        }
        lines.append(deliveries)
        if deadLetterFileErrors > 0 {
            lines.append("  dead letters not appended to their dead-letter file: \(deadLetterFileErrors) "
                         + (ephemeral ? "(lost: --ephemeral keeps no state database; the log says why)"
                                      : "(kept in the state database: tripline dlq list; the log says why)"))
        }
        if let stateError { lines.append("  stopped early: \(stateError)") }
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
            JSONMember(key: "incompleteInputs", value: .number(JSONNumber(incompleteInputs))),
            JSONMember(key: "eventsMatched", value: .number(JSONNumber(eventsMatched))),
            JSONMember(key: "matchesPerRule", value: .object(JSONObject(rules))),
            JSONMember(key: "deliveriesSucceeded", value: .number(JSONNumber(deliveriesSucceeded))),
            JSONMember(key: "deliveriesUnrecorded", value: .number(JSONNumber(deliveriesUnrecorded))),
            JSONMember(key: "deliveriesFailed", value: .number(JSONNumber(deliveriesFailed))),
            JSONMember(key: "deadLetterFileErrors", value: .number(JSONNumber(deadLetterFileErrors))),
            JSONMember(key: "failedAttempts", value: .number(JSONNumber(failedAttempts))),
            JSONMember(key: "deliveriesTimedOut", value: .number(JSONNumber(deliveriesTimedOut))),
            JSONMember(key: "deliveriesResumed", value: .number(JSONNumber(deliveriesResumed))),
            JSONMember(key: "deliveriesLeftQueued", value: .number(JSONNumber(deliveriesLeftQueued))),
            JSONMember(key: "ephemeral", value: .bool(ephemeral)),
            JSONMember(key: "filesSkipped", value: .number(JSONNumber(filesSkipped))),
            JSONMember(key: "filesResumed", value: .number(JSONNumber(filesResumed))),
            JSONMember(key: "alertsHeldBack", value: .number(JSONNumber(alertsHeldBack))),
            JSONMember(key: "duplicatesSkipped", value: .number(JSONNumber(duplicatesSkipped))),
            JSONMember(key: "eventsEmitted", value: .number(JSONNumber(eventsEmitted))),
            JSONMember(key: "emittedEventsMatched", value: .number(JSONNumber(emittedEventsMatched))),
            JSONMember(key: "stopped", value: .bool(stopped)),
            JSONMember(key: "reloaded", value: .bool(endedForReload)),
            JSONMember(key: "stateError", value: stateError.map { .string($0) } ?? .null),
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
    private var unrecorded = 0
    private var deadLettered = 0
    private var deadLetterFileErrors = 0
    private var failedAttempts = 0
    private var timedOut = 0
    private var duplicates = 0

    public init() {}

    /// Counts matches the journal did not queue because their delivery was already queued or settled.
    public func countDuplicates(_ n: Int) {
        guard n > 0 else { return }
        lock.lock()
        defer { lock.unlock() }
        duplicates += n
    }

    /// Counts one attempt or dead letter.
    public func count(_ report: DeliveryReport) {
        lock.lock()
        defer { lock.unlock() }
        if report.succeeded { succeeded += 1 }
        if report.next == .unrecorded { unrecorded += 1 }
        if case .deadLettered = report.next { deadLettered += 1 }
        if report.deadLetterFileError != nil { deadLetterFileErrors += 1 }
        duplicates += report.duplicatesSkipped
        if let attempt = report.attemptReport, case .failed = attempt.outcome {
            failedAttempts += 1
            if attempt.function?.timedOut == true { timedOut += 1 }
        }
    }

    /// The counts so far (`unrecorded`: successes the state database could not record;
    /// `deadLetterFileErrors`: dead letters not appended to their file).
    public var counts: (succeeded: Int, unrecorded: Int, deadLettered: Int, deadLetterFileErrors: Int, failedAttempts: Int, timedOut: Int,
                        duplicates: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (succeeded, unrecorded, deadLettered, deadLetterFileErrors, failedAttempts, timedOut, duplicates)
    }
}
