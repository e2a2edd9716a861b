import TriplineJSON

/// When a rule's alerts go out: the target's `Suppress` and `Threshold` options, parsed.
///
/// `Suppress: {"Key": …, "WindowSeconds": 300}` sends the first alert per key per window and folds
/// the rest into a count shown on the next alert. `Threshold: {"Count": 5, "WindowSeconds": 60,
/// "Key": …}` sends only once `Count` matches for a key fall within the window (then starts counting
/// again). With both, the threshold is applied first and suppression to the alerts it lets through;
/// both must then use the same `Key` (or only one gives it). With neither, every match is sent.
public struct AlertGatePolicy: Sendable, Equatable {
    /// Seconds an alert for a key holds back the next ones, or nil for no suppression.
    public var suppressWindowSeconds: Double?
    /// Matches needed within ``thresholdWindowSeconds`` before an alert is sent; nil for no threshold.
    public var thresholdCount: Int?
    /// The threshold's window in seconds.
    public var thresholdWindowSeconds: Double?
    /// How the key is made from an event; nil keys every event the same (one key per rule target).
    public var key: AlertKey?

    /// Longest window accepted: 7 days.
    public static let maxWindowSeconds: Double = 7 * 86_400
    /// Largest threshold count accepted.
    public static let maxThresholdCount = 1_000

    public init(suppressWindowSeconds: Double? = nil, thresholdCount: Int? = nil, thresholdWindowSeconds: Double? = nil, key: AlertKey? = nil) {
        self.suppressWindowSeconds = suppressWindowSeconds
        self.thresholdCount = thresholdCount
        self.thresholdWindowSeconds = thresholdWindowSeconds
        self.key = key
    }

    /// True when every match is sent (no suppression, no threshold).
    public var isPassThrough: Bool { suppressWindowSeconds == nil && thresholdCount == nil }

    /// The longest window in effect: how long a key's state matters after its last match.
    public var retentionSeconds: Double { max(suppressWindowSeconds ?? 0, thresholdWindowSeconds ?? 0) }

    /// The key for `event` (empty when the policy has none).
    public func key(for event: JSONValue) -> String { key?.render(event) ?? "" }

    /// Parses a target's `Suppress` and `Threshold` values (either may be nil), collecting every problem.
    public static func parse(suppress: JSONValue?, threshold: JSONValue?, paths: [String: String] = [:]) -> Result<AlertGatePolicy, TargetOptionError> {
        var problems: [TargetOptionError.Problem] = []
        var policy = AlertGatePolicy()
        var suppressKey: AlertKey?
        var thresholdKey: AlertKey?

        func window(_ object: JSONObject, _ option: String) -> Double? {
            guard let value = object["WindowSeconds"] else {
                problems.append(.init(option: option, field: "WindowSeconds", message: "is required (seconds, e.g. 300)"))
                return nil
            }
            guard let number = value.numberValue?.value, number.isFinite, number >= 1, number <= maxWindowSeconds else {
                problems.append(.init(option: option, field: "WindowSeconds", message: "must be a number of seconds from 1 to \(Int(maxWindowSeconds)), got \(JSONWriter.string(value).prefix(40))"))
                return nil
            }
            return number
        }
        func keyOf(_ object: JSONObject, _ option: String) -> AlertKey? {
            guard let value = object["Key"] else { return nil }
            guard let text = value.stringValue else {
                problems.append(.init(option: option, field: "Key", message: "must be a string: a path such as \"$.detail.userIdentity.arn\" or a template"))
                return nil
            }
            do { return try AlertKey(parsing: text, paths: paths) } catch {
                problems.append(.init(option: option, field: "Key", message: error.description))
                return nil
            }
        }
        func unknownFields(_ object: JSONObject, _ option: String, allowed: Set<String>) {
            for member in object.members where !allowed.contains(member.key) {
                problems.append(.init(option: option, field: member.key, message: "is not a known field (expected one of \(allowed.sorted().joined(separator: ", ")))"))
            }
        }

        if let suppress {
            if let object = suppress.objectValue {
                unknownFields(object, "Suppress", allowed: ["Key", "WindowSeconds"])
                policy.suppressWindowSeconds = window(object, "Suppress")
                suppressKey = keyOf(object, "Suppress")
            } else {
                problems.append(.init(option: "Suppress", field: nil, message: "must be an object such as {\"Key\": \"$.detail.userIdentity.arn\", \"WindowSeconds\": 300}"))
            }
        }
        if let threshold {
            if let object = threshold.objectValue {
                unknownFields(object, "Threshold", allowed: ["Key", "WindowSeconds", "Count"])
                policy.thresholdWindowSeconds = window(object, "Threshold")
                thresholdKey = keyOf(object, "Threshold")
                if let value = object["Count"] {
                    if let n = value.numberValue, n.isIntegerLiteral, n.value >= 1, n.value <= Double(maxThresholdCount) {
                        policy.thresholdCount = Int(n.value)
                    } else {
                        problems.append(.init(option: "Threshold", field: "Count", message: "must be a whole number from 1 to \(maxThresholdCount), got \(JSONWriter.string(value).prefix(40))"))
                    }
                } else {
                    problems.append(.init(option: "Threshold", field: "Count", message: "is required (matches needed within the window, e.g. 5)"))
                }
            } else {
                problems.append(.init(option: "Threshold", field: nil, message: "must be an object such as {\"Count\": 5, \"WindowSeconds\": 60}"))
            }
        }
        if let a = suppressKey, let b = thresholdKey, a.text != b.text {
            problems.append(.init(option: "Threshold", field: "Key", message: "differs from Suppress.Key; both count the same key, so give it once or make them equal"))
        }
        policy.key = suppressKey ?? thresholdKey
        if problems.isEmpty { return .success(policy) }
        return .failure(TargetOptionError(problems: problems))
    }
}
