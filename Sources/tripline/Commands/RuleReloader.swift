import Foundation
import TriplineRouter
import TriplineTargets

/// Rules that passed every check `run` makes before it starts: the rule files, their handlers,
/// webhook and BlockUser variables.
struct LoadedRules: Sendable {
    var rules: RuleSet
    var webhooks: WebhookRegistry
    var blockEnvironments: [String: [String: String]]

    var enabledCount: Int { rules.rules.filter { $0.state != .disabled }.count }

    var summaryLine: String {
        "\(rules.rules.count) rule\(rules.rules.count == 1 ? "" : "s") (\(enabledCount) enabled)"
    }
}

/// What SIGHUP asks of `tripline run`: the rules read and checked again and, only when every check
/// passes, the run stopped between events (as a first SIGTERM stops it) so that the next one starts
/// with them; rules with a problem are reported and the rules in force stay.
///
/// The hangup arrives on a queue of its own while the run goes on; the run takes the new rules with
/// ``takePending(rearm:)`` once it has stopped.
final class RuleReloader: @unchecked Sendable {
    private let lock = NSLock()
    private let log: DeliveryLog
    private let stop: StopSignal
    /// Reads and checks the rules, reporting every problem and then what happens instead (its
    /// argument); nil when there is one. Set once the run is set up.
    private var load: (@Sendable (String, WebhookRegistry?) -> LoadedRules?)?
    /// The webhook registry of the rules in force, whose `Retry-After` pauses and rate-limit buckets
    /// the new rules' registry takes over.
    private var webhooksInForce: WebhookRegistry?
    /// Why this run cannot take new rules without a restart, when it cannot.
    private var refusal: String?
    private var pending: LoadedRules?
    private var rulesPath = ""
    private var shutdownTimeout: Double = 0
    /// When a hangup last read the rules (monotonic seconds), for ``minimumInterval``.
    private var lastRead = -Double.infinity

    /// Least time between two readings of the rules: hangups sent in a burst (a loop, a tool sending
    /// one per file it wrote) come together into one reload a second instead of pausing reading at
    /// each. Waited on the hangup's own queue, where further hangups meanwhile count as one, so the
    /// files are always read again after the last of them.
    static let minimumInterval: Double = 1

    init(log: DeliveryLog, stop: StopSignal) {
        self.log = log
        self.stop = stop
    }

    /// Makes hangups reload the rules at `path` with `load`, or, with a `refusal`, only say why not.
    func configure(path: String, shutdownTimeout: Double, refusal: String?, load: @escaping @Sendable (String, WebhookRegistry?) -> LoadedRules?) {
        lock.withLock {
            self.rulesPath = path
            self.shutdownTimeout = shutdownTimeout
            self.refusal = refusal
            self.load = load
        }
    }

    /// Notes the rules a part of the run starts with.
    func inForce(_ rules: LoadedRules) {
        lock.withLock { webhooksInForce = rules.webhooks }
    }

    /// Handles one SIGHUP. One that arrives while a reload waits for the run to pause reads the
    /// files again too: the newest rules that pass take over (an edit made meanwhile is not lost).
    func hangup() {
        let wait = lock.withLock { lastRead + Self.minimumInterval - monotonicSeconds() }
        if wait > 0 { usleep(UInt32(min(wait, Self.minimumInterval) * 1_000_000)) }
        lock.withLock { lastRead = monotonicSeconds() }
        let (load, refusal, waiting, path, timeout, webhooks) = lock.withLock {
            (self.load, self.refusal, pending != nil, rulesPath, shutdownTimeout, webhooksInForce)
        }
        guard let load else {
            log.note("tripline run: SIGHUP before the run started; the rules just read stay")
            return
        }
        if let refusal {
            log.note("tripline run: SIGHUP: \(refusal); restart the run to load changed rules")
            return
        }
        log.note("tripline run: SIGHUP: reading the rules in \(path) again")
        guard let loaded = load(waiting ? "the rules read at the previous SIGHUP take over" : "the rules in force stay", webhooks) else { return }
        // Under the lock that the run takes the rules under (`takePending(rearm:)`): the stop is
        // requested exactly when no earlier reload waits for one, and never drained unanswered.
        let replaced = lock.withLock { () -> Bool in
            let replaced = pending != nil
            pending = loaded
            if !replaced { stop.request() }
            return replaced
        }
        log.note(replaced ? "tripline run: reloading with \(loaded.summaryLine) instead, once the run has paused"
                 : "tripline run: reloading with \(loaded.summaryLine): reading pauses between events and the running deliveries "
                   + "finish (up to \(Router.setting(seconds: timeout))); what is queued waits for the new rules")
    }

    /// The rules a hangup read and checked, taken (nil when none waits), and whether the run may
    /// go on with them: with `rearm`, the stop their hangup requested is taken back at the same time
    /// (``StopSignal/rearm()``), so that no hangup slips between the two; false when a signal asked
    /// for the stop too (it stands), or without `rearm` (the run ended for another reason).
    func takePending(rearm: Bool) -> (rules: LoadedRules, goOn: Bool)? {
        lock.withLock {
            guard let taken = pending else { return nil }
            pending = nil
            return (taken, rearm && stop.rearm())
        }
    }
}
