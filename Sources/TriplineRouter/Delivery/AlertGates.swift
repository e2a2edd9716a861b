import TriplineJSON
import TriplineState
import TriplineTargets

/// The `Suppress` / `Threshold` state of every gated target during a run (router thread only).
///
/// Loaded from the state database at start; changed keys are written back in the same transaction as
/// the deliveries they let through (``AcceptBatch``), so after a crash the suppression windows and
/// counts agree with what was queued.
final class AlertGates {
    private var gates: [String: AlertGate] = [:]
    private var dirty: Set<String> = []

    init(rules: RuleSet, store: StateStore) throws(StateError) {
        let saved = AlertGateStore(store: store)
        for rule in rules.rules {
            for target in rule.targets {
                guard let policy = target.alertGate else { continue }
                let key = DeliveryKey.target(rule: rule.name, target: target.id)
                let rows = try saved.load(target: key).map {
                    AlertGate.Row(key: $0.key, lastSentAt: $0.lastSentAt, heldBack: $0.heldBack, recentMatches: $0.recentMatches, lastSeenAt: $0.lastSeenAt)
                }
                gates[key] = AlertGate(policy: policy, rows: rows)
            }
        }
    }

    /// What to do with a match of `event` for `rule/target`: nil when the target is not gated (deliver).
    func decide(targetKey: String, event: JSONValue, now: Double) -> AlertDecision? {
        guard var gate = gates[targetKey] else { return nil }
        let decision = gate.decide(event: event, now: now)
        gates[targetKey] = gate
        dirty.insert(targetKey)
        return decision
    }

    /// Writes the changed gates; runs inside the batch's transaction.
    func save(_ store: StateStore) throws(StateError) {
        let now = StateTime.now()
        for key in dirty {
            guard var gate = gates[key] else { continue }
            _ = gate.expire(now: now)
            gates[key] = gate
            let records = gate.rows.map {
                AlertGateRecord(key: $0.key, lastSentAt: $0.lastSentAt, heldBack: $0.heldBack, recentMatches: $0.recentMatches, lastSeenAt: $0.lastSeenAt)
            }
            try AlertGateStore.replace(target: key, with: records, in: store)
        }
        dirty.removeAll()
    }

    var hasChanges: Bool { !dirty.isEmpty }
}
