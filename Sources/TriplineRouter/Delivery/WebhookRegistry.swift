import TriplineState
import TriplineTargets

/// The webhook targets of a rule set, resolved against the environment, and the one client they share.
///
/// Built when a run starts: a `${NAME}` a target needs that is unset is an error naming the rule,
/// target and variable (never a value), unless the target is `Optional`, in which case it is switched
/// off and listed in ``disabled``. The client (libcurl multi, connection reuse) exists only when
/// some webhook target is in use.
public final class WebhookRegistry {
    public let client: WebhookClient?
    private let targets: [String: WebhookTarget]
    /// `rule/target` of optional targets switched off, with the reason.
    public let disabled: [(key: String, reason: String)]

    /// An empty registry (no webhook targets).
    public static let none = WebhookRegistry(client: nil, targets: [:], disabled: [])

    private init(client: WebhookClient?, targets: [String: WebhookTarget], disabled: [(key: String, reason: String)]) {
        self.client = client
        self.targets = targets
        self.disabled = disabled
    }

    /// Resolves every webhook target of `rules`; returns the registry, or the problems (one line each) and
    /// whether any of them is an unset variable (the one problem `Optional` forgives, and a hint to give).
    ///
    /// An `Optional` target is switched off only for an unset variable; any other problem (a URL that is
    /// not usable once expanded, an unreadable CA bundle) is an error, as for any target.
    ///
    /// With `previous` (the registry of the rules being replaced, as a reload does), a URL keeps its
    /// `Retry-After` pause, and its rate limit's bucket when the limit is unchanged: a reload must
    /// not let a burst through that the receiver asked to hold back.
    public static func resolve(rules: RuleSet, environment: [String: String], previous: WebhookRegistry? = nil)
        -> (registry: WebhookRegistry, errors: [String], missingVariables: Bool) {
        var targets: [String: WebhookTarget] = [:]
        var disabled: [(key: String, reason: String)] = []
        var errors: [String] = []
        var missingVariables = false
        var limiters: [String: TokenBucket] = [:]
        var pauses: [String: DeliveryPause] = [:]
        var previousLimiters: [String: TokenBucket] = [:]
        for target in previous?.targets.values.map({ $0 }) ?? [] {
            pauses[target.url] = target.pause
            if let limiter = target.rateLimiter { previousLimiters[target.url] = limiter }
        }
        var specs: [(key: String, spec: WebhookTargetSpec, owner: String)] = []
        for rule in rules.rules {
            for target in rule.targets {
                guard case .webhook(let spec) = target.kind else { continue }
                specs.append((DeliveryKey.target(rule: rule.name, target: target.id), spec, "\(rule.file): rule \(rule.name), target \(target.id)"))
            }
        }
        for topic in rules.topics {
            for subscription in topic.subscriptions {
                guard case .webhook(let spec) = subscription.kind else { continue }
                specs.append((DeliveryKey.target(rule: topic.deliveryRule, target: subscription.id), spec,
                              "\(topic.file): topic \(topic.name), subscription \(subscription.id)"))
            }
        }
        for (key, spec, owner) in specs {
            do {
                var resolved = try spec.configuration.resolve(environment: environment)
                // One limit and one Retry-After pause per URL: the first target's are shared by the others.
                var limiter = resolved.rateLimiter
                if let own = limiter {
                    if let shared = limiters[resolved.url] {
                        limiter = shared
                    } else {
                        let kept = previousLimiters[resolved.url].flatMap { $0.ratePerSecond == own.ratePerSecond && $0.burst == own.burst ? $0 : nil }
                        limiter = kept ?? own
                        limiters[resolved.url] = limiter
                    }
                }
                let pause = pauses[resolved.url] ?? resolved.pause
                pauses[resolved.url] = pause
                resolved = resolved.sharing(rateLimiter: limiter, pause: pause)
                targets[key] = resolved
            } catch {
                if spec.optional && error.isMissingVariable {
                    disabled.append((key, "\(error)"))
                } else if error.isMissingVariable {
                    // Every variable the target lacks at once, not one per attempt (as validate lists them).
                    let missing = spec.configuration.requiredVariables.filter { (environment[$0] ?? "").isEmpty }
                    errors.append(missing.count > 1
                        ? "\(owner): needs environment variables " + missing.joined(separator: ", ") + ", which are not set or empty"
                        : "\(owner): \(error)")
                    missingVariables = true
                } else {
                    errors.append("\(owner): \(error)")
                }
            }
        }
        guard errors.isEmpty else { return (.none, errors, missingVariables) }
        if targets.isEmpty { return (WebhookRegistry(client: nil, targets: [:], disabled: disabled), [], false) }
        do {
            let client = try WebhookClient()
            return (WebhookRegistry(client: client, targets: targets, disabled: disabled), [], false)
        } catch {
            return (.none, ["cannot start the webhook client: \(error)"], false)
        }
    }

    /// Drops the rate-limit reservations of requests that are gone (``TokenBucket/forgiveReservations()``):
    /// for a registry that took over the buckets of one whose deliveries a reload's pause cut off.
    public func forgiveReservations() {
        for target in targets.values { target.rateLimiter?.forgiveReservations() }
    }

    /// The resolved target `rule/target`, nil when it is not a webhook or was switched off.
    public func target(_ key: String) -> WebhookTarget? { targets[key] }

    /// Whether `rule/target` was switched off because a variable it needs is unset.
    public func isDisabled(_ key: String) -> Bool { disabled.contains { $0.key == key } }
}

extension WebhookRegistry: @unchecked Sendable {}
