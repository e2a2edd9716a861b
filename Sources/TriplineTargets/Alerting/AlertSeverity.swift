/// How serious an alert is: the rule's `Severity`, lowest first.
///
/// The raw values are the words rule files use (`informational`, `low`, `medium`, `high`,
/// `critical`); ``init(parsing:)`` also accepts a few common spellings and any letter case.
public enum AlertSeverity: String, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    case informational
    case low
    case medium
    case high
    case critical

    /// The severity named by `text` (case-insensitive; `info` and `crit` are accepted), or nil.
    public init?(parsing text: String) {
        switch text.lowercased() {
        case "informational", "info": self = .informational
        case "low": self = .low
        case "medium", "moderate": self = .medium
        case "high": self = .high
        case "critical", "crit": self = .critical
        default: return nil
        }
    }

    /// A Slack emoji shortcode shown before the alert's title.
    public var emoji: String {
        switch self {
        case .informational: return ":information_source:"
        case .low: return ":large_blue_circle:"
        case .medium: return ":large_yellow_circle:"
        case .high: return ":large_orange_circle:"
        case .critical: return ":red_circle:"
        }
    }

    /// A colour for chat tools that take one (Slack attachments, Teams `themeColor`, Discord embeds), as `#RRGGBB`.
    public var colour: String {
        switch self {
        case .informational: return "#439FE0"
        case .low: return "#2EB67D"
        case .medium: return "#ECB22E"
        case .high: return "#E8912D"
        case .critical: return "#E01E5A"
        }
    }

    /// The upper-case label shown in alert text (`HIGH`).
    public var label: String { rawValue.uppercased() }

    public var description: String { rawValue }

    private var rank: Int { AlertSeverity.allCases.firstIndex(of: self) ?? 0 }

    public static func < (lhs: AlertSeverity, rhs: AlertSeverity) -> Bool { lhs.rank < rhs.rank }
}
