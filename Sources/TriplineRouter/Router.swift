#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import EventPattern
import Foundation
import TriplineJSON
import TriplineState
import TriplineTargets

/// The `tripline run` loop: inputs → normalize → match → journal → deliver.
///
/// Reads events one at a time on the calling thread (memory stays bounded by one event plus the
/// delivery window), matches each against all rules at once with one shared ``PatternMachine``, and
/// commits each match's deliveries to the state database in batches, together with the input
/// checkpoints they complete, before handing them to the ``DeliveryDispatcher``. Deliveries an earlier
/// run left queued are resumed first. Bad records and unreadable files are reported through the
/// ``DeliveryLog`` and skipped; the run continues. Progress is drawn on the console twice a second.
public final class Router {
    /// A number of seconds the user set (`--shutdown-timeout`), as written: `10s`, `1s`, `0.5s`, never
    /// the measured-duration format's `1.000s` next to `10.0s`.
    public static func setting(seconds: Double) -> String {
        String(format: "%gs", seconds)
    }

    /// The note for a stop that waits up to `timeout` seconds for `what` (running deliveries). Only a
    /// signal's stop offers the second signal: after a stop asked for from within (a reload of the
    /// rules), a signal is a first one.
    static func stopWaitNote(_ command: String, signalled: Bool, timeout: Double, for what: String) -> String {
        signalled ? "tripline \(command): stop requested; waiting up to \(setting(seconds: timeout)) for \(what) "
                    + "(signal again to quit at once: nothing accepted is lost)"
                  : "tripline \(command): waiting up to \(setting(seconds: timeout)) for \(what)"
    }

    /// Limits and settings of a run.
    public struct Options: Sendable {
        /// The command the run's notes name (`tripline run: …`, `tripline dlq: …`).
        public var command = "run"
        /// The run goes on from an earlier part of the same process that stopped to reload the rules:
        /// what it finds queued was queued under the rules before.
        public var afterReload = false
        public var maxEventBytes: Int
        public var dispatcher: DeliveryDispatcher.Configuration
        /// Seconds between progress updates.
        public var progressInterval: Double
        /// At the end of the input, keep going while a retry is due within this many seconds.
        public var linger: Double
        /// After a stop request, how long running attempts may take before the run exits anyway.
        public var shutdownTimeout: Double
        /// Deliveries per journal transaction, at most.
        public var acceptBatch: Int
        /// A batch is committed at the latest this many seconds after its first delivery.
        public var acceptInterval: Double
        /// Ignore checkpoints: read every input file from its start.
        public var fromStart: Bool
        /// Seconds a delivered or dead-lettered match keeps later copies of it (same event id, rule
        /// and target) out of the queue; 0: only copies of a still-queued one are folded into it.
        public var deduplicationWindow: Double
        /// Safety rails of `BlockUser` targets: protected principals, circuit breaker, dry run.
        public var blocking: BlockUserExecutor.Settings
        /// An input file found incomplete at its end is reported once it has been quiet this many
        /// seconds, or when the run ends (`--follow`: files are written while they are read); nil
        /// reports it at once.
        public var incompleteGrace: Double?
        /// Directories walked or watched: checkpoints of files gone from them are forgotten after
        /// ``forgetMissing`` (``CheckpointPruner``).
        public var checkpointRoots: [String] = []
        /// Seconds a file must have been gone from a ``checkpointRoots`` directory before its checkpoint
        /// is forgotten; nil keeps every checkpoint.
        public var forgetMissing: Double? = Self.defaultForgetMissing
        /// A day: a file put back within it is still known by its checkpoint, as its events would still
        /// be known to the default `--dedupe-window`.
        public static let defaultForgetMissing: Double = 86_400

        public init(maxEventBytes: Int = CloudTrailRecordsReader.defaultMaxRecordBytes,
                    dispatcher: DeliveryDispatcher.Configuration = DeliveryDispatcher.Configuration(), progressInterval: Double = 0.5,
                    linger: Double = 30, shutdownTimeout: Double = 10, acceptBatch: Int = 512, acceptInterval: Double = 0.05,
                    fromStart: Bool = false, blocking: BlockUserExecutor.Settings = BlockUserExecutor.Settings(),
                    deduplicationWindow: Double = DeliveryJournal.defaultDeduplicationWindow, incompleteGrace: Double? = nil) {
            self.maxEventBytes = maxEventBytes
            self.dispatcher = dispatcher
            self.progressInterval = progressInterval
            self.linger = linger
            self.shutdownTimeout = shutdownTimeout
            self.acceptBatch = max(1, acceptBatch)
            self.acceptInterval = acceptInterval
            self.fromStart = fromStart
            self.deduplicationWindow = deduplicationWindow
            self.blocking = blocking
            self.incompleteGrace = incompleteGrace
        }
    }

    public let rules: RuleSet
    public let options: Options
    private let log: DeliveryLog
    private let store: StateStore
    private let executor: TargetExecutor
    private let machine: PatternMachine
    private let normalizer: EventNormalizer
    private var clock = IngestionClock()
    private let blocklist: Blocklist?
    private let blocking: BlockUserExecutor?
    private let emitted = EmittedEvents()
    /// Events `tripline blocklist` wrote for the bus, routed like ``emitted`` (``BusOutbox``).
    private let outbox: BusOutbox
    /// The last outbox row this run took (taken rows leave the outbox when their batch commits).
    private var outboxCursor: Int64 = 0
    /// Whether the outbox may hold rows this run has not taken: at the start, and after another
    /// process committed to the database.
    private var outboxDue = true
    private var blocked = BlockedKeys.empty
    /// Blocks whose `BlockUser` delivery this run queued and has not seen settle: later events of
    /// their principals are marked before the snapshot (``blocked``) knows of them.
    private var pendingBlocks = PendingBlocks.empty
    /// Deliveries to `BlockUser` targets that settled, for ``settlePendingBlocks()``.
    private let settledBlocks = SettledBlockDeliveries()
    /// `rule/target` of every `BlockUser` target (empty: no pending block ever, no work per event).
    private let blockUserTargets: Set<String>
    private var emittedCount = 0
    private var setupError: StateError?
    private let runner: FunctionRunner
    /// Held from a journal commit until its deliveries are handed to the dispatcher, so the dispatcher
    /// sees deliveries in journal order whether the input loop or the dispatcher's group commit (a
    /// topic publish's fan-out, on a worker) commits them.
    private let acceptLock = NSLock()

    public init(rules: RuleSet, options: Options = Options(), log: DeliveryLog, store: StateStore, runner: FunctionRunner = FunctionRunner(),
                webhooks: WebhookRegistry = .none) {
        self.rules = rules
        self.options = options
        self.log = log
        self.store = store
        self.runner = runner
        outbox = BusOutbox(store: store)
        var blocklist: Blocklist?
        var blocking: BlockUserExecutor?
        do {
            let list = try Blocklist(store: store)
            blocklist = list
            blocking = try BlockUserExecutor(blocklist: list, runner: runner, settings: options.blocking)
        } catch {
            setupError = error
        }
        self.blocklist = blocklist
        self.blocking = blocking
        let emitted = self.emitted
        executor = TargetExecutor(rules: rules, runner: runner, webhooks: webhooks, blocking: blocking, emit: { emitted.push($0) },
                                  stateDirectory: store.directory)
        machine = PatternMachine(rules.rules.enumerated().map { (id: $0.offset, pattern: $0.element.pattern) })
        blockUserTargets = Set(rules.rules.flatMap { rule in
            rule.targets.compactMap { target -> String? in
                guard case .blockUser = target.kind else { return nil }
                return DeliveryKey.target(rule: rule.name, target: target.id)
            }
        })
        normalizer = EventNormalizer(maxEventBytes: options.maxEventBytes)
    }

    /// Routes every event of `inputs`; returns when they are exhausted (or `stop` fires) and the
    /// deliveries are done, dead-lettered, or waiting for a retry beyond ``Options/linger``.
    public func run(inputs: EventInputs, stop: StopSignal? = nil) -> RunSummary {
        let command = options.command   // for the notes, also from closures
        let start = monotonicSeconds()
        var summary = RunSummary()
        summary.ephemeral = store.directory == nil
        summary.startedAfterReload = options.afterReload
        summary.ruleOrder = rules.rules.map(\.name)
        for name in summary.ruleOrder { summary.matchesPerRule[name] = 0 }
        let tally = DeliveryTally()
        let log = self.log
        let executor = self.executor
        let journal = DeliveryJournal(store: store, deduplicationWindow: options.deduplicationWindow)
        let checkpoints = CheckpointStore(store: store)
        let pruner = options.forgetMissing.flatMap { grace in
            options.checkpointRoots.isEmpty ? nil : CheckpointPruner(store: checkpoints, roots: options.checkpointRoots, grace: grace)
        }
        let stateFailure = StateFailure()
        let dispatcher = DeliveryDispatcher(
            configuration: options.dispatcher, journal: journal,
            settings: { executor.settings(rule: $0, target: $1) },
            missingTarget: { [loadedRules = Set(rules.rules.map(\.name)), loadedTopics = Set(rules.topics.map(\.name)),
                              afterReload = options.afterReload] rule, target in
                if let topic = Topic.name(fromDeliveryRule: rule) {
                    let whose = afterReload ? "the rules reloaded while it was queued" : "the rules this run loaded"
                    return loadedTopics.contains(topic) ? "the topic '\(topic)' has no subscription '\(target)' any more"
                        : "\(whose) have no topic '\(topic)'"
                }
                if afterReload {
                    return loadedRules.contains(rule) ? "the rules reloaded while it was queued have no target '\(target)' in rule '\(rule)'"
                        : "the rules reloaded while it was queued have no rule '\(rule)'"
                }
                guard loadedRules.contains(rule) else {
                    // The easy trap: a run of some rule files only, on the state directory of all of them.
                    return "the rule '\(rule)' is not among the rules this run loaded; if it still exists (this run read only some "
                        + "rule files), 'tripline dlq redrive --rules DIR' delivers it with rules that have it"
                }
                return "the rule '\(rule)' has no target '\(target)' any more"
            },
            attempt: { executor.attempt($0, attempt: $1) },
            onReport: { [emitted, settledBlocks, blockUserTargets] report in
                tally.count(report)
                // A stop asked for from within, not by a signal, is a reload's pause (see `interruptRunning` below).
                log.record(report, forReload: report.next == .leftQueued && stop.map { $0.isRequested && !$0.wasSignalled } == true)
                // Its outcome is on the blocklist (a retry is still pending): the run loop takes its pending block away.
                if !blockUserTargets.isEmpty, blockUserTargets.contains(DeliveryKey.target(rule: report.rule, target: report.target)) {
                    switch report.next {
                    case .retry, .postponed: break
                    default:
                        settledBlocks.push(DeliveryKey.idempotencyKey(eventID: report.eventID, rule: report.rule, target: report.target))
                    }
                }
                // A block that failed for good is said on the bus (User Block Failed), once it is dead-lettered.
                if case .deadLettered = report.next, let events = report.attemptReport?.eventsIfDeadLettered { emitted.push(events) }
            },
            onStateError: { error in
                if stateFailure.record(error) { log.note("tripline \(command): \(error)") }
            },
            // At the shutdown deadline handlers are stopped and webhook transfers cut off alike: both attempts count as
            // failed. Requests still held for their rate-limit slot were never sent: they stay queued, no attempt counted.
            interruptRunning: { [runner, webhookClient = executor.webhooks.client] in
                runner.interruptRunning()
                let reloading = !(stop?.wasSignalled ?? true)
                let who = command == "run" ? "the run" : "tripline \(command)"
                webhookClient?.interruptInFlight(reason: reloading ? "\(who) paused to reload its rules and its shutdown timeout has passed"
                                                                   : "\(who) is stopping and its shutdown timeout has passed")
            },
            // Topic fan-outs are committed by the dispatcher, accept batches by this loop: one order.
            enqueueOrder: acceptLock)
        // Whatever fails first, nothing starts any more: a completion that cannot be recorded is run
        // again by the next run, so each further attempt would only add a duplicate.
        stateFailure.onFailure = { [weak dispatcher] in dispatcher?.haltStarts() }
        if let setupError, stateFailure.record(setupError) { log.note("tripline \(command): \(setupError)") }
        // Deliveries an earlier run left queued go first, but only once a write commits: on a database
        // that cannot record a completion, each of them would run now and again in the next run.
        if !stateFailure.failed {
            do throws(StateError) {
                let total = try journal.count()
                do throws(StateError) {
                    try store.checkWritable()
                } catch {
                    if stateFailure.record(error) { log.note("tripline \(command): \(error)") }
                    if total > 0 {
                        log.note("tripline \(command): not resuming the \(total) deliver\(total == 1 ? "y" : "ies") queued by an earlier run: "
                                 + "the state database cannot commit, so none could be recorded as done")
                    }
                    throw error
                }
                try journal.pruneSettled()
                if total > 0 {
                    if !blockUserTargets.isEmpty { try restorePendingBlocks(from: journal) }
                    dispatcher.resume(firstPage: try journal.pending(limit: options.dispatcher.windowCapacity), total: total)
                    summary.deliveriesResumed = total
                    // (dlq redrive queues its letters itself before it runs: they are not an earlier run's.)
                    log.note(options.afterReload ? "tripline \(command): \(total) deliver\(total == 1 ? "y" : "ies") queued before the reload \(total == 1 ? "goes" : "go") on with the new rules"
                             : command == "run" ? "tripline run: resuming \(total) deliver\(total == 1 ? "y" : "ies") queued by an earlier run"
                                              : "tripline \(command): delivering \(total) queued deliver\(total == 1 ? "y" : "ies")")
                }
                if options.fromStart { try checkpoints.reset() }
                // Checkpoints of files gone since the last run, before any is read again.
                try pruner?.sweepIfDue()
            } catch {
                if stateFailure.record(error) { log.note("tripline \(command): \(error)") }
            }
        }

        // Lifting a block runs its handler too: not once the database cannot record it.
        if !stateFailure.failed { expireBlocks() }
        refreshBlocked()
        seenExternalChanges = try? store.externalChanges()

        var gates: AlertGates?
        do {
            gates = try AlertGates(rules: rules, store: store)
        } catch {
            stateFailure.record(error)
            log.note("tripline \(command): \(error)")
        }
        let batch = AcceptBatch(journal: journal, dispatcher: dispatcher, limit: options.acceptBatch, gates: gates, lock: acceptLock, tally: tally)
        batch.stop = stop
        batch.command = command
        if !blockUserTargets.isEmpty {
            batch.onCommitted = { [unowned self] deliveries, skipped in pendingBlocksCommitted(deliveries, skipped: skipped) }
        }
        var scratch = MatchScratch(maxEventBytes: options.maxEventBytes)
        // Events 'tripline blocklist' wrote while no run was there to take them go first.
        if !stateFailure.failed {
            while outboxDue && !stateFailure.failed {
                routeOutbox(summary: &summary, scratch: &scratch, batch: batch, gates: gates)
                batch.commit(failure: stateFailure, log: log)
            }
        }
        inputs.resumption = { file in
            guard file.isCheckpointable, let saved = try? checkpoints.checkpoint(for: file.path), let status = file.status() else { return .read }
            let decision = SourceResumption.judging(saved, size: status.size, modificationTime: status.modificationTime,
                                                    fingerprint: file.fingerprint(extent:))
            if case .replaced(let reason) = decision {
                log.note("tripline \(command): \(file.path): new content (\(reason)); reading it from the start")
            }
            return decision
        }
        var incomplete = IncompleteInputs(grace: options.incompleteGrace)
        inputs.onSourceEnd = { file, items, end in
            if file.isCheckpointable { batch.checkpoint(file: file, items: items, ending: end) }
            if end != .incomplete, incomplete.resolved(path: file.path) {
                // Reported as incomplete after a quiet spell, then finished after all: nothing is left out.
                summary.incompleteInputs -= 1
                log.note("tripline \(command): \(file.path): complete now; its end was read")
            }
        }
        // Reports the incomplete ends of files that stayed quiet long enough (all of them with `all`).
        func reportIncomplete(all: Bool = false) {
            for error in all ? incomplete.takeAll() : incomplete.due(now: StateTime.now()) {
                summary.incompleteInputs += 1
                log.badInput(error)
            }
        }
        inputs.onIdle = { batch.commit(failure: stateFailure, log: log) }
        // A file renamed within a watched folder: what was read of it is committed, and its checkpoint
        // follows it to its new name, so it is not read again.
        inputs.onMoved = { from, to, isDirectory in
            batch.commit(failure: stateFailure, log: log)
            guard !stateFailure.failed else { return }
            do throws(StateError) {
                try CheckpointPruner.moved(from: from, to: to, isDirectory: isDirectory, in: checkpoints)
            } catch {
                if stateFailure.record(error) { log.note("tripline \(command): \(error)") }
            }
        }
        // Forgets checkpoints of files gone long enough (at most every `pruner.interval` seconds).
        func pruneCheckpoints() {
            guard let pruner, !stateFailure.failed else { return }
            do throws(StateError) { try pruner.sweepIfDue() } catch { if stateFailure.record(error) { log.note("tripline \(command): \(error)") } }
        }

        var nextProgress = start + options.progressInterval
        var nextExpiry = start + Self.expiryInterval
        var nextIncompleteCheck = start
        // While a watched folder is quiet: route what targets emitted, lift expired blocks, commit.
        inputs.onWaiting = { [unowned self] in
            noticeExternalChanges()
            routeEmitted(summary: &summary, scratch: &scratch, batch: batch, gates: gates)
            if monotonicSeconds() >= nextExpiry, !stateFailure.failed {
                nextExpiry = monotonicSeconds() + Self.expiryInterval
                expireBlocks()
                do throws(StateError) { try journal.pruneSettled() } catch { if stateFailure.record(error) { log.note("tripline \(command): \(error)") } }
            }
            batch.commit(failure: stateFailure, log: log)
            pruneCheckpoints()
            reportIncomplete()
        }
        // A watched folder stops being waited on once the database failed: the run ends as it would at a commit.
        inputs.shouldStopWaiting = { stateFailure.failed }
        defer {
            inputs.onWaiting = nil
            inputs.shouldStopWaiting = nil
            inputs.onMoved = nil
        }
        while true {
            if let stop, stop.isRequested {
                summary.stopped = true
                inputs.close()
                break
            }
            if stateFailure.failed {
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
            case .failure(let error) where error.isIncomplete:
                if let now = incomplete.found(error, now: StateTime.now()) {
                    summary.incompleteInputs += 1
                    log.badInput(now)
                }
            case .failure(let error) where !error.isError:
                // A FIFO or socket in a walked folder: noted, not read, not an error.
                log.note(error.description)
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
                noticeExternalChanges()
                route(raw, summary: &summary, scratch: &scratch, batch: batch, gates: gates)
            }
            if let file = inputs.currentFile, file.isCheckpointable {
                batch.checkpoint(file: file, items: inputs.itemsFromCurrentSource)
            }
            routeEmitted(summary: &summary, scratch: &scratch, batch: batch, gates: gates)
            if monotonicSeconds() >= nextExpiry, !stateFailure.failed {
                nextExpiry = monotonicSeconds() + Self.expiryInterval
                expireBlocks()
                do throws(StateError) { try journal.pruneSettled() } catch { if stateFailure.record(error) { log.note("tripline \(command): \(error)") } }
            }
            // A folder busy with new files never waits, so checks are due here too (a clock read when not).
            if pruner != nil { pruneCheckpoints() }
            if batch.isDue(interval: options.acceptInterval) { batch.commit(failure: stateFailure, log: log) }
            if !incomplete.isEmpty, monotonicSeconds() >= nextIncompleteCheck {
                nextIncompleteCheck = monotonicSeconds() + 1
                reportIncomplete()
            }
            let now = monotonicSeconds()
            if log.console.showsProgress, now >= nextProgress {
                nextProgress = now + options.progressInterval
                log.console.progress(progressLine(summary, tally: tally, dispatcher: dispatcher, source: inputs.currentSource))
            }
        }
        batch.commit(failure: stateFailure, log: log)
        reportIncomplete(all: true)
        // Sources that gave no item (an empty file, one resumed with nothing new) count too: the loop
        // only looks at the count when an item arrives.
        summary.sources = inputs.sourcesStarted
        summary.filesSkipped = inputs.sourcesSkipped
        summary.filesResumed = inputs.sourcesResumed

        let load = dispatcher.load
        if stateFailure.failed, load.running > 0 {
            log.note("tripline \(command): the state database failed: waiting for the \(load.running) running deliver\(load.running == 1 ? "y" : "ies"); "
                     + "no more start")
        }
        if summary.stopped {
            let signalled = stop?.wasSignalled ?? true
            if load.running > 0 {
                log.note(Self.stopWaitNote(command, signalled: signalled, timeout: options.shutdownTimeout,
                                           for: "the \(load.running) running deliver\(load.running == 1 ? "y" : "ies")"))
            } else if signalled {
                log.note("tripline \(command): stop requested; no delivery is running")
            }
            dispatcher.stop(deadline: StateTime.now() + options.shutdownTimeout)
        } else {
            if log.console.showsProgress { log.console.progress("waiting for \(load.queued) deliveries to finish…") }
            let shutdownTimeout = options.shutdownTimeout
            let emitted = self.emitted
            while true {
                dispatcher.drain(linger: options.linger, interrupt: stop.map { stop in
                    {
                        guard stop.isRequested else { return false }
                        log.note(Self.stopWaitNote(command, signalled: stop.wasSignalled, timeout: shutdownTimeout, for: "running deliveries"))
                        return true
                    }
                }, shutdownTimeout: options.shutdownTimeout, pause: { !emitted.isEmpty })
                // Events the targets emitted (User Blocked, …) are routed like input, then the drain goes on.
                guard !emitted.isEmpty, !(stop?.isRequested ?? false), !stateFailure.failed else { break }
                routeEmitted(summary: &summary, scratch: &scratch, batch: batch, gates: gates)
                batch.commit(failure: stateFailure, log: log)
            }
            if let stop, stop.isRequested { summary.stopped = true }
        }
        // What targets emitted while a stop waited for their deliveries (a block's User Blocked
        // event) is routed now: its deliveries are committed, for the next run (or part) to make.
        if summary.stopped && !stateFailure.failed && !emitted.isEmpty {
            routeEmitted(summary: &summary, scratch: &scratch, batch: batch, gates: gates)
            batch.commit(failure: stateFailure, log: log)
        }
        log.console.clearProgress()
        // File subscriptions' files stay open across messages, not past the run.
        executor.appendFiles.closeAll()
        if stateFailure.failed {
            // Also when it failed while the deliveries were being drained.
            log.note("tripline \(command): no more deliveries were started once the state database failed (a delivery whose completion cannot "
                     + "be recorded runs again in the next run); what is queued waits for the next run")
        }
        let counts = tally.counts
        summary.deliveriesSucceeded = counts.succeeded
        summary.deliveriesUnrecorded = counts.unrecorded
        summary.deadLetterFileErrors = counts.deadLetterFileErrors
        summary.deliveriesFailed = counts.deadLettered
        summary.failedAttempts = counts.failedAttempts
        summary.deliveriesTimedOut = counts.timedOut
        summary.duplicatesSkipped = counts.duplicates
        summary.deliveriesLeftQueued = dispatcher.queuedCount
        if stateFailure.failed, let queued = try? journal.count() {
            // What the database holds: also the deliveries not resumed, and those whose completion went unrecorded.
            summary.deliveriesLeftQueued = queued
        }
        summary.stateError = stateFailure.first?.description
        summary.durationSeconds = monotonicSeconds() - start
        return summary
    }

    /// Normalizes, matches and queues one event; `emitted` marks the events Tripline emitted itself
    /// (the only ones that may carry its `source`).
    private func route(_ raw: RawEvent, emitted: Bool = false, summary: inout RunSummary, scratch: inout MatchScratch, batch: AcceptBatch, gates: AlertGates?) {
        let ingestionTime = clock.now()
        let normalized: NormalizedEvent
        switch normalizer.normalize(raw, ingestionTime: ingestionTime, allowingOwnSource: emitted) {
        case .success(let found): normalized = found
        case .failure(let error) where !error.isError:
            // A CloudTrail digest file: no events in it, so it is not counted as one read either.
            summary.eventsRead -= 1
            log.note(error.description)
            return
        case .failure(let error):
            summary.badRecords += 1
            log.badInput(error)
            return
        }
        summary.eventsNormalized += 1
        var event = normalized
        if let enriched = BlockUserExecutor.enrich(eventBytes: event.bytes, with: blocked, pending: pendingBlocks, now: StateTime.now()),
           let envelope = try? JSONParser.parse(enriched) {
            event.bytes = enriched
            event.envelope = envelope
        }
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
        // Targets' gates and blocks read the envelope: built once, for matched events only.
        if !matched.isEmpty { event.buildEnvelope() }
        var anyRule = false
        let now = StateTime.now()
        for id in matched {
            let rule = rules.rules[id]
            guard rule.receives(readOnlyManagementEvent: event.isReadOnlyManagementEvent) else { continue }
            anyRule = true
            summary.matchesPerRule[rule.name, default: 0] += 1
            for target in rule.targets where executor.isEnabled(rule: rule.name, target: target.id) {
                var suppressed = 0
                if target.alertGate != nil,
                   let decision = gates?.decide(targetKey: DeliveryKey.target(rule: rule.name, target: target.id), event: event.envelope, now: now) {
                    guard case .send(let held) = decision else {
                        summary.alertsHeldBack += 1
                        batch.touch()
                        continue
                    }
                    suppressed = held
                }
                batch.add(NewDelivery(rule: rule.name, target: target.id, eventID: event.id, origin: event.origin.description,
                                      event: event.bytes, ingestionTime: ingestionTime, acceptedAt: now, suppressedCount: suppressed))
                // Tripline's own events never block anyone (TargetExecutor skips them).
                if case .blockUser(let block) = target.kind, !emitted {
                    addPendingBlock(of: event.envelope, eventID: event.id, rule: rule.name, targetID: target.id, target: block, now: now)
                }
            }
        }
        if anyRule { summary.eventsMatched += 1 }
    }

    /// How often expired blocks are lifted during a run.
    static let expiryInterval: Double = 30

    /// Marks the principal of `event`'s block as pending when the delivery to `target` just queued
    /// is expected to block it, so the run's later events of it are marked in input order. Not when
    /// it would be refused (``BlockUserExecutor/expectedBlock(of:rule:targetID:target:now:)``), nor
    /// when the blocklist already marks it as this block would, nor when the circuit breaker would
    /// refuse it, counting the real blocks still pending (which may count one the breaker has
    /// already counted: a block then goes unmarked until it lands, never the other way round).
    private func addPendingBlock(of event: JSONValue, eventID: String, rule: String, targetID: String, target: BlockUserTarget, now: Double) {
        guard let blocking, let block = blocking.expectedBlock(of: event, rule: rule, targetID: targetID, target: target, now: now) else { return }
        // On the list already (a real block, or a dry run for a dry run): the snapshot marks it, and no breaker is asked.
        if let listed = block.identifiers.first(where: { blocked.isBlocked($0, now: now) }), block.dryRun || !blocked.isDryRun(listed) { return }
        if !block.dryRun && !pendingBlocks.hasRealBlock(key: block.key) {
            let breaker = blocking.circuitBreaker
            if breaker.blocksInWindow(now: now) + pendingBlocks.realPrincipals >= breaker.maxBlocks { return }
        }
        pendingBlocks.add(delivery: DeliveryKey.idempotencyKey(eventID: eventID, rule: rule, target: targetID), block)
    }

    /// Most queued `BlockUser` deliveries per target whose blocks ``restorePendingBlocks(from:)`` marks.
    static let restoredBlocksPerTarget = 10_000

    /// Marks again the pending blocks of the `BlockUser` deliveries an earlier run, or the part of this
    /// run before a reload, queued and did not carry out, as that run marked them: otherwise the
    /// principal's events read before the block runs would go unmarked. Called before any queued
    /// delivery can run, so that each mark is settled by its delivery's report like any other.
    private func restorePendingBlocks(from journal: DeliveryJournal) throws(StateError) {
        refreshBlocked()
        let now = StateTime.now()
        for rule in rules.rules {
            for target in rule.targets {
                guard case .blockUser(let block) = target.kind else { continue }
                for delivery in try journal.stored(rule: rule.name, target: target.id, limit: Self.restoredBlocksPerTarget) {
                    guard let event = try? JSONParser.parse(delivery.event, options: .init(maxBytes: max(options.maxEventBytes, delivery.event.count)))
                    else { continue }
                    addPendingBlock(of: event, eventID: delivery.eventID, rule: rule.name, targetID: target.id, target: block, now: now)
                    pendingBlocks.queued(delivery: DeliveryKey.idempotencyKey(eventID: delivery.eventID, rule: rule.name, target: target.id))
                }
            }
        }
    }

    /// After a batch committed: a pending block whose delivery the journal queued stays until its
    /// report; one whose delivery it folded into an earlier copy goes (no report will come for it).
    private func pendingBlocksCommitted(_ deliveries: [NewDelivery], skipped: [Int]) {
        guard !pendingBlocks.isEmpty else { return }
        let skipped = Set(skipped)
        for (index, delivery) in deliveries.enumerated() where blockUserTargets.contains(DeliveryKey.target(rule: delivery.rule, target: delivery.target)) {
            if skipped.contains(index) {
                pendingBlocks.skipped(delivery: delivery.idempotencyKey)
            } else {
                pendingBlocks.queued(delivery: delivery.idempotencyKey)
            }
        }
    }

    /// Takes the pending blocks of settled deliveries away, once the snapshot shows their outcome.
    private func settlePendingBlocks() {
        guard !blockUserTargets.isEmpty else { return }
        let settled = settledBlocks.takeAll()
        guard !settled.isEmpty else { return }
        // Taken after the reports: the snapshot holds what those deliveries did.
        refreshBlocked()
        for key in settled { pendingBlocks.settle(delivery: key) }
        pendingBlocks.removeExpired(now: StateTime.now())
    }

    /// Routes the events targets put back on the bus, and refreshes the blocklist snapshot they imply.
    private func routeEmitted(summary: inout RunSummary, scratch: inout MatchScratch, batch: AcceptBatch, gates: AlertGates?) {
        if outboxDue { routeOutbox(summary: &summary, scratch: &scratch, batch: batch, gates: gates) }
        settlePendingBlocks()
        let events = emitted.takeAll()
        guard !events.isEmpty else { return }
        refreshBlocked()
        for event in events {
            emittedCount += 1
            summary.eventsEmitted += 1
            let matchedBefore = summary.eventsMatched
            route(RawEvent(bytes: JSONWriter.bytes(event), origin: EventOrigin(source: BlockEvent.source, position: .line(emittedCount))), emitted: true,
                  summary: &summary, scratch: &scratch, batch: batch, gates: gates)
            summary.emittedEventsMatched += summary.eventsMatched - matchedBefore
        }
    }

    /// Most outbox rows taken at once; more are taken on the next call.
    static let outboxPage = 256

    /// Routes the events `tripline blocklist` wrote to the outbox (one page of them) as if this run had
    /// emitted them. Each row is handed to `batch`, which deletes it in the transaction that accepts
    /// the deliveries it matched, so it is routed once: neither lost nor repeated by a crash.
    private func routeOutbox(summary: inout RunSummary, scratch: inout MatchScratch, batch: AcceptBatch, gates: AlertGates?) {
        outboxDue = false
        let items: [BusOutbox.Item]
        do {
            items = try outbox.pending(afterID: outboxCursor, limit: Self.outboxPage)
        } catch {
            log.note("tripline \(options.command): cannot read the events 'tripline blocklist' queued: \(error)")
            return
        }
        guard !items.isEmpty else { return }
        // They follow blocklist changes: mark later events with the list as it is now.
        refreshBlocked()
        for item in items {
            outboxCursor = item.id
            summary.eventsEmitted += 1
            let matchedBefore = summary.eventsMatched
            let type = (try? JSONParser.parse(item.event))?["detail-type"]?.stringValue ?? "an event"
            log.note("tripline \(options.command): \(type) from '\(item.origin)' put on the bus")
            route(RawEvent(bytes: item.event, origin: EventOrigin(source: item.origin, position: .line(Int(item.id)))), emitted: true,
                  summary: &summary, scratch: &scratch, batch: batch, gates: gates)
            summary.emittedEventsMatched += summary.eventsMatched - matchedBefore
            batch.takeOutbox(item.id)
        }
        // A full page: there may be more.
        if items.count == Self.outboxPage { outboxDue = true }
    }

    /// Lifts expired blocks (running the enforcement handler's unblock path) and emits `User Unblocked`.
    private func expireBlocks() {
        guard let blocking else { return }
        do {
            let outcomes = try blocking.expire(now: StateTime.now())
            for outcome in outcomes {
                emitted.push(outcome.events)
                log.note("tripline \(options.command): " + outcome.summary)
            }
            if !outcomes.isEmpty { refreshBlocked() }
            if !reportedRealUnblocksLeft {
                let left = try blocking.expiredNeedingRealUnblock(now: StateTime.now())
                if !left.isEmpty {
                    // Said once per run: the entries stay expired until a run that may really unblock.
                    reportedRealUnblocksLeft = true
                    let keys = left.prefix(3).map(\.key).joined(separator: ", ") + (left.count > 3 ? ", …" : "")
                    log.note("tripline \(options.command): --dry-run-blocks: \(left.count) expired block\(left.count == 1 ? " was" : "s were") applied for real "
                             + "(\(keys)); left on the blocklist, since lifting \(left.count == 1 ? "it" : "them") would run a real unblock: "
                             + "a run without --dry-run-blocks or 'tripline blocklist expire' lifts \(left.count == 1 ? "it" : "them")")
                }
            }
        } catch {
            log.note("tripline \(options.command): cannot expire blocks: \(error)")
        }
    }

    /// Whether this run said that expired real blocks are left for a run without `--dry-run-blocks`.
    private var reportedRealUnblocksLeft = false

    private func refreshBlocked() {
        guard let blocklist, let snapshot = try? blocklist.snapshot(now: StateTime.now()) else { return }
        blocked = snapshot
    }

    /// When another process last changed the database, as this run saw it (``StateStore/externalChanges()``).
    private var seenExternalChanges: Int64?
    private var nextExternalCheck: Double = 0

    /// Reloads the blocklist snapshot, and looks at the outbox on the next ``routeEmitted``, when
    /// another process (`tripline blocklist add|remove|expire`) committed to the database since the
    /// last look; looks at most once a second.
    private func noticeExternalChanges() {
        let now = monotonicSeconds()
        guard blocklist != nil, now >= nextExternalCheck else { return }
        nextExternalCheck = now + 1
        guard let changes = try? store.externalChanges() else { return }
        if let seen = seenExternalChanges, seen != changes {
            refreshBlocked()
            // 'tripline blocklist' may have queued events for the bus.
            outboxDue = true
        }
        seenExternalChanges = changes
    }

    private func progressLine(_ summary: RunSummary, tally: DeliveryTally, dispatcher: DeliveryDispatcher, source: InputSource?) -> String {
        let counts = tally.counts
        let load = dispatcher.load
        var line = "\(summary.eventsRead) events (\(summary.badRecords) bad), \(summary.eventsMatched) matched; "
            + "deliveries \(counts.succeeded) ok, \(counts.deadLettered) dead-lettered, \(load.running) running, \(load.queued) queued"
        if load.waitingForRetry > 0 { line += " (\(load.waitingForRetry) waiting to retry)" }
        if let source { line += " - " + (source.description.split(separator: "/").last.map(String.init) ?? source.description) }
        return line
    }
}
