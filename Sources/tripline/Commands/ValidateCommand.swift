import EventPattern
import TriplineJSON
import TriplineRouter

/// `tripline validate FILE...`: checks files and reports every problem with file:line:column.
///
/// Meant for editors and CI: all errors in all files in one run, each on its own line, so a
/// rule author fixes everything at once.
enum ValidateCommand: Command {
    static let spec = CommandSpec(
        name: "validate",
        summary: "Check event pattern files for errors",
        synopses: ["validate [--kind KIND] FILE..."],
        options: [
            OptionSpec(name: "kind", valueName: "KIND",
                       help: "What the files hold: " + ValidatedFileKind.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ") + " (default: pattern)."),
        ],
        positionals: "FILE...",
        discussion: """
            A pattern file holds one event pattern: a JSON object.
            Every problem is printed on standard output as FILE:LINE:COLUMN: PATH: MESSAGE;
            a file without problems prints FILE: ok. Exit status: 0 when every file is valid,
            1 when any has errors or cannot be read.
            """)

    /// Largest file read (validation reports anything beyond the pattern size limit itself).
    static let maxFileBytes = 16 * 1024 * 1024

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        guard !arguments.positionals.isEmpty else { return context.usageError("no files given", spec: spec) }
        var kind = ValidatedFileKind.pattern
        if let name = arguments.value("kind") {
            guard let chosen = ValidatedFileKind(rawValue: name) else {
                return context.usageError("unknown kind '\(name)'; expected " + ValidatedFileKind.allCases.map { "'\($0.rawValue)'" }.joined(separator: " or "), spec: spec)
            }
            kind = chosen
        }
        var anyErrors = false
        for path in arguments.positionals {
            let diagnostics: [String]
            do {
                diagnostics = kind.diagnostics(for: try readWholeFile(path: path, limit: maxFileBytes), file: path)
            } catch {
                diagnostics = [error.description]
            }
            if diagnostics.isEmpty {
                context.output.line("\(path): ok")
            } else {
                anyErrors = true
                for line in diagnostics { context.output.line(line) }
            }
        }
        return anyErrors ? ExitStatus.negative : ExitStatus.success
    }
}

/// A kind of file `validate` checks. Rule files will be another case here.
enum ValidatedFileKind: String, CaseIterable {
    /// One event pattern (a JSON object).
    case pattern

    /// Every problem in `bytes`, formatted `file:line:column: path: message`; empty when valid.
    func diagnostics(for bytes: [UInt8], file: String) -> [String] {
        switch self {
        case .pattern:
            switch EventPattern.validate(text: bytes, file: file) {
            case .success: return []
            case .failure(let errors): return errors.errors.map { Diagnostics.describe($0, file: file) }
            }
        }
    }
}
