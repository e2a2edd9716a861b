import TriplineJSON

/// EventBridge's input transformer: variables taken from the event by JSON path, inserted into a
/// template to build the payload a target receives.
///
/// Everything that can be checked is checked when the rule loads (names, paths, template syntax,
/// unknown placeholders), so rendering an event never fails except for an oversized result.
///
/// Rendering follows the EventBridge documentation
/// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html):
/// - A template that starts with `{`, `[` or `"` (or is one lone placeholder) is a JSON template.
///   A placeholder in a value position becomes the value as JSON: strings get quotes, objects and
///   arrays are inserted as they are. Inside a string literal a placeholder becomes the value's
///   text; an object or array there has its quotes removed ("EventBridge removes any internal
///   quotes to ensure a valid string"). The output is minified JSON.
/// - Any other template is text: placeholders become raw values.
/// - A variable whose path is not in the event "isn't created": it renders as nothing inside text
///   and strings, and as `null` in a JSON value position (nothing there would be invalid JSON).
///
/// Where AWS is looser, Tripline stays valid: values inserted into a JSON string are escaped
/// (AWS documents that it does not escape them, which breaks the JSON for values holding quotes).
public struct InputTransformer: Sendable, Equatable {
    /// One `InputPathsMap` entry.
    public struct Variable: Sendable, Equatable {
        /// The name used in the template as `<name>`.
        public let name: String
        /// Where the value comes from in the event.
        public let path: EventJSONPath

        public init(name: String, path: EventJSONPath) {
            self.name = name
            self.path = path
        }
    }

    /// The kind of template, decided by its first character.
    public enum TemplateKind: Sendable, Equatable {
        /// Output is JSON.
        case json
        /// Output is text with placeholders replaced.
        case text
    }

    /// Most `InputPathsMap` entries (EventBridge: 100).
    public static let maxVariables = 100
    /// Longest variable name (EventBridge: 256).
    public static let maxVariableNameLength = 256
    /// Longest template (EventBridge: 8192).
    public static let maxTemplateBytes = 8192
    /// Largest rendered payload: EventBridge's 256 KB event size limit.
    public static let maxOutputBytes = 256 * 1024

    static let ruleNameVariable = "aws.events.rule-name"
    static let ruleArnVariable = "aws.events.rule-arn"
    static let ingestionTimeVariable = "aws.events.event.ingestion-time"
    static let eventVariable = "aws.events.event"
    static let eventJSONVariable = "aws.events.event.json"

    /// The predefined variables a template may use without declaring them.
    ///
    /// `aws.events.rule-arn` renders the rule's local ARN, ``Rule/localArn(name:)``.
    public static let predefinedVariables = [ruleNameVariable, ruleArnVariable, ingestionTimeVariable, eventVariable, eventJSONVariable]

    /// The `InputPathsMap` entries in declaration order.
    public let variables: [Variable]
    /// The template as written.
    public let template: String
    let compiled: CompiledTemplate

    /// Whether the template produces JSON or text.
    public var templateKind: TemplateKind {
        if case .json = compiled { return .json }
        return .text
    }

    /// Compiles a transformer; throws the first problem (``compile(variables:template:)`` lists all).
    public init(inputPathsMap: KeyValuePairs<String, String>, inputTemplate: String) throws(InputTransformerError) {
        let result = InputTransformer.compile(variables: inputPathsMap.map { ($0.key, $0.value) }, template: inputTemplate)
        guard let transformer = result.transformer else { throw result.errors[0] }
        self = transformer
    }

    private init(variables: [Variable], template: String, compiled: CompiledTemplate) {
        self.variables = variables
        self.template = template
        self.compiled = compiled
    }

    /// Checks and compiles `InputPathsMap` entries and a template, collecting every problem.
    ///
    /// Returns the transformer when there is no problem, else nil and the problems in order:
    /// variable problems first, then template problems.
    public static func compile(variables entries: [(name: String, path: String)], template: String)
        -> (transformer: InputTransformer?, errors: [InputTransformerError]) {
        var errors: [InputTransformerError] = []
        if entries.count > maxVariables { errors.append(.tooManyVariables(count: entries.count, limit: maxVariables)) }
        var variables: [Variable] = []
        var declared: [String] = []
        var rejected: Set<String> = []
        for entry in entries {
            if let problem = nameProblem(entry.name) {
                errors.append(problem)
                rejected.insert(entry.name)
                continue
            }
            declared.append(entry.name)
            do {
                variables.append(Variable(name: entry.name, path: try EventJSONPath(parsing: entry.path)))
            } catch {
                errors.append(.invalidPath(variable: entry.name, error))
                variables.append(Variable(name: entry.name, path: .root))
            }
        }
        let templateBytes = template.utf8.count
        if template.allSatisfy({ $0.isWhitespace }) {
            errors.append(.emptyTemplate)
        } else if templateBytes > maxTemplateBytes {
            errors.append(.templateTooLong(bytes: templateBytes, limit: maxTemplateBytes))
        } else {
            // The template's uses of rejected names are not reported again: their entries' errors say what is wrong.
            var compiler = TemplateCompiler(template: template, declared: declared, rejected: rejected)
            let compiled = compiler.compile()
            errors.append(contentsOf: compiler.errors)
            if errors.isEmpty, let compiled {
                return (InputTransformer(variables: variables, template: template, compiled: compiled), [])
            }
        }
        return (nil, errors)
    }

    /// Why `name` cannot name a variable, or nil when it can.
    static func nameProblem(_ name: String) -> InputTransformerError? {
        if name.isEmpty { return .invalidVariableName(name, reason: "it is empty") }
        if name.lowercased().hasPrefix("aws.") { return .reservedVariableName(name) }
        if name.utf8.count > maxVariableNameLength {
            return .invalidVariableName(name, reason: "it is longer than \(maxVariableNameLength) bytes")
        }
        if let bad = name.unicodeScalars.first(where: { !($0.isASCII && TemplateCompiler.isNameByte(UInt8($0.value)) && $0 != ".") }) {
            return .invalidVariableName(name, reason: "\(JSONWriter.quoted(String(bad))) is not allowed; use letters, digits, '_' and '-'")
        }
        return nil
    }

    public static func == (lhs: InputTransformer, rhs: InputTransformer) -> Bool {
        lhs.variables == rhs.variables && lhs.template == rhs.template
    }

    // MARK: - Rendering

    /// The payload for one event.
    ///
    /// `eventBytes`, when given, is the event exactly as received, used for
    /// `<aws.events.event.json>`; otherwise `event` is serialised.
    public func render(event: JSONValue, eventBytes: [UInt8]?, ruleName: String, ingestionTime: String) throws(TransformError) -> [UInt8] {
        let context = RenderContext(event: event, eventBytes: eventBytes, ruleName: ruleName, ingestionTime: ingestionTime,
                                    values: variables.map { $0.path.evaluate(in: event) })
        var out: [UInt8] = []
        switch compiled {
        case .json(let node): context.write(node, into: &out)
        case .text(let segments): for segment in segments { context.writeText(segment, into: &out) }
        }
        guard out.count <= InputTransformer.maxOutputBytes else {
            throw .outputTooLarge(size: out.count, limit: InputTransformer.maxOutputBytes)
        }
        return out
    }
}

/// The values one rendering draws from.
private struct RenderContext {
    let event: JSONValue
    let eventBytes: [UInt8]?
    let ruleName: String
    let ingestionTime: String
    /// Each declared variable's value; nil when its path is not in the event.
    let values: [JSONValue?]

    /// The value of a variable; nil when missing.
    func value(_ variable: TemplateVariable) -> JSONValue? {
        switch variable {
        case .path(let i): return values[i]
        case .ruleName: return .string(ruleName)
        case .ruleArn: return .string(Rule.localArn(name: ruleName))
        case .ingestionTime: return .string(ingestionTime)
        case .event:
            guard var object = event.objectValue else { return event }
            object["detail"] = nil
            return .object(object)
        case .eventJSON: return event
        }
    }

    func write(_ node: TemplateNode, into out: inout [UInt8]) {
        switch node {
        case .literal(let value):
            JSONWriter.write(value, into: &out)
        case .slot(let variable):
            if variable == .eventJSON, let eventBytes {
                out.append(contentsOf: RenderContext.trimmed(eventBytes))
            } else if let value = value(variable) {
                JSONWriter.write(value, into: &out)
            } else {
                out.append(contentsOf: "null".utf8)
            }
        case .string(let segments):
            out.append(UInt8(ascii: "\""))
            for segment in segments {
                switch segment {
                case .text(let text): JSONWriter.appendEscaped(text.utf8, into: &out)
                case .variable(let variable):
                    if let value = value(variable) { JSONWriter.appendEscaped(RenderContext.textInString(value), into: &out) }
                }
            }
            out.append(UInt8(ascii: "\""))
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, member) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    func writeText(_ segment: TemplateSegment, into out: inout [UInt8]) {
        switch segment {
        case .text(let text):
            out.append(contentsOf: text.utf8)
        case .variable(let variable):
            guard let value = value(variable) else { return }
            if case .string(let s) = value {
                out.append(contentsOf: s.utf8)
            } else {
                JSONWriter.write(value, into: &out)
            }
        }
    }

    /// A value's text inside a JSON string: strings as they are, scalars as JSON, objects and
    /// arrays as JSON with every quote removed.
    static func textInString(_ value: JSONValue) -> [UInt8] {
        switch value {
        case .string(let s): return Array(s.utf8)
        case .object, .array: return JSONWriter.bytes(value).filter { $0 != UInt8(ascii: "\"") }
        default: return JSONWriter.bytes(value)
        }
    }

    static func trimmed(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end, TemplateCompiler.isWhitespace(bytes[start]) { start += 1 }
        while end > start, TemplateCompiler.isWhitespace(bytes[end - 1]) { end -= 1 }
        return bytes[start..<end]
    }
}
