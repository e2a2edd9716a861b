import EventPattern
import TriplineJSON
import TriplineTargets

/// A problem in a rule file, with where it is: file, line:column and JSON path.
///
/// Printed as `file:line:column: path: message`, e.g.
/// `Rules/x.json:7:18: Targets[0].Function.TimeoutSeconds: expected a number from 1 to 900, got "abc"`.
/// Problems with a whole file (unreadable, not JSON) have no path.
public struct RuleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file, as given to the loader.
    public var file: String
    /// Where the offending value starts, when known.
    public var location: JSONLocation?
    /// The offending value's path in the file (`[1].Targets[0].Id`); nil for file-level problems.
    public var path: JSONPath?
    /// What is wrong.
    public var problem: RuleProblem

    public init(file: String, location: JSONLocation? = nil, path: JSONPath? = nil, problem: RuleProblem) {
        self.file = file
        self.location = location
        self.path = path
        self.problem = problem
    }

    /// 1-based line of ``location``.
    public var line: Int? { location?.line }
    /// 1-based column (in characters) of ``location``.
    public var column: Int? { location?.column }
    /// The message without file, location or path.
    public var message: String { problem.description }

    public var description: String {
        var text = JSONLocation.prefix(file: file, location: location)
        if let path { text += "\(path): " }
        return text + message
    }
}

/// What is wrong in a rule file. Each case carries the offending value, described for people.
public enum RuleProblem: Sendable, Equatable, CustomStringConvertible {
    /// The file or directory could not be read.
    case unreadable(reason: String)
    /// The file is not valid JSON, or repeats a key (valid JSON, but in a rule file a mistake).
    case invalidJSON(JSONError)
    /// A YAML file (by its name, or JSON that fails on YAML-looking text): rule files are JSON.
    case yamlNotRead
    /// Terraform (HCL) text: rule files are JSON.
    case terraformNotRead
    /// The top level is neither a rule object nor an array of them.
    case notRuleList(found: String)
    /// A value of the wrong type or outside its range: "expected …, got …".
    case expected(String, found: String)
    /// A target option's own explanation of what is wrong (`is required: …`, `must be …`).
    case invalidOption(String)
    /// A required field is absent.
    case missingField(String, in: String)
    /// A field this object does not have.
    case unknownField(String, allowed: [String], ignored: [String] = [], suggestion: String?, hint: String?)
    /// A rule or target name with characters outside `[.\-_A-Za-z0-9]` or the wrong length.
    case invalidName(kind: String, found: String, maxLength: Int)
    /// A rule name already used, in this file or another.
    case duplicateRuleName(String, firstFile: String, firstLocation: JSONLocation?)
    /// A target `Id` already used in the same rule.
    case duplicateTargetID(String)
    /// More targets than EventBridge allows per rule.
    case tooManyTargets(count: Int, limit: Int)
    /// A target with no kind key (`Function`, …).
    case missingTargetKind(available: [String])
    /// A CloudFormation resource whose `Type` is not `AWS::Events::Rule`.
    case notCloudFormationRule(found: String)
    /// A CloudFormation template without `AWS::Events::Rule` resources (`otherTypes`: the types it has).
    case noCloudFormationRules(otherTypes: [String])
    /// A target with an `Arn` (an AWS resource) and no local kind: it cannot run here.
    case awsTargetOnly(arn: String, available: [String])
    /// A target with more than one kind key.
    case multipleTargetKinds([String])
    /// A topic name already declared, in this file or another.
    case duplicateTopicName(String, firstFile: String, firstLocation: JSONLocation?)
    /// A subscription `Id` already used in the same topic.
    case duplicateSubscriptionID(String)
    /// A `Topic` target or subscription naming a topic no rule file declares.
    case unknownTopic(String, known: [String])
    /// A topic declared in another file of the folder that has problems of its own, so it is not loaded.
    case unusableTopic(String, file: String)
    /// Topic subscriptions that forward in a circle (`a → b → a`).
    case topicCycle([String])
    /// A problem in a subscription's `FilterPolicy`, as the SNS policy validator reports it.
    case filterPolicy(FilterPolicyProblem)
    /// A `FilterPolicy` given as a string that is not JSON; the error's location is inside the string.
    case filterPolicyText(JSONError)
    /// More than one of `Input`, `InputPath`, `InputTransformer` in a target.
    case conflictingInputs([String])
    /// `Input`, `InputPath` or `InputTransformer` (`field`) on a webhook with `Format: "slack"`,
    /// which builds its message from the matched event and would ignore them.
    case slackFormatWithInput(field: String)
    /// `Input` longer than EventBridge's limit; `asJSONValue` when it was written as a JSON value, measured as its compact text.
    case constantInputTooLong(characters: Int, limit: Int, asJSONValue: Bool)
    /// `Input` given as a string that is not JSON text.
    case invalidConstantInput(JSONError)
    /// An `InputPath` that does not parse.
    case invalidInputPath(EventJSONPath.ParseError)
    /// A problem in an `InputTransformer`.
    case inputTransformer(InputTransformerError)
    /// A problem in `EventPattern`, as the pattern validator reports it.
    case pattern(PatternProblem)
    /// A malformed entry of a rule's `Tests`, as `tripline test` reports it.
    case ruleTest(RuleTestProblem)
    /// A handler that cannot be started (missing, a directory, not executable, not on `PATH`, or a
    /// file the system cannot start: no `#!` line, a missing `#!` interpreter, Windows line endings).
    case handlerCannotStart(owner: String, written: String, FunctionRunError)
    /// ``handlerCannotStart(owner:written:_:)`` in a `DISABLED` rule, which runs nothing: a warning.
    case handlerCannotStartInDisabledRule(owner: String, written: String, FunctionRunError)
    /// A handler that starts, but with something in its `#!` line that may well keep it from
    /// working (a carriage return at the end of the interpreter's argument): a warning.
    case handlerMayNotWork(owner: String, program: String, ProgramStartDoubt)
    /// `ScheduleExpression`: rules here match events; nothing runs on a schedule.
    case scheduleUnsupported
    /// `DeadLetterConfig.Arn`: there are no SQS queues locally.
    case deadLetterArnUnsupported
    /// `DeadLetterConfig` with both `Path` and `Arn`, or neither.
    case deadLetterNeedsPath

    public var description: String {
        switch self {
        case .unreadable(let reason):
            return "cannot read: \(reason)"
        case .invalidJSON(let error):
            if case .duplicateKey(let key, let path, _) = error {
                // Valid JSON, but ambiguous: a rule file is read strictly. In a pattern EventBridge keeps the last one, and so
                // does a bare pattern here, which is worth knowing when a pattern that validated alone is refused in a rule.
                let inPattern = path.hasPrefix("EventPattern") || path.contains(".EventPattern")
                return "\(error.message): a rule file takes each key once"
                    + (inPattern ? " (EventBridge would keep the last \(JSONWriter.quoted(key)))" : "") + "; remove the one that does not apply"
            }
            return "not valid JSON: \(error.message)"
        case .yamlNotRead:
            return "YAML is not read: rule files are JSON; convert it (a CloudFormation template with \"cfn-flip\", which also turns "
                + "!Ref into {\"Ref\": …}; other YAML with \"yq -o=json\") and keep only the JSON file"
        case .terraformNotRead:
            return "Terraform is not read: rule files are JSON; write the rule as {\"Name\": …, \"EventPattern\": …, \"Targets\": […]} "
                + "with the event_pattern's JSON (what jsonencode(…) or the heredoc holds) as EventPattern"
        case .notRuleList(let found):
            return "a rule file holds one rule object or an array of rule objects, got \(found)"
        case .expected(let expected, let found):
            return "expected \(expected), got \(found)"
        case .invalidOption(let message):
            return message
        case .missingField(let field, let object):
            return "\(object) needs \(JSONWriter.quoted(field))"
        case .unknownField(let field, let allowed, let ignored, let suggestion, let hint):
            var text = "unknown field \(JSONWriter.quoted(field))"
            if let suggestion { text += "; did you mean \(JSONWriter.quoted(suggestion))?" }
            if let hint { text += " (\(hint))" }
            text += "; allowed: " + allowed.map { JSONWriter.quoted($0) }.joined(separator: ", ")
            if !ignored.isEmpty { text += "; accepted and ignored (from AWS): " + ignored.map { JSONWriter.quoted($0) }.joined(separator: ", ") }
            return text
        case .invalidName(let kind, let found, let maxLength):
            return "\(kind) must be 1 to \(maxLength) letters, digits, '.', '-' or '_', got \(found)"
        case .duplicateRuleName(let name, let firstFile, let firstLocation):
            var place = firstFile
            if let firstLocation { place += ":\(firstLocation)" }
            return "rule name \(JSONWriter.quoted(name)) is already used at \(place); names must be unique across all rule files"
        case .duplicateTargetID(let id):
            return "target Id \(JSONWriter.quoted(id)) is already used in this rule; Ids must be unique within a rule"
        case .tooManyTargets(let count, let limit):
            return "\(count) targets; a rule has at most \(limit) (as on EventBridge)"
        case .missingTargetKind(let available):
            return "a target needs exactly one kind: " + available.map { JSONWriter.quoted($0) }.joined(separator: " or ")
                + " (e.g. \"Function\": {\"Handler\": \"handlers/notify.sh\"})"
        case .notCloudFormationRule(let found):
            return "this CloudFormation resource is of type \(found); a rule file reads only \"AWS::Events::Rule\" resources "
                + "(their Properties are the rule), so paste an AWS::Events::Rule resource or write the rule itself (Name, EventPattern, Targets)"
        case .noCloudFormationRules(let otherTypes):
            let found = otherTypes.isEmpty ? "none" : otherTypes.prefix(5).map { JSONWriter.quoted($0) }.joined(separator: ", ")
                + (otherTypes.count > 5 ? ", …" : "")
            return "this CloudFormation template has no \"AWS::Events::Rule\" resource (resource types: \(found)); "
                + "a rule file reads the Properties of each AWS::Events::Rule resource as a rule"
        case .awsTargetOnly(let arn, let available):
            let kinds = available.map { JSONWriter.quoted($0) }
            return "this target is an AWS resource (Arn \(arn)), which cannot run locally; add a local kind next to it ("
                + kinds.dropLast().joined(separator: ", ") + " or " + (kinds.last ?? "")
                + ", e.g. \"Function\": {\"Handler\": \"Handlers/notify.sh\"}); the Arn is then ignored"
        case .multipleTargetKinds(let kinds):
            return "a target has exactly one kind, got " + kinds.map { JSONWriter.quoted($0) }.joined(separator: " and ")
                + "; declare each as its own target"
        case .duplicateTopicName(let name, let firstFile, let firstLocation):
            var place = firstFile
            if let firstLocation { place += ":\(firstLocation)" }
            return "topic name \(JSONWriter.quoted(name)) is already declared at \(place); topic names must be unique across all rule files"
        case .duplicateSubscriptionID(let id):
            return "subscription Id \(JSONWriter.quoted(id)) is already used in this topic; Ids must be unique within a topic"
        case .unknownTopic(let name, let known):
            let list = known.isEmpty ? "no topics are declared" : "declared topics: " + known.map { JSONWriter.quoted($0) }.joined(separator: ", ")
            var text = "no topic named \(JSONWriter.quoted(name)) is declared (\(list))"
            if let suggestion = Suggestion.closest(to: name, among: known) { text += "; did you mean \(JSONWriter.quoted(suggestion))?" }
            return text + "; declare it in a rule file as {\"Topic\": {\"Name\": \(JSONWriter.quoted(name)), \"Subscriptions\": [...]}}"
        case .unusableTopic(let name, let file):
            return "topic \(JSONWriter.quoted(name)) is declared in \(file), which has errors, so it cannot be used here; run 'tripline validate \(file)'"
        case .topicCycle(let names):
            return "topic subscriptions form a cycle: " + names.joined(separator: " → ") + "; a message would be published forever"
        case .filterPolicy(let problem):
            return problem.description
        case .filterPolicyText(let error):
            return "filter policy is not valid JSON: \(error) (a FilterPolicy string must hold the policy's JSON, e.g. \"{\\\"severity\\\": [\\\"high\\\"]}\")"
        case .conflictingInputs(let fields):
            return "use only one of " + fields.map { JSONWriter.quoted($0) }.joined(separator: ", ")
                + " (as on EventBridge, a target takes the matched event, a constant, a path or a transformer)"
        case .slackFormatWithInput(let field):
            return "\(JSONWriter.quoted(field)) would be ignored: the webhook's \"Format\": \"slack\" builds its message from the matched event itself. "
                + "To send your own Slack message, remove \"Format\" and give an \"InputTransformer\" whose \"InputTemplate\" is Slack-shaped "
                + "(such as {\"text\": \"<aws.events.rule-name>: <eventName> by <principal>\"}; Examples/chat-templates/ has templates, "
                + "mattermost.json in Slack's text-and-attachments shape); or remove \(JSONWriter.quoted(field)) to keep the built-in Slack message"
        case .constantInputTooLong(let characters, let limit, let asJSONValue):
            return "Input is \(characters) characters\(asJSONValue ? " as compact JSON" : ""); EventBridge allows at most \(limit) (Target.Input); "
                + "send less, or build the payload from the event with \"InputPath\" or \"InputTransformer\""
        case .invalidConstantInput(let error):
            let place = error.location.map { "at character \($0.column) of it" } ?? "in it"
            return "Input must be JSON text such as \"{\\\"key\\\": 1}\"; \(place): \(error.message)"
        case .invalidInputPath(let error):
            return error.description
        case .inputTransformer(let error):
            return error.description
        case .pattern(let problem):
            return problem.description
        case .ruleTest(let problem):
            return problem.description
        case .handlerCannotStart(let owner, let written, let error):
            return Self.cannotStartText(owner: owner, written: written, error) + "; every delivery to it would fail"
        case .handlerCannotStartInDisabledRule(let owner, let written, let error):
            return Self.cannotStartText(owner: owner, written: written, error)
                + "; the rule is DISABLED, so nothing runs it now, but every delivery to it would fail once the rule is enabled"
        case .handlerMayNotWork(let owner, let program, let doubt):
            return "\(owner): handler \(program) starts, but may fail at once: \(doubt)"
        case .scheduleUnsupported:
            return "scheduled rules are not supported: Tripline rules match events (\"EventPattern\"); remove \"ScheduleExpression\""
        case .deadLetterArnUnsupported:
            return "\"Arn\" (an SQS queue) is not supported locally; use \"Path\" to name a file that receives the events that could not be delivered"
        case .deadLetterNeedsPath:
            return "DeadLetterConfig needs \"Path\": the file that receives the events that could not be delivered"
        }
    }

    /// Why the handler `written` (of `owner`) cannot start, with a hint for a relative path not found.
    static func cannotStartText(owner: String, written: String, _ error: FunctionRunError) -> String {
        var text = "\(owner): \(error)"
        if case .cannotStart = error, written.contains("/") && !written.hasPrefix("/") {
            text += " (a relative handler path is taken from the folder that holds Rules/, else from the rule file's folder)"
        }
        return text
    }

    /// A JSON value as shown in "got …": compact JSON up to 60 bytes; a longer string is cut
    /// with its length given; another long value is named by its kind.
    /// `namingFunctions`: a CloudFormation intrinsic function is said to be one, with what to do (not
    /// where the value is ignored anyway once the error is fixed, as a target's `Arn`).
    static func describe(_ value: JSONValue, namingFunctions: Bool = true) -> String {
        var text = JSONWriter.string(value)
        if text.utf8.count > 60 {
            if case .string(let s) = value {
                text = JSONWriter.quoted(String(s.prefix(40)) + "…") + " (\(s.count) characters)"
            } else {
                text = value.kindDescription
            }
        }
        // `{"Fn::Sub": "${AWS::StackName}-alerts"}` in a template: said as what it is.
        if namingFunctions, case .object(let object) = value, object.count == 1, let key = object.members.first?.key,
           key == "Ref" || key.hasPrefix("Fn::") {
            text += " (the CloudFormation intrinsic function \(JSONWriter.quoted(key)), which nothing evaluates here: write the value it stands for)"
        }
        return text
    }
}
