/// The key deliveries are counted and limited by, and the idempotency key's form.
public enum DeliveryKey {
    public static func idempotencyKey(eventID: String, rule: String, target: String) -> String { "\(eventID):\(rule):\(target)" }
    /// `rule/target`.
    public static func target(rule: String, target: String) -> String { rule + "/" + target }
}
