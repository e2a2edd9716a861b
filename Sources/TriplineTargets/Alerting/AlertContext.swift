/// What an alert says about the rule that raised it, beside the event itself.
///
/// Built by the router for each delivery; every field is shown as text, escaped, so rule authors
/// may write anything in them.
public struct AlertContext: Sendable, Equatable {
    /// The rule's `Name`.
    public var ruleName: String
    /// The rule's `Description`; empty or nil shows nothing.
    public var description: String?
    /// The rule's `Severity`, when it has one.
    public var severity: AlertSeverity?
    /// How many alerts like this one were held back since the last one sent (see ``AlertGate``);
    /// nil or 0 shows nothing.
    public var suppressedCount: Int?

    public init(ruleName: String, description: String? = nil, severity: AlertSeverity? = nil, suppressedCount: Int? = nil) {
        self.ruleName = ruleName
        self.description = description
        self.severity = severity
        self.suppressedCount = suppressedCount
    }

    /// "and 12 more like this since the previous alert", or nil when nothing was held back.
    ///
    /// Not "in the last 5 minutes": a count is carried to a key's next alert however late that
    /// comes (``AlertGate``), so the window would misstate when they happened.
    public var suppressionNote: String? {
        guard let count = suppressedCount, count > 0 else { return nil }
        return "and \(count) more like this since the previous alert"
    }

    /// "5 minutes", "1 hour", "90 seconds", "2 days": the largest unit that divides evenly.
    public static func durationPhrase(seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 1, seconds < 1e12 else { return "\(seconds) seconds" }
        let whole = Int(seconds.rounded())
        let units: [(Int, String)] = [(86_400, "day"), (3_600, "hour"), (60, "minute"), (1, "second")]
        for (size, name) in units where whole % size == 0 {
            let n = whole / size
            return "\(n) \(name)\(n == 1 ? "" : "s")"
        }
        return "\(whole) seconds"
    }
}
