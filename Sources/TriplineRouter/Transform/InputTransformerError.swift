import TriplineJSON

/// Why an input transformer was rejected when its rule was loaded.
///
/// Template problems carry `position`, the 0-based character offset in the template text, so a
/// message can point into a long template. `variable` names the `InputPathsMap` entry a problem is
/// about, so a rule file reader can point at that entry.
public enum InputTransformerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// More than ``InputTransformer/maxVariables`` entries in `InputPathsMap`.
    case tooManyVariables(count: Int, limit: Int)
    /// A variable name with characters outside `[A-Za-z0-9_-]`, or empty, or too long.
    case invalidVariableName(String, reason: String)
    /// A variable name starting with `aws.`: those are EventBridge's predefined variables.
    case reservedVariableName(String)
    /// A variable whose JSON path does not parse.
    case invalidPath(variable: String, EventJSONPath.ParseError)
    /// `InputTemplate` is empty.
    case emptyTemplate
    /// `InputTemplate` is longer than ``InputTransformer/maxTemplateBytes``.
    case templateTooLong(bytes: Int, limit: Int)
    /// `<name>` in the template names no variable.
    case unknownVariable(name: String, position: Int, suggestion: String?, defined: [String])
    /// A placeholder used as (or inside) an object key, which EventBridge forbids.
    case placeholderInObjectKey(name: String, position: Int)
    /// A template that looks like JSON (starts with `{`, `[` or `"`) but is not valid JSON once
    /// its placeholders stand for values.
    case invalidJSONTemplate(reason: String, position: Int)
    /// `<aws.events.event>` or `<aws.events.event.json>` outside a JSON value position: AWS inserts
    /// them unescaped, so they are only usable as the value of a JSON field or array element.
    case eventVariableOutsideJSONValue(name: String, position: Int)

    /// The `InputPathsMap` entry this error is about, if any.
    public var variable: String? {
        switch self {
        case .invalidVariableName(let name, _), .reservedVariableName(let name): return name
        case .invalidPath(let name, _): return name
        default: return nil
        }
    }

    /// True when the error is about `InputTemplate` rather than `InputPathsMap`.
    public var isTemplateError: Bool {
        switch self {
        case .emptyTemplate, .templateTooLong, .unknownVariable, .placeholderInObjectKey,
             .invalidJSONTemplate, .eventVariableOutsideJSONValue:
            return true
        case .tooManyVariables, .invalidVariableName, .reservedVariableName, .invalidPath:
            return false
        }
    }

    public var description: String {
        switch self {
        case .tooManyVariables(let count, let limit):
            return "\(count) variables in InputPathsMap; at most \(limit) are allowed"
        case .invalidVariableName(let name, let reason):
            return "variable name \(JSONWriter.quoted(name)) is invalid: \(reason)"
        case .reservedVariableName(let name):
            return "variable name \(JSONWriter.quoted(name)) is reserved: names starting with \"aws.\" belong to EventBridge's predefined variables ("
                + InputTransformer.predefinedVariables.map { "<\($0)>" }.joined(separator: ", ") + ")"
        case .invalidPath(_, let error):
            return error.description
        case .emptyTemplate:
            return "InputTemplate is empty"
        case .templateTooLong(let bytes, let limit):
            return "InputTemplate is \(bytes) bytes; at most \(limit) are allowed"
        case .unknownVariable(let name, let position, let suggestion, let defined):
            var text = "unknown variable <\(name)> at character \(position + 1) of the template"
            if let suggestion { text += "; did you mean <\(suggestion)>?" }
            if defined.isEmpty {
                text += " (InputPathsMap defines no variables)"
            } else {
                text += " (defined: " + defined.map { "<\($0)>" }.joined(separator: ", ") + ")"
            }
            return text
        case .placeholderInObjectKey(let name, let position):
            return "placeholder <\(name)> at character \(position + 1) is used as an object key; placeholders may only stand for values"
        case .invalidJSONTemplate(let reason, let position):
            return "the template starts like JSON but is not valid JSON at character \(position + 1): \(reason)"
        case .eventVariableOutsideJSONValue(let name, let position):
            return "<\(name)> at character \(position + 1) can only be the value of a JSON field or array element (its contents are inserted as JSON, unescaped), not part of a string or text template"
        }
    }
}

/// Why a target's payload could not be produced for one event.
public enum TransformError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The transformed payload is larger than ``InputTransformer/maxOutputBytes``.
    case outputTooLarge(size: Int, limit: Int)

    public var description: String {
        switch self {
        case .outputTooLarge(let size, let limit):
            return "the transformed input is \(size) bytes; at most \(limit) are allowed (the EventBridge event size limit)"
        }
    }
}
