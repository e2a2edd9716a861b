import TriplineState
import TriplineTargets

/// The `Environment` of every `BlockUser` target of a rule set, with its `${NAME}` placeholders
/// filled from Tripline's own environment, keyed by `rule/target`.
///
/// Resolved once, when a run (or `tripline blocklist expire|remove --rules`) starts, as webhook
/// targets are: an unset variable is a problem naming the rule, target and variable (never a value),
/// and the caller refuses to start. The values live only in memory: the blocklist stores the rule and
/// target an entry came from, never the environment, so an unblock finds it here again.
public enum BlockUserEnvironments {
    /// Resolves every `BlockUser` target of `rules` against `environment`; returns the environments,
    /// the problems (one line each, as ``WebhookRegistry/resolve(rules:environment:)`` words them) and
    /// whether any of them is an unset variable.
    public static func resolve(rules: RuleSet, environment: [String: String])
        -> (environments: [String: [String: String]], errors: [String], missingVariables: Bool) {
        var environments: [String: [String: String]] = [:]
        var errors: [String] = []
        var missingVariables = false
        for rule in rules.rules {
            for target in rule.targets {
                guard case .blockUser(let block) = target.kind else { continue }
                do {
                    environments[DeliveryKey.target(rule: rule.name, target: target.id)] = try block.resolvedEnvironment(from: environment)
                } catch {
                    errors.append("\(rule.file): rule \(rule.name), target \(target.id): \(error)")
                    if case .missingVariable = error { missingVariables = true }
                }
            }
        }
        return (environments, errors, missingVariables)
    }
}
