import Foundation
import TriplineJSON
import TriplineState
import TriplineTargets

/// Runs one delivery attempt against the target the current rule set names.
///
/// Deliveries are stored with the event, not the rendered input, so an attempt (a retry, a resumed
/// delivery, a redriven dead letter) renders the input with the target as it is now configured.
public struct TargetExecutor: Sendable {
    /// A handler exit status meaning "this event will never work": straight to the dead letters.
    public static let permanentFailureExitStatus: Int32 = 65

    private let targets: [String: (rule: Rule, target: Target)]
    let topics: [String: Topic]
    /// Subscriptions by `topic:<name>/<id>`.
    let subscriptions: [String: (topic: Topic, subscription: TopicSubscription)]
    private let runner: FunctionRunner
    let webhooks: WebhookRegistry
    /// The files `File` subscriptions append to, kept open across messages.
    public let appendFiles = AppendFiles()
    private let blocking: BlockUserExecutor?
    private let emit: @Sendable ([JSONValue]) -> Void
    private let stateDirectory: String?

    /// `blocking` runs `BlockUser` targets (nil: they fail permanently); `emit` receives the events
    /// they put back on the bus.
    public init(rules: RuleSet, runner: FunctionRunner = FunctionRunner(), webhooks: WebhookRegistry = .none,
                blocking: BlockUserExecutor? = nil, emit: @escaping @Sendable ([JSONValue]) -> Void = { _ in }, stateDirectory: String?) {
        var targets: [String: (rule: Rule, target: Target)] = [:]
        for rule in rules.rules {
            for target in rule.targets { targets[DeliveryKey.target(rule: rule.name, target: target.id)] = (rule, target) }
        }
        self.targets = targets
        var topics: [String: Topic] = [:]
        var subscriptions: [String: (topic: Topic, subscription: TopicSubscription)] = [:]
        for topic in rules.topics {
            topics[topic.name] = topic
            for subscription in topic.subscriptions {
                subscriptions[DeliveryKey.target(rule: topic.deliveryRule, target: subscription.id)] = (topic, subscription)
            }
        }
        self.topics = topics
        self.subscriptions = subscriptions
        self.runner = runner
        self.webhooks = webhooks
        self.blocking = blocking
        self.emit = emit
        self.stateDirectory = stateDirectory
    }

    /// The dispatcher's view of a target; nil when no loaded rule has it.
    public func settings(rule: String, target: String) -> DeliveryTargetSettings? {
        if let (_, subscription) = subscriptions[DeliveryKey.target(rule: rule, target: target)] {
            let file = subscription.deadLetterConfig?.path
                ?? stateDirectory.map { DeadLetterFile.defaultPath(stateDirectory: $0, rule: rule, target: subscription.id) }
            return DeliveryTargetSettings(maxConcurrency: subscription.maxConcurrency, retryPolicy: subscription.retryPolicy, deadLetterFile: file)
        }
        guard let (_, target) = targets[DeliveryKey.target(rule: rule, target: target)] else { return nil }
        let file = target.deadLetterConfig?.path
            ?? stateDirectory.map { DeadLetterFile.defaultPath(stateDirectory: $0, rule: rule, target: target.id) }
        let concurrency: Int
        switch target.kind {
        case .function(let function): concurrency = function.maxConcurrency
        case .webhook(let webhook): concurrency = webhook.maxConcurrency
        case .blockUser: concurrency = 1
        case .topic: concurrency = TargetExecutor.publishConcurrency
        }
        return DeliveryTargetSettings(maxConcurrency: concurrency, retryPolicy: target.retryPolicy, deadLetterFile: file)
    }

    /// Whether deliveries to `rule/target` are made at all (an optional webhook whose variables are unset is off).
    public func isEnabled(rule: String, target: String) -> Bool {
        !webhooks.isDisabled(DeliveryKey.target(rule: rule, target: target))
    }

    /// One attempt of `delivery`, numbered `attempt`.
    public func attempt(_ delivery: StoredDelivery, attempt: Int) -> AttemptReport {
        if let (topic, subscription) = subscriptions[delivery.queued.targetKey] {
            return attemptSubscription(subscription, of: topic, delivery: delivery, attempt: attempt)
        }
        guard let (rule, target) = targets[delivery.queued.targetKey] else {
            return AttemptReport(outcome: .failed(error: "no such target", retryable: false, retryAfter: nil), summary: "no such target")
        }
        let payload: [UInt8]
        let event: JSONValue
        do {
            event = try JSONParser.parse(delivery.event)
            payload = try target.input.render(event: event, eventBytes: delivery.event, ruleName: rule.name, ingestionTime: delivery.ingestionTime)
        } catch {
            let message = "cannot build the target input: \(error)"
            return AttemptReport(outcome: .failed(error: message, retryable: false, retryAfter: nil), summary: message)
        }
        switch target.kind {
        case .function(let function):
            return runFunction(function, rule: rule.name, target: target.id, delivery: delivery, attempt: attempt, payload: payload)
        case .webhook(let spec):
            let alert = {
                AlertContext(ruleName: rule.name, description: rule.description, severity: rule.severity.flatMap { AlertSeverity(parsing: $0) },
                             suppressedCount: delivery.suppressedCount > 0 ? delivery.suppressedCount : nil)
            }
            return attemptWebhook(spec, delivery: delivery, event: event, payload: payload, alert: { alert() })
        case .blockUser(let block):
            return attemptBlock(block, rule: rule, target: target, delivery: delivery, event: event, attempt: attempt)
        case .topic(let name):
            return publish(payload, to: name, rule: rule, event: event, delivery: delivery)
        }
    }

    func runFunction(_ function: FunctionTarget, rule: String, target: String, delivery: StoredDelivery, attempt: Int,
                     payload: [UInt8]) -> AttemptReport {
        let environment = HandlerEnvironment.make(
            delivery: HandlerEnvironment.Delivery(ruleName: rule, targetID: target, eventID: delivery.eventID, attempt: attempt,
                                                  suppressedCount: delivery.suppressedCount),
            target: function.environment)
        let invocation = FunctionInvocation(executable: function.handlerPath, arguments: function.args, environment: environment,
                                            payload: payload, timeoutSeconds: function.timeoutSeconds)
        do {
            let outcome = try runner.run(invocation)
            if outcome.succeeded { return AttemptReport(outcome: .delivered, function: outcome, summary: outcome.summary) }
            let permanent = outcome.exitStatus == Self.permanentFailureExitStatus
            return AttemptReport(outcome: .failed(error: outcome.failureDescription, retryable: !permanent, retryAfter: nil), function: outcome,
                                 summary: outcome.summary)
        } catch {
            // A handler that cannot be started will not start on a retry either.
            return AttemptReport(outcome: .failed(error: error.description, retryable: !error.isPermanent, retryAfter: nil), summary: error.description)
        }
    }

    private func attemptBlock(_ block: BlockUserTarget, rule: Rule, target: Target, delivery: StoredDelivery, event: JSONValue,
                              attempt: Int) -> AttemptReport {
        // Tripline's own events (User Blocked, …) never block anyone: no loops.
        if event["source"]?.stringValue == BlockEvent.source {
            return AttemptReport(outcome: .delivered, summary: "skipped: events from source \"\(BlockEvent.source)\" never block")
        }
        guard let blocking else {
            let message = "user blocking is not set up in this run"
            return AttemptReport(outcome: .failed(error: message, retryable: false, retryAfter: nil), summary: message)
        }
        let outcome = blocking.block(BlockUserExecutor.Delivery(rule: rule.name, targetID: target.id, target: block, event: event,
                                                                eventID: delivery.eventID, attempt: attempt), now: StateTime.now())
        emit(outcome.events)
        if outcome.succeeded {
            var notice: String?
            if case .refused = outcome.result { notice = outcome.summary }
            return AttemptReport(outcome: .delivered, function: outcome.handler, summary: outcome.summary, notice: notice)
        }
        var retryable = true
        var failedEvents: [JSONValue] = []
        if case .failed(entry: let entry, error: let error, retryable: let canRetry) = outcome.result {
            retryable = canRetry
            if let entry { failedEvents = [BlockEvent.blockFailed(entry, error: error, now: StateTime.now())] }
        }
        return AttemptReport(outcome: .failed(error: outcome.summary, retryable: retryable, retryAfter: nil), function: outcome.handler,
                             summary: outcome.summary, eventsIfDeadLettered: failedEvents)
    }

    func attemptWebhook(_ spec: WebhookTargetSpec, delivery: StoredDelivery, event: @autoclosure () -> JSONValue?, payload: [UInt8],
                        alert: () -> AlertContext) -> AttemptReport {
        guard let resolved = webhooks.target(delivery.queued.targetKey), let client = webhooks.client else {
            let message = "the webhook is switched off (a variable it needs is unset)"
            return AttemptReport(outcome: .failed(error: message, retryable: false, retryAfter: nil), summary: message)
        }
        var body = payload
        if spec.format == .slack {
            body = JSONWriter.bytes(SlackMessage.render(event: event() ?? .string(String(decoding: payload, as: UTF8.self)), alert: alert()))
        }
        let result = client.sendAndWait(resolved.request(body: body, messageID: delivery.idempotencyKey, suppressedCount: delivery.suppressedCount))
        let took = " in " + formatSeconds(result.durationSeconds)
        switch WebhookOutcome.classify(result) {
        case .delivered(let status):
            return AttemptReport(outcome: .delivered, summary: "HTTP \(status)\(took)")
        case .retry(let reason, let retryAfter):
            // The server asked to wait (429/503 Retry-After, bounded by classify): every delivery to its URL waits.
            if let retryAfter { resolved.pauseDeliveries(forSeconds: retryAfter) }
            return AttemptReport(outcome: .failed(error: reason + took, retryable: true, retryAfter: retryAfter), summary: reason + took)
        case .permanent(let reason):
            return AttemptReport(outcome: .failed(error: reason + took, retryable: false, retryAfter: nil), summary: reason + took)
        case .notSent(let reason, let retryAfter):
            return AttemptReport(outcome: .notAttempted(reason: reason, retryAfter: retryAfter), summary: reason)
        }
    }
}
