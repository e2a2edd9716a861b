#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import EventPattern
import TriplineJSON
import TriplineTargets

/// One input event, parsed, recognised and wrapped as EventBridge delivers it.
public struct NormalizedEvent: Sendable {
    /// The EventBridge event (a CloudTrail record wrapped by ``CloudTrailNormalizer``, or an input envelope).
    public var envelope: JSONValue
    /// ``envelope`` as compact JSON: what patterns are matched against and targets receive.
    public var bytes: [UInt8]
    /// The envelope's `id` (what `TRIPLINE_EVENT_ID` carries).
    public var id: String
    public var origin: EventOrigin
}

/// Turns raw input events into normalized ones: strict JSON parsing, classification, wrapping.
///
/// Shared by `tripline run` and `tripline normalize`, so both accept and reject exactly the same inputs.
public struct EventNormalizer: Sendable {
    /// Largest accepted event, before and after wrapping (EventBridge's 256 KiB).
    public var maxEventBytes: Int

    public init(maxEventBytes: Int = CloudTrailRecordsReader.defaultMaxRecordBytes) {
        self.maxEventBytes = maxEventBytes
    }

    /// Parses and wraps `raw`; the error says why the event was skipped, naming its origin.
    public func normalize(_ raw: RawEvent, ingestionTime: String) -> Result<NormalizedEvent, InputError> {
        let value: JSONValue
        do {
            // A single-document file may be pretty-printed: allow the slack EventInputs allows.
            value = try JSONParser.parse(raw.bytes, options: JSONParser.Options(
                maxBytes: maxEventBytes * EventInputs.singleDocumentSlack, duplicateKeys: .reject))
        } catch {
            return .failure(.invalidEvent(origin: raw.origin, detail: "invalid JSON: " + error.description))
        }
        let envelope: JSONValue
        switch CloudTrailNormalizer.classify(value) {
        case .cloudTrailRecord:
            envelope = CloudTrailNormalizer.envelope(for: value, ingestionTime: ingestionTime)
        case .envelope:
            envelope = value
        case .unknown:
            var what = value.kindDescription
            if let object = value.objectValue {
                let keys = object.keys.prefix(4).map { JSONWriter.quoted($0) }.joined(separator: ", ")
                what = object.isEmpty ? "an empty object" : "an object with keys \(keys)\(object.count > 4 ? ", …" : "")"
            }
            return .failure(.invalidEvent(origin: raw.origin, detail: "not a CloudTrail record or EventBridge event (\(what); "
                                          + "expected eventSource or eventName, or detail-type, source and detail)"))
        }
        let bytes = Self.serialize(envelope, raw: raw.bytes, wrapped: envelope != value)
        guard bytes.count <= maxEventBytes else { return .failure(.eventTooLarge(origin: raw.origin, limit: maxEventBytes)) }
        let id = envelope["id"]?.stringValue ?? CloudTrailNormalizer.eventID(for: envelope)
        return .success(NormalizedEvent(envelope: envelope, bytes: bytes, id: id, origin: raw.origin))
    }

    /// The envelope as one line of JSON, reusing the input's own bytes where they are already one line.
    ///
    /// Serialising the whole record again is most of the cost of normalizing, and the input text is
    /// already valid JSON (it was just parsed): an input envelope is passed through, and a record is
    /// spliced in as `detail` (the last member ``CloudTrailNormalizer`` writes). Input spanning several
    /// lines (pretty-printed) is written out compactly instead, so the result is always one line.
    static func serialize(_ envelope: JSONValue, raw: [UInt8], wrapped: Bool) -> [UInt8] {
        let start = raw.firstIndex { !isJSONWhitespace($0) } ?? raw.count
        let end = (raw.lastIndex { !isJSONWhitespace($0) } ?? -1) + 1
        guard start < end, !raw[start..<end].contains(where: { $0 == 0x0A || $0 == 0x0D }) else { return JSONWriter.bytes(envelope) }
        guard wrapped else { return Array(raw[start..<end]) }
        guard case .object(var header) = envelope, header.members.last?.key == "detail" else { return JSONWriter.bytes(envelope) }
        header.members.removeLast()
        var out: [UInt8] = []
        out.reserveCapacity(end - start + 512)
        JSONWriter.write(.object(header), into: &out)
        out.removeLast()  // the closing brace
        out.append(contentsOf: header.members.isEmpty ? #""detail":"#.utf8 : #","detail":"#.utf8)
        out.append(contentsOf: raw[start..<end])
        out.append(UInt8(ascii: "}"))
        return out
    }

    private static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}

/// The `tripline run` loop: inputs → normalize → match → render each target's input → deliver.
///
/// Reads events one at a time on the calling thread (so memory stays bounded by one event plus the
/// delivery queue), matches each against all rules at once with one shared ``PatternMachine``, and
/// hands deliveries to a ``DeliveryPool`` that runs handlers concurrently while reading goes on. Bad
/// records and unreadable files are reported through the ``DeliveryLog`` and skipped; the run
/// continues. Progress is drawn on the console (a terminal) twice a second.
public final class Router {
    /// Limits and settings of a run.
    public struct Options: Sendable {
        public var maxEventBytes: Int
        public var pool: DeliveryPool.Configuration
        /// Seconds between progress updates.
        public var progressInterval: Double

        public init(maxEventBytes: Int = CloudTrailRecordsReader.defaultMaxRecordBytes,
                    pool: DeliveryPool.Configuration = DeliveryPool.Configuration(), progressInterval: Double = 0.5) {
            self.maxEventBytes = maxEventBytes
            self.pool = pool
            self.progressInterval = progressInterval
        }
    }

    public let rules: RuleSet
    public let options: Options
    private let log: DeliveryLog
    private let runner: FunctionRunner
    private let machine: PatternMachine
    private let normalizer: EventNormalizer
    private var clock = IngestionClock()

    public init(rules: RuleSet, options: Options = Options(), log: DeliveryLog, runner: FunctionRunner = FunctionRunner()) {
        self.rules = rules
        self.options = options
        self.log = log
        self.runner = runner
        machine = PatternMachine(rules.rules.enumerated().map { (id: $0.offset, pattern: $0.element.pattern) })
        normalizer = EventNormalizer(maxEventBytes: options.maxEventBytes)
    }

    /// Routes every event of `inputs`; returns when they are exhausted (or `stop` fires) and every
    /// delivery has finished.
    public func run(inputs: EventInputs, stop: StopSignal? = nil) -> RunSummary {
        let start = monotonicSeconds()
        var summary = RunSummary()
        summary.ruleOrder = rules.rules.map(\.name)
        for name in summary.ruleOrder { summary.matchesPerRule[name] = 0 }
        let tally = DeliveryTally()
        let log = self.log
        let pool = DeliveryPool(configuration: options.pool, runner: runner) { report in
            tally.count(report)
            log.record(report)
        }
        var scratch = MatchScratch(maxEventBytes: options.maxEventBytes)
        var nextProgress = start + options.progressInterval

        while true {
            if let stop, stop.isRequested {
                summary.stopped = true
                inputs.close()
                break
            }
            guard let item = inputs.next() else {
                // A follow source ends when a stop is requested.
                if let stop, stop.isRequested { summary.stopped = true }
                break
            }
            summary.sources = inputs.sourcesStarted
            switch item {
            case .failure(let error):
                if error.endsFile {
                    summary.fileErrors += 1
                } else {
                    summary.eventsRead += 1
                    summary.badRecords += 1
                }
                log.badInput(error)
            case .success(let raw):
                summary.eventsRead += 1
                route(raw, summary: &summary, scratch: &scratch, pool: pool, tally: tally)
            }
            let now = monotonicSeconds()
            if log.console.showsProgress, now >= nextProgress {
                nextProgress = now + options.progressInterval
                log.console.progress(progressLine(summary, tally: tally, pool: pool, source: inputs.currentSource))
            }
        }
        let load = pool.load
        if summary.stopped {
            log.note("tripline run: stop requested; finishing the \(load.queued + load.running) deliveries already queued (signal again to quit at once)")
        } else if log.console.showsProgress {
            log.console.progress("waiting for \(load.queued + load.running) deliveries to finish…")
        }
        pool.finish()
        log.console.clearProgress()
        let counts = tally.counts
        summary.deliveriesSucceeded = counts.succeeded
        summary.deliveriesFailed = counts.failed
        summary.deliveriesTimedOut = counts.timedOut
        summary.durationSeconds = monotonicSeconds() - start
        return summary
    }

    private func route(_ raw: RawEvent, summary: inout RunSummary, scratch: inout MatchScratch, pool: DeliveryPool, tally: DeliveryTally) {
        let ingestionTime = clock.now()
        let event: NormalizedEvent
        switch normalizer.normalize(raw, ingestionTime: ingestionTime) {
        case .success(let normalized): event = normalized
        case .failure(let error):
            summary.badRecords += 1
            log.badInput(error)
            return
        }
        summary.eventsNormalized += 1
        let matched: [Int]
        do throws(JSONError) {
            matched = try event.bytes.withUnsafeBufferPointer { (buffer) throws(JSONError) -> [Int] in
                try machine.matches(event: buffer, scratch: &scratch)
            }
        } catch {
            summary.badRecords += 1
            log.badInput(.invalidEvent(origin: raw.origin, detail: "cannot be matched: " + error.description))
            return
        }
        var anyRule = false
        for id in matched {
            let rule = rules.rules[id]
            guard rule.receives(event.envelope) else { continue }
            anyRule = true
            summary.matchesPerRule[rule.name, default: 0] += 1
            for target in rule.targets {
                deliver(event, rule: rule, target: target, ingestionTime: ingestionTime, pool: pool, tally: tally)
            }
        }
        if anyRule { summary.eventsMatched += 1 }
    }

    private func deliver(_ event: NormalizedEvent, rule: Rule, target: Target, ingestionTime: String, pool: DeliveryPool, tally: DeliveryTally) {
        guard case .function(let function) = target.kind else { return }
        let payload: [UInt8]
        do {
            payload = try target.input.render(event: event.envelope, eventBytes: event.bytes, ruleName: rule.name, ingestionTime: ingestionTime)
        } catch {
            tally.countFailure()
            log.note("[\(rule.name)/\(target.id)] delivery failed: cannot build the target input: \(error) (event \(event.id) from \(event.origin))")
            return
        }
        let delivery = HandlerEnvironment.Delivery(ruleName: rule.name, targetID: target.id, eventID: event.id)
        pool.submit(DeliveryJob(delivery: delivery, handler: function.handlerPath, arguments: function.args,
                                environment: function.environment, timeoutSeconds: function.timeoutSeconds,
                                maxConcurrency: function.maxConcurrency, payload: payload, origin: event.origin))
    }

    private func progressLine(_ summary: RunSummary, tally: DeliveryTally, pool: DeliveryPool, source: InputSource?) -> String {
        let counts = tally.counts
        let load = pool.load
        var line = "\(summary.eventsRead) events (\(summary.badRecords) bad), \(summary.eventsMatched) matched; "
            + "deliveries \(counts.succeeded) ok, \(counts.failed) failed, \(load.running) running, \(load.queued) queued"
        if let source { line += " - " + (source.description.split(separator: "/").last.map(String.init) ?? source.description) }
        return line
    }
}

/// The current UTC time as ISO 8601 (`2024-05-01T12:00:00Z`), formatted at most once a second.
///
/// Fills an envelope's `time` when a record has no `eventTime` and `<aws.events.event.ingestion-time>`.
public struct IngestionClock: Sendable {
    private var second: Int = -1
    private var text = ""

    public init() {}

    public mutating func now() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let seconds = Int(now.tv_sec)
        if seconds != second {
            second = seconds
            text = Self.format(epochSeconds: seconds)
        }
        return text
    }

    /// ISO 8601 UTC for a Unix time.
    public static func format(epochSeconds: Int) -> String {
        var time = time_t(epochSeconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
