import Foundation
import TriplineJSON
import TriplineState
import TriplineTargets

/// Carries out `BlockUser` targets: decides, records on the blocklist, runs the enforcement handler,
/// lifts expired blocks, and builds the events to emit about all of it.
///
/// A delivery goes: resolve the principal (root, AWS services, … are refused), check the protected
/// principals, look the key up on the blocklist, and only for a new, real block ask the circuit
/// breaker (so refusals, re-blocks and dry runs, which block nothing, never use up its limit; a dry
/// run is not refused by it either). Then the entry is written (with the
/// breaker's state, in one transaction) and the `Enforce` handler runs with the ``BlockRequest`` on
/// standard input. Idempotent per principal key:
///
/// - already blocked and enforced (or recorded without a handler): nothing runs, nothing is emitted,
///   but a longer block extends the entry's expiry: one without expiry, or one whose duration is
///   longer than the entry's (from when it was added to when it expires) and which ends later. A
///   repeat of the same block stays a no-op, so continued activity (or the access denials the block
///   itself causes) never keeps a block going for ever. A dry run never extends a real block;
/// - on the list but not enforced (the handler failed, or the process stopped while it ran): the
///   handler runs again, so a retried delivery finishes the job; the breaker is not asked again;
/// - an expired entry, or a dry-run entry when the new block is real, is replaced by a new block.
///
/// Thread-safe: deliveries for the same principal are serialised (one handler run per key at a
/// time); different principals proceed in parallel. The breaker's state is loaded at `init` and
/// saved with every block, so it survives restarts. Times are passed in (`now`), never read here.
public final class BlockUserExecutor: @unchecked Sendable {
    /// Configuration shared by every `BlockUser` target.
    public struct Settings: Sendable {
        /// Principals never blocked.
        public var protected: ProtectedPrincipals
        /// The circuit breaker: at most `maxBlocks` new automatic blocks per `windowSeconds` (dry runs
        /// are neither counted nor refused).
        public var maxBlocks: Int
        public var windowSeconds: Double
        /// Run every handler as a dry run (`TRIPLINE_DRY_RUN=1`, `"dryRun": true`), whatever the target says.
        public var dryRun: Bool
        /// How long a handler may run.
        public var handlerTimeoutSeconds: Double
        /// Extra environment for every handler run (`tripline blocklist --env`), over the target's own
        /// and under the `TRIPLINE_*` variables.
        public var environment: [String: String]
        /// The resolved `Environment` of each `BlockUser` target, by `rule/target`
        /// (``BlockUserEnvironments/resolve(rules:environment:)``): given to the handler for the target's
        /// blocks and for the unblocks of the entries it made (found by the entry's rule and target,
        /// since the blocklist never stores an environment). A target missing here gets its
        /// `Environment` only when it has no `${NAME}` placeholders.
        public var targetEnvironments: [String: [String: String]]
        /// The variables handlers inherit (`PATH`, `HOME`, `LANG`, `TZ`); default: this process's.
        public var inheritedEnvironment: [String: String]

        public static let defaultMaxBlocks = 10
        public static let defaultWindowSeconds: Double = 3600
        public static let defaultHandlerTimeoutSeconds: Double = 120

        public init(protected: ProtectedPrincipals = .none, maxBlocks: Int = Settings.defaultMaxBlocks,
                    windowSeconds: Double = Settings.defaultWindowSeconds, dryRun: Bool = false,
                    handlerTimeoutSeconds: Double = Settings.defaultHandlerTimeoutSeconds, environment: [String: String] = [:],
                    targetEnvironments: [String: [String: String]] = [:],
                    inheritedEnvironment: [String: String] = HandlerEnvironment.currentInherited()) {
            self.protected = protected
            self.maxBlocks = maxBlocks
            self.windowSeconds = windowSeconds
            self.dryRun = dryRun
            self.handlerTimeoutSeconds = handlerTimeoutSeconds
            self.environment = environment
            self.targetEnvironments = targetEnvironments
            self.inheritedEnvironment = inheritedEnvironment
        }
    }

    /// One delivery of a matched event to a `BlockUser` target.
    public struct Delivery: Sendable {
        public var rule: String
        public var targetID: String
        public var target: BlockUserTarget
        /// The delivered event (the EventBridge envelope).
        public var event: JSONValue
        public var eventID: String
        /// 1 for the first attempt (passed to the handler as `TRIPLINE_ATTEMPT`).
        public var attempt: Int

        public init(rule: String, targetID: String, target: BlockUserTarget, event: JSONValue, eventID: String, attempt: Int = 1) {
            self.rule = rule
            self.targetID = targetID
            self.target = target
            self.event = event
            self.eventID = eventID
            self.attempt = attempt
        }
    }

    /// A handler exit status meaning "this will never work" (as for function targets): no retry.
    public static let permanentFailureExitStatus = TargetExecutor.permanentFailureExitStatus

    public let blocklist: Blocklist
    public let settings: Settings
    private let runner: FunctionRunner
    /// Guards `busyKeys`; waited on by deliveries for a principal already being handled.
    private let keys = NSCondition()
    private var busyKeys: Set<String> = []
    /// Guards `breaker`.
    private let breakerLock = NSLock()
    private var breaker: BlockCircuitBreaker

    /// An executor over `blocklist`; loads the circuit breaker's saved state.
    public init(blocklist: Blocklist, runner: FunctionRunner = FunctionRunner(), settings: Settings = Settings()) throws(StateError) {
        self.blocklist = blocklist
        self.runner = runner
        self.settings = settings
        let saved = try blocklist.breakerState()
        breaker = BlockCircuitBreaker(maxBlocks: settings.maxBlocks, windowSeconds: settings.windowSeconds,
                                      recentBlocks: saved.recentBlocks, isTripped: saved.isTripped)
    }

    /// The circuit breaker as it stands.
    public var circuitBreaker: BlockCircuitBreaker {
        breakerLock.lock()
        defer { breakerLock.unlock() }
        return breaker
    }

    // MARK: - Blocking

    /// Carries out one delivery at `now`: see the type's documentation for the order of checks.
    ///
    /// Never throws: state-database and handler failures are ``BlockOutcome/Result/failed(entry:error:retryable:)``
    /// (retry the delivery); refusals carry a `User Block Refused` event; a new, enforced block a
    /// `User Blocked` event.
    public func block(_ delivery: Delivery, now: Double) -> BlockOutcome {
        let event = delivery.event
        let identity = delivery.target.principalPath.evaluate(in: event) ?? .null
        var plan = Plan(reason: delivery.target.reason, rule: delivery.rule, targetID: delivery.targetID, eventID: delivery.eventID,
                        enforce: delivery.target.enforce, dryRun: delivery.target.dryRun || settings.dryRun,
                        durationSeconds: delivery.target.durationSeconds, attempt: delivery.attempt, addedBy: "rule " + delivery.rule,
                        account: event["account"]?.stringValue ?? event["detail"]?["recipientAccountId"]?.stringValue,
                        region: event["region"]?.stringValue ?? event["detail"]?["awsRegion"]?.stringValue, usesBreaker: true)
        switch targetEnvironment(rule: delivery.rule, target: delivery.targetID, configured: delivery.target) {
        case .success(let environment): plan.environment = environment
        case .failure(let error):
            return BlockOutcome(result: .failed(entry: nil, error: error.description + " (tripline run resolves it when it starts)", retryable: false))
        }
        switch PrincipalResolver.resolve(userIdentity: identity) {
        case .failure(let refusal):
            return refuse(refusal, principal: nil, identity: identity, plan: plan, now: now)
        case .success(let principal):
            return apply(principal, plan: plan, now: now)
        }
    }

    /// Blocks `principal` by hand (`tripline blocklist add`): the protected principals apply, the
    /// circuit breaker does not. Without `enforce` the entry is only recorded.
    public func block(principal: BlockPrincipal, reason: String, durationSeconds: Double?, enforce: String?, dryRun: Bool,
                      addedBy: String = "cli", now: Double) -> BlockOutcome {
        let plan = Plan(reason: reason, rule: nil, targetID: nil, eventID: nil, enforce: enforce, dryRun: dryRun || settings.dryRun,
                        durationSeconds: durationSeconds, attempt: 1, addedBy: addedBy, account: principal.accountId, region: nil,
                        usesBreaker: false)
        return apply(principal, plan: plan, now: now)
    }

    /// What one block is about, wherever it came from.
    private struct Plan {
        var reason: String
        var rule: String?
        var targetID: String?
        var eventID: String?
        var enforce: String?
        var dryRun: Bool
        var durationSeconds: Double?
        var attempt: Int
        var addedBy: String
        var account: String?
        var region: String?
        var usesBreaker: Bool
        /// The target's resolved `Environment` (empty for a block by hand).
        var environment: [String: String] = [:]
    }

    /// The resolved environment of `rule/target`: from ``Settings/targetEnvironments``, else
    /// `configured`'s own `Environment` when it needs no variables; empty without either.
    private func targetEnvironment(rule: String?, target: String?, configured: BlockUserTarget?) -> Result<[String: String], SecretTemplateError> {
        guard let rule, let target else { return .success([:]) }
        if let resolved = settings.targetEnvironments[DeliveryKey.target(rule: rule, target: target)] { return .success(resolved) }
        guard let configured else { return .success([:]) }
        do { return .success(try configured.resolvedEnvironment(from: [:])) } catch { return .failure(error) }
    }

    private func apply(_ principal: BlockPrincipal, plan: Plan, now: Double) -> BlockOutcome {
        if let refusal = settings.protected.refusal(for: principal) {
            return refuse(refusal, principal: principal, identity: nil, plan: plan, now: now)
        }
        let key = principal.key
        acquire(key)
        defer { release(key) }
        var counted = false
        do throws(StateError) {
            var entry: BlockEntry
            if let existing = try blocklist.entry(key), existing.isActive(now: now), !(existing.dryRun && !plan.dryRun) {
                var current = existing
                var extended = false
                let expiry = plan.durationSeconds.map { now + $0 }
                // A longer block extends the entry (a dry run changes nothing real, so never a real entry).
                if !(plan.dryRun && !existing.dryRun), let old = existing.expiresAt,
                   expiry.map({ $0 > old && (plan.durationSeconds ?? 0) > old - existing.addedAt }) ?? true {
                    try blocklist.extend(key, to: expiry)
                    current.expiresAt = expiry
                    extended = true
                }
                // On the list. Run the handler again only when the block was never applied, by the same kind of run.
                guard existing.enforcement == .pending || existing.enforcement == .failed, existing.dryRun == plan.dryRun,
                      plan.enforce ?? existing.enforce != nil else {
                    return BlockOutcome(result: extended ? .extended(current, previousExpiry: existing.expiresAt) : .alreadyBlocked(existing))
                }
                entry = current
            } else {
                let new = BlockEntry(key: key, principal: principal.json, kind: principal.kind.rawValue, arn: principal.arn,
                                     accessKeyId: principal.accessKeyId, accountId: plan.account ?? principal.accountId, region: plan.region,
                                     reason: plan.reason, rule: plan.rule, targetID: plan.targetID, eventID: plan.eventID, addedAt: now,
                                     expiresAt: plan.durationSeconds.map { now + $0 }, addedBy: plan.addedBy, dryRun: plan.dryRun,
                                     enforce: plan.enforce, enforcement: plan.enforce == nil ? .recorded : .pending)
                var state: BlockBreakerState?
                if plan.usesBreaker && !plan.dryRun {
                    switch decide(now: now) {
                    case .refuse(let refusal, let first):
                        return refuse(refusal, principal: principal, identity: nil, plan: plan, now: now, breakerOpened: first)
                    case .allow(let saved):
                        state = saved
                        counted = true
                    }
                }
                switch try blocklist.add(new, now: now, breaker: state) {
                case .added(let added):
                    entry = added
                case .alreadyBlocked(let existing):
                    if counted { uncount(now) }
                    return BlockOutcome(result: .alreadyBlocked(existing))
                }
                counted = false
                guard plan.enforce != nil else {
                    return BlockOutcome(result: .blocked(entry), events: [BlockEvent.blocked(entry, handler: nil, now: now)])
                }
            }
            let handler = plan.enforce ?? entry.enforce ?? ""
            let request = BlockRequest(action: .block, dryRun: entry.dryRun, principal: principal, reason: entry.reason, rule: entry.rule ?? "cli",
                                       eventId: entry.eventID, requestedAt: entry.addedAt, expiresAt: entry.expiresAt)
            let run = runHandler(handler, request: request, entry: entry, attempt: plan.attempt, environment: plan.environment)
            entry.enforcementAttempts += 1
            entry.enforce = handler
            if let failure = run.failure {
                try blocklist.markFailed(key, error: failure.error, enforce: handler)
                entry.enforcement = .failed
                entry.lastError = failure.error
                return BlockOutcome(result: .failed(entry: entry, error: failure.error, retryable: failure.retryable), handler: run.outcome)
            }
            try blocklist.markEnforced(key, at: now, enforce: handler)
            entry.enforcement = .enforced
            entry.enforcedAt = now
            entry.lastError = nil
            return BlockOutcome(result: .blocked(entry), handler: run.outcome, events: [BlockEvent.blocked(entry, handler: run.outcome, now: now)])
        } catch {
            if counted { uncount(now) }
            return BlockOutcome(result: .failed(entry: nil, error: error.description, retryable: true))
        }
    }

    private func refuse(_ refusal: BlockRefusal, principal: BlockPrincipal?, identity: JSONValue?, plan: Plan, now: Double,
                        breakerOpened: Bool = false) -> BlockOutcome {
        let event = BlockEvent.refused(BlockEvent.Refusal(refusal: refusal, principal: principal, identity: identity, reason: plan.reason,
                                                          rule: plan.rule, targetID: plan.targetID, eventID: plan.eventID,
                                                          account: plan.account, region: plan.region, dryRun: plan.dryRun,
                                                          breakerOpened: breakerOpened), now: now)
        return BlockOutcome(result: .refused(refusal), events: [event], breakerOpened: breakerOpened)
    }

    // MARK: - Lifting blocks

    /// Lifts every block expired at `now`: runs the unblock path of the handler that applied it
    /// (`enforce` overrides it), removes the entry, and returns one outcome each, with its
    /// `User Unblocked` event.
    ///
    /// An entry whose block was applied stays when its unblock path fails (the next call tries again);
    /// one that was never applied (recorded only, or its handler failed) is removed regardless.
    ///
    /// With ``Settings/dryRun`` (`run --dry-run-blocks`) nothing real happens: a real block whose
    /// handler ran (or may have run) is left on the blocklist, untouched, for a run without the flag
    /// or `tripline blocklist expire` (``expiredNeedingRealUnblock(now:)`` lists them); dry-run and
    /// recorded-only entries are lifted as usual.
    public func expire(now: Double, enforce: String? = nil) throws(StateError) -> [UnblockOutcome] {
        var outcomes: [UnblockOutcome] = []
        for entry in try blocklist.expired(now: now) where !needsRealUnblock(entry) {
            let handler: @Sendable (BlockEntry) -> String? = { $0.enforcement == .recorded ? nil : enforce ?? $0.enforce }
            if let outcome = try lift(entry.key, by: "expiry", handler: handler, onlyExpired: true, now: now) { outcomes.append(outcome) }
        }
        return outcomes
    }

    /// The expired entries ``expire(now:enforce:)`` leaves alone because this is a dry-run executor
    /// and lifting them would run a real unblock; empty when ``Settings/dryRun`` is off.
    public func expiredNeedingRealUnblock(now: Double) throws(StateError) -> [BlockEntry] {
        try blocklist.expired(now: now).filter(needsRealUnblock)
    }

    /// Whether lifting `entry` would run a real unblock while every handler run must be a dry run.
    private func needsRealUnblock(_ entry: BlockEntry) -> Bool {
        settings.dryRun && !entry.dryRun && entry.enforcement != .recorded
    }

    /// Removes the entry `key` by hand (`tripline blocklist remove`). Nil when `key` is not on the blocklist.
    ///
    /// As an expiry does, it first runs the unblock path of the handler that applied the block
    /// (`enforce` overrides it, and runs even for an entry only recorded), so the deny policy and the
    /// deactivated keys are lifted, not forgotten; an applied block whose unblock path fails stays.
    /// With `keepEnforcement` no handler runs: the entry is only forgotten, and whatever the handler
    /// applied stays in AWS (the outcome and its `User Unblocked` event say so).
    public func unblock(key: String, enforce: String?, keepEnforcement: Bool = false, now: Double) throws(StateError) -> UnblockOutcome? {
        let handler: @Sendable (BlockEntry) -> String? = { entry in
            if keepEnforcement { return nil }
            return enforce ?? (entry.enforcement == .recorded ? nil : entry.enforce)
        }
        return try lift(key, by: "cli", handler: handler, keepEnforcement: keepEnforcement, onlyExpired: false, now: now)
    }

    private func lift(_ key: String, by: String, handler: (BlockEntry) -> String?, keepEnforcement: Bool = false, onlyExpired: Bool,
                      now: Double) throws(StateError) -> UnblockOutcome? {
        acquire(key)
        defer { release(key) }
        guard let entry = try blocklist.entry(key), !(onlyExpired && entry.isActive(now: now)) else { return nil }
        var outcome: FunctionOutcome?
        var failure: String?
        if let executable = handler(entry) {
            if let principal = BlockPrincipalCoding.principal(json: entry.principal) {
                let request = BlockRequest(action: .unblock, dryRun: entry.dryRun, principal: principal, reason: entry.reason,
                                           rule: entry.rule ?? "cli", eventId: entry.eventID, requestedAt: now, expiresAt: entry.expiresAt)
                let environment = (try? targetEnvironment(rule: entry.rule, target: entry.targetID, configured: nil).get()) ?? [:]
                let run = runHandler(executable, request: request, entry: entry, attempt: 1, environment: environment)
                outcome = run.outcome
                failure = run.failure?.error
            } else {
                failure = "the stored principal cannot be read: \(JSONWriter.string(entry.principal).prefix(200))"
            }
        }
        if let failure, entry.enforcement == .enforced {
            try blocklist.recordError(key, error: "unblock failed: " + failure)
            return UnblockOutcome(entry: entry, removed: false, handler: outcome, error: failure,
                                  events: [BlockEvent.unblockFailed(entry, by: by, error: failure, handler: outcome, now: now)])
        }
        // Another process (a run next to 'tripline blocklist', or the other way round) may have lifted it
        // meanwhile: it is gone either way, and only the one that removed it reports it on the bus.
        let removed = try blocklist.remove(key) != nil
        // Kept only when there was something to keep: a block a handler may have applied.
        let kept = keepEnforcement && entry.enforce != nil && entry.enforcement != .recorded
        return UnblockOutcome(entry: entry, removed: true, handler: outcome, error: failure, keptEnforcement: kept,
                              events: removed ? [BlockEvent.unblocked(entry, by: by, handler: outcome, keptEnforcement: kept, now: now)] : [])
    }

    // MARK: - Marking events

    /// `event` with `"tripline": {"blocked": true}` placed right after `detail` when its principal
    /// (the identity at `principalPath`, default `$.detail.userIdentity`) is on `blocked`: its
    /// resolved key, its ARN or its access key id. `"dryRun": true` is added when every block naming
    /// it is a dry run; `"enforced": false` when the handler failed to apply every block naming it
    /// (`blocked` keeps its meaning, the principal is on the blocklist; `enforced: false` tells a block
    /// that exists only on the list from one applied in AWS).
    ///
    /// A principal not (yet) on `blocked` but with a block in `pending` (a `BlockUser` delivery this
    /// run accepted, still being carried out) is marked `{"blocked": true, "pending": true}`, with
    /// `"dryRun": true` when every pending block of it is a dry run; so is one on the list only in dry
    /// run with a real block pending. Otherwise the blocklist's mark wins.
    ///
    /// A `tripline` member the event already had is removed (or replaced), so it cannot be forged.
    public static func enrich(_ event: JSONValue, with blocked: BlockedKeys, pending: PendingBlocks = .empty, now: Double,
                              principalPath: AlertValuePath? = nil) -> JSONValue {
        guard case .object(var object) = event else { return event }
        let hadMember = object["tripline"] != nil
        guard !blocked.isEmpty || !pending.isEmpty else {
            if hadMember { object["tripline"] = nil; return .object(object) }
            return event
        }
        let identity = principalPath.map { $0.evaluate(in: event) } ?? event["detail"]?["userIdentity"]
        guard let identity, let mark = mark(identity, blocked: blocked, pending: pending, now: now) else {
            if hadMember { object["tripline"] = nil; return .object(object) }
            return event
        }
        object["tripline"] = nil
        let member = JSONMember(key: "tripline", value: .object(mark))
        if let detail = object.members.lastIndex(where: { $0.key == "detail" }) {
            object.members.insert(member, at: detail + 1)
        } else {
            object.members.append(member)
        }
        return .object(object)
    }

    /// ``enrich(_:with:pending:now:principalPath:)`` for compact event bytes; nil when the event is
    /// unchanged (nothing to mark, or not JSON). Parses only when the blocklist or `pending` is not
    /// empty or the bytes mention `tripline`.
    public static func enrich(eventBytes: [UInt8], with blocked: BlockedKeys, pending: PendingBlocks = .empty, now: Double,
                              principalPath: AlertValuePath? = nil) -> [UInt8]? {
        if blocked.isEmpty && pending.isEmpty && !contains(eventBytes, Self.triplineKey, anchor: 1) { return nil }
        guard let event = try? JSONParser.parse(eventBytes) else { return nil }
        let enriched = enrich(event, with: blocked, pending: pending, now: now, principalPath: principalPath)
        return enriched == event ? nil : JSONWriter.bytes(enriched)
    }

    /// The `tripline` member for `identity`, nil when it is neither blocked nor pending.
    private static func mark(_ identity: JSONValue, blocked: BlockedKeys, pending: PendingBlocks, now: Double) -> JSONObject? {
        let candidates = identifiers(identity)
        let listed = candidates.first { blocked.isBlocked($0, now: now) }
        var mark = JSONObject()
        mark["blocked"] = .bool(true)
        // A real block on the list says all there is; a dry-run one gives way to a real pending block.
        if let listed, !blocked.isDryRun(listed) || pending.isEmpty {
            if blocked.isDryRun(listed) { mark["dryRun"] = .bool(true) }
            if blocked.isEnforcementFailed(listed) { mark["enforced"] = .bool(false) }
            return mark
        }
        if let waiting = pending.mark(candidates, now: now), listed == nil || !waiting.dryRun {
            mark["pending"] = .bool(true)
            if waiting.dryRun { mark["dryRun"] = .bool(true) }
            return mark
        }
        guard let listed else { return nil }
        mark["dryRun"] = .bool(true)
        if blocked.isEnforcementFailed(listed) { mark["enforced"] = .bool(false) }
        return mark
    }

    /// What `identity` may be blocked by: the resolved key, the role's ARN, the identity's own ARN,
    /// its access key id.
    static func identifiers(_ identity: JSONValue) -> [String] {
        var candidates: [String] = []
        if case .success(let principal) = PrincipalResolver.resolve(userIdentity: identity) {
            candidates.append(principal.key)
            if let role = principal.roleArn { candidates.append(role) }
        }
        for field in ["arn", "accessKeyId"] {
            if let value = identity[field]?.stringValue, !value.isEmpty { candidates.append(value) }
        }
        return candidates
    }

    /// The identifier by which `identity` is blocked, if it is: the resolved key, the role's ARN,
    /// the identity's own ARN, its access key id.
    static func blockedIdentifier(_ identity: JSONValue, in blocked: BlockedKeys, now: Double) -> String? {
        identifiers(identity).first { blocked.isBlocked($0, now: now) }
    }

    /// The block a delivery of `event` to `target` is expected to make, for marking the principal's
    /// later events before it is carried out; nil when ``block(_:now:)`` would refuse it without
    /// looking at the blocklist or the circuit breaker (the principal does not resolve, is root or an
    /// AWS service, is protected; the target's environment cannot be resolved). Reads no state.
    public func expectedBlock(of event: JSONValue, rule: String, targetID: String, target: BlockUserTarget,
                              now: Double) -> PendingBlocks.Block? {
        guard case .success(let principal) = PrincipalResolver.resolve(userIdentity: target.principalPath.evaluate(in: event) ?? .null),
              settings.protected.refusal(for: principal) == nil,
              case .success = targetEnvironment(rule: rule, target: targetID, configured: target) else { return nil }
        var identifiers = [principal.key]
        for candidate in [principal.arn, principal.accessKeyId] {
            if let candidate, !candidate.isEmpty, !identifiers.contains(candidate) { identifiers.append(candidate) }
        }
        return PendingBlocks.Block(key: principal.key, identifiers: identifiers, expiresAt: target.durationSeconds.map { now + $0 } ?? .infinity,
                                   dryRun: target.dryRun || settings.dryRun)
    }

    /// The quoted key `"tripline"`, as event bytes would hold it.
    private static let triplineKey = Array("\"tripline\"".utf8)

    /// Whether `needle` occurs in `haystack`. This runs on every event: `memchr` finds the
    /// candidates for `needle[anchor]` (pick a byte rarer than the quotes JSON is full of), where a
    /// byte-by-byte loop cost ~10 instructions per event byte.
    private static func contains(_ haystack: [UInt8], _ needle: [UInt8], anchor: Int = 0) -> Bool {
        guard needle.indices.contains(anchor), haystack.count >= needle.count else { return false }
        return haystack.withUnsafeBufferPointer { h in
            guard let base = h.baseAddress else { return false }
            var from = anchor
            while from < h.count, let hit = memchr(base + from, Int32(needle[anchor]), h.count - from) {
                let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                let start = at - anchor
                if start + needle.count <= h.count, h[start..<(start + needle.count)].elementsEqual(needle) { return true }
                from = at + 1
            }
            return false
        }
    }

    // MARK: - Parts

    /// Asks the breaker about a block at `now`; an allowed block is counted and its new state returned.
    private enum BreakerAnswer {
        case allow(BlockBreakerState)
        case refuse(BlockRefusal, firstRefusal: Bool)
    }

    private func decide(now: Double) -> BreakerAnswer {
        breakerLock.lock()
        let decision = breaker.decide(now: now)
        // With the limits this run uses, so 'tripline status' can say whether the breaker is open.
        let state = BlockBreakerState(recentBlocks: breaker.recentBlocks, isTripped: breaker.isTripped, maxBlocks: breaker.maxBlocks,
                                      windowSeconds: breaker.windowSeconds)
        breakerLock.unlock()
        switch decision {
        case .allow:
            return .allow(state)
        case .refuse(let refusal, let first):
            // Remember that it tripped, so a restart does not alert again; a failure to save only means it might.
            try? blocklist.saveBreakerState(state, now: now)
            return .refuse(refusal, firstRefusal: first)
        }
    }

    /// Forgets a block counted at `now` that was not written after all.
    private func uncount(_ now: Double) {
        breakerLock.lock()
        defer { breakerLock.unlock() }
        var times = breaker.recentBlocks
        if let index = times.lastIndex(of: now) { times.remove(at: index) }
        breaker = BlockCircuitBreaker(maxBlocks: breaker.maxBlocks, windowSeconds: breaker.windowSeconds, recentBlocks: times,
                                      isTripped: breaker.isTripped)
    }

    private struct HandlerRun {
        var outcome: FunctionOutcome?
        var failure: (error: String, retryable: Bool)?
    }

    /// Runs `executable` with `request` on standard input and the delivery's environment: the
    /// target's resolved `environment`, then ``Settings/environment`` over it, then `TRIPLINE_*`.
    private func runHandler(_ executable: String, request: BlockRequest, entry: BlockEntry, attempt: Int,
                            environment targetEnvironment: [String: String]) -> HandlerRun {
        let eventID = entry.eventID ?? "manual-" + BlockRequest.iso8601(entry.addedAt)
        var environment = HandlerEnvironment.make(
            delivery: HandlerEnvironment.Delivery(ruleName: entry.rule ?? "cli", targetID: entry.targetID ?? "blocklist", eventID: eventID,
                                                  attempt: attempt),
            target: targetEnvironment.merging(settings.environment) { _, given in given }, inherited: settings.inheritedEnvironment)
        environment["TRIPLINE_DRY_RUN"] = request.dryRun ? "1" : nil
        let invocation = FunctionInvocation(executable: executable, environment: environment, payload: request.payload,
                                            timeoutSeconds: settings.handlerTimeoutSeconds)
        do {
            let outcome = try runner.run(invocation)
            if outcome.succeeded { return HandlerRun(outcome: outcome) }
            var error = outcome.summary
            if let line = Self.lastLine(outcome.stderr) { error += ": " + line }
            return HandlerRun(outcome: outcome, failure: (error, outcome.exitStatus != Self.permanentFailureExitStatus))
        } catch {
            // A handler that cannot be started will not start on a retry either.
            return HandlerRun(failure: (error.description, !error.isPermanent))
        }
    }

    /// The last non-empty line of a handler's output, at most 300 characters.
    private static func lastLine(_ bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let line = text.split(whereSeparator: \.isNewline).last(where: { !$0.allSatisfy(\.isWhitespace) }) else { return nil }
        return line.count > 300 ? String(line.prefix(300)) + "…" : String(line)
    }

    private func acquire(_ key: String) {
        keys.lock()
        while busyKeys.contains(key) { keys.wait() }
        busyKeys.insert(key)
        keys.unlock()
    }

    private func release(_ key: String) {
        keys.lock()
        busyKeys.remove(key)
        keys.broadcast()
        keys.unlock()
    }
}
