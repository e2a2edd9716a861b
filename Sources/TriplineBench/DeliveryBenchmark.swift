#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Foundation
import TriplineJSON
import TriplineRouter
import TriplineState
import TriplineTargets

/// The durable-delivery benchmark: what the state database costs per delivery.
///
/// **Pipeline.** `deliveries` NDJSON events (one per line, unique ids) in a temporary file, one rule that
/// matches them all, one function target (`handler`, `/bin/true` by default) with `MaxConcurrency`
/// `concurrency`, run through ``Router`` exactly as `tripline run` does: read, normalize, match, accept
/// into the journal in batches with the input's checkpoint, dispatch, run the handler, remove the
/// delivery by group commit. The log goes to /dev/null. Timed from the start of ``Router/run(inputs:stop:)``
/// to its return (every delivery done). Once per state kind: a state directory with `synchronous=FULL`
/// (the default of `tripline run`), one with `NORMAL`, and an in-memory store (`--ephemeral`). Each
/// delivery spawns one handler process, so on a small machine the figure is bounded by process creation,
/// not by the database; the durability overhead is the difference between the kinds.
///
/// **Journal only.** The same database work without processes or threads: accept `rows` deliveries in
/// batches of `acceptBatch` (as the router commits them), load each one (as a worker does before its
/// attempt), and complete them in groups of `completeBatch` (the dispatcher's group commit, which gathers
/// at most the attempts running at once). Rows per second here is the ceiling the database alone puts on
/// delivery throughput.
///
/// **Spawn only.** The handler run `deliveries` times by ``FunctionRunner`` from `concurrency` threads, with
/// the payload and environment a delivery gives it, and nothing else: the ceiling process creation alone
/// puts on function deliveries on this machine.
///
/// Passes are interleaved (every kind once, then again) and the best pass of each kind is kept, so drift
/// in the machine's load hits every kind alike. Every pass starts from an empty state directory.
public enum DeliveryBenchmark {
    /// Where the state lives.
    public enum StateKind: String, CaseIterable, Sendable {
        case durableFull = "durable-full"
        case durableNormal = "durable-normal"
        case memory

        var synchronous: StateStore.Synchronous? {
            switch self {
            case .durableFull: return .full
            case .durableNormal: return .normal
            case .memory: return nil
            }
        }
    }

    public struct Options: Sendable {
        public var deliveries: Int
        /// The target's `MaxConcurrency`, and the dispatcher's worker count.
        public var concurrency: Int
        public var handler: String
        public var passes: Int
        /// Rows of the journal-only measurement (0: skip it).
        public var journalRows: Int
        public var acceptBatch: Int
        public var completeBatch: Int
        /// Where the temporary state directories and the event file go.
        public var workDirectory: String

        public init(deliveries: Int = 5_000, concurrency: Int = 8, handler: String = "/bin/true", passes: Int = 3,
                    journalRows: Int = 50_000, acceptBatch: Int = 512, completeBatch: Int = 8,
                    workDirectory: String = NSTemporaryDirectory()) {
            self.deliveries = deliveries
            self.concurrency = concurrency
            self.handler = handler
            self.passes = passes
            self.journalRows = journalRows
            self.acceptBatch = acceptBatch
            self.completeBatch = completeBatch
            self.workDirectory = workDirectory
        }
    }

    /// One kind's best pass through the whole pipeline.
    public struct Result: Sendable {
        public var state: StateKind
        public var deliveries: Int
        public var seconds: Double
        /// Deliveries that did not succeed (should be 0).
        public var failures: Int
        public var deliveriesPerSecond: Double { Double(deliveries) / seconds }

        public func jsonLine(options: Options, memory: Result?) -> String {
            var members = [
                JSONMember(key: "group", value: .string("delivery")),
                JSONMember(key: "state", value: .string(state.rawValue)),
                JSONMember(key: "deliveries", value: .number(JSONNumber(deliveries))),
                JSONMember(key: "seconds", value: .number(JSONNumber(text: String(format: "%.4f", seconds)))),
                JSONMember(key: "deliveriesPerSecond", value: .number(JSONNumber(Int(deliveriesPerSecond.rounded())))),
                JSONMember(key: "handler", value: .string(options.handler)),
                JSONMember(key: "concurrency", value: .number(JSONNumber(options.concurrency))),
                JSONMember(key: "passes", value: .number(JSONNumber(options.passes))),
                JSONMember(key: "cores", value: .number(JSONNumber(ProcessInfo.processInfo.activeProcessorCount))),
            ]
            if let memory, state != .memory {
                // How much lower the rate is than in memory (positive: durability costs this much).
                let overhead = (1 - deliveriesPerSecond / memory.deliveriesPerSecond) * 100
                members.append(JSONMember(key: "overheadVsMemoryPercent", value: .number(JSONNumber(text: String(format: "%.1f", overhead)))))
            }
            if failures > 0 { members.append(JSONMember(key: "failures", value: .number(JSONNumber(failures)))) }
            return JSONWriter.string(.object(JSONObject(members)))
        }
    }

    /// One kind's best pass of the journal alone.
    public struct JournalResult: Sendable {
        public var state: StateKind
        public var rows: Int
        public var seconds: Double
        public var rowsPerSecond: Double { Double(rows) / seconds }

        public func jsonLine(options: Options) -> String {
            JSONWriter.string(.object(JSONObject([
                JSONMember(key: "group", value: .string("delivery-journal")),
                JSONMember(key: "state", value: .string(state.rawValue)),
                JSONMember(key: "rows", value: .number(JSONNumber(rows))),
                JSONMember(key: "acceptBatch", value: .number(JSONNumber(options.acceptBatch))),
                JSONMember(key: "completeBatch", value: .number(JSONNumber(options.completeBatch))),
                JSONMember(key: "seconds", value: .number(JSONNumber(text: String(format: "%.4f", seconds)))),
                JSONMember(key: "rowsPerSecond", value: .number(JSONNumber(Int(rowsPerSecond.rounded())))),
                JSONMember(key: "microsecondsPerRow", value: .number(JSONNumber(text: String(format: "%.2f", seconds / Double(rows) * 1e6)))),
            ])))
        }
    }

    /// The best pass of running the handler alone.
    public struct SpawnResult: Sendable {
        public var runs: Int
        public var seconds: Double
        public var failures: Int
        public var runsPerSecond: Double { Double(runs) / seconds }

        public func jsonLine(options: Options) -> String {
            var members = [
                JSONMember(key: "group", value: .string("delivery-spawn")),
                JSONMember(key: "handler", value: .string(options.handler)),
                JSONMember(key: "concurrency", value: .number(JSONNumber(options.concurrency))),
                JSONMember(key: "runs", value: .number(JSONNumber(runs))),
                JSONMember(key: "seconds", value: .number(JSONNumber(text: String(format: "%.4f", seconds)))),
                JSONMember(key: "runsPerSecond", value: .number(JSONNumber(Int(runsPerSecond.rounded())))),
            ]
            if failures > 0 { members.append(JSONMember(key: "failures", value: .number(JSONNumber(failures)))) }
            return JSONWriter.string(.object(JSONObject(members)))
        }
    }

    public enum BenchmarkError: Error, CustomStringConvertible {
        case setup(String)
        case state(StateError)

        public var description: String {
            switch self {
            case .setup(let message): return message
            case .state(let error): return error.description
            }
        }
    }

    /// Runs both measurements for every kind in `kinds`; `report` gets each JSON line (pipeline lines
    /// first, the in-memory kind's before the durable ones so they can state their overhead, then the
    /// journal lines).
    public static func run(options: Options, kinds: [StateKind] = [.memory, .durableNormal, .durableFull],
                           report: (String) -> Void) throws(BenchmarkError) -> (pipeline: [Result], journal: [JournalResult]) {
        let work = (options.workDirectory as NSString).appendingPathComponent("tripline-bench-delivery-\(getpid())")
        defer { try? FileManager.default.removeItem(atPath: work) }
        do {
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        } catch {
            throw .setup("cannot create \(work): \(error.localizedDescription)")
        }
        let rules = try ruleSet(work: work, options: options)
        let events = (work as NSString).appendingPathComponent("events.ndjson")
        try writeEvents(count: options.deliveries, to: events)
        let warmUp = (work as NSString).appendingPathComponent("warm-up.ndjson")
        try writeEvents(count: min(options.deliveries, 200), to: warmUp, idPrefix: "warm")

        var pipeline: [Result] = []
        if options.deliveries > 0 {
            // Warm up: page cache, the handler's binary, the dispatcher's threads.
            _ = try runPipeline(kind: .memory, rules: rules, events: warmUp, work: work, pass: 0, options: options)
            var best: [StateKind: Result] = [:]
            var fastestSpawn: SpawnResult?
            for pass in 1...max(1, options.passes) {
                for kind in kinds {
                    let result = try runPipeline(kind: kind, rules: rules, events: events, work: work, pass: pass, options: options)
                    if best[kind].map({ result.seconds < $0.seconds }) ?? true { best[kind] = result }
                }
                let spawn = spawnOnly(options: options)
                if fastestSpawn.map({ spawn.seconds < $0.seconds }) ?? true { fastestSpawn = spawn }
            }
            pipeline = kinds.compactMap { best[$0] }
            let memory = best[.memory]
            for result in pipeline { report(result.jsonLine(options: options, memory: memory)) }
            if let fastestSpawn { report(fastestSpawn.jsonLine(options: options)) }
        }

        var journal: [JournalResult] = []
        if options.journalRows > 0 {
            var best: [StateKind: JournalResult] = [:]
            for pass in 1...max(1, options.passes) {
                for kind in kinds {
                    let result = try runJournal(kind: kind, work: work, pass: pass, options: options)
                    if best[kind].map({ result.seconds < $0.seconds }) ?? true { best[kind] = result }
                }
            }
            journal = kinds.compactMap { best[$0] }
            for result in journal { report(result.jsonLine(options: options)) }
        }
        return (pipeline, journal)
    }

    // MARK: - Pipeline

    private static func runPipeline(kind: StateKind, rules: RuleSet, events: String, work: String, pass: Int,
                                    options: Options) throws(BenchmarkError) -> Result {
        let directory = (work as NSString).appendingPathComponent("state-\(kind.rawValue)-\(pass)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try open(kind, directory: directory)
        let devnull = Glibc.open("/dev/null", O_WRONLY | O_CLOEXEC)
        guard devnull >= 0 else { throw .setup("cannot open /dev/null") }
        defer { _ = Glibc.close(devnull) }
        let log = DeliveryLog(format: .text, console: RunConsole(output: devnull, errors: devnull, showProgress: false))
        let routerOptions = Router.Options(dispatcher: DeliveryDispatcher.Configuration(maxConcurrent: options.concurrency),
                                           progressInterval: 3600, linger: 0, acceptBatch: options.acceptBatch)
        let router = Router(rules: rules, options: routerOptions, log: log, store: store)
        let inputs = EventInputs(arguments: [events], standardInput: devnull)
        let started = monotonicSeconds()
        let summary = router.run(inputs: inputs)
        let seconds = monotonicSeconds() - started
        if let error = summary.stateError { throw .setup("the \(kind.rawValue) run failed: \(error)") }
        let count = summary.eventsMatched
        return Result(state: kind, deliveries: count, seconds: seconds, failures: count - summary.deliveriesSucceeded)
    }

    /// One rule matching every benchmark event, delivering to `options.handler`.
    private static func ruleSet(work: String, options: Options) throws(BenchmarkError) -> RuleSet {
        let rule: JSONValue = .object(JSONObject([
            JSONMember(key: "Name", value: .string("bench-delivery")),
            JSONMember(key: "EventPattern", value: .object(JSONObject([
                JSONMember(key: "source", value: .array([.string("bench.delivery")])),
            ]))),
            JSONMember(key: "Targets", value: .array([.object(JSONObject([
                JSONMember(key: "Id", value: .string("noop")),
                JSONMember(key: "Function", value: .object(JSONObject([
                    JSONMember(key: "Handler", value: .string(options.handler)),
                    JSONMember(key: "MaxConcurrency", value: .number(JSONNumber(options.concurrency))),
                ]))),
            ]))])),
        ]))
        let path = (work as NSString).appendingPathComponent("rule.json")
        guard FileManager.default.createFile(atPath: path, contents: Data(JSONWriter.bytes(rule))) else {
            throw .setup("cannot write \(path)")
        }
        let (rules, errors) = RuleSet.load(paths: [path])
        guard errors.isEmpty, rules.rules.count == 1 else {
            throw .setup("the benchmark rule does not load: \(errors.map { "\($0)" }.joined(separator: "; "))")
        }
        return rules
    }

    /// `count` EventBridge events of about 300 bytes, one per line, with unique ids.
    private static func writeEvents(count: Int, to path: String, idPrefix: String = "bench") throws(BenchmarkError) {
        var out: [UInt8] = []
        out.reserveCapacity(count * 320)
        for index in 0..<count {
            out += Array(event(index, idPrefix: idPrefix).utf8)
            out.append(0x0A)
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(out)) else { throw .setup("cannot write \(path)") }
    }

    static func event(_ index: Int, idPrefix: String = "bench") -> String {
        #"{"version":"0","id":"\#(idPrefix)-\#(index)","detail-type":"Bench Delivery","source":"bench.delivery","#
            + #""account":"123456789012","time":"2024-01-01T00:00:00Z","region":"us-east-1","resources":[],"#
            + #""detail":{"sequence":\#(index),"user":"user-\#(index % 97)","action":"Invoke","pad":"0123456789abcdef0123456789abcdef"}}"#
    }

    // MARK: - Spawn only

    private static func spawnOnly(options: Options) -> SpawnResult {
        let runner = FunctionRunner()
        let payload = Array(event(0).utf8)
        let environment = HandlerEnvironment.make(
            delivery: HandlerEnvironment.Delivery(ruleName: "bench-delivery", targetID: "noop", eventID: "bench-0"), target: [:])
        let invocation = FunctionInvocation(executable: options.handler, environment: environment, payload: payload,
                                            timeoutSeconds: FunctionTarget.defaultTimeoutSeconds)
        let work = SpawnWork(total: options.deliveries)
        let group = DispatchGroup()
        let started = monotonicSeconds()
        for index in 0..<max(1, options.concurrency) {
            group.enter()
            let thread = Thread {
                while work.take() {
                    let ok = (try? runner.run(invocation))?.succeeded ?? false
                    if !ok { work.fail() }
                }
                group.leave()
            }
            thread.name = "tripline-bench-spawn-\(index)"
            thread.start()
        }
        group.wait()
        return SpawnResult(runs: options.deliveries, seconds: monotonicSeconds() - started, failures: work.failures)
    }

    /// Hands out `total` runs to the spawning threads.
    private final class SpawnWork: @unchecked Sendable {
        private let lock = NSLock()
        private var left: Int
        private(set) var failures = 0

        init(total: Int) { left = total }

        func take() -> Bool {
            lock.lock()
            defer { lock.unlock() }
            guard left > 0 else { return false }
            left -= 1
            return true
        }

        func fail() {
            lock.lock()
            failures += 1
            lock.unlock()
        }
    }

    // MARK: - Journal only

    private static func runJournal(kind: StateKind, work: String, pass: Int, options: Options) throws(BenchmarkError) -> JournalResult {
        let directory = (work as NSString).appendingPathComponent("journal-\(kind.rawValue)-\(pass)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try open(kind, directory: directory)
        let journal = DeliveryJournal(store: store)
        let acceptBatch = max(1, options.acceptBatch), completeBatch = max(1, options.completeBatch)
        // Built before the clock starts: the router has the event bytes in hand when it accepts.
        let deliveries = (0..<options.journalRows).map { index in
            NewDelivery(rule: "bench-delivery", target: "noop", eventID: "bench-\(index)", origin: "events.ndjson:\(index + 1)",
                        event: Array(event(index).utf8), ingestionTime: "2024-01-01T00:00:00Z", acceptedAt: 1_700_000_000)
        }
        let started = monotonicSeconds()
        do {
            var offset = 0
            while offset < deliveries.count {
                let end = min(offset + acceptBatch, deliveries.count)
                let checkpoint = Checkpoint(source: "events.ndjson", size: Int64(deliveries.count), modificationTime: 1, items: end,
                                            complete: end == deliveries.count, updatedAt: 1_700_000_000)
                let queued = try journal.accept(Array(deliveries[offset..<end]), checkpoints: [checkpoint])
                var done: [Int64] = []
                done.reserveCapacity(completeBatch)
                for item in queued {
                    guard try journal.load(item.id) != nil else { throw BenchmarkError.setup("delivery \(item.id) vanished") }
                    done.append(item.id)
                    if done.count == completeBatch {
                        try journal.complete(done)
                        done.removeAll(keepingCapacity: true)
                    }
                }
                try journal.complete(done)
                offset = end
            }
        } catch let error as StateError {
            throw .state(error)
        } catch let error as BenchmarkError {
            throw error
        } catch {
            throw .setup("\(error)")
        }
        let seconds = monotonicSeconds() - started
        let left = (try? journal.count()) ?? -1
        guard left == 0 else { throw .setup("the journal-only pass left \(left) deliveries queued") }
        return JournalResult(state: kind, rows: deliveries.count, seconds: seconds)
    }

    private static func open(_ kind: StateKind, directory: String) throws(BenchmarkError) -> StateStore {
        do {
            if let synchronous = kind.synchronous { return try StateStore.open(directory: directory, synchronous: synchronous) }
            return try StateStore.inMemory()
        } catch {
            throw .state(error)
        }
    }
}
