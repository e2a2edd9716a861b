/// What an ``AlertGate`` decided for one match.
public enum AlertDecision: Sendable, Equatable, CustomStringConvertible {
    /// Deliver the alert. `suppressedSinceLast` matches for this key were held back since the last
    /// alert sent for it (suppressed ones, and for a threshold the earlier matches that reached it);
    /// show it as "and N more like this".
    case send(suppressedSinceLast: Int)
    /// Do not deliver: an alert for this key went out within the suppression window. The match is
    /// counted and reported with the next alert sent.
    case suppress
    /// Do not deliver: `count` matches for this key are in the threshold window, fewer than needed.
    case belowThreshold(count: Int)

    /// True for ``send(suppressedSinceLast:)``.
    public var shouldSend: Bool {
        if case .send = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .send(let n): return n == 0 ? "send" : "send (\(n) held back since the last alert)"
        case .suppress: return "suppress"
        case .belowThreshold(let count): return "below threshold (\(count) in the window)"
        }
    }
}
