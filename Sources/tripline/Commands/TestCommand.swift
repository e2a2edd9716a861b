import Foundation
import TriplineRouter

/// `tripline test [PATHS...]`: runs the examples in rule files' `Tests`.
///
/// Rule authors keep positive and near-miss examples next to each rule; this runs them the way
/// `tripline run` would judge the events (normalization, pattern, `State`), so a rule change that
/// breaks an example fails in CI, and a failure says which field or operator is to blame.
enum TestCommand: Command {
    static let spec = CommandSpec(
        name: "test",
        summary: "Run the examples in rule files' Tests",
        synopses: ["test [--rule NAME]... [PATH...]"],
        options: [
            OptionSpec(name: "rule", valueName: "NAME", help: "Run only this rule's tests (repeatable).", repeatable: true),
        ],
        positionals: "PATH...",
        discussion: """
            PATH is a rule file or a directory (every *.json below it); the default is Rules.
            Each rule's "Tests" entry is {"Name": "...", "Event": {...} or "EventFile": "path.json",
            "Matches": true|false}. The event may be a raw CloudTrail record (wrapped in the
            EventBridge envelope exactly as 'tripline run' does) or an EventBridge event; EventFile
            paths are relative to the project root, like handler paths (keep event files out of the
            rules directory: every *.json there is read as a rule file). A test passes when the rule
            receives the event (its pattern matches and its State lets it see the event) exactly
            when Matches is true.

            Prints "PASS rule: test" or "FAIL rule: test: why" per test (a failure is followed by
            the field-by-field explanation), then "N passed, N failed".
            Exit status: 0 when every test passes, 1 when any fails or is malformed, 2 when the
            rule files have errors or --rule names no rule (nothing is run then).
            """)

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        let paths = arguments.positionals.isEmpty ? ["Rules"] : arguments.positionals
        if arguments.positionals.isEmpty, !FileManager.default.fileExists(atPath: "Rules") {
            context.errors.line("tripline test: no Rules directory here; give rule files or directories as arguments")
            return ExitStatus.invalidInput
        }
        let (rules, ruleErrors) = RuleSet.load(paths: paths)
        if !ruleErrors.isEmpty {
            for error in ruleErrors { context.errors.line(error.description) }
            context.errors.line("tripline test: \(ruleErrors.count) problem\(ruleErrors.count == 1 ? "" : "s") in the rules; no tests were run")
            return ExitStatus.invalidInput
        }
        var selected = rules.rules
        let wanted = arguments.values("rule")
        if !wanted.isEmpty {
            let names = rules.rules.map(\.name)
            for name in wanted where !names.contains(name) {
                // Not a command-line mistake but a rule that is not there: 2, as explain --rule says it.
                context.errors.line("tripline test: no rule named '\(name)' in \(paths.joined(separator: ", "))"
                                    + (names.isEmpty ? "" : "; rules: " + names.joined(separator: ", ")))
                return ExitStatus.invalidInput
            }
            selected = selected.filter { wanted.contains($0.name) }
        }

        let report = RuleTestRunner().run(selected)
        for result in report.results {
            context.output.line(result.line)
            for detail in result.details { context.output.line("    " + detail) }
        }
        if !report.rulesWithoutTests.isEmpty {
            let count = report.rulesWithoutTests.count
            context.errors.line("note: \(count) rule\(count == 1 ? " has" : "s have") no tests: " + report.rulesWithoutTests.joined(separator: ", "))
        }
        context.output.line(report.summaryLine)
        return report.failed == 0 ? ExitStatus.success : ExitStatus.negative
    }
}
