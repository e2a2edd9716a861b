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
        UTCTime.iso8601(seconds)
    }
}
