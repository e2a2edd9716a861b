import TriplineJSON

/// What a `<name>` placeholder stands for.
enum TemplateVariable: Sendable, Hashable {
    /// The `InputPathsMap` variable at this index in ``InputTransformer/variables``.
    case path(Int)
    case ruleName
    /// The rule's local ARN (``Rule/localArn(name:)``).
    case ruleArn
    case ingestionTime
    /// The event without its `detail` member.
    case event
    /// The whole event, as received.
    case eventJSON
}

/// A run of a string or text template: literal text or a placeholder.
enum TemplateSegment: Sendable, Hashable {
    case text(String)
    case variable(TemplateVariable)
}

/// A parsed JSON template: JSON whose values may be placeholders or strings with placeholders.
indirect enum TemplateNode: Sendable, Equatable {
    /// A value without placeholders.
    case literal(JSONValue)
    /// A placeholder in a value position: replaced by the variable's value as JSON.
    case slot(TemplateVariable)
    /// A string with placeholders inside it.
    case string([TemplateSegment])
    case array([TemplateNode])
    case object([TemplateMember])
}

struct TemplateMember: Sendable, Equatable {
    var key: String
    var value: TemplateNode
}

/// A compiled `InputTemplate`.
enum CompiledTemplate: Sendable, Equatable {
    /// The template is JSON (it starts with `{`, `[` or `"`, or is a single placeholder); the
    /// output is minified JSON.
    case json(TemplateNode)
    /// Plain text: placeholders are replaced by raw values.
    case text([TemplateSegment])
}

/// Compiles template text, resolving placeholder names and checking JSON templates.
struct TemplateCompiler {
    let bytes: [UInt8]
    let text: String
    /// Variable names declared in `InputPathsMap`, by index.
    let names: [String: Int]
    let declared: [String]
    /// `InputPathsMap` names rejected as names (reserved, bad characters): placeholders using them
    /// are skipped without a follow-on error, since the entry's own error already explains them.
    let rejected: Set<String>
    var errors: [InputTransformerError] = []
    var index = 0

    static let maxDepth = 64

    init(template: String, declared: [String], rejected: Set<String> = []) {
        self.text = template
        self.bytes = Array(template.utf8)
        self.declared = declared
        self.rejected = rejected
        var names: [String: Int] = [:]
        for (i, name) in declared.enumerated() where names[name] == nil { names[name] = i }
        self.names = names
    }

    /// The compiled template, or nil with `errors` filled in.
    mutating func compile() -> CompiledTemplate? {
        let first = firstNonWhitespace()
        let looksLikeJSON: Bool
        if let first, bytes[first] == UInt8(ascii: "{") || bytes[first] == UInt8(ascii: "[") || bytes[first] == UInt8(ascii: "\"") {
            looksLikeJSON = true
        } else if let first, bytes[first] == UInt8(ascii: "<"), let end = placeholderEnd(at: first),
                  lastNonWhitespace() == end - 1 {
            looksLikeJSON = true
        } else {
            looksLikeJSON = false
        }
        if looksLikeJSON {
            index = 0
            skipWhitespace()
            guard let node = parseValue(depth: 0) else { return nil }
            skipWhitespace()
            if index < bytes.count {
                fail(.invalidJSONTemplate(reason: "unexpected content after the JSON value", position: characterOffset(index)))
                return nil
            }
            return errors.isEmpty ? .json(node) : nil
        }
        let segments = textSegments(from: 0, to: bytes.count)
        return errors.isEmpty ? .text(segments) : nil
    }

    // MARK: - Placeholders

    static func isNameByte(_ c: UInt8) -> Bool {
        EventJSONPath.isKeyByte(c) && c != UInt8(ascii: "/") || c == UInt8(ascii: ".")
    }

    /// When a placeholder-shaped `<name>` starts at `start`, the index just past its `>`.
    func placeholderEnd(at start: Int) -> Int? {
        guard bytes[start] == UInt8(ascii: "<") else { return nil }
        var i = start + 1
        while i < bytes.count, i - start <= InputTransformer.maxVariableNameLength, TemplateCompiler.isNameByte(bytes[i]) { i += 1 }
        guard i > start + 1, i < bytes.count, bytes[i] == UInt8(ascii: ">") else { return nil }
        return i + 1
    }

    /// When `<name>` for a rejected `InputPathsMap` name starts at `start`, the index just past its `>`.
    func rejectedPlaceholderEnd(at start: Int) -> Int? {
        for name in rejected {
            let candidate = Array(("<" + name + ">").utf8)
            if start + candidate.count <= bytes.count, bytes[start..<(start + candidate.count)].elementsEqual(candidate) {
                return start + candidate.count
            }
        }
        return nil
    }

    /// Resolves `<name>` (the text between the brackets) to a variable, recording unknown names.
    mutating func resolve(_ name: String, at position: Int) -> TemplateVariable? {
        if let i = names[name] { return .path(i) }
        switch name {
        case InputTransformer.ruleNameVariable: return .ruleName
        case InputTransformer.ruleArnVariable: return .ruleArn
        case InputTransformer.ingestionTimeVariable: return .ingestionTime
        case InputTransformer.eventVariable: return .event
        case InputTransformer.eventJSONVariable: return .eventJSON
        case _ where rejected.contains(name):
            return nil
        default:
            let candidates = declared + InputTransformer.predefinedVariables
            fail(.unknownVariable(name: name, position: characterOffset(position),
                                  suggestion: Suggestion.closest(to: name, among: candidates), defined: declared))
            return nil
        }
    }

    /// Splits `bytes[start..<end]` into text and placeholders (for strings and text templates).
    /// The placeholder `<name>` spanning `open..<close` inside text or a string: a variable
    /// segment, or nil (with the problem recorded) when it is unknown or a whole-event variable.
    mutating func variableSegment(at open: Int, close: Int) -> TemplateSegment? {
        let name = String(decoding: bytes[(open + 1)..<(close - 1)], as: UTF8.self)
        guard let variable = resolve(name, at: open) else { return nil }
        if variable == .event || variable == .eventJSON {
            fail(.eventVariableOutsideJSONValue(name: name, position: characterOffset(open)))
            return nil
        }
        return .variable(variable)
    }

    mutating func textSegments(from start: Int, to end: Int) -> [TemplateSegment] {
        var segments: [TemplateSegment] = []
        var runStart = start
        var i = start
        while i < end {
            if bytes[i] == UInt8(ascii: "<"), let close = placeholderEnd(at: i), close <= end {
                if runStart < i { segments.append(.text(String(decoding: bytes[runStart..<i], as: UTF8.self))) }
                if let segment = variableSegment(at: i, close: close) { segments.append(segment) }
                i = close
                runStart = i
            } else {
                i += 1
            }
        }
        if runStart < end { segments.append(.text(String(decoding: bytes[runStart..<end], as: UTF8.self))) }
        return segments
    }

    // MARK: - JSON templates

    mutating func parseValue(depth: Int) -> TemplateNode? {
        guard index < bytes.count else {
            fail(.invalidJSONTemplate(reason: "unexpected end of the template, expected a value", position: characterOffset(index)))
            return nil
        }
        guard depth < TemplateCompiler.maxDepth else {
            fail(.invalidJSONTemplate(reason: "nesting deeper than \(TemplateCompiler.maxDepth) levels", position: characterOffset(index)))
            return nil
        }
        switch bytes[index] {
        case UInt8(ascii: "{"): return parseObject(depth: depth)
        case UInt8(ascii: "["): return parseArray(depth: depth)
        case UInt8(ascii: "\""): return parseString()
        case UInt8(ascii: "<"):
            let start = index
            if placeholderEnd(at: start) == nil, let close = rejectedPlaceholderEnd(at: start) {
                // `<a b>`: a rejected name that cannot even be a placeholder; its entry's error covers it.
                index = close
                return .literal(.null)
            }
            guard let close = placeholderEnd(at: start) else {
                fail(.invalidJSONTemplate(reason: "unexpected '<', expected a value or a placeholder such as <name>", position: characterOffset(start)))
                return nil
            }
            index = close
            let name = String(decoding: bytes[(start + 1)..<(close - 1)], as: UTF8.self)
            guard let variable = resolve(name, at: start) else { return .literal(.null) }
            return .slot(variable)
        default:
            return parseScalar()
        }
    }

    mutating func parseObject(depth: Int) -> TemplateNode? {
        index += 1
        var members: [TemplateMember] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard index < bytes.count else {
                fail(.invalidJSONTemplate(reason: "unexpected end of the template inside an object", position: characterOffset(index)))
                return nil
            }
            let keyStart = index
            if bytes[index] == UInt8(ascii: "<"), let close = placeholderEnd(at: index) {
                let name = String(decoding: bytes[(index + 1)..<(close - 1)], as: UTF8.self)
                fail(.placeholderInObjectKey(name: name, position: characterOffset(keyStart)))
                return nil
            }
            guard bytes[index] == UInt8(ascii: "\"") else {
                fail(.invalidJSONTemplate(reason: "expected a quoted object key", position: characterOffset(index)))
                return nil
            }
            guard let keyNode = parseString() else { return nil }
            let key: String
            switch keyNode {
            case .literal(.string(let s)): key = s
            case .string(let segments):
                let name = segments.compactMap { segment -> String? in
                    if case .variable(let v) = segment { return placeholderName(v) }
                    return nil
                }.first ?? "?"
                fail(.placeholderInObjectKey(name: name, position: characterOffset(keyStart)))
                return nil
            default: return nil
            }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                fail(.invalidJSONTemplate(reason: "expected ':' after an object key", position: characterOffset(index)))
                return nil
            }
            index += 1
            skipWhitespace()
            guard let value = parseValue(depth: depth + 1) else { return nil }
            members.append(TemplateMember(key: key, value: value))
            skipWhitespace()
            guard index < bytes.count else {
                fail(.invalidJSONTemplate(reason: "unexpected end of the template, expected ',' or '}'", position: characterOffset(index)))
                return nil
            }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            fail(.invalidJSONTemplate(reason: "expected ',' or '}'", position: characterOffset(index)))
            return nil
        }
    }

    mutating func parseArray(depth: Int) -> TemplateNode? {
        index += 1
        var elements: [TemplateNode] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
        while true {
            skipWhitespace()
            guard let value = parseValue(depth: depth + 1) else { return nil }
            elements.append(value)
            skipWhitespace()
            guard index < bytes.count else {
                fail(.invalidJSONTemplate(reason: "unexpected end of the template, expected ',' or ']'", position: characterOffset(index)))
                return nil
            }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
            fail(.invalidJSONTemplate(reason: "expected ',' or ']'", position: characterOffset(index)))
            return nil
        }
    }

    /// A string literal, split at its placeholders; each literal run is decoded as JSON.
    mutating func parseString() -> TemplateNode? {
        let open = index
        var i = open + 1
        var runStart = i
        var segments: [TemplateSegment] = []
        while true {
            guard i < bytes.count else {
                fail(.invalidJSONTemplate(reason: "unterminated string", position: characterOffset(open)))
                return nil
            }
            let c = bytes[i]
            if c == UInt8(ascii: "\\") { i += 2; continue }
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "<"), let close = placeholderEnd(at: i) {
                guard let literal = decodeRun(runStart, i) else { return nil }
                if !literal.isEmpty { segments.append(.text(literal)) }
                if let segment = variableSegment(at: i, close: close) { segments.append(segment) }
                i = close
                runStart = i
                continue
            }
            i += 1
        }
        guard let tail = decodeRun(runStart, i) else { return nil }
        if !tail.isEmpty { segments.append(.text(tail)) }
        index = i + 1
        if segments.allSatisfy({ if case .text = $0 { return true }; return false }) {
            return .literal(.string(segments.map { if case .text(let s) = $0 { return s }; return "" }.joined()))
        }
        return .string(segments)
    }

    /// Decodes the raw string body `bytes[start..<end]` (escapes and all) with the strict parser.
    mutating func decodeRun(_ start: Int, _ end: Int) -> String? {
        if start == end { return "" }
        var quoted: [UInt8] = [UInt8(ascii: "\"")]
        quoted.append(contentsOf: bytes[start..<end])
        quoted.append(UInt8(ascii: "\""))
        do {
            guard case .string(let s) = try JSONParser.parse(quoted) else { return nil }
            return s
        } catch {
            let offset = max(0, (error.location?.offset ?? 1) - 1)
            fail(.invalidJSONTemplate(reason: error.message, position: characterOffset(min(start + offset, bytes.count))))
            return nil
        }
    }

    /// A number, `true`, `false` or `null`, checked with the strict parser.
    mutating func parseScalar() -> TemplateNode? {
        let start = index
        while index < bytes.count {
            let c = bytes[index]
            let isTokenByte = (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".")
            guard isTokenByte else { break }
            index += 1
        }
        guard index > start else {
            let found = String(decoding: bytes[start..<min(start + 1, bytes.count)], as: UTF8.self)
            fail(.invalidJSONTemplate(reason: "unexpected '\(found)', expected a JSON value", position: characterOffset(start)))
            return nil
        }
        let token = Array(bytes[start..<index])
        do {
            return .literal(try JSONParser.parse(token))
        } catch {
            let word = String(decoding: token, as: UTF8.self)
            fail(.invalidJSONTemplate(reason: "\(JSONWriter.quoted(word)) is not a JSON value (strings need quotes)", position: characterOffset(start)))
            return nil
        }
    }

    // MARK: - Helpers

    func placeholderName(_ variable: TemplateVariable) -> String {
        switch variable {
        case .path(let i): return declared[i]
        case .ruleName: return InputTransformer.ruleNameVariable
        case .ruleArn: return InputTransformer.ruleArnVariable
        case .ingestionTime: return InputTransformer.ingestionTimeVariable
        case .event: return InputTransformer.eventVariable
        case .eventJSON: return InputTransformer.eventJSONVariable
        }
    }

    static func isWhitespace(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09
    }

    mutating func skipWhitespace() {
        while index < bytes.count, TemplateCompiler.isWhitespace(bytes[index]) { index += 1 }
    }

    func firstNonWhitespace() -> Int? {
        bytes.firstIndex { !TemplateCompiler.isWhitespace($0) }
    }

    func lastNonWhitespace() -> Int? {
        bytes.lastIndex { !TemplateCompiler.isWhitespace($0) }
    }

    /// The character (Unicode scalar) offset of byte offset `offset`, for messages.
    func characterOffset(_ offset: Int) -> Int {
        String(decoding: bytes[0..<min(offset, bytes.count)], as: UTF8.self).unicodeScalars.count
    }

    mutating func fail(_ error: InputTransformerError) {
        errors.append(error)
    }
}
