import TriplineJSON

/// What the enforcement handler of a `BlockUser` target receives on standard input.
///
/// `{"action": "block"|"unblock", "dryRun": bool, "principal": {…}, "reason", "rule", "eventId",
/// "requestedAt", "expiresAt"}`. Times are UTC ISO 8601 (`2026-11-25T10:00:00Z`); `requestedAt` is
/// when the block was decided (a role block denies sessions issued before it); `expiresAt` is null
/// for a block without a duration. Built as a ``JSONValue``, members in that fixed order.
public struct BlockRequest: Sendable, Equatable {
    /// Block or lift a block.
    public enum Action: String, Sendable, Hashable {
        case block
        case unblock
    }

    public var action: Action
    /// Print what would be done, change nothing.
    public var dryRun: Bool
    public var principal: BlockPrincipal
    /// The target's `Reason`.
    public var reason: String
    /// The rule's name.
    public var rule: String
    /// The id of the event that caused it.
    public var eventId: String?
    /// When the block was decided, in Unix seconds.
    public var requestedAt: Double
    /// When the block ends, in Unix seconds; nil for never.
    public var expiresAt: Double?

    public init(action: Action, dryRun: Bool, principal: BlockPrincipal, reason: String, rule: String,
                eventId: String?, requestedAt: Double, expiresAt: Double?) {
        self.action = action
        self.dryRun = dryRun
        self.principal = principal
        self.reason = reason
        self.rule = rule
        self.eventId = eventId
        self.requestedAt = requestedAt
        self.expiresAt = expiresAt
    }

    /// The request as JSON.
    public var json: JSONValue {
        .object(JSONObject([
            "action": .string(action.rawValue),
            "dryRun": .bool(dryRun),
            "principal": principal.json,
            "reason": .string(reason),
            "rule": .string(rule),
            "eventId": eventId.map(JSONValue.string) ?? .null,
            "requestedAt": .string(BlockRequest.iso8601(requestedAt)),
            "expiresAt": expiresAt.map { .string(BlockRequest.iso8601($0)) } ?? .null,
        ]))
    }

    /// The request as the bytes written to the handler's standard input.
    public var payload: [UInt8] { JSONWriter.bytes(json) }

    /// `seconds` since 1970 as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds rounded down); clamped to years 0001–9999.
    public static func iso8601(_ seconds: Double) -> String {
        let lowest = -62_135_596_800.0, highest = 253_402_300_799.0
        let clamped = seconds.isNaN ? 0 : min(max(seconds, lowest), highest)
        let whole = Int64(clamped.rounded(.down))
        var days = whole / 86_400
        var rest = whole % 86_400
        if rest < 0 { rest += 86_400; days -= 1 }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ n: Int64, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(rest / 3600, 2)):\(pad(rest % 3600 / 60, 2)):\(pad(rest % 60, 2))Z"
    }
}
