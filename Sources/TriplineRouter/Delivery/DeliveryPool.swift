import Foundation
import TriplineTargets

/// One delivery of one event to one function target: everything a worker needs to run it.
///
/// Self-contained (no reference to the rule it came from), so it can be queued, retried or written to
/// a dead-letter file later without the rule set.
public struct DeliveryJob: Sendable {
    /// Rule, target, event id and attempt number; also the handler's `TRIPLINE_*` variables.
    public var delivery: HandlerEnvironment.Delivery
    /// The handler program (a path, or a bare name looked up on `PATH`).
    public var handler: String
    public var arguments: [String]
    /// The target's own environment variables (`Env`).
    public var environment: [String: String]
    public var timeoutSeconds: Double
    /// Most deliveries to this target that may run at once.
    public var maxConcurrency: Int
    /// The rendered target input: what the handler reads on standard input.
    public var payload: [UInt8]
    /// Where the event came from, for the log.
    public var origin: EventOrigin

    public init(delivery: HandlerEnvironment.Delivery, handler: String, arguments: [String] = [], environment: [String: String] = [:],
                timeoutSeconds: Double, maxConcurrency: Int, payload: [UInt8], origin: EventOrigin) {
        self.delivery = delivery
        self.handler = handler
        self.arguments = arguments
        self.environment = environment
        self.timeoutSeconds = timeoutSeconds
        self.maxConcurrency = maxConcurrency
        self.payload = payload
        self.origin = origin
    }

    /// `rule/target`: the key per-target concurrency is counted by, and the log's tag.
    public var targetKey: String { delivery.ruleName + "/" + delivery.targetID }
}

/// What became of one delivery attempt.
public struct DeliveryReport: Sendable {
    public var job: DeliveryJob
    /// The handler's outcome, or why it could not be started.
    public var result: Result<FunctionOutcome, FunctionRunError>

    public init(job: DeliveryJob, result: Result<FunctionOutcome, FunctionRunError>) {
        self.job = job
        self.result = result
    }

    /// The handler ran, exited 0 and did not time out.
    public var succeeded: Bool {
        if case .success(let outcome) = result { return outcome.succeeded }
        return false
    }

    /// The outcome, if the handler ran.
    public var outcome: FunctionOutcome? {
        if case .success(let outcome) = result { return outcome }
        return nil
    }

    /// One line: `exit status 3 in 0.010s`, `cannot start handler …`.
    public var summary: String {
        switch result {
        case .success(let outcome): return outcome.summary
        case .failure(let error): return error.description
        }
    }
}

/// Runs deliveries on worker threads while ingestion goes on, within a global and a per-target limit.
///
/// The caller (the run loop, one thread) ``submit(_:)``s jobs into a bounded queue and blocks when it is
/// full, so a slow handler slows ingestion down instead of growing memory. `maxConcurrent` worker
/// threads (the global limit) each take the oldest queued job whose target is below its
/// `maxConcurrency`, run it with the shared ``FunctionRunner``, and pass the ``DeliveryReport`` to
/// `onReport` on that worker thread (so `onReport` must be thread-safe). Jobs for one target start in
/// the order submitted. ``finish()`` waits for every job and stops the workers; call it before letting
/// go of the pool (the workers keep it alive until then).
///
/// One attempt per job for now; retries can be added by resubmitting from a scheduler that owns its
/// own delay queue (never by calling ``submit(_:)`` from `onReport`, which could block a worker on a
/// full queue).
public final class DeliveryPool: @unchecked Sendable {
    /// Limits of a pool.
    public struct Configuration: Sendable {
        /// Worker threads: most deliveries running at once, over all targets.
        public var maxConcurrent: Int
        /// Most jobs waiting to start; ``submit(_:)`` blocks beyond that.
        public var queueCapacity: Int

        public init(maxConcurrent: Int = 8, queueCapacity: Int = 256) {
            self.maxConcurrent = max(1, maxConcurrent)
            self.queueCapacity = max(1, queueCapacity)
        }
    }

    public let configuration: Configuration
    private let runner: FunctionRunner
    private let onReport: @Sendable (DeliveryReport) -> Void

    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [DeliveryJob] = []
    private var running: [String: Int] = [:]
    private var runningTotal = 0
    private var liveWorkers = 0
    private var closed = false

    /// Starts the worker threads.
    public init(configuration: Configuration = Configuration(), runner: FunctionRunner = FunctionRunner(),
                onReport: @escaping @Sendable (DeliveryReport) -> Void) {
        self.configuration = configuration
        self.runner = runner
        self.onReport = onReport
        condition.lock()
        liveWorkers = configuration.maxConcurrent
        condition.unlock()
        for index in 0..<configuration.maxConcurrent {
            let thread = Thread { [self] in work() }
            thread.name = "tripline-delivery-\(index)"
            thread.start()
        }
    }

    /// Queues `job`, blocking while the queue is full. Must not be called after ``finish()``.
    public func submit(_ job: DeliveryJob) {
        condition.lock()
        defer { condition.unlock() }
        precondition(!closed, "submit after finish")
        while queue.count >= configuration.queueCapacity { condition.wait() }
        queue.append(job)
        condition.broadcast()
    }

    /// Jobs waiting and running right now.
    public var load: (queued: Int, running: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (queue.count, runningTotal)
    }

    /// Waits until every submitted job has been run and reported, then stops the workers. Idempotent.
    public func finish() {
        condition.lock()
        defer { condition.unlock() }
        closed = true
        condition.broadcast()
        while liveWorkers > 0 { condition.wait() }
    }

    // MARK: - Workers

    private func work() {
        while let job = take() {
            let result: Result<FunctionOutcome, FunctionRunError>
            do {
                let environment = HandlerEnvironment.make(delivery: job.delivery, target: job.environment)
                let invocation = FunctionInvocation(executable: job.handler, arguments: job.arguments, environment: environment,
                                                    payload: job.payload, timeoutSeconds: job.timeoutSeconds)
                result = .success(try runner.run(invocation))
            } catch {
                result = .failure(error)
            }
            onReport(DeliveryReport(job: job, result: result))
            release(job)
        }
    }

    /// The oldest job whose target has room, waiting as needed; nil when closed and nothing is left.
    private func take() -> DeliveryJob? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let index = queue.firstIndex(where: { running[$0.targetKey, default: 0] < max(1, $0.maxConcurrency) }) {
                let job = queue.remove(at: index)
                running[job.targetKey, default: 0] += 1
                runningTotal += 1
                condition.broadcast()  // room in the queue
                return job
            }
            if closed && queue.isEmpty {
                liveWorkers -= 1
                condition.broadcast()
                return nil
            }
            condition.wait()
        }
    }

    private func release(_ job: DeliveryJob) {
        condition.lock()
        defer { condition.unlock() }
        let left = running[job.targetKey, default: 1] - 1
        running[job.targetKey] = left == 0 ? nil : left
        runningTotal -= 1
        condition.broadcast()
    }
}
