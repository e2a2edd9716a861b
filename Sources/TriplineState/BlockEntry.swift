import TriplineJSON

/// One principal on the blocklist: whom, why, who put it there, until when, and whether the block
/// was applied.
///
/// The principal is kept as the JSON its resolver produced (`{"kind", "key", "arn", …}`), so the
/// state module stays independent of the targets module. ``key`` is the stable identity
/// (`BlockPrincipal.key`): the user's or role's ARN, or the Identity Center user's store path.
public struct BlockEntry: Sendable, Equatable {
    /// Whether the enforcement handler has applied the block.
    public enum Enforcement: String, Sendable, Equatable, CaseIterable {
        /// On the list; the handler has not finished yet (or the process stopped while it ran).
        case pending
        /// The handler succeeded.
        case enforced
        /// The handler's last run failed; a retry runs it again.
        case failed
        /// On the list only: no handler was asked to apply it (`tripline blocklist add` without `--enforce`).
        case recorded
    }

    /// The blocklist key (primary key).
    public var key: String
    /// The principal as its resolver wrote it (an object with at least `kind` and `key`).
    public var principal: JSONValue
    /// `iamUser`, `assumedRole`, `federatedUser` or `identityCenterUser`.
    public var kind: String
    /// The acting principal's ARN, when known.
    public var arn: String?
    /// The access key of the call that triggered the block, when known.
    public var accessKeyId: String?
    /// The account of the triggering event (for a block by hand, the principal's): copied into the
    /// events emitted about this block. The principal's own account is in ``principal``.
    public var accountId: String?
    /// The region of the triggering event: copied into the events emitted about this block.
    public var region: String?
    /// Why, as the target's `Reason` or the `--reason` given.
    public var reason: String
    /// The rule that blocked it; nil for a block added by hand.
    public var rule: String?
    /// The rule target that blocked it.
    public var targetID: String?
    /// The id of the event that triggered the block.
    public var eventID: String?
    /// Unix time the block was decided.
    public var addedAt: Double
    /// Unix time the block ends; nil for a block that stays until removed.
    public var expiresAt: Double?
    /// `rule <name>` or `cli`.
    public var addedBy: String
    /// A dry run: the handler was told to change nothing.
    public var dryRun: Bool
    /// The enforcement handler that applied it (and whose unblock path lifts it).
    public var enforce: String?
    public var enforcement: Enforcement
    /// Handler runs for the block so far.
    public var enforcementAttempts: Int
    /// The last handler failure (block or unblock), if any.
    public var lastError: String?
    /// Unix time the handler succeeded.
    public var enforcedAt: Double?

    public init(key: String, principal: JSONValue, kind: String, arn: String? = nil, accessKeyId: String? = nil, accountId: String? = nil,
                region: String? = nil, reason: String, rule: String? = nil, targetID: String? = nil, eventID: String? = nil,
                addedAt: Double, expiresAt: Double? = nil, addedBy: String, dryRun: Bool = false, enforce: String? = nil,
                enforcement: Enforcement = .pending, enforcementAttempts: Int = 0, lastError: String? = nil, enforcedAt: Double? = nil) {
        self.key = key
        self.principal = principal
        self.kind = kind
        self.arn = arn
        self.accessKeyId = accessKeyId
        self.accountId = accountId
        self.region = region
        self.reason = reason
        self.rule = rule
        self.targetID = targetID
        self.eventID = eventID
        self.addedAt = addedAt
        self.expiresAt = expiresAt
        self.addedBy = addedBy
        self.dryRun = dryRun
        self.enforce = enforce
        self.enforcement = enforcement
        self.enforcementAttempts = enforcementAttempts
        self.lastError = lastError
        self.enforcedAt = enforcedAt
    }

    /// True while the block lasts at `now` (no expiry, or an expiry after `now`).
    public func isActive(now: Double) -> Bool {
        guard let expiresAt else { return true }
        return expiresAt > now
    }

    /// The identifiers that mark an event's principal as blocked: the key, the ARN, the access key.
    public var identifiers: [String] {
        var result = [key]
        for candidate in [arn, accessKeyId] {
            if let candidate, !candidate.isEmpty, !result.contains(candidate) { result.append(candidate) }
        }
        return result
    }

    /// The entry as one JSON object: what `tripline blocklist list --json` prints.
    public var json: JSONValue {
        var object = JSONObject()
        object["key"] = .string(key)
        object["kind"] = .string(kind)
        object["principal"] = principal
        object["reason"] = .string(reason)
        object["rule"] = rule.map(JSONValue.string) ?? .null
        object["target"] = targetID.map(JSONValue.string) ?? .null
        object["eventId"] = eventID.map(JSONValue.string) ?? .null
        object["addedAt"] = .string(StateTime.iso8601(addedAt))
        object["expiresAt"] = expiresAt.map { .string(StateTime.iso8601($0)) } ?? .null
        object["addedBy"] = .string(addedBy)
        object["dryRun"] = .bool(dryRun)
        object["enforce"] = enforce.map(JSONValue.string) ?? .null
        object["enforcement"] = .string(enforcement.rawValue)
        object["enforcementAttempts"] = .number(JSONNumber(enforcementAttempts))
        object["lastError"] = lastError.map(JSONValue.string) ?? .null
        object["enforcedAt"] = enforcedAt.map { .string(StateTime.iso8601($0)) } ?? .null
        return .object(object)
    }
}
