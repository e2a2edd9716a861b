/// Text with `${NAME}` placeholders filled from the environment: a webhook URL or header value.
///
/// Syntax: `${NAME}` where NAME matches `[A-Za-z_][A-Za-z0-9_]*`; `${NAME:-TEXT}` takes TEXT (up to
/// the first `}`, possibly empty) when NAME is unset or empty, as the shell does, so an optional
/// setting needs no variable; `$$` stands for one literal `$`; a `$` followed by anything else is
/// literal. `${` without a closing `}` or with an invalid name is a parse error. Every value a
/// template expands is treated as a secret: see ``Redactor``.
public struct SecretTemplate: Sendable, Equatable, CustomStringConvertible {
    /// One piece of a parsed template.
    public enum Segment: Sendable, Equatable {
        case literal(String)
        case variable(String)
        /// `${NAME:-TEXT}`: NAME's value, or `fallback` when it is unset or empty.
        case variableOrDefault(String, fallback: String)
    }

    /// The template as written (placeholders unexpanded, so safe to show).
    public let source: String
    public let segments: [Segment]

    /// Parses `source`; throws ``SecretTemplateError/syntax(template:offset:reason:)`` on a malformed placeholder.
    public init(parsing source: String) throws(SecretTemplateError) {
        self.source = source
        var segments: [Segment] = []
        var literal = ""
        let scalars = Array(source.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            guard c == "$", i + 1 < scalars.count else { literal.unicodeScalars.append(c); i += 1; continue }
            let next = scalars[i + 1]
            if next == "$" { literal.append("$"); i += 2; continue }
            guard next == "{" else { literal.unicodeScalars.append(c); i += 1; continue }
            var j = i + 2
            var name = ""
            while j < scalars.count, scalars[j] != "}" { name.unicodeScalars.append(scalars[j]); j += 1 }
            guard j < scalars.count else {
                throw .syntax(template: source, offset: i, reason: "\"${\" has no closing \"}\"")
            }
            var fallback: String?
            if let separator = name.range(of: ":-") {
                fallback = String(name[separator.upperBound...])
                name = String(name[..<separator.lowerBound])
            }
            guard SecretTemplate.isValidName(name) else {
                throw .syntax(template: source, offset: i,
                              reason: "\"${\(name)}\" is not a valid variable name (use letters, digits and _, not starting with a digit)")
            }
            if !literal.isEmpty { segments.append(.literal(literal)); literal = "" }
            segments.append(fallback.map { .variableOrDefault(name, fallback: $0) } ?? .variable(name))
            i = j + 1
        }
        if !literal.isEmpty { segments.append(.literal(literal)) }
        self.segments = segments
    }

    /// The variables the template reads (with or without a default), in order of first use, each once.
    public var variableNames: [String] {
        var seen = Set<String>()
        var names: [String] = []
        for segment in segments {
            switch segment {
            case .variable(let name), .variableOrDefault(let name, _): if seen.insert(name).inserted { names.append(name) }
            case .literal: break
            }
        }
        return names
    }

    /// The variables the template cannot expand without (those written without a default), each once.
    public var requiredVariableNames: [String] {
        var seen = Set<String>()
        var names: [String] = []
        for case .variable(let name) in segments where seen.insert(name).inserted { names.append(name) }
        return names
    }

    /// Whether some placeholder has a default (`${NAME:-TEXT}`).
    public var hasDefaults: Bool {
        segments.contains { if case .variableOrDefault = $0 { return true } else { return false } }
    }

    /// True when the template has no placeholders.
    public var isLiteral: Bool { variableNames.isEmpty }

    /// Fills every placeholder from `environment`.
    ///
    /// A variable that is unset or empty throws, naming the variable (never a value).
    /// `field` names what the template is for in that error ("url", "header Authorization").
    public func expand(environment: [String: String], field: String) throws(SecretTemplateError) -> String {
        var out = ""
        for segment in segments {
            switch segment {
            case .literal(let text): out += text
            case .variable(let name):
                guard let value = environment[name] else { throw .missingVariable(name: name, field: field) }
                guard !value.isEmpty else { throw .emptyVariable(name: name, field: field) }
                out += value
            case .variableOrDefault(let name, let fallback):
                if let value = environment[name], !value.isEmpty { out += value } else { out += fallback }
            }
        }
        return out
    }

    /// The values this template would take from `environment`, by variable name (for a ``Redactor``).
    public func secrets(in environment: [String: String]) -> [(name: String, value: String)] {
        variableNames.compactMap { name in environment[name].map { (name, $0) } }
    }

    public var description: String { source }

    /// `[A-Za-z_][A-Za-z0-9_]*`.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first else { return false }
        func isLetter(_ b: UInt8) -> Bool { (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 95 }
        guard isLetter(first) else { return false }
        return name.utf8.allSatisfy { isLetter($0) || ($0 >= 48 && $0 <= 57) }
    }
}

/// Why a ``SecretTemplate`` could not be parsed or expanded. Descriptions never contain a variable's value.
public enum SecretTemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A placeholder is malformed; `offset` counts Unicode scalars from the start.
    case syntax(template: String, offset: Int, reason: String)
    /// The environment has no such variable.
    case missingVariable(name: String, field: String)
    /// The variable is set but empty.
    case emptyVariable(name: String, field: String)

    public var description: String {
        switch self {
        case .syntax(let template, let offset, let reason):
            return "bad placeholder in \"\(template)\" at offset \(offset): \(reason)"
        case .missingVariable(let name, let field):
            return "\(field) needs environment variable \(name), which is not set"
        case .emptyVariable(let name, let field):
            return "\(field) needs environment variable \(name), which is empty"
        }
    }
}
