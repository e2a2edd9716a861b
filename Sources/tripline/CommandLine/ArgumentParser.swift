/// What a command accepts on its command line, and the help text built from it.
///
/// Each command declares one of these; ``ArgumentParser`` checks arguments against it, so every
/// command reports unknown options, missing values and stray arguments the same way.
struct CommandSpec: Sendable {
    /// The command word, e.g. `test-pattern`.
    var name: String
    /// One line for the command list.
    var summary: String
    /// Synopsis lines after `usage: tripline `, e.g. `test-pattern --pattern P --event E`.
    var synopses: [String]
    var options: [OptionSpec]
    /// Name of the positional arguments for help (`FILE...`), or nil when none are accepted.
    var positionals: String?
    /// Further paragraphs for `--help`.
    var discussion: String

    /// The full `--help` text.
    var helpText: String {
        var out = "usage: " + synopses.map { "tripline " + $0 }.joined(separator: "\n       ") + "\n\n" + summary + ".\n"
        if !options.isEmpty {
            out += "\nOptions:\n"
            let all = options + [OptionSpec(name: "help", valueName: nil, help: "Show this help.")]
            let labels = all.map { "--" + $0.name + ($0.valueName.map { " " + $0 } ?? "") + ($0.repeatable ? "..." : "") }
            let width = labels.map(\.count).max() ?? 0
            for (label, option) in zip(labels, all) {
                out += "  " + label + String(repeating: " ", count: width - label.count + 2) + option.help + "\n"
            }
        }
        if !discussion.isEmpty { out += "\n" + discussion + "\n" }
        out += "\n" + Self.usageExitNote + "\n"
        return out
    }

    /// The last line of every command's help: the exit status no command lists on its own.
    static let usageExitNote = "Exit status 64: the command line was wrong (an unknown option, a missing or bad value); the message and the usage go to standard error."

    /// The short usage shown after an argument error.
    var usageText: String {
        "usage: " + synopses.map { "tripline " + $0 }.joined(separator: "\n       ") + "\nRun 'tripline \(name) --help' for details."
    }
}

/// One `--name [value]` option.
struct OptionSpec: Sendable {
    /// The long name without dashes.
    var name: String
    /// The value's placeholder for help (`PATTERN`), or nil for a flag that takes no value.
    var valueName: String?
    var help: String
    /// Whether the option may be given more than once (all values are kept, in order).
    var repeatable = false
}

/// The arguments of one command after parsing.
struct ParsedArguments: Sendable, Equatable {
    /// Option values by option name, in the order given; a flag has one empty value.
    var options: [String: [String]] = [:]
    /// Everything that is not an option, in order.
    var positionals: [String] = []

    /// The value given for `name`, if the option was used (the last one for a repeatable option).
    func value(_ name: String) -> String? { options[name]?.last }

    /// Every value given for a repeatable option, in order.
    func values(_ name: String) -> [String] { options[name] ?? [] }

    /// Whether the flag or option `name` was used.
    func has(_ name: String) -> Bool { options[name] != nil }
}

/// Why a command line was rejected; the message names the command and the offending argument.
enum ArgumentError: Error, Equatable, CustomStringConvertible {
    /// `--help` or `-h` was given: not an error, but parsing stops there.
    case helpRequested
    case unknownOption(String)
    case missingValue(option: String, valueName: String)
    case flagTakesNoValue(String)
    case repeatedOption(String)
    case unexpectedArgument(String)
    /// A command-specific rule, e.g. "--pattern is required".
    case invalid(String)

    var description: String {
        switch self {
        case .helpRequested: return "help requested"
        case .unknownOption(let o): return "unknown option '\(o)'"
        case .missingValue(let o, let v): return "option '--\(o)' needs a value (\(v))"
        case .flagTakesNoValue(let o): return "option '--\(o)' does not take a value"
        case .repeatedOption(let o): return "option '--\(o)' given more than once"
        case .unexpectedArgument(let a): return "unexpected argument '\(a)'"
        case .invalid(let message): return message
        }
    }
}

/// A small, strict parser for `--name value`, `--name=value`, flags and positional arguments.
///
/// Written by hand because the package takes no third-party dependencies. `--` ends the options;
/// a lone `-` is a positional argument (conventionally standard input).
enum ArgumentParser {
    static func parse(_ arguments: [String], spec: CommandSpec) throws(ArgumentError) -> ParsedArguments {
        var result = ParsedArguments()
        var index = 0
        var optionsEnded = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if optionsEnded || argument == "-" || !argument.hasPrefix("-") {
                guard spec.positionals != nil else { throw .unexpectedArgument(argument) }
                result.positionals.append(argument)
                continue
            }
            if argument == "--" { optionsEnded = true; continue }
            if argument == "--help" || argument == "-h" { throw .helpRequested }
            guard argument.hasPrefix("--") else { throw .unknownOption(argument) }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let option = spec.options.first(where: { $0.name == name }) else { throw .unknownOption("--" + name) }
            guard option.repeatable || result.options[name] == nil else { throw .repeatedOption(name) }
            guard let valueName = option.valueName else {
                if inlineValue != nil { throw .flagTakesNoValue(name) }
                result.options[name, default: []].append("")
                continue
            }
            if let inlineValue {
                result.options[name, default: []].append(inlineValue)
            } else {
                guard index < arguments.count else { throw .missingValue(option: name, valueName: valueName) }
                result.options[name, default: []].append(arguments[index])
                index += 1
            }
        }
        return result
    }
}
