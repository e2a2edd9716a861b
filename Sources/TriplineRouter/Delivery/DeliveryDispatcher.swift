import Foundation
import TriplineState
import TriplineTargets

/// What the dispatcher needs to know about a target: its limits, retry policy and dead-letter file.
public struct DeliveryTargetSettings: Sendable {
    public var maxConcurrency: Int
    public var retryPolicy: RetryPolicy
    /// Where its dead letters are appended (besides the state database); nil for none.
    public var deadLetterFile: String?

    public init(maxConcurrency: Int, retryPolicy: RetryPolicy, deadLetterFile: String?) {
        self.maxConcurrency = max(1, maxConcurrency)
        self.retryPolicy = retryPolicy
        self.deadLetterFile = deadLetterFile
    }
}

/// Attempts queued deliveries on worker threads: per-target lanes, retries with backoff, dead
/// letters, all bookkept in the ``DeliveryJournal``.
///
/// The journal is the queue; the dispatcher keeps a bounded in-memory window of it (ids and due
/// times; events only of deliveries it was handed as just committed, within 32 MiB, until their first attempt). Each target has a FIFO lane of due deliveries and its own concurrency limit;
/// workers take from the lanes in turn, and there are as many as the targets' limits add up to (up
/// to `maxConcurrent`), so a slow or failing target never holds up the others while the limits add
/// up to no more than that. A failed attempt is rescheduled (``RetrySchedule``) into a timer heap,
/// not a lane, so it does not block its target's fresh deliveries either. Past `windowCapacity` tracked deliveries,
/// new ones stay in the journal only and are paged in as the window empties; past `maxQueued` queued
/// in all, ``enqueue(_:)`` blocks (backpressure on ingestion instead of an ever-growing database).
///
/// Successes are removed from the journal by group commit: a worker hands its success over and takes
/// its next delivery without waiting for the write (a crash can repeat at most the attempts running
/// and the successes not yet committed, at most `maxUncommitted`: at-least-once). A target's
/// concurrency slot is free once its attempt ended, so the next attempt does not wait for the write;
/// an attempt is reported as done only once its removal is committed. A delivery is read before its
/// attempt through the journal's reader connection, so that read does not wait for a commit either
/// (not at all for one handed over as just committed, see ``enqueue(stored:waitingForRoom:)``). The deliveries a success adds (``AttemptReport/fanOut``: a topic publish's
/// subscription deliveries) are inserted in the same transaction that removes it, so successes and
/// fan-outs that are ready together share one commit. Once the journal fails (a commit or read error, e.g. a full disk), or ``haltStarts()``
/// is called, no attempt starts any more: a delivery whose completion cannot be recorded runs again
/// in the next run, so every further attempt would be a future duplicate. ``drain(linger:)`` and
/// ``stop(deadline:)`` end a run; call one of them before letting go of the dispatcher.
public final class DeliveryDispatcher: @unchecked Sendable {
    /// Limits of a dispatcher.
    public struct Configuration: Sendable {
        /// Most attempts running at once, over all targets. Worker threads are started as targets
        /// appear, as many as their `MaxConcurrency` limits add up to, up to this: while the limits
        /// add up to no more, a target whose attempts all hang holds only its own workers.
        public var maxConcurrent: Int
        /// Most deliveries tracked in memory; the rest wait in the journal.
        public var windowCapacity: Int
        /// Most deliveries queued in all before ``enqueue(_:)`` blocks.
        public var maxQueued: Int
        /// Most successes waiting for their group commit: a worker whose attempt succeeded hands it
        /// over and takes the next delivery without waiting for the write, unless this many wait
        /// already. A crash repeats at most these and the attempts running. As many as
        /// `maxConcurrent` by default: no more than the workers of the most a run starts, which is
        /// what a crash could repeat when each worker waited for its own commit.
        public var maxUncommitted: Int
        public var retry: RetrySchedule

        public init(maxConcurrent: Int = 64, windowCapacity: Int = 50_000, maxQueued: Int = 1_000_000,
                    maxUncommitted: Int = 64, retry: RetrySchedule = RetrySchedule()) {
            self.maxConcurrent = max(1, maxConcurrent)
            self.windowCapacity = max(1, windowCapacity)
            self.maxQueued = max(1, maxQueued)
            self.maxUncommitted = max(1, maxUncommitted)
            self.retry = retry
        }
    }

    /// Runs one attempt of a delivery (on a worker thread).
    public typealias Attempt = @Sendable (_ delivery: StoredDelivery, _ attempt: Int) -> AttemptReport

    public let configuration: Configuration
    private let journal: DeliveryJournal
    private let settings: @Sendable (_ rule: String, _ target: String) -> DeliveryTargetSettings?
    private let missingTarget: @Sendable (_ rule: String, _ target: String) -> String
    private let attempt: Attempt
    private let onReport: @Sendable (DeliveryReport) -> Void
    private let onStateError: @Sendable (StateError) -> Void
    private let interruptRunning: (@Sendable () -> Void)?
    /// Held from a commit that adds deliveries until they are enqueued (see ``init``).
    private let enqueueOrder: NSLock

    /// After ``stop(deadline:)`` interrupts the attempts still running, how long it waits for them
    /// to end and be booked (a handler gets SIGTERM, and SIGKILL two seconds later).
    public static let interruptionWait: Double = 5

    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var lanes: [String: Lane] = [:]
    private var laneOrder: [String] = []
    private var nextLane = 0
    private var waiting = RetryHeap()
    private var tracked = 0
    private var queuedTotal = 0
    /// The highest journal id tracked in memory; queued deliveries above it are in the journal only
    /// while `spilled`.
    private var highWater: Int64 = 0
    private var spilled = false
    private var runningTotal = 0
    private var startsAllowed = true
    /// The journal failed (or the run said it did): nothing starts any more, and a drain ends as soon
    /// as the running attempts have ended.
    private var halted = false
    private var closed = false
    private var liveWorkers = 0
    private var startedWorkers = 0
    /// The sum of the lanes' concurrency limits: how many workers the targets seen so far can use.
    private var laneLimitTotal = 0
    /// Deliveries committed by this process and not attempted yet, as the journal would read them
    /// (``enqueue(stored:waitingForRoom:)``): their first attempt takes them from here instead of
    /// reading them back from the journal. Only tracked deliveries are kept, within
    /// ``Self/preloadedBudget`` bytes of events; each leaves when its delivery is taken.
    private var preloaded: [Int64: StoredDelivery] = [:]
    private var preloadedBytes = 0
    /// Attempts that read their delivery from the journal (for tests).
    private(set) var journalReads = 0
    /// Successes waiting for the group commit, in the order their attempts ended.
    private var completed: [Completion] = []
    /// A worker is writing successes (and goes on while more wait).
    private var flushingCompleted = false
    /// Successes handed to the group commit and not yet booked: those in `completed` and those of the
    /// write in progress. At most ``Configuration/maxUncommitted``.
    private var uncommitted = 0

    /// A success waiting for the group commit: the delivery to remove, the ones it adds, and what
    /// its report says once the write is done.
    private struct Completion {
        var item: QueuedDelivery
        var adding: [NewDelivery]
        var eventID: String
        var origin: String
        var attempt: Int
        var report: AttemptReport

        var id: Int64 { item.id }
    }

    /// How a success was written: whether its removal (and what it adds) was committed, and how many
    /// of the deliveries it adds were duplicates.
    private struct CompletionResult {
        var recorded: Bool
        var duplicates = 0
    }

    /// What ``run(_:releaseSlot:)`` did with an attempt.
    private enum RunResult {
        /// Booked: the next step (nil when the delivery was no longer queued).
        case booked(DeliveryNextStep?)
        /// A success handed to the group commit, which reports and books it once written.
        case committing
    }

    private struct Lane {
        var ready: [QueuedDelivery] = []
        var head = 0
        var running = 0
        var limit = 1

        var readyCount: Int { ready.count - head }

        mutating func push(_ item: QueuedDelivery) { ready.append(item) }

        mutating func pop() -> QueuedDelivery {
            let item = ready[head]
            head += 1
            if head > 1024 && head * 2 > ready.count {
                ready.removeFirst(head)
                head = 0
            }
            return item
        }
    }

    /// Starts the workers. `settings` resolves a delivery's target (nil: the rule or target no longer
    /// exists, and the delivery is dead-lettered, for the reason `missingTarget` words); `attempt`
    /// runs one attempt; `onReport` hears about every attempt and dead letter (on worker threads);
    /// `onStateError` about journal failures.
    ///
    /// `enqueueOrder` is held from a commit that adds deliveries to the journal until they are
    /// enqueued, so they reach the window in journal order: pass the lock under which everyone else
    /// who commits deliveries to this journal and enqueues them does so (the run's accept batches).
    public init(configuration: Configuration = Configuration(), journal: DeliveryJournal,
                settings: @escaping @Sendable (_ rule: String, _ target: String) -> DeliveryTargetSettings?,
                missingTarget: @escaping @Sendable (_ rule: String, _ target: String) -> String = { "the rule '\($0)' has no target '\($1)' any more" },
                attempt: @escaping Attempt,
                onReport: @escaping @Sendable (DeliveryReport) -> Void,
                onStateError: @escaping @Sendable (StateError) -> Void,
                interruptRunning: (@Sendable () -> Void)? = nil,
                enqueueOrder: NSLock = NSLock()) {
        self.interruptRunning = interruptRunning
        self.enqueueOrder = enqueueOrder
        self.configuration = configuration
        self.journal = journal
        self.settings = settings
        self.missingTarget = missingTarget
        self.attempt = attempt
        self.onReport = onReport
        self.onStateError = onStateError
    }

    /// Starts workers until there are as many as the lanes' limits add up to (at most
    /// `maxConcurrent`). Called with the lock held.
    private func startWorkersLocked() {
        let wanted = min(configuration.maxConcurrent, laneLimitTotal)
        while startedWorkers < wanted && !closed {
            let thread = Thread { [self] in work() }
            thread.name = "tripline-delivery-\(startedWorkers)"
            startedWorkers += 1
            liveWorkers += 1
            thread.start()
        }
    }

    /// Takes deliveries just committed to the journal (or found there at start); blocks while
    /// `maxQueued` deliveries are queued.
    ///
    /// With `waitingForRoom` false it never blocks (the bound is then kept by the caller, with
    /// ``waitForRoom()`` before it commits): how a topic publish on a worker thread hands over the
    /// deliveries it fans out to without waiting on the workers.
    public func enqueue(_ deliveries: [QueuedDelivery], waitingForRoom: Bool = true) {
        enqueue(deliveries, stored: nil, waitingForRoom: waitingForRoom)
    }

    /// Most bytes of events ``enqueue(stored:waitingForRoom:)`` keeps for first attempts; beyond
    /// it deliveries are read from the journal as usual.
    static let preloadedBudget = 32 << 20

    /// Like ``enqueue(_:waitingForRoom:)``, for deliveries this process just committed, as the
    /// journal returned them (``DeliveryJournal/acceptStored(_:checkpoints:alongside:skipped:)``,
    /// ``DeliveryJournal/completeStored(_:adding:skipped:)``): their first attempt uses them as
    /// given instead of reading each back through the reader connection. Only this process changes
    /// a queued delivery of its journal, and a delivery leaves this store when it is taken, so
    /// what an attempt gets is what the journal holds for it.
    public func enqueue(stored deliveries: [StoredDelivery], waitingForRoom: Bool = true) {
        enqueue(deliveries.map(\.queued), stored: deliveries, waitingForRoom: waitingForRoom)
    }

    private func enqueue(_ deliveries: [QueuedDelivery], stored: [StoredDelivery]?, waitingForRoom: Bool) {
        guard !deliveries.isEmpty else { return }
        condition.lock()
        defer { condition.unlock() }
        while waitingForRoom && queuedTotal >= configuration.maxQueued && !closed && !halted { condition.wait() }
        // Each committed delivery is enqueued once, so each is counted here; it is tracked unless the
        // window is full (then it is paged in later) or a page-in already found it in the journal.
        for (index, delivery) in deliveries.enumerated() {
            queuedTotal += 1
            guard !spilled, delivery.id > highWater else { continue }
            if tracked >= configuration.windowCapacity {
                spilled = true
            } else {
                highWater = delivery.id
                if let stored, preloadedBytes < Self.preloadedBudget {
                    preloaded[delivery.id] = stored[index]
                    preloadedBytes += stored[index].event.count
                }
                track(delivery)
            }
        }
        condition.broadcast()
    }

    /// Blocks while `maxQueued` deliveries are queued (not once starts are halted: nothing would make room).
    ///
    /// `giveUp` is asked a few times a second while it waits: true ends the wait at once (a stop was
    /// requested: the run then commits what it holds, one batch past the bound, and stops reading,
    /// instead of waiting for the workers to drain a full queue before it notices the signal).
    public func waitForRoom(giveUp: () -> Bool = { false }) {
        condition.lock()
        defer { condition.unlock() }
        while queuedTotal >= configuration.maxQueued && !closed && !halted {
            if giveUp() { return }
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.2))
        }
    }

    /// Stops starting attempts for good, because the state database failed: a delivery whose
    /// completion cannot be recorded is run again by the next run, so every attempt started from now
    /// on would be a future duplicate. Attempts running go on and their outcome is still written (it
    /// may succeed); a ``drain(linger:)`` then ends as soon as they have ended. The dispatcher calls
    /// this itself when the journal fails; the run calls it when its own commits fail.
    public func haltStarts() {
        condition.lock()
        defer { condition.unlock() }
        haltLocked()
    }

    /// Whether ``haltStarts()`` was called or the journal failed.
    public var isHalted: Bool {
        condition.lock()
        defer { condition.unlock() }
        return halted
    }

    private func haltLocked() {
        halted = true
        startsAllowed = false
        condition.broadcast()
    }

    /// Halts starts, then reports `error`; never called with the lock held (`onStateError` may call
    /// back into the dispatcher).
    private func stateFailed(_ error: StateError) {
        haltStarts()
        onStateError(error)
    }

    /// Takes the deliveries an earlier run left queued: `firstPage` (the oldest, read from the
    /// journal) of `total`; the rest are paged in as the window empties.
    public func resume(firstPage: [QueuedDelivery], total: Int) {
        enqueue(firstPage)
        condition.lock()
        defer { condition.unlock() }
        if total > firstPage.count {
            queuedTotal += total - firstPage.count
            spilled = true
        }
        condition.broadcast()
    }

    /// Deliveries queued (tracked or not), waiting for a retry, and running right now.
    public var load: (queued: Int, waitingForRetry: Int, running: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (queuedTotal, waiting.count, runningTotal)
    }

    /// Waits until nothing is running, nothing is due, and every retry left is more than `linger`
    /// seconds away; then stops the workers. Returns the deliveries left queued (for a later run).
    /// Once starts are halted (``haltStarts()``) it waits only for the running attempts.
    ///
    /// When `interrupt` returns true (checked a few times a second) the drain becomes a
    /// ``stop(deadline:)`` with `shutdownTimeout`.
    @discardableResult
    ///
    /// When `pause` returns true the drain returns without stopping (the workers go on), so the caller
    /// can queue more (events targets emitted) and drain again.
    public func drain(linger: Double, interrupt: (() -> Bool)? = nil, shutdownTimeout: Double = 10, pause: (() -> Bool)? = nil) -> Int {
        condition.lock()
        while true {
            if halted {
                // Nothing starts any more: wait for the running attempts only (events they emit are not
                // routed: they could not be accepted either).
                if runningTotal == 0 { break }
                if let interrupt, interrupt() {
                    condition.unlock()
                    stop(deadline: StateTime.now() + shutdownTimeout)
                    return queuedCount
                }
                _ = condition.wait(until: Date(timeIntervalSinceNow: 0.2))
                continue
            }
            if let pause, pause() {
                let left = queuedTotal
                condition.unlock()
                return left
            }
            if let interrupt, interrupt() {
                condition.unlock()
                stop(deadline: StateTime.now() + shutdownTimeout)
                return queuedCount
            }
            let now = StateTime.now()
            let anyReady = lanes.values.contains { $0.readyCount > 0 }
            let nextRetry = waiting.peek?.nextAttemptAt
            if runningTotal == 0 && !anyReady && !spilled && (nextRetry.map { $0 > now + linger } ?? true) {
                // A worker emits before it stops counting as running: look once more, so nothing it
                // emitted is left behind a closed dispatcher.
                if let pause, pause() {
                    let left = queuedTotal
                    condition.unlock()
                    return left
                }
                break
            }
            // Wake for the next retry (or a worker's broadcast), and to look at `interrupt`.
            // Never a time already past: the wait would return at once and starve the workers of the lock.
            let until = max(now + 0.005, nextRetry.map { min($0, now + 0.2) } ?? now + 0.2)
            _ = condition.wait(until: Date(timeIntervalSince1970: until))
        }
        let left = queuedTotal
        closeLocked()
        condition.unlock()
        flushCompleted()
        return left
    }

    /// Stops starting attempts and waits (until the Unix time `deadline`) for running ones to end;
    /// then interrupts those still running (`interruptRunning`) and waits up to
    /// ``interruptionWait`` for them to end and be booked as failed attempts. Returns how many were
    /// still running after that: they stay queued in the journal.
    @discardableResult
    public func stop(deadline: Double) -> Int {
        condition.lock()
        startsAllowed = false
        condition.broadcast()
        while runningTotal > 0 && StateTime.now() < deadline {
            _ = condition.wait(until: Date(timeIntervalSince1970: min(deadline, StateTime.now() + 0.2)))
        }
        if runningTotal > 0, let interruptRunning {
            interruptRunning()
            let until = StateTime.now() + Self.interruptionWait
            while runningTotal > 0 && StateTime.now() < until {
                _ = condition.wait(until: Date(timeIntervalSince1970: min(until, StateTime.now() + 0.2)))
            }
        }
        let stillRunning = runningTotal
        closeLocked()
        condition.unlock()
        flushCompleted()
        return stillRunning
    }

    /// Deliveries still queued (including retries not yet due); valid after drain or stop.
    public var queuedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return queuedTotal
    }

    // MARK: - Workers

    private func work() {
        while let (item, preloaded) = take() {
            var slotHeld = true
            let result = run(item, preloaded: preloaded, releaseSlot: { [self] in
                // The target's slot is free once its attempt ended, before the outcome is written: on
                // a target with MaxConcurrency 1 the next attempt need not wait for this one's commit,
                // and successes that end close together share it.
                guard slotHeld else { return }
                slotHeld = false
                condition.lock()
                lanes[item.targetKey]?.running -= 1
                condition.broadcast()
                condition.unlock()
            })
            // A success is booked by the group commit that writes it (its slot is already free).
            guard case .booked(let next) = result else { continue }
            condition.lock()
            if slotHeld { lanes[item.targetKey]?.running -= 1 }
            runningTotal -= 1
            switch next {
            case .retry(let at)?:
                var again = item
                again.nextAttemptAt = at
                again.attempts += 1
                waiting.push(again)
            case .postponed(let at)?:
                var again = item
                again.nextAttemptAt = at
                waiting.push(again)
            case .leftQueued?, .unrecorded?:
                break
            case .done?, .deadLettered?, nil:
                tracked -= 1
                queuedTotal -= 1
            }
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Runs one attempt of `item` and books the outcome (a success through the group commit).
    /// `releaseSlot` frees the target's concurrency slot as soon as the attempt has ended.
    private func run(_ item: QueuedDelivery, preloaded: StoredDelivery?, releaseSlot: () -> Void) -> RunResult {
        let stored: StoredDelivery
        do {
            if let preloaded, preloaded.queued.attempts == item.attempts {
                stored = preloaded
            } else {
                condition.lock()
                journalReads += 1
                condition.unlock()
                guard let found = try journal.load(item.id) else { return .booked(nil) }
                stored = found
            }
        } catch {
            stateFailed(error)
            return .booked(.leftQueued)
        }
        let now = StateTime.now()
        guard let target = settings(item.rule, item.target) else {
            return .booked(deadLetter(stored, failure: nil, reason: missingTarget(item.rule, item.target), file: nil, attempt: nil, report: nil))
        }
        if RetrySchedule.isExpired(acceptedAt: stored.queued.acceptedAt, now: now, policy: target.retryPolicy) {
            let before = stored.queued.attempts == 0 ? "before it could be attempted" : "before its next attempt"
            return .booked(deadLetter(stored, failure: nil, reason: "older than MaximumEventAgeInSeconds (\(target.retryPolicy.maximumEventAgeInSeconds)s) \(before)",
                                      file: target.deadLetterFile, attempt: nil, report: nil))
        }
        let number = stored.queued.attempts + 1
        let report = attempt(stored, number)
        releaseSlot()
        let ended = StateTime.now()
        switch report.outcome {
        case .delivered:
            // Reported as done only once that is committed (with the deliveries it adds): otherwise the
            // delivery is still queued and the next run attempts it again.
            complete(Completion(item: item, adding: report.fanOut, eventID: stored.eventID, origin: stored.origin, attempt: number,
                                report: report))
            return .committing
        case .notAttempted(_, let retryAfter):
            // Nothing was sent, so no attempt is counted; the event's age still bounds how long it waits.
            func reported(_ next: DeliveryNextStep) -> DeliveryNextStep {
                onReport(DeliveryReport(rule: item.rule, target: item.target, eventID: stored.eventID, origin: stored.origin,
                                        attempt: nil, attemptReport: report, next: next))
                return next
            }
            guard let retryAfter else { return .booked(reported(.leftQueued)) }
            let at = ended + max(0, retryAfter)
            if RetrySchedule.isExpired(acceptedAt: stored.queued.acceptedAt, now: at, policy: target.retryPolicy) {
                return .booked(deadLetter(stored, failure: nil, reason: "not sent before MaximumEventAgeInSeconds "
                                          + "(\(target.retryPolicy.maximumEventAgeInSeconds)s since it was accepted) would pass: \(report.summary)",
                                          file: target.deadLetterFile, attempt: nil, report: report))
            }
            do {
                try journal.postpone(item.id, until: at)
            } catch {
                stateFailed(error)
                return .booked(reported(.leftQueued))
            }
            return .booked(reported(.postponed(until: at)))
        case .failed(let error, let retryable, let retryAfter):
            let failure = AttemptRecord(attempt: number, at: ended, error: error)
            guard retryable else {
                return .booked(deadLetter(stored, failure: failure, reason: "a permanent failure: \(error)", file: target.deadLetterFile,
                                          attempt: number, report: report))
            }
            var generator = SystemRandomNumberGenerator()
            switch configuration.retry.decision(afterFailedAttempt: number, policy: target.retryPolicy, acceptedAt: stored.queued.acceptedAt,
                                                now: ended, retryAfter: retryAfter, random: &generator) {
            case .giveUp(let reason):
                return .booked(deadLetter(stored, failure: failure, reason: reason, file: target.deadLetterFile, attempt: number, report: report))
            case .retry(let at):
                do {
                    try journal.reschedule(item.id, failure: failure, nextAttemptAt: at)
                } catch {
                    // Not retried in this run (nothing starts any more); the next run retries it with
                    // the attempt number the journal has.
                    stateFailed(error)
                    onReport(DeliveryReport(rule: item.rule, target: item.target, eventID: stored.eventID, origin: stored.origin,
                                            attempt: number, attemptReport: report, next: .leftQueued))
                    return .booked(.leftQueued)
                }
                onReport(DeliveryReport(rule: item.rule, target: item.target, eventID: stored.eventID, origin: stored.origin,
                                        attempt: number, attemptReport: report, next: .retry(at: at)))
                return .booked(.retry(at: at))
            }
        }
    }

    private func deadLetter(_ stored: StoredDelivery, failure: AttemptRecord?, reason: String, file: String?, attempt: Int?,
                            report: AttemptReport?) -> DeliveryNextStep {
        let letter: DeadLetter?
        do {
            letter = try journal.deadLetter(stored.queued.id, failure: failure, reason: reason, file: file, at: StateTime.now())
        } catch {
            stateFailed(error)
            return .leftQueued
        }
        // The letter is in the database; the file is a copy for whoever watches it, so a failure to
        // append is reported (and counted), not fatal.
        var fileError: DeadLetterFileError?
        if let letter, let file {
            do { try DeadLetterFile.append(letter, to: file) } catch { fileError = error }
        }
        let next = DeliveryNextStep.deadLettered(reason: reason, file: file)
        onReport(DeliveryReport(rule: stored.queued.rule, target: stored.queued.target, eventID: stored.eventID, origin: stored.origin,
                                attempt: attempt, attemptReport: report, next: next, deadLetterFileError: fileError))
        return next
    }

    /// The next due delivery whose target has room, round-robin over targets, with its stored form
    /// when it was enqueued with one; nil once closed.
    private func take() -> (QueuedDelivery, StoredDelivery?)? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if closed {
                liveWorkers -= 1
                condition.broadcast()
                return nil
            }
            if startsAllowed {
                promoteDue(now: StateTime.now())
                if let error = pageIn() {
                    // Reported without the lock (`onStateError` may call back); then look again.
                    haltLocked()
                    condition.unlock()
                    onStateError(error)
                    condition.lock()
                    continue
                }
                if let item = popReady() {
                    runningTotal += 1
                    let stored = preloaded.removeValue(forKey: item.id)
                    if let stored { preloadedBytes -= stored.event.count }
                    return (item, stored)
                }
            }
            let wake = waiting.peek.map { max($0.nextAttemptAt, StateTime.now() + 0.005) } ?? StateTime.now() + 1
            _ = condition.wait(until: Date(timeIntervalSince1970: min(wake, StateTime.now() + 1)))
        }
    }

    private func popReady() -> QueuedDelivery? {
        let count = laneOrder.count
        guard count > 0 else { return nil }
        for step in 0..<count {
            let key = laneOrder[(nextLane + step) % count]
            guard var lane = lanes[key], lane.readyCount > 0, lane.running < lane.limit else { continue }
            let item = lane.pop()
            lane.running += 1
            lanes[key] = lane
            nextLane = (nextLane + step + 1) % count
            return item
        }
        return nil
    }

    private func promoteDue(now: Double) {
        while let first = waiting.peek, first.nextAttemptAt <= now {
            let item = waiting.pop()!
            lanes[item.targetKey]?.push(item)
        }
    }

    /// Tracks deliveries that were left in the journal while the window was full; returns the
    /// journal's error, if reading it failed.
    private func pageIn() -> StateError? {
        guard spilled, tracked < configuration.windowCapacity / 2 else { return nil }
        let room = configuration.windowCapacity - tracked
        do {
            let page = try journal.pending(afterID: highWater, limit: room)
            for delivery in page {
                highWater = delivery.id
                track(delivery)
            }
            if page.count < room { spilled = false }
            return nil
        } catch {
            return error
        }
    }

    private func track(_ delivery: QueuedDelivery) {
        tracked += 1
        let key = delivery.targetKey
        if lanes[key] == nil {
            let limit = settings(delivery.rule, delivery.target)?.maxConcurrency ?? 1
            lanes[key] = Lane(limit: limit)
            laneOrder.append(key)
            laneLimitTotal += max(1, limit)
            startWorkersLocked()
        }
        if delivery.nextAttemptAt > StateTime.now() {
            waiting.push(delivery)
        } else {
            lanes[key]!.push(delivery)
        }
    }

    private func closeLocked() {
        closed = true
        condition.broadcast()
        // Workers still running an attempt (stop's deadline passed) finish it on their own.
        if runningTotal == 0 {
            while liveWorkers > 0 { condition.wait() }
        }
    }

    /// Group commit: a worker whose delivery succeeded hands it over here; if no write is under way
    /// it writes everything handed over so far in one transaction, and goes on writing what was
    /// handed over meanwhile until nothing is left; otherwise it returns at once and takes its next
    /// delivery, and the write in progress or the next one takes this success. Only when
    /// ``Configuration/maxUncommitted`` successes wait already does it wait for room. Throughput
    /// batches itself without a worker ever waiting for another's write, latency stays about one
    /// transaction, and a crash can repeat only the successes waiting for a write or in it (at most
    /// `maxUncommitted`) and the attempts running.
    ///
    /// A success counts as running (``drain(linger:interrupt:shutdownTimeout:pause:)`` and
    /// ``stop(deadline:)`` wait for it) until it is written, reported and booked by the write's
    /// worker: reported as done only once its removal (and what it adds) is committed.
    private func complete(_ completion: Completion) {
        condition.lock()
        while uncommitted >= configuration.maxUncommitted && flushingCompleted { condition.wait() }
        uncommitted += 1
        completed.append(completion)
        guard !flushingCompleted else {
            condition.unlock()
            return
        }
        writeCompletedLocked()
        condition.unlock()
    }

    /// Writes, reports and books the successes in `completed` until none is left. Called with the
    /// lock held and no write under way; returns with it held.
    private func writeCompletedLocked() {
        flushingCompleted = true
        while !completed.isEmpty {
            let batch = completed
            completed.removeAll(keepingCapacity: true)
            condition.unlock()
            let results = writeCompleted(batch)
            // Reported before they stop counting as running: a drain that then finds nothing running
            // has seen what their reports emitted.
            var steps: [DeliveryNextStep] = []
            steps.reserveCapacity(batch.count)
            for completion in batch {
                let result = results[completion.id] ?? CompletionResult(recorded: false)
                let next: DeliveryNextStep = result.recorded ? .done : .unrecorded
                steps.append(next)
                onReport(DeliveryReport(rule: completion.item.rule, target: completion.item.target, eventID: completion.eventID,
                                        origin: completion.origin, attempt: completion.attempt, attemptReport: completion.report, next: next,
                                        duplicatesSkipped: result.duplicates))
            }
            condition.lock()
            for next in steps {
                runningTotal -= 1
                uncommitted -= 1
                if next == .done {
                    tracked -= 1
                    queuedTotal -= 1
                }
            }
            condition.broadcast()
        }
        flushingCompleted = false
        condition.broadcast()
    }

    /// Waits for the write in progress (every success handed over is written by it or by the one
    /// it goes on with).
    private func flushCompleted() {
        condition.lock()
        while flushingCompleted { _ = condition.wait(until: Date(timeIntervalSinceNow: 0.01)) }
        if !completed.isEmpty { writeCompletedLocked() }
        condition.unlock()
    }

    /// Writes `batch` in one transaction. When it adds deliveries, the commit and their hand-over to
    /// the window happen under `enqueueOrder`, so the window sees them in journal order. Never called
    /// with the lock held.
    private func writeCompleted(_ batch: [Completion]) -> [Int64: CompletionResult] {
        guard !batch.isEmpty else { return [:] }
        var results: [Int64: CompletionResult] = [:]
        for completion in batch { results[completion.id] = CompletionResult(recorded: false) }
        let ids = batch.map(\.id)
        // Which completion each added delivery belongs to, to count its duplicates.
        var owners: [Int64] = []
        var adding: [NewDelivery] = []
        for completion in batch where !completion.adding.isEmpty {
            owners.append(contentsOf: repeatElement(completion.id, count: completion.adding.count))
            adding.append(contentsOf: completion.adding)
        }
        var failure: StateError?
        if adding.isEmpty {
            do {
                try journal.complete(ids)
                for id in ids { results[id]?.recorded = true }
            } catch {
                failure = error
            }
        } else {
            var duplicates: [Int64: Int] = [:]
            enqueueOrder.lock()
            do {
                let queued = try journal.completeStored(ids, adding: adding, skipped: { duplicates[owners[$0], default: 0] += 1 })
                enqueue(stored: queued, waitingForRoom: false)
                for id in ids { results[id] = CompletionResult(recorded: true, duplicates: duplicates[id] ?? 0) }
            } catch {
                failure = error
            }
            enqueueOrder.unlock()
        }
        if let failure { stateFailed(failure) }
        return results
    }
}

/// Deliveries waiting for a retry, earliest first (a binary min-heap on the due time).
struct RetryHeap {
    private var items: [QueuedDelivery] = []

    var count: Int { items.count }
    var peek: QueuedDelivery? { items.first }

    mutating func push(_ item: QueuedDelivery) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].nextAttemptAt < items[parent].nextAttemptAt else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> QueuedDelivery? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count && items[left].nextAttemptAt < items[smallest].nextAttemptAt { smallest = left }
            if right < items.count && items[right].nextAttemptAt < items[smallest].nextAttemptAt { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
