import TriplineJSON
import TriplineState
import TriplineTargets

/// The events blocking emits back into the bus, as EventBridge envelopes with `source` `tripline`,
/// so ordinary rules can alert on them (`{"source": ["tripline"], "detail-type": ["User Blocked"]}`).
///
/// Ids are name-based UUIDs of what the event is about (the block, or the refused delivery), so an
/// event emitted again after a crash has the same id.
public enum BlockEvent {
    /// The `source` of every event blocking emits.
    public static let source = "tripline"

    /// The `detail-type`s.
    public enum DetailType: String, Sendable, CaseIterable {
        /// A principal was put on the blocklist and the handler applied it (or printed it, in a dry run).
        case blocked = "User Blocked"
        /// A block was not made: root, AWS services, protected principals, an open circuit breaker, …
        case refused = "User Block Refused"
        /// A block ended (expiry or removal) and the handler's unblock path ran.
        case unblocked = "User Unblocked"
        /// The handler failed to apply a block for good (its delivery was dead-lettered): the entry is
        /// on the blocklist, marked `failed`, but nothing was applied.
        case blockFailed = "User Block Failed"
        /// The handler's unblock path failed for a block it had applied: the entry stays (expired) and
        /// the next expiry pass tries again.
        case unblockFailed = "User Unblock Failed"
    }

    /// `root`, `awsService`, `protected`, `circuitOpen`, …: a stable code for a refusal, for patterns.
    public static func code(_ refusal: BlockRefusal) -> String {
        switch refusal {
        case .root: return "root"
        case .awsService: return "awsService"
        case .awsAccount: return "awsAccount"
        case .unknownType: return "unknownType"
        case .missingFields: return "missingFields"
        case .invalidField: return "invalidField"
        case .identityCenterRole: return "identityCenterRole"
        case .hiddenUserName: return "hiddenUserName"
        case .protected: return "protected"
        case .circuitOpen: return "circuitOpen"
        }
    }

    /// A `User Blocked` event for `entry`.
    static func blocked(_ entry: BlockEntry, handler: FunctionOutcome?, now: Double) -> JSONValue {
        var detail = entryDetail(entry)
        detail["enforcement"] = handlerDetail(entry.enforce, handler)
        return envelope(.blocked, id: "\(entry.key)/\(entry.addedAt)", time: now, account: entry.accountId, region: entry.region,
                        resources: resources(entry.key, entry.arn), detail: detail)
    }

    /// A `User Unblocked` event for `entry`, lifted by `by` (`expiry` or `cli`); `keptEnforcement`
    /// when it was only forgotten (`blocklist remove --keep-enforcement`): what the handler applied stays.
    static func unblocked(_ entry: BlockEntry, by: String, handler: FunctionOutcome?, keptEnforcement: Bool = false, now: Double) -> JSONValue {
        var detail = entryDetail(entry)
        detail["unblockedBy"] = .string(by)
        detail["wasEnforced"] = .bool(entry.enforcement == .enforced)
        detail["keptEnforcement"] = .bool(keptEnforcement)
        detail["enforcement"] = handlerDetail(entry.enforce, handler)
        return envelope(.unblocked, id: "\(entry.key)/\(entry.addedAt)", time: now, account: entry.accountId, region: entry.region,
                        resources: resources(entry.key, entry.arn), detail: detail)
    }

    /// A `User Block Failed` event for `entry`, whose handler failed with `error`.
    static func blockFailed(_ entry: BlockEntry, error: String, now: Double) -> JSONValue {
        var detail = entryDetail(entry)
        detail["enforcement"] = ["handler": entry.enforce.map(JSONValue.string) ?? .null, "result": .null]
        detail["error"] = .string(error)
        return envelope(.blockFailed, id: "\(entry.key)/\(entry.addedAt)", time: now, account: entry.accountId, region: entry.region,
                        resources: resources(entry.key, entry.arn), detail: detail)
    }

    /// A `User Unblock Failed` event for `entry`, lifted by `by` (`expiry` or `cli`), whose unblock path failed with `error`.
    /// Its id is the same for every failed try of one entry, so a run's journal keeps one delivery of it a day.
    static func unblockFailed(_ entry: BlockEntry, by: String, error: String, handler: FunctionOutcome?, now: Double) -> JSONValue {
        var detail = entryDetail(entry)
        detail["unblockedBy"] = .string(by)
        detail["enforcement"] = handlerDetail(entry.enforce, handler)
        detail["error"] = .string(error)
        return envelope(.unblockFailed, id: "\(entry.key)/\(entry.addedAt)", time: now, account: entry.accountId, region: entry.region,
                        resources: resources(entry.key, entry.arn), detail: detail)
    }

    /// What a refused block knew: the trigger and target, the principal when it was resolved.
    struct Refusal {
        var refusal: BlockRefusal
        var principal: BlockPrincipal?
        /// The raw `userIdentity`, when no principal could be resolved from it.
        var identity: JSONValue?
        var reason: String
        var rule: String?
        var targetID: String?
        var eventID: String?
        var account: String?
        var region: String?
        var dryRun: Bool
        /// This refusal opened the circuit breaker: alert loudly.
        var breakerOpened: Bool
    }

    /// A `User Block Refused` event.
    static func refused(_ refusal: Refusal, now: Double) -> JSONValue {
        var detail = JSONObject()
        detail["principal"] = refusal.principal?.json ?? .null
        if refusal.principal == nil { detail["userIdentity"] = refusal.identity ?? .null }
        detail["reason"] = .string(refusal.reason)
        detail["rule"] = refusal.rule.map(JSONValue.string) ?? .null
        detail["target"] = refusal.targetID.map(JSONValue.string) ?? .null
        detail["triggeringEventId"] = refusal.eventID.map(JSONValue.string) ?? .null
        detail["dryRun"] = .bool(refusal.dryRun)
        detail["refusal"] = ["code": .string(code(refusal.refusal)), "message": .string(refusal.refusal.description)]
        if case .circuitOpen(let count, let limit, let window) = refusal.refusal {
            detail["circuitBreaker"] = ["opened": .bool(refusal.breakerOpened), "blocksInWindow": .number(JSONNumber(count)),
                                        "limit": .number(JSONNumber(limit)), "windowSeconds": .number(JSONNumber(window))]
        }
        detail["breakerOpened"] = .bool(refusal.breakerOpened)
        let key = refusal.principal?.key
        let id = "\(refusal.rule ?? "cli")/\(refusal.targetID ?? "")/\(refusal.eventID ?? key ?? "")/\(code(refusal.refusal))"
        return envelope(.refused, id: id, time: now, account: refusal.account ?? refusal.principal?.accountId, region: refusal.region,
                        resources: key.map { resources($0, refusal.principal?.arn) } ?? [], detail: detail)
    }

    // MARK: - Parts

    private static func entryDetail(_ entry: BlockEntry) -> JSONObject {
        var detail = JSONObject()
        detail["principal"] = entry.principal
        detail["key"] = .string(entry.key)
        detail["reason"] = .string(entry.reason)
        detail["rule"] = entry.rule.map(JSONValue.string) ?? .null
        detail["target"] = entry.targetID.map(JSONValue.string) ?? .null
        detail["triggeringEventId"] = entry.eventID.map(JSONValue.string) ?? .null
        detail["addedBy"] = .string(entry.addedBy)
        detail["addedAt"] = .string(BlockRequest.iso8601(entry.addedAt))
        detail["expiresAt"] = entry.expiresAt.map { .string(BlockRequest.iso8601($0)) } ?? .null
        detail["dryRun"] = .bool(entry.dryRun)
        return detail
    }

    private static func handlerDetail(_ handler: String?, _ outcome: FunctionOutcome?) -> JSONValue {
        guard let handler else { return .null }
        return ["handler": .string(handler), "result": outcome.map { .string($0.summary) } ?? .null]
    }

    private static func resources(_ key: String, _ arn: String?) -> [String] {
        var list: [String] = []
        for candidate in [key, arn] {
            if let candidate, candidate.hasPrefix("arn:"), !list.contains(candidate) { list.append(candidate) }
        }
        return list
    }

    private static func envelope(_ type: DetailType, id: String, time: Double, account: String?, region: String?, resources: [String],
                                 detail: JSONObject) -> JSONValue {
        .object(JSONObject([
            "version": "0",
            "id": .string(NameBasedUUID.v5(namespace: NameBasedUUID.urlNamespace, name: "tripline:\(type.rawValue):\(id)")),
            "detail-type": .string(type.rawValue),
            "source": .string(source),
            "account": .string(account ?? ""),
            "time": .string(BlockRequest.iso8601(time)),
            "region": .string(region ?? ""),
            "resources": .array(resources.map(JSONValue.string)),
            "detail": .object(detail),
        ]))
    }
}
