import Foundation
import TriplineRouter

/// `tripline run`: reads CloudTrail events, matches them against the rules and runs the handlers.
///
/// Wires the pieces together: loads the rule set (any error stops the run before it starts), sets up
/// the stop signal before any worker thread exists, picks the inputs (arguments, then `--follow`),
/// and prints the summary. Handler output and delivery failures go to standard output as they
/// happen, bad records to standard error.
enum RunCommand: Command {
    static let spec = CommandSpec(
        name: "run",
        summary: "Route CloudTrail events through the rules to their handlers",
        synopses: ["run [--rules DIR] [--state-dir DIR] [--log-format text|json] [--follow DIR] [INPUT...]"],
        options: [
            OptionSpec(name: "rules", valueName: "DIR", help: "Rule files: a directory (every *.json below it) or one file (default: Rules)."),
            OptionSpec(name: "state-dir", valueName: "DIR", help: "Where run state is kept (delivery bookkeeping); created if missing."),
            OptionSpec(name: "log-format", valueName: "FORMAT", help: "'text' (default) or 'json': one JSON object per log line."),
            OptionSpec(name: "follow", valueName: "DIR", help: "After the INPUTs, read the files in DIR, then each new one as it arrives, until SIGINT/SIGTERM."),
        ],
        positionals: "INPUT...",
        discussion: """
            INPUT is a CloudTrail log file ({"Records":[...]}, plain or .gz), an NDJSON file (one event
            per line), a file holding one JSON event, a directory (read recursively in name order, which
            for AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/ is time order; digest and hidden files
            are skipped), or '-' for NDJSON on standard input (also the default without INPUT and --follow).
            Events may be bare CloudTrail records (wrapped as EventBridge delivers them) or EventBridge events.

            Handler output is printed as [rule/target] LINE; failed deliveries, bad records and a summary
            are reported too. With --log-format json every log line is a JSON object with a "type".
            Exit status: 0 when every event was read and every delivery succeeded, 1 when some records
            were bad, a file could not be read or a delivery failed, 2 when the rules have errors.
            """)

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        let format: LogFormat
        switch arguments.value("log-format") {
        case nil: format = .text
        case let name?:
            guard let chosen = LogFormat(rawValue: name) else {
                return context.usageError("unknown log format '\(name)'; expected 'text' or 'json'", spec: spec)
            }
            format = chosen
        }
        // Before any thread starts, so every thread inherits the blocked signals.
        let stop = StopSignal()

        if let stateDirectory = arguments.value("state-dir") {
            do {
                try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            } catch {
                context.errors.line("tripline run: cannot create the state directory \(stateDirectory): \(error.localizedDescription)")
                return ExitStatus.invalidInput
            }
        }

        let rulesPath = arguments.value("rules") ?? "Rules"
        guard FileManager.default.fileExists(atPath: rulesPath) else {
            context.errors.line("tripline run: no rules at '\(rulesPath)' (give a rules directory or file with --rules)")
            return ExitStatus.invalidInput
        }
        let (rules, ruleErrors) = RuleSet.load(paths: [rulesPath])
        if !ruleErrors.isEmpty {
            for error in ruleErrors { context.errors.line(error.description) }
            context.errors.line("tripline run: \(ruleErrors.count) problem\(ruleErrors.count == 1 ? "" : "s") in the rules; nothing was run")
            return ExitStatus.invalidInput
        }

        var watcher: FolderWatcher?
        if let directory = arguments.value("follow") {
            do {
                watcher = try FolderWatcher(directory: directory, stop: stop)
            } catch {
                context.errors.line("tripline run: --follow: \(error)")
                return ExitStatus.invalidInput
            }
        }
        let list: SourceList? = watcher != nil && arguments.positionals.isEmpty ? nil : SourceList(arguments: arguments.positionals)
        let inputs = EventInputs(standardInput: context.inputDescriptor) {
            if let item = list?.next() { return item }
            return watcher?.nextFile().map { $0.map(InputSource.file) }
        }

        let console = RunConsole(output: context.output.fileDescriptor, errors: context.errors.fileDescriptor)
        let log = DeliveryLog(format: format, console: console)
        let enabled = rules.rules.filter { $0.state != .disabled }.count
        log.note("tripline run: \(rules.rules.count) rule\(rules.rules.count == 1 ? "" : "s") loaded from \(rulesPath) (\(enabled) enabled)"
                 + (watcher.map { "; following \($0.root) (Ctrl-C to stop)" } ?? ""))
        context.output.flush()
        context.errors.flush()

        let router = Router(rules: rules, log: log)
        let summary = router.run(inputs: inputs, stop: stop)
        switch format {
        case .text: console.output(summary.text)
        case .json: console.output(summary.json)
        }
        return summary.isClean ? ExitStatus.success : ExitStatus.negative
    }
}
