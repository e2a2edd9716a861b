import EventPattern
import TriplineJSON

/// A validated Amazon SNS subscription filter policy, matched with SNS's semantics.
///
/// Load one from policy text or JSON; loading rejects everything SNS documents as invalid (size,
/// five keys, 150 combinations, number range, operators and operands, `$or` shape, nesting in the
/// `MessageAttributes` scope) with an error naming the JSON path, the value and what was expected.
/// A policy is a value: match it against a message's attributes or its JSON body, from any thread.
/// An empty policy `{}` accepts every message. Where SNS differs from EventBridge see README.md,
/// section "SNS topics: filter policies and where they differ from EventBridge patterns".
public struct FilterPolicy: Sendable, Equatable {
    /// What the policy is matched against.
    public let scope: FilterPolicyScope
    let root: PolicyNode
    let bodyPaths: FilterPolicyEvaluator.BodyPaths
    /// SNS's key count for this policy (at most ``FilterPolicyLimits/maxKeys``).
    public let keyCount: Int
    /// SNS's combination count for this policy (at most ``FilterPolicyLimits/maxCombinations``).
    public let combinations: Int

    /// Parses and validates policy text (UTF-8 JSON); errors carry `source:line:column`.
    ///
    /// Duplicate keys are rejected: SNS gives no rule for them and the policy would be ambiguous.
    public init(json bytes: [UInt8], scope: FilterPolicyScope = .messageAttributes, source: String? = nil) throws(FilterPolicyError) {
        guard bytes.count <= FilterPolicyLimits.maxPolicyBytes else {
            throw FilterPolicyError(path: .root, problem: .policyTooLarge(bytes: bytes.count, limit: FilterPolicyLimits.maxPolicyBytes), source: source)
        }
        let document: JSONParser.Document
        do {
            document = try JSONParser.parseDocument(bytes, options: .init(maxDepth: FilterPolicyLimits.maxPolicyJSONDepth,
                                                                          maxBytes: FilterPolicyLimits.maxPolicyBytes,
                                                                          duplicateKeys: .reject, recordLocations: true))
        } catch {
            throw FilterPolicyError(path: .root, problem: .invalidJSON(error), location: error.location, source: source)
        }
        try self.init(validating: document.value, scope: scope, locations: document.locations, basePath: .root, source: source, checkSize: false)
    }

    /// Parses and validates policy text.
    public init(_ text: String, scope: FilterPolicyScope = .messageAttributes, source: String? = nil) throws(FilterPolicyError) {
        try self.init(json: Array(text.utf8), scope: scope, source: source)
    }

    /// Validates a policy already parsed as JSON (its compact form must fit in 256 KB).
    ///
    /// `basePath` is where the policy sits inside a larger document, so error paths point into it;
    /// `locations` (from a `JSONParser` document) add line and column.
    public init(json: JSONValue, scope: FilterPolicyScope = .messageAttributes, source: String? = nil,
                locations: JSONSourceMap? = nil, basePath: JSONPath = .root) throws(FilterPolicyError) {
        try self.init(validating: json, scope: scope, locations: locations, basePath: basePath, source: source, checkSize: true)
    }

    private init(validating json: JSONValue, scope: FilterPolicyScope, locations: JSONSourceMap?, basePath: JSONPath,
                 source: String?, checkSize: Bool) throws(FilterPolicyError) {
        let parser = FilterPolicyParser(scope: scope, locations: locations, source: source)
        if checkSize {
            let size = JSONWriter.bytes(json).count
            if size > FilterPolicyLimits.maxPolicyBytes {
                throw parser.fail(basePath, .policyTooLarge(bytes: size, limit: FilterPolicyLimits.maxPolicyBytes))
            }
        }
        let root = try parser.parseRoot(json, at: basePath)
        let keys = FilterPolicyParser.keyCount(root)
        if keys > FilterPolicyLimits.maxKeys { throw parser.fail(basePath, .tooManyKeys(count: keys, limit: FilterPolicyLimits.maxKeys)) }
        let combinations = root.isEmpty ? 0 : FilterPolicyParser.combinations(root, depth: 1, scope: scope)
        if combinations > FilterPolicyLimits.maxCombinations {
            throw parser.fail(basePath, .tooComplex(combinations: combinations, limit: FilterPolicyLimits.maxCombinations))
        }
        self.scope = scope
        self.root = root
        self.bodyPaths = FilterPolicyEvaluator.BodyPaths(scope == .messageBody ? root : PolicyNode())
        self.keyCount = keys
        self.combinations = combinations
    }

    /// Whether a message with these attributes is delivered (`MessageAttributes` scope).
    ///
    /// SNS ignores Binary attributes; a message with no other attributes matches only the empty
    /// policy (SNS: "An empty set of attributes results in the filter not matching"). A
    /// `MessageBody` policy never matches here.
    public func matches(attributes: [String: MessageAttributeValue]) -> Bool {
        guard scope == .messageAttributes else { return false }
        if root.isEmpty { return true }
        return FilterPolicyEvaluator.matches(root, attributes: attributes)
    }

    /// Whether a message with this JSON body is delivered (`MessageBody` scope).
    ///
    /// A body that is not a JSON object never matches a non-empty policy (SNS: "Filter policies
    /// for the message body assume that the message payload is a well-formed JSON object"). A
    /// `MessageAttributes` policy never matches here.
    public func matches(body: JSONValue) -> Bool {
        guard scope == .messageBody else { return false }
        if root.isEmpty { return true }
        guard case .object = body else { return false }
        return FilterPolicyEvaluator.matches(root, body: body, paths: bodyPaths)
    }

    /// Whether a message whose body is this text is delivered (`MessageBody` scope).
    ///
    /// The body is read strictly, up to 256 KB and 100 levels; anything unreadable does not match
    /// a non-empty policy.
    public func matches(bodyText bytes: [UInt8]) -> Bool {
        guard scope == .messageBody else { return false }
        if root.isEmpty { return true }
        guard let body = try? JSONParser.parse(bytes, options: .init(maxDepth: FilterPolicyLimits.maxBodyDepth,
                                                                     maxBytes: FilterPolicyLimits.maxBodyBytes,
                                                                     duplicateKeys: .reject)) else { return false }
        return matches(body: body)
    }

    /// Whether a message with this body text is delivered (`MessageBody` scope).
    public func matches(bodyText: String) -> Bool { matches(bodyText: Array(bodyText.utf8)) }

    /// The exact EventBridge pattern for this policy, when one exists; nil otherwise.
    ///
    /// Only `MessageBody` policies whose every condition means the same in both languages
    /// translate: strings, booleans, `null`, `prefix`, `suffix`, `equals-ignore-case`,
    /// `anything-but` strings or prefix, and `cidr`, with no two properties of one `$or` branch
    /// under the same top-level key (so EventBridge's array consistency cannot differ). Numbers
    /// (SNS's five-decimal domain) and `exists` (SNS's non-null, non-empty rule) never translate.
    /// Compile the result into a ``PatternMachine`` to match many policies at once.
    public var eventPattern: EventPattern? { FilterPolicyTranslation.eventPattern(for: self) }
}
