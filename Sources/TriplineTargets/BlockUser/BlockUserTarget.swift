import TriplineJSON

/// A rule target's `BlockUser` option, parsed, and the decision it makes for one matched event.
///
/// `{"Principal": "$.detail.userIdentity", "Reason": "…", "DurationSeconds": 3600,
/// "Enforce": "Handlers/block-user.sh", "DryRun": false, "Environment": {"AWS_PROFILE": "${AWS_PROFILE:-}"}}`.
/// `Principal` defaults to `$.detail.userIdentity`; `Reason` and `Enforce` are required;
/// `DurationSeconds` (60 s to 90 days) is optional (no duration: the block stays until lifted by hand).
/// `Environment` is read by the rule-file reader, which validates it as a `Function`'s and checks its
/// `${NAME}` placeholders (``SecretTemplate``); ``parse(_:)`` only knows it as a field.
public struct BlockUserTarget: Sendable, Equatable {
    /// Where the CloudTrail `userIdentity` is in the delivered event.
    public var principalPath: AlertValuePath
    /// Why, shown to people and passed to the handler.
    public var reason: String
    /// How long a block lasts, or nil for until lifted.
    public var durationSeconds: Double?
    /// The enforcement handler (a `Function` handler path).
    public var enforce: String
    /// Only print what would be done.
    public var dryRun: Bool
    /// Extra environment for the enforcement handler, as written: values may use `${NAME}` from
    /// Tripline's own environment (``resolvedEnvironment(from:)``), so credentials never sit in rule
    /// files or the state database.
    public var environment: [String: String]

    /// Shortest and longest `DurationSeconds`.
    public static let durationRange: ClosedRange<Double> = 60...(90 * 86_400)
    /// The fields a `BlockUser` object may have.
    public static let fields = ["Principal", "Reason", "DurationSeconds", "Enforce", "DryRun", "Environment"]

    public init(principalPath: AlertValuePath, reason: String, durationSeconds: Double? = nil, enforce: String, dryRun: Bool = false,
                environment: [String: String] = [:]) {
        self.principalPath = principalPath
        self.reason = reason
        self.durationSeconds = durationSeconds
        self.enforce = enforce
        self.dryRun = dryRun
        self.environment = environment
    }

    /// The variables the `${NAME}` placeholders of ``environment`` need, sorted, each once
    /// (placeholders that do not parse are left to the rule-file reader, which reports them).
    public var requiredVariables: [String] {
        var names = Set<String>()
        for value in environment.values {
            if let template = try? SecretTemplate(parsing: value) { names.formUnion(template.requiredVariableNames) }
        }
        return names.sorted()
    }

    /// ``environment`` with every `${NAME}` filled from `variables` (Tripline's own environment), as a
    /// webhook's `Url` and `Headers` are; throws naming the first unset or empty variable (never a value).
    ///
    /// A value with a default (`${NAME:-TEXT}`) that comes out empty is left out, so
    /// `"AWS_PROFILE": "${AWS_PROFILE:-}"` passes the profile on when there is one and leaves the AWS
    /// CLI its default credential chain otherwise (an empty `AWS_PROFILE` would name a profile "").
    public func resolvedEnvironment(from variables: [String: String]) throws(SecretTemplateError) -> [String: String] {
        var resolved: [String: String] = [:]
        for name in environment.keys.sorted() {
            let template = try SecretTemplate(parsing: environment[name]!)
            let value = try template.expand(environment: variables, field: "BlockUser Environment \(name)")
            if value.isEmpty && template.hasDefaults { continue }
            resolved[name] = value
        }
        return resolved
    }

    /// Parses the `BlockUser` value of a target; every problem is reported, one per line.
    public static func parse(_ value: JSONValue) -> Result<BlockUserTarget, TargetOptionError> {
        var problems: [TargetOptionError.Problem] = []
        func problem(_ field: String?, _ message: String) {
            problems.append(.init(option: "BlockUser", field: field, message: message))
        }
        guard let object = value.objectValue else {
            problem(nil, "must be an object such as {\"Reason\": \"…\", \"Enforce\": \"Handlers/block-user.sh\"}")
            return .failure(TargetOptionError(problems: problems))
        }
        for member in object.members where !fields.contains(member.key) {
            problem(member.key, "is not a known field (expected one of \(fields.joined(separator: ", ")))")
        }
        var path: AlertValuePath?
        switch object["Principal"] {
        case nil: path = try? AlertValuePath(parsing: "$.detail.userIdentity")
        case .string(let text)?:
            do { path = try AlertValuePath(parsing: text) } catch { problem("Principal", error.description) }
        default: problem("Principal", "must be a path string such as \"$.detail.userIdentity\"")
        }
        var reason: String?
        switch object["Reason"] {
        case .string(let text)? where !text.isEmpty: reason = text
        case nil: problem("Reason", "is required: say why the principal is blocked")
        default: problem("Reason", "must be a non-empty string")
        }
        var enforce: String?
        switch object["Enforce"] {
        case .string(let text)? where !text.isEmpty: enforce = text
        case nil: problem("Enforce", "is required: the handler that applies the block, e.g. \"Handlers/block-user.sh\"")
        default: problem("Enforce", "must be a non-empty handler path")
        }
        var duration: Double?
        if let value = object["DurationSeconds"] {
            if let n = value.numberValue?.value, durationRange.contains(n) {
                duration = n
            } else {
                problem("DurationSeconds", "must be a number of seconds from \(Int(durationRange.lowerBound)) to \(Int(durationRange.upperBound)), got \(JSONWriter.string(value).prefix(40))")
            }
        }
        var dryRun = false
        if let value = object["DryRun"] {
            if let b = value.boolValue { dryRun = b } else { problem("DryRun", "must be true or false") }
        }
        guard problems.isEmpty, let path, let reason, let enforce else { return .failure(TargetOptionError(problems: problems)) }
        return .success(BlockUserTarget(principalPath: path, reason: reason, durationSeconds: duration, enforce: enforce, dryRun: dryRun))
    }

    /// The block request for `event`, or why there is none.
    ///
    /// In order: the principal is resolved (root, AWS services and unknown types are refused), checked
    /// against `protected`, and only then, unless it is a dry run (which blocks nothing), counted by
    /// `breaker` (so refusals and dry runs never use up the limit).
    /// A `.circuitOpen` refusal while `breaker.isTripped` was false before the call is the one that
    /// opened the breaker: alert loudly on that one.
    public func request(for event: JSONValue, rule: String, now: Double, protected: ProtectedPrincipals,
                        breaker: inout BlockCircuitBreaker) -> Result<BlockRequest, BlockRefusal> {
        let identity = principalPath.evaluate(in: event) ?? .null
        let principal: BlockPrincipal
        switch PrincipalResolver.resolve(userIdentity: identity) {
        case .success(let p): principal = p
        case .failure(let refusal): return .failure(refusal)
        }
        if let refusal = protected.refusal(for: principal) { return .failure(refusal) }
        if !dryRun, case .refuse(let refusal, _) = breaker.decide(now: now) { return .failure(refusal) }
        let eventId = event["id"]?.stringValue ?? event["detail"]?["eventID"]?.stringValue ?? event["eventID"]?.stringValue
        return .success(BlockRequest(action: .block, dryRun: dryRun, principal: principal, reason: reason, rule: rule,
                                     eventId: eventId, requestedAt: now, expiresAt: durationSeconds.map { now + $0 }))
    }
}
