#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import EventPattern
import TriplineJSON
import TriplineTargets

/// Reads rule files: one rule object, or an array of them, with CloudFormation's field names.
///
/// ```json
/// {
///   "Name": "root-console-login",
///   "State": "ENABLED",
///   "Severity": "high",
///   "EventPattern": {"detail-type": ["AWS Console Sign In via CloudTrail"], "detail": {"userIdentity": {"type": ["Root"]}}},
///   "Targets": [{"Id": "notify", "Function": {"Handler": "handlers/notify.sh", "TimeoutSeconds": 10}}]
/// }
/// ```
///
/// Rule fields: `Name` (required, unique), `Description`, `State` (default `ENABLED`),
/// `EventPattern` (required; an object or a string holding one), `Targets` (at most 5),
/// `Severity` (`informational`, `low`, `medium`, `high`, `critical`), `Tests` (kept, not run).
/// `EventBusName`, `RoleArn`, `Arn`, `CreatedBy` and `Tags` (from a template, `aws events describe-rule`
/// or `put-rule` input) are accepted and ignored, so a rule copied from AWS loads; `ScheduleExpression`
/// is an error unless empty (the CLI's skeleton leaves it so). `aws events list-rules` output is read
/// as its `Rules`.
/// Target fields: `Id` (required, unique in the rule), exactly one kind (`Function`, `Webhook`,
/// `Topic` (a topic name) or `BlockUser`; `Arn` and `RoleArn` are accepted and ignored next to
/// one, and a target with an `Arn` but no kind is an error: AWS targets do not run locally), at most one of `Input` (JSON text, or a JSON value),
/// `InputPath` and `InputTransformer` (`InputPathsMap`, `InputTemplate`), `RetryPolicy`
/// (`MaximumRetryAttempts`, `MaximumEventAgeInSeconds`) and `DeadLetterConfig` (`Path`).
/// `Function` fields: `Handler` (required), `Args`, `Environment`, `TimeoutSeconds`, `MaxConcurrency`.
///
/// A file entry `{"Topic": {"Name": …, "Subscriptions": […]}}` declares a topic (see ``Topic``).
/// A CloudFormation `AWS::Events::Rule` resource, or a template holding such resources, is read as
/// its `Properties` (see `RuleFile+CloudFormation.swift`).
///
/// Every problem is reported, each with its file, line:column and JSON path; a rule with any
/// problem is left out of the result. Unknown fields are errors (with a "did you mean" for near
/// misses), because a misspelt optional field would otherwise silently do nothing. Duplicate keys
/// are errors too. Names are checked for uniqueness within the file here and across files by
/// ``RuleSet``.
public enum RuleFile {
    /// The fields of a rule object.
    public static let ruleFields = ["Name", "Description", "State", "EventPattern", "Targets", "Severity", "Tests"]
    /// Rule fields of CloudFormation's `AWS::Events::Rule` and of `describe-rule` output that mean
    /// nothing locally (one bus, no IAM, no ARNs): accepted so a copied rule loads, and ignored.
    public static let ignoredRuleFields = ["EventBusName", "RoleArn", "Arn", "CreatedBy", "Tags"]
    /// Target fields of CloudFormation and `list-targets-by-rule` that name AWS resources: accepted
    /// and ignored when the target also names a local kind (``TargetKind/Key``).
    public static let ignoredTargetFields = ["Arn", "RoleArn"]
    /// The fields of a target object (kind keys included).
    public static let targetFields = ["Id"] + TargetKind.Key.allCases.map(\.rawValue)
        + ["Input", "InputPath", "InputTransformer", "RetryPolicy", "DeadLetterConfig", "Suppress", "Threshold"]
    /// The fields of a `Webhook` object.
    public static let webhookFields = ["Url", "Method", "Headers", "TimeoutSeconds", "RateLimitPerSecond", "RateLimitBurst",
                                       "SigningSecretVariable", "CaBundle", "Format", "MaxConcurrency", "Optional"]
    /// The fields of a `Function` target.
    public static let functionFields = ["Handler", "Args", "Environment", "TimeoutSeconds", "MaxConcurrency"]
    /// The fields of an `InputTransformer`.
    public static let inputTransformerFields = ["InputPathsMap", "InputTemplate"]
    /// The fields of a `RetryPolicy`.
    public static let retryPolicyFields = ["MaximumRetryAttempts", "MaximumEventAgeInSeconds"]
    /// The fields of a `DeadLetterConfig` (`Arn` only to explain it is not supported).
    public static let deadLetterFields = ["Path", "Arn"]

    /// Explanations for EventBridge or CloudFormation fields that have no meaning locally.
    static let hints: [String: String] = [
        "RoleArn": "IAM roles do not apply locally",
        "ManagedBy": "a rule an AWS service manages for you has no local counterpart",
        "Arn": "targets are declared by kind, e.g. \"Function\": {\"Handler\": \"handlers/x.sh\"}, not by ARN",
        "Id": "\"Id\" belongs to targets",
    ]

    /// Largest rule file read.
    public static let maxFileBytes = 16 * 1024 * 1024

    /// Parses one rule file's bytes.
    ///
    /// `file` names the file in errors and rules, and locates the project root for relative
    /// handler paths (see ``FunctionTarget/projectRoot(ruleFile:currentDirectory:)``); a relative
    /// `file` is taken from `currentDirectory`, the process's working directory by default.
    public static func parse(bytes: [UInt8], file: String, currentDirectory: String? = nil) -> (rules: [Rule], errors: [RuleError]) {
        let parsed = parseWithTopics(bytes: bytes, file: file, currentDirectory: currentDirectory)
        return (parsed.rules, parsed.errors)
    }

    /// Parses one rule file's bytes, topics included. Topic references are checked against the
    /// topics of this file only when `checkReferences` (a file alone may use topics declared elsewhere).
    public static func parseWithTopics(bytes: [UInt8], file: String, currentDirectory: String? = nil,
                                       checkReferences: Bool = false) -> (rules: [Rule], topics: [Topic], errors: [RuleError]) {
        let result = parseEntries(bytes: bytes, file: file, currentDirectory: currentDirectory ?? RuleFile.workingDirectory())
        var errors = result.errors
        var seen: [String: RuleEntry] = [:]
        var kept: [RuleEntry] = []
        for entry in result.entries {
            guard let name = entry.name else { continue }
            if let first = seen[name] {
                errors.append(RuleError(file: file, location: entry.nameLocation, path: entry.namePath,
                                        problem: .duplicateRuleName(name, firstFile: first.file, firstLocation: first.nameLocation)))
                continue
            }
            seen[name] = entry
            kept.append(entry)
        }
        let linked = TopicLinker.link(rules: kept, topics: result.topics, checkReferences: checkReferences)
        errors += linked.errors
        return (linked.rules, linked.topics, errors.sorted(by: RuleFile.documentOrder))
    }

    /// One rule object of a file: its name (for uniqueness checks) and the rule when it had no problem.
    struct RuleEntry {
        var file: String
        var name: String?
        var namePath: JSONPath
        var nameLocation: JSONLocation?
        var rule: Rule?
        /// The topics its `Topic` targets publish to, checked against the declared topics by ``TopicLinker``.
        var topicReferences: [TopicReference] = []
        /// The programs its targets run, checked by ``RuleSet/checkingHandlers(inheritedPath:)``.
        var handlerReferences: [HandlerReference] = []
    }

    /// A `.yaml` or `.yml` file name.
    public static func isYAMLName(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower.hasSuffix(".yaml") || lower.hasSuffix(".yml")
    }

    /// The first line of `bytes` that is neither blank nor a comment (`#`, and `//` when
    /// `slashComments`), without its leading blanks; whether a YAML document marker came first.
    private static func firstContentLine(_ bytes: [UInt8], slashComments: Bool) -> (line: String, marker: Bool)? {
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        for raw in body.split(separator: 0x0A, omittingEmptySubsequences: true) {
            let line = String(decoding: raw, as: UTF8.self).drop { $0 == " " || $0 == "\t" || $0 == "\r" }
            if line.isEmpty || line.hasPrefix("#") || slashComments && line.hasPrefix("//") { continue }
            if line.hasPrefix("---") || line.hasPrefix("%YAML") { return (String(line), true) }
            return (String(line), false)
        }
        return nil
    }

    /// Text that is not JSON and reads as YAML: after blank and comment lines, a `---` marker,
    /// `key:` or `- item` (not `{` or `[`: that is JSON, perhaps with a comment JSON does not allow).
    public static func looksLikeYAML(_ bytes: [UInt8]) -> Bool {
        guard let (line, marker) = firstContentLine(bytes, slashComments: false) else { return false }
        if marker || line.hasPrefix("- ") { return true }
        guard let letter = line.unicodeScalars.first, letter.properties.isAlphabetic else { return false }
        return line.contains(": ") || line.hasSuffix(":")
    }

    /// Terraform (HCL) text: after blank and comment lines, a `resource "…"`, `module "…"` … block.
    public static func looksLikeTerraform(_ bytes: [UInt8]) -> Bool {
        let words = ["resource", "data", "module", "variable", "locals", "provider", "terraform", "output"]
        guard let (line, _) = firstContentLine(bytes, slashComments: true) else { return false }
        return words.contains { line.hasPrefix($0 + " \"") || line.hasPrefix($0 + " {") }
    }

    /// Whether a YAML (or Terraform) file holds rules: it names an event pattern, an
    /// `AWS::Events::Rule`, a SAM EventBridge event or a Terraform event rule. Other YAML there (a kustomization, notes) is
    /// no rule file and is left alone.
    public static func mentionsRules(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        return ["EventPattern", "AWS::Events::Rule", "EventBridgeRule", "CloudWatchEvent", "event_pattern", "aws_cloudwatch_event_rule"]
            .contains { text.contains($0) }
    }

    /// Parses a file into entries without checking names across entries.
    static func parseEntries(bytes: [UInt8], file: String, currentDirectory: String)
        -> (entries: [RuleEntry], topics: [TopicEntry], errors: [RuleError]) {
        let document: JSONParser.Document
        var errorPath = JSONPath.root
        do {
            document = try JSONParser.parseDocument(bytes, options: .init(maxBytes: maxFileBytes, duplicateKeys: .reject, recordLocations: true),
                                                    errorPath: &errorPath)
        } catch {
            // Where in the rule file it happened, as every other rule error says (`EventPattern: not
            // valid JSON: …`); a duplicate key's message names its object already.
            var path: JSONPath? = errorPath.isRoot ? nil : errorPath
            if case .duplicateKey = error { path = nil }
            // Not JSON at all (an error before its first value): say what it is when it reads as another format.
            if errorPath.isRoot, error.location?.offset ?? 0 <= EventNormalizer.documentRange(bytes).lowerBound {
                if looksLikeTerraform(bytes) {
                    return ([], [], [RuleError(file: file, location: error.location, problem: .terraformNotRead)])
                }
                if isYAMLName(file) || looksLikeYAML(bytes) {
                    return ([], [], [RuleError(file: file, location: error.location, problem: .yamlNotRead)])
                }
            }
            return ([], [], [RuleError(file: file, location: error.location, path: path, problem: .invalidJSON(error))])
        }
        var reader = RuleFileReader(file: file, locations: document.locations, currentDirectory: currentDirectory, bytes: bytes)
        var entries: [RuleEntry] = []
        switch document.value {
        case .object(let object):
            entries += reader.readEntries(object, at: .root)
        case .array(let elements):
            for (i, element) in elements.enumerated() {
                let path = JSONPath.root.appending(index: i)
                guard case .object(let object) = element else {
                    reader.fail(path, .expected("a rule object", found: RuleProblem.describe(element)))
                    continue
                }
                entries += reader.readEntries(object, at: path)
            }
        default:
            reader.fail(.root, .notRuleList(found: RuleProblem.describe(document.value)))
        }
        return (entries, reader.topics, reader.errors)
    }

    /// Orders errors by position in the file; file-level errors first.
    static func documentOrder(_ a: RuleError, _ b: RuleError) -> Bool {
        (a.location?.offset ?? -1) < (b.location?.offset ?? -1)
    }

    static func workingDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Walks one parsed rule file, building rules and collecting every problem with its location.
struct RuleFileReader {
    let file: String
    let locations: JSONSourceMap
    let currentDirectory: String
    var errors: [RuleError] = []
    /// Topic declarations read so far.
    var topics: [TopicEntry] = []
    /// `Topic` target references of the rule being read.
    var topicReferences: [TopicReference] = []
    /// The handlers of the rule or topic being read.
    var handlerReferences: [HandlerReference] = []

    /// The file's bytes, for places inside a string that holds JSON (an `EventPattern` string).
    let bytes: [UInt8]

    init(file: String, locations: JSONSourceMap, currentDirectory: String, bytes: [UInt8] = []) {
        self.file = file
        self.locations = locations
        self.currentDirectory = currentDirectory
        self.bytes = bytes
    }

    /// Where in the file the text of the JSON string starting (its opening quote) at `string` has
    /// its byte `decoded` (counted in the string's decoded UTF-8): nil when out of reach.
    func location(ofDecoded decoded: Int, inStringAt string: JSONLocation) -> JSONLocation? {
        func hex(_ at: Int) -> Int? {
            guard at + 4 <= bytes.count, let value = Int(String(decoding: bytes[at..<(at + 4)], as: UTF8.self), radix: 16) else { return nil }
            return value
        }
        var raw = string.offset + 1
        var count = 0
        while count < decoded {
            guard raw < bytes.count, bytes[raw] != UInt8(ascii: "\"") else { return nil }
            if bytes[raw] != UInt8(ascii: "\\") {
                raw += 1
                count += 1
                continue
            }
            guard raw + 1 < bytes.count else { return nil }
            guard bytes[raw + 1] == UInt8(ascii: "u") else {
                raw += 2
                count += 1
                continue
            }
            guard let unit = hex(raw + 2) else { return nil }
            if (0xD800...0xDBFF).contains(unit), raw + 12 <= bytes.count, bytes[raw + 6] == UInt8(ascii: "\\"), bytes[raw + 7] == UInt8(ascii: "u") {
                raw += 12
                count += 4
            } else {
                raw += 6
                count += unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3
            }
        }
        guard count == decoded else { return nil }
        // A JSON string holds no raw line break: the place is on the string's line, as many characters
        // (all but UTF-8 continuation bytes, as `JSONLineCounter` counts) further, without recounting the file.
        let characters = bytes[string.offset..<raw].reduce(0) { $0 + ($1 & 0xC0 != 0x80 ? 1 : 0) }
        return JSONLocation(offset: raw, line: string.line, column: string.column + characters)
    }

    mutating func fail(_ path: JSONPath, _ problem: RuleProblem) {
        errors.append(RuleError(file: file, location: locations.location(of: path), path: path, problem: problem))
    }

    // MARK: - Rules

    /// Reads the rule object at `path`. `defaultName` names it, and locates that name, when it has
    /// no `Name` (a template's logical id); `cloudFormationPath` is set when it is a resource's `Properties`.
    mutating func readRule(_ object: JSONObject, at path: JSONPath, defaultName: (name: String, path: JSONPath)? = nil,
                           cloudFormationPath: JSONPath? = nil) -> RuleFile.RuleEntry? {
        if object["Topic"] != nil, object["Name"] == nil {
            readTopicDeclaration(object, at: path)
            return nil
        }
        let before = errors.count
        topicReferences = []
        handlerReferences = []
        checkFields(object, at: path, allowed: RuleFile.ruleFields, ignored: RuleFile.ignoredRuleFields, alsoAccepted: ["ScheduleExpression"])
        // An empty one schedules nothing (`put-rule --generate-cli-skeleton` leaves it so).
        if let schedule = object["ScheduleExpression"], schedule != .string("") {
            fail(path.appending("ScheduleExpression"), .scheduleUnsupported)
        }
        let ignored = RuleFile.ignoredRuleFields.filter { object[$0] != nil }

        var namePath = path.appending("Name")
        var name: String?
        if object["Name"] == nil, let defaultName {
            namePath = defaultName.path
            if Rule.isValidName(defaultName.name) {
                name = defaultName.name
            } else {
                fail(namePath, .invalidName(kind: "a rule name (the logical id, as Properties has no Name)",
                                            found: JSONWriter.quoted(defaultName.name), maxLength: Rule.maxNameLength))
            }
        } else if let value = required(object, "Name", at: path, in: "a rule") {
            if case .string(let s) = value {
                if Rule.isValidName(s) {
                    name = s
                } else {
                    fail(namePath, .invalidName(kind: "a rule name", found: RuleProblem.describe(value), maxLength: Rule.maxNameLength))
                }
            } else {
                fail(namePath, .expected("a string", found: RuleProblem.describe(value)))
            }
        }
        let description = optionalString(object, "Description", at: path, maxLength: Rule.maxDescriptionLength)
        let state = readState(object, at: path)
        let pattern = readPattern(object, at: path)
        let targets = readTargets(object, at: path, rule: name)
        let severity = readSeverity(object, at: path)
        var tests: [JSONValue] = []
        if let value = object["Tests"] {
            if case .array(let elements) = value { tests = elements } else {
                fail(path.appending("Tests"), .expected("an array of rule tests", found: RuleProblem.describe(value)))
            }
        }

        var rule: Rule?
        if errors.count == before, let name, let pattern {
            rule = Rule(name: name, description: description, state: state, pattern: pattern, targets: targets,
                        file: file, location: locations.location(of: path), severity: severity, tests: tests, ignoredFields: ignored,
                        cloudFormationPath: cloudFormationPath)
        }
        return RuleFile.RuleEntry(file: file, name: name, namePath: namePath, nameLocation: locations.location(of: namePath), rule: rule,
                                  topicReferences: topicReferences, handlerReferences: handlerReferences)
    }

    mutating func readState(_ object: JSONObject, at path: JSONPath) -> RuleState {
        guard let value = object["State"] else { return .enabled }
        let names = RuleState.allCases.map(\.rawValue)
        guard case .string(let s) = value, let state = RuleState(rawValue: s) else {
            var expected = "one of " + names.map { JSONWriter.quoted($0) }.joined(separator: ", ")
            if let s = value.stringValue, let suggestion = Suggestion.closest(to: s, among: names) {
                expected = JSONWriter.quoted(suggestion) + " (" + expected + ")"
            }
            fail(path.appending("State"), .expected(expected, found: RuleProblem.describe(value)))
            return .enabled
        }
        return state
    }

    mutating func readSeverity(_ object: JSONObject, at path: JSONPath) -> String? {
        guard let value = object["Severity"] else { return nil }
        guard case .string(let s) = value, Rule.severities.contains(s) else {
            var expected = "one of " + Rule.severities.map { JSONWriter.quoted($0) }.joined(separator: ", ")
            if let s = value.stringValue, let suggestion = Suggestion.closest(to: s, among: Rule.severities) {
                expected = JSONWriter.quoted(suggestion) + " (" + expected + ")"
            }
            fail(path.appending("Severity"), .expected(expected, found: RuleProblem.describe(value)))
            return nil
        }
        return s
    }

    /// `EventPattern` as an object, or as a string holding pattern JSON (CloudFormation accepts
    /// both). Errors in the string form point at their place inside the string (a JSON syntax error
    /// at the string, with its line:column in the pattern text), with the pattern's own path. A
    /// duplicate key is an error in both forms, reported alike, as everywhere in a rule file.
    mutating func readPattern(_ object: JSONObject, at path: JSONPath) -> EventPattern? {
        let patternPath = path.appending("EventPattern")
        guard let value = required(object, "EventPattern", at: path, in: "a rule") else { return nil }
        switch value {
        case .object:
            switch EventPattern.validate(json: value, locations: locations, basePath: patternPath, file: file) {
            case .success(let pattern): return pattern
            case .failure(let problems):
                for problem in problems.errors {
                    errors.append(RuleError(file: file, location: problem.location, path: problem.path, problem: .pattern(problem.problem)))
                }
                return nil
            }
        case .string(let text):
            switch EventPattern.validate(text: Array(text.utf8), duplicateKeys: .reject) {
            case .success(let pattern): return pattern
            case .failure(let problems):
                let stringLocation = locations.location(of: patternPath)
                for problem in problems.errors {
                    if case .invalidJSON(.duplicateKey(let key, let innerPath, _)) = problem.problem {
                        // The message of a duplicate key in the object form, with the path in the file.
                        let path = innerPath.isEmpty ? patternPath.description
                            : patternPath.description + (innerPath.hasPrefix("[") ? "" : ".") + innerPath
                        let at = stringLocation ?? JSONLocation(offset: 0, line: 1, column: 1)
                        errors.append(RuleError(file: file, location: stringLocation, problem: .invalidJSON(.duplicateKey(key: key, path: path, at: at))))
                        continue
                    }
                    // At the place inside the string, as for a pattern written as an object.
                    var at = stringLocation
                    if case .invalidJSON = problem.problem {} else if let inner = problem.location, let string = stringLocation {
                        at = location(ofDecoded: inner.offset, inStringAt: string) ?? stringLocation
                    }
                    errors.append(RuleError(file: file, location: at,
                                            path: JSONPath(patternPath.components + problem.path.components), problem: .pattern(problem.problem)))
                }
                return nil
            }
        default:
            fail(patternPath, .expected("a pattern object (or a string holding one)", found: RuleProblem.describe(value)))
            return nil
        }
    }

    // MARK: - Targets

    /// The rule's `Targets`; `rule` is its name, when valid, to name the owner of their handlers.
    mutating func readTargets(_ object: JSONObject, at path: JSONPath, rule: String?) -> [Target] {
        let targetsPath = path.appending("Targets")
        guard let value = object["Targets"] else { return [] }
        guard case .array(let elements) = value else {
            fail(targetsPath, .expected("an array of targets", found: RuleProblem.describe(value)))
            return []
        }
        if elements.count > Rule.maxTargets {
            fail(targetsPath, .tooManyTargets(count: elements.count, limit: Rule.maxTargets))
        }
        var targets: [Target] = []
        var ids: Set<String> = []
        for (i, element) in elements.enumerated() {
            let targetPath = targetsPath.appending(index: i)
            guard case .object(let target) = element else {
                fail(targetPath, .expected("a target object", found: RuleProblem.describe(element)))
                continue
            }
            let parsed = readTarget(target, at: targetPath, rule: rule)
            if let id = parsed.id {
                if !ids.insert(id).inserted { fail(targetPath.appending("Id"), .duplicateTargetID(id)) }
            }
            if let target = parsed.target { targets.append(target) }
        }
        return targets
    }

    mutating func readTarget(_ object: JSONObject, at path: JSONPath, rule: String?) -> (id: String?, target: Target?) {
        let before = errors.count
        checkFields(object, at: path, allowed: RuleFile.targetFields, ignored: RuleFile.ignoredTargetFields)
        let ignored = RuleFile.ignoredTargetFields.filter { object[$0] != nil }
        let id = readID(object, at: path, of: "a target")
        let kind = readKind(object, at: path)
        if let rule, let id {
            switch kind {
            case .function(let function)?:
                recordHandler(function, at: path.appending(TargetKind.Key.function.rawValue), owner: .target(rule: rule, target: id))
            case .blockUser(let block)?:
                let enforcePath = path.appending(TargetKind.Key.blockUser.rawValue).appending("Enforce")
                handlerReferences.append(HandlerReference(written: object[TargetKind.Key.blockUser.rawValue]?["Enforce"]?.stringValue ?? block.enforce,
                                                          program: block.enforce, searchPath: block.environment["PATH"],
                                                          searchPathHasPlaceholders: true, owner: .target(rule: rule, target: id),
                                                          file: file, path: enforcePath, location: locations.location(of: enforcePath)))
            default:
                break
            }
        }
        let input = readInput(object, at: path)
        if case .webhook(let spec)? = kind, spec.format == .slack,
           let field = ["Input", "InputPath", "InputTransformer"].first(where: { object[$0] != nil }) {
            // The Slack message is built from the matched event; the input would silently never be sent.
            fail(path.appending(field), .slackFormatWithInput(field: field))
        }
        let retryPolicy = readRetryPolicy(object, at: path)
        let deadLetter = readDeadLetter(object, at: path)
        var gate: AlertGatePolicy?
        if object["Suppress"] != nil || object["Threshold"] != nil {
            switch AlertGatePolicy.parse(suppress: object["Suppress"], threshold: object["Threshold"]) {
            case .success(let policy): gate = policy.isPassThrough ? nil : policy
            case .failure(let error):
                for problem in error.problems {
                    var problemPath = path.appending(problem.option)
                    if let field = problem.field { problemPath = problemPath.appending(field) }
                    fail(problemPath, .invalidOption(problem.message))
                }
            }
        }
        guard errors.count == before, let id, let kind, let input else { return (id, nil) }
        return (id, Target(id: id, kind: kind, input: input, retryPolicy: retryPolicy, deadLetterConfig: deadLetter, alertGate: gate,
                           ignoredFields: ignored))
    }

    /// The required `Id` of a target or subscription (`of`: "a target"): `[.\-_A-Za-z0-9]{1,64}`.
    mutating func readID(_ object: JSONObject, at path: JSONPath, of what: String) -> String? {
        guard let value = required(object, "Id", at: path, in: what) else { return nil }
        if case .string(let s) = value, Rule.isValidName(s) { return s }
        fail(path.appending("Id"), .invalidName(kind: what + " Id", found: RuleProblem.describe(value), maxLength: Target.maxIdLength))
        return nil
    }

    /// The one place that dispatches on a target's kind key.
    mutating func readKind(_ object: JSONObject, at path: JSONPath) -> TargetKind? {
        let present = TargetKind.Key.allCases.filter { object[$0.rawValue] != nil }
        guard let key = present.first else {
            if let arn = object["Arn"] {
                // A target copied from AWS: say why it cannot run rather than that it lacks a kind.
                fail(path.appending("Arn"), .awsTargetOnly(arn: RuleProblem.describe(arn, namingFunctions: false), available: TargetKind.Key.allCases.map(\.rawValue)))
            } else {
                fail(path, .missingTargetKind(available: TargetKind.Key.allCases.map(\.rawValue)))
            }
            return nil
        }
        guard present.count == 1 else {
            fail(path.appending(present[1].rawValue), .multipleTargetKinds(present.map(\.rawValue)))
            return nil
        }
        let kindPath = path.appending(key.rawValue)
        switch key {
        case .function:
            return readFunction(object[key.rawValue]!, at: kindPath).map(TargetKind.function)
        case .webhook:
            return readWebhook(object[key.rawValue]!, at: kindPath).map(TargetKind.webhook)
        case .blockUser:
            switch BlockUserTarget.parse(object[key.rawValue]!) {
            case .success(var target):
                target.enforce = FunctionTarget.resolveHandler(target.enforce, ruleFile: file, currentDirectory: currentDirectory)
                guard let block = object[key.rawValue]?.objectValue else { return nil }
                let before = errors.count
                target.environment = readEnvironment(block, at: kindPath, placeholders: true)
                guard errors.count == before else { return nil }
                return .blockUser(target)
            case .failure(let error):
                for problem in error.problems {
                    fail(problem.field.map { kindPath.appending($0) } ?? kindPath, .invalidOption(problem.message))
                }
                // Every mistake at once: the Environment's too.
                if let block = object[key.rawValue]?.objectValue { _ = readEnvironment(block, at: kindPath, placeholders: true) }
                return nil
            }
        case .topic:
            guard let name = readTopicName(object[key.rawValue]!, at: kindPath) else { return nil }
            topicReferences.append(TopicReference(name: name, file: file, path: kindPath, location: locations.location(of: kindPath)))
            return .topic(name)
        }
    }

    /// Records the handler of the `Function` object at `path` for the start-up check.
    mutating func recordHandler(_ function: FunctionTarget, at path: JSONPath, owner: HandlerReference.Owner) {
        let handlerPath = path.appending("Handler")
        handlerReferences.append(HandlerReference(written: function.handler, program: function.handlerPath, searchPath: function.environment["PATH"],
                                                  owner: owner, file: file, path: handlerPath, location: locations.location(of: handlerPath)))
    }

    mutating func readFunction(_ value: JSONValue, at path: JSONPath) -> FunctionTarget? {
        guard case .object(let object) = value else {
            fail(path, .expected("an object such as {\"Handler\": \"handlers/x.sh\"}", found: RuleProblem.describe(value)))
            return nil
        }
        let before = errors.count
        checkFields(object, at: path, allowed: RuleFile.functionFields)
        var handler: String?
        if let value = required(object, "Handler", at: path, in: "a function") {
            if case .string(let s) = value, !s.isEmpty, !s.contains("\0") {
                handler = s
            } else {
                fail(path.appending("Handler"), .expected("the path of a program to run", found: RuleProblem.describe(value)))
            }
        }
        var args: [String] = []
        if let value = object["Args"] {
            if case .array(let elements) = value, elements.allSatisfy({ $0.stringValue != nil }) {
                args = elements.compactMap(\.stringValue)
            } else {
                fail(path.appending("Args"), .expected("an array of strings", found: RuleProblem.describe(value)))
            }
        }
        let environment = readEnvironment(object, at: path)
        let range = FunctionTarget.timeoutRange
        let timeout = number(object, "TimeoutSeconds", at: path,
                             expected: "a number from \(Int(range.lowerBound)) to \(Int(range.upperBound))",
                             accept: { range.contains($0) }) ?? FunctionTarget.defaultTimeoutSeconds
        let concurrency = integer(object, "MaxConcurrency", at: path, range: FunctionTarget.maxConcurrencyRange) ?? FunctionTarget.defaultMaxConcurrency
        guard errors.count == before, let handler else { return nil }
        return FunctionTarget(handler: handler,
                              handlerPath: FunctionTarget.resolveHandler(handler, ruleFile: file, currentDirectory: currentDirectory),
                              args: args, environment: environment, timeoutSeconds: timeout, maxConcurrency: concurrency)
    }

    /// The `Environment` object of a `Function` or `BlockUser` at `path`: variable names
    /// (`[A-Za-z_][A-Za-z0-9_]*`) to string values; empty when absent. With `placeholders`, each value
    /// must also parse as a ``SecretTemplate`` (`${NAME}` from Tripline's environment, as in a webhook).
    mutating func readEnvironment(_ object: JSONObject, at path: JSONPath, placeholders: Bool = false) -> [String: String] {
        var environment: [String: String] = [:]
        guard let value = object["Environment"] else { return environment }
        guard case .object(let variables) = value else {
            fail(path.appending("Environment"), .expected("an object of string values", found: RuleProblem.describe(value)))
            return environment
        }
        for member in variables {
            let memberPath = path.appending("Environment").appending(member.key)
            if !RuleFileReader.isEnvironmentName(member.key) {
                fail(memberPath, .expected("an environment variable name ([A-Za-z_][A-Za-z0-9_]*)", found: JSONWriter.quoted(member.key)))
            } else if case .string(let s) = member.value {
                if placeholders {
                    do { _ = try SecretTemplate(parsing: s) } catch {
                        fail(memberPath, .invalidOption(error.description))
                        continue
                    }
                }
                environment[member.key] = s
            } else {
                fail(memberPath, .expected("a string", found: RuleProblem.describe(member.value)))
            }
        }
        return environment
    }

    mutating func readWebhook(_ value: JSONValue, at path: JSONPath) -> WebhookTargetSpec? {
        guard case .object(let object) = value else {
            fail(path, .expected("an object such as {\"Url\": \"${SLACK_WEBHOOK_URL}\"}", found: RuleProblem.describe(value)))
            return nil
        }
        let before = errors.count
        checkFields(object, at: path, allowed: RuleFile.webhookFields)
        var url: String?
        if let value = required(object, "Url", at: path, in: "a webhook") {
            if case .string(let s) = value, !s.isEmpty {
                url = s
            } else {
                fail(path.appending("Url"), .expected("an http(s) URL, usually \"${NAME}\" from the environment", found: RuleProblem.describe(value)))
            }
        }
        var method = "POST"
        if let value = object["Method"] {
            if case .string(let s) = value, ["POST", "PUT", "PATCH"].contains(s.uppercased()) {
                method = s.uppercased()
            } else {
                fail(path.appending("Method"), .expected("\"POST\", \"PUT\" or \"PATCH\"", found: RuleProblem.describe(value)))
            }
        }
        var headers: [WebhookHeader] = []
        if let value = object["Headers"] {
            if case .object(let members) = value {
                for member in members {
                    if WebhookHeader.isReserved(member.key) {
                        fail(path.appending("Headers").appending(member.key), .invalidOption(WebhookConfigurationError.reservedHeader(member.key).description))
                    } else if case .string(let s) = member.value {
                        headers.append(WebhookHeader(name: member.key, value: s))
                    } else {
                        fail(path.appending("Headers").appending(member.key), .expected("a string", found: RuleProblem.describe(member.value)))
                    }
                }
            } else {
                fail(path.appending("Headers"), .expected("an object of header names to string values", found: RuleProblem.describe(value)))
            }
        }
        let range = WebhookConfiguration.timeoutRange
        let timeout = number(object, "TimeoutSeconds", at: path, expected: "a number from \(Int(range.lowerBound)) to \(Int(range.upperBound))",
                             accept: { range.contains($0) }) ?? WebhookConfiguration.defaultTimeoutSeconds
        let rateRange = WebhookConfiguration.rateLimitRange
        let rate = number(object, "RateLimitPerSecond", at: path,
                          expected: "a number of deliveries per second from \(rateRange.lowerBound) (one every \(Int(1 / rateRange.lowerBound)) seconds) to \(Int(rateRange.upperBound))",
                          accept: { rateRange.contains($0) })
        let burst = number(object, "RateLimitBurst", at: path, expected: "a number of deliveries from 1 to 1000", accept: { $0 >= 1 && $0 <= 1000 }) ?? 1
        var signing: String?
        if let value = object["SigningSecretVariable"] {
            if case .string(let s) = value, RuleFileReader.isEnvironmentName(s) {
                signing = s
            } else {
                fail(path.appending("SigningSecretVariable"), .expected("the name of an environment variable holding the secret (whsec_…)", found: RuleProblem.describe(value)))
            }
        }
        var caBundle: String?
        if let value = object["CaBundle"] {
            if case .string(let s) = value, !s.isEmpty {
                caBundle = FunctionTarget.resolvePath(s, ruleFile: file, currentDirectory: currentDirectory)
            } else {
                fail(path.appending("CaBundle"), .expected("the path of a PEM file of CA certificates", found: RuleProblem.describe(value)))
            }
        }
        var format = WebhookTargetSpec.Format.json
        if let value = object["Format"] {
            if case .string(let s) = value, let chosen = WebhookTargetSpec.Format(rawValue: s) {
                format = chosen
            } else {
                fail(path.appending("Format"), .expected(WebhookTargetSpec.Format.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or "),
                                                         found: RuleProblem.describe(value)))
            }
        }
        var optional = false
        if let value = object["Optional"] {
            if case .bool(let b) = value { optional = b } else { fail(path.appending("Optional"), .expected("true or false", found: RuleProblem.describe(value))) }
        }
        let concurrency = integer(object, "MaxConcurrency", at: path, range: WebhookTargetSpec.maxConcurrencyRange) ?? WebhookTargetSpec.defaultMaxConcurrency
        guard errors.count == before, let url else { return nil }
        let configuration = WebhookConfiguration(url: url, method: method, headers: headers, timeoutSeconds: timeout, rateLimitPerSecond: rate,
                                                 rateLimitBurst: burst, signingSecretVariable: signing, caBundlePath: caBundle)
        do {
            try configuration.validate()
        } catch {
            // Point at the field at fault (Url, Headers, CaBundle…) when there is one.
            fail(error.field.map { path.appending($0) } ?? path, .invalidOption(error.description))
            return nil
        }
        return WebhookTargetSpec(configuration: configuration, format: format, maxConcurrency: concurrency, optional: optional)
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first < UInt8(ascii: "0") || first > UInt8(ascii: "9") else { return false }
        return name.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_")
        }
    }

    // MARK: - Inputs

    /// `Input`, `InputPath` or `InputTransformer`; `.matchedEvent` without any; nil on a problem.
    mutating func readInput(_ object: JSONObject, at path: JSONPath) -> InputSpec? {
        let present = ["Input", "InputPath", "InputTransformer"].filter { object[$0] != nil }
        if present.count > 1 {
            fail(path.appending(present[1]), .conflictingInputs(present))
            return nil
        }
        if let value = object["Input"] {
            let inputPath = path.appending("Input")
            let text: String?
            if case .string(let s) = value { text = s } else { text = nil }
            // EventBridge takes Input as text; a JSON value written in place counts as its compact text.
            let length = (text ?? JSONWriter.string(value)).unicodeScalars.count
            if length > InputSpec.maxConstantCharacters {
                fail(inputPath, .constantInputTooLong(characters: length, limit: InputSpec.maxConstantCharacters, asJSONValue: text == nil))
                return nil
            }
            guard let text else { return .constant(value) }
            do {
                return .constant(try JSONParser.parse(text))
            } catch {
                fail(inputPath, .invalidConstantInput(error))
                return nil
            }
        }
        if let value = object["InputPath"] {
            let inputPath = path.appending("InputPath")
            guard case .string(let text) = value else {
                fail(inputPath, .expected("a JSON path such as \"$.detail\"", found: RuleProblem.describe(value)))
                return nil
            }
            do {
                return .path(try EventJSONPath(parsing: text, allowsBracketKeys: true))
            } catch {
                fail(inputPath, .invalidInputPath(error))
                return nil
            }
        }
        if let value = object["InputTransformer"] {
            return readTransformer(value, at: path.appending("InputTransformer")).map(InputSpec.transformer)
        }
        return .matchedEvent
    }

    mutating func readTransformer(_ value: JSONValue, at path: JSONPath) -> InputTransformer? {
        guard case .object(let object) = value else {
            fail(path, .expected("an object with \"InputPathsMap\" and \"InputTemplate\"", found: RuleProblem.describe(value)))
            return nil
        }
        let before = errors.count
        checkFields(object, at: path, allowed: RuleFile.inputTransformerFields)
        let mapPath = path.appending("InputPathsMap")
        var entries: [(name: String, path: String)] = []
        if let map = object["InputPathsMap"] {
            if case .object(let members) = map {
                for member in members {
                    if case .string(let s) = member.value {
                        entries.append((member.key, s))
                    } else {
                        fail(mapPath.appending(member.key), .expected("a JSON path string such as \"$.detail.eventName\"", found: RuleProblem.describe(member.value)))
                    }
                }
            } else {
                fail(mapPath, .expected("an object of variable names to JSON paths", found: RuleProblem.describe(map)))
            }
        }
        let templatePath = path.appending("InputTemplate")
        var template: String?
        if let value = required(object, "InputTemplate", at: path, in: "an InputTransformer") {
            if case .string(let s) = value { template = s } else {
                fail(templatePath, .expected("a template string", found: RuleProblem.describe(value)))
            }
        }
        guard let template, errors.count == before else { return nil }
        let compiled = InputTransformer.compile(variables: entries, template: template)
        for error in compiled.errors {
            let errorPath: JSONPath
            if let variable = error.variable {
                errorPath = mapPath.appending(variable)
            } else if error.isTemplateError {
                errorPath = templatePath
            } else {
                errorPath = mapPath
            }
            fail(errorPath, .inputTransformer(error))
        }
        return compiled.transformer
    }

    // MARK: - Delivery settings

    mutating func readRetryPolicy(_ object: JSONObject, at path: JSONPath) -> RetryPolicy {
        guard let value = object["RetryPolicy"] else { return RetryPolicy() }
        let policyPath = path.appending("RetryPolicy")
        guard case .object(let policy) = value else {
            fail(policyPath, .expected("an object with \"MaximumRetryAttempts\" and/or \"MaximumEventAgeInSeconds\"", found: RuleProblem.describe(value)))
            return RetryPolicy()
        }
        checkFields(policy, at: policyPath, allowed: RuleFile.retryPolicyFields)
        var result = RetryPolicy()
        if let attempts = integer(policy, "MaximumRetryAttempts", at: policyPath, range: RetryPolicy.retryAttemptsRange) {
            result.maximumRetryAttempts = attempts
        }
        if let age = integer(policy, "MaximumEventAgeInSeconds", at: policyPath, range: RetryPolicy.eventAgeRange) {
            result.maximumEventAgeInSeconds = age
        }
        return result
    }

    mutating func readDeadLetter(_ object: JSONObject, at path: JSONPath) -> DeadLetterConfig? {
        guard let value = object["DeadLetterConfig"] else { return nil }
        let configPath = path.appending("DeadLetterConfig")
        guard case .object(let config) = value else {
            fail(configPath, .expected("an object such as {\"Path\": \"dead-letters/x.ndjson\"}", found: RuleProblem.describe(value)))
            return nil
        }
        checkFields(config, at: configPath, allowed: RuleFile.deadLetterFields)
        if config["Arn"] != nil {
            fail(configPath.appending("Arn"), .deadLetterArnUnsupported)
            return nil
        }
        guard let pathValue = config["Path"] else {
            fail(configPath, .deadLetterNeedsPath)
            return nil
        }
        guard case .string(let written) = pathValue, !written.isEmpty, !written.contains("\0") else {
            fail(configPath.appending("Path"), .expected("a file path", found: RuleProblem.describe(pathValue)))
            return nil
        }
        return DeadLetterConfig(path: FunctionTarget.resolvePath(written, ruleFile: file, currentDirectory: currentDirectory),
                                pathAsWritten: written)
    }

    // MARK: - Field helpers

    /// Reports every member of `object` not in `allowed` (the fields the message lists) nor in
    /// `alsoAccepted` (fields checked or ignored elsewhere, not worth suggesting).
    /// Reports every member not in `allowed`, `ignored` (accepted from AWS and ignored, named in the
    /// message) or `alsoAccepted` (reported elsewhere, such as `ScheduleExpression`).
    mutating func checkFields(_ object: JSONObject, at path: JSONPath, allowed: [String], ignored: [String] = [], alsoAccepted: [String] = []) {
        for member in object where !allowed.contains(member.key) && !ignored.contains(member.key) && !alsoAccepted.contains(member.key) {
            let suggestion = Suggestion.closest(to: member.key, among: allowed)
            let hint = suggestion == nil ? RuleFile.hints[member.key] : nil
            fail(path.appending(member.key), .unknownField(member.key, allowed: allowed, ignored: ignored, suggestion: suggestion, hint: hint))
        }
    }

    /// The member `key`, reporting it missing (at the object) when absent.
    mutating func required(_ object: JSONObject, _ key: String, at path: JSONPath, in what: String) -> JSONValue? {
        if let value = object[key] { return value }
        fail(path, .missingField(key, in: what))
        return nil
    }

    mutating func optionalString(_ object: JSONObject, _ key: String, at path: JSONPath, maxLength: Int) -> String? {
        guard let value = object[key] else { return nil }
        guard case .string(let s) = value, s.count <= maxLength else {
            fail(path.appending(key), .expected("a string of at most \(maxLength) characters", found: RuleProblem.describe(value)))
            return nil
        }
        return s
    }

    /// An optional number accepted by `accept`; nil when absent or on a problem.
    mutating func number(_ object: JSONObject, _ key: String, at path: JSONPath, expected: String, accept: (Double) -> Bool) -> Double? {
        guard let value = object[key] else { return nil }
        guard case .number(let n) = value, n.value.isFinite, accept(n.value) else {
            fail(path.appending(key), .expected(expected, found: RuleProblem.describe(value)))
            return nil
        }
        return n.value
    }

    /// An optional whole number in `range` (written without fraction or exponent).
    mutating func integer(_ object: JSONObject, _ key: String, at path: JSONPath, range: ClosedRange<Int>) -> Int? {
        guard let value = object[key] else { return nil }
        guard case .number(let n) = value, n.isIntegerLiteral, n.value >= Double(range.lowerBound), n.value <= Double(range.upperBound) else {
            fail(path.appending(key), .expected("a whole number from \(range.lowerBound) to \(range.upperBound)", found: RuleProblem.describe(value)))
            return nil
        }
        return Int(n.value)
    }
}
