import EventPattern
import Foundation
import TriplineJSON
import TriplineRouter

/// `tripline match`: the events of some input that the rules match, printed instead of delivered.
///
/// A backtest: before a new or changed rule goes live, run it over last month's `AWSLogs/` to see
/// what it would have fired on (and how often), with no handler run, no webhook sent and no state
/// touched. Events are read, normalized and judged exactly as `run` judges them (pattern and
/// `State`), so what it prints is what `run` would deliver.
enum MatchCommand: Command {
    static let spec = CommandSpec(
        name: "match",
        summary: "Print the events the rules match, delivering nothing (a backtest over past logs)",
        synopses: ["match [--rules DIR] [--rule NAME]... [--count] [INPUT...]"],
        options: [
            OptionSpec(name: "rules", valueName: "DIR", help: "Rule files: a directory (every *.json below it, and .yaml/.yml files that hold JSON) or one file (default: Rules)."),
            OptionSpec(name: "rule", valueName: "NAME", help: "Only this rule (repeatable); a DISABLED rule named here is judged as ENABLED.",
                       repeatable: true),
            OptionSpec(name: "count", valueName: nil, help: "Print only how many events each rule matched."),
        ],
        positionals: "INPUT...",
        discussion: """
            INPUT is read as by 'tripline run' (CloudTrail log files plain or .gz, AWSLogs/ trees,
            NDJSON, '-' for standard input, the default), without checkpoints: every input is read
            whole. Events are judged as 'run' judges them: a rule in state ENABLED does not see
            read-only management events, a DISABLED rule sees nothing (unless named with --rule).

            Prints one JSON line per matched event, in input order:
            {"rules": [names], "origin": "file Records[3]", "event": {the EventBridge event}};
            with --count, one line per rule instead: its number of matched events, a tab, its name.
            Bad records are reported on standard error and skipped; a summary ends standard error.
            Exit status: 0 when some event matched, 1 when none did, 2 when an input could not be
            read to its end (missing, unreadable, a corrupt gzip stream; the rest is still read), or
            when the rule files have errors or --rule names no rule (nothing is read then).
            """)

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        let rulesPath = arguments.value("rules") ?? "Rules"
        guard FileManager.default.fileExists(atPath: rulesPath) else {
            context.errors.line("tripline match: no rules at '\(rulesPath)' (give a rules directory or file with --rules)")
            return ExitStatus.invalidInput
        }
        let (rules, ruleErrors) = RuleSet.load(paths: [rulesPath])
        if !ruleErrors.isEmpty {
            for error in ruleErrors { context.errors.line(error.description) }
            context.errors.line("tripline match: \(ruleErrors.count) problem\(ruleErrors.count == 1 ? "" : "s") in the rules; nothing was read")
            return ExitStatus.invalidInput
        }
        var selected = rules.rules.filter { $0.state != .disabled }
        let wanted = arguments.values("rule")
        if !wanted.isEmpty {
            let names = rules.rules.map(\.name)
            for name in wanted where !names.contains(name) {
                context.errors.line("tripline match: no rule named '\(name)' in \(rulesPath)"
                                    + (names.isEmpty ? "" : "; rules: " + names.joined(separator: ", ")))
                return ExitStatus.invalidInput
            }
            selected = rules.rules.filter { wanted.contains($0.name) }.map { rule in
                var rule = rule
                if rule.state == .disabled { rule.state = .enabled }
                return rule
            }
        }
        let machine = PatternMachine(selected.enumerated().map { (id: $0.offset, pattern: $0.element.pattern) })
        var scratch = MatchScratch()
        var counts = Array(repeating: 0, count: selected.count)
        let counting = arguments.has("count")

        let inputs = EventInputs(arguments: arguments.positionals, standardInput: context.inputDescriptor)
        // Before waiting for more input, print what is done: `tail -f … | tripline match` streams.
        inputs.onIdle = { context.output.flush() }
        let normalizer = EventNormalizer()
        var clock = IngestionClock()
        var read = 0, matched = 0, bad = 0, fileErrors = 0
        while let item = inputs.next() {
            let event: NormalizedEvent
            switch item.flatMap({ normalizer.normalize($0, ingestionTime: clock.now()) }) {
            case .success(let found):
                read += 1
                event = found
            case .failure(let error):
                if error.isError {
                    if error.endsFile {
                        fileErrors += 1
                    } else {
                        read += 1
                        bad += 1
                    }
                }
                context.output.flush()
                context.errors.line(error.descriptionWithoutCheckpoints)
                context.errors.flush()
                continue
            }
            let ids: [Int]
            do throws(JSONError) {
                ids = try event.bytes.withUnsafeBufferPointer { (buffer) throws(JSONError) -> [Int] in
                    try machine.matches(event: buffer, scratch: &scratch)
                }
            } catch {
                bad += 1
                context.errors.line(InputError.invalidEvent(origin: event.origin, detail: "cannot be matched: " + error.description).description)
                continue
            }
            let receiving = ids.sorted().filter { selected[$0].receives(readOnlyManagementEvent: event.isReadOnlyManagementEvent) }
            guard !receiving.isEmpty else { continue }
            matched += 1
            for id in receiving { counts[id] += 1 }
            if !counting {
                var line = Array(#"{"rules":"#.utf8)
                JSONWriter.write(.array(receiving.map { .string(selected[$0].name) }), into: &line)
                line.append(contentsOf: #","origin":"#.utf8)
                JSONWriter.writeString(event.origin.description, into: &line)
                line.append(contentsOf: #","event":"#.utf8)
                line.append(contentsOf: event.bytes)
                line.append(contentsOf: "}\n".utf8)
                context.output.write(bytes: line)
            }
        }
        if counting {
            for (rule, count) in zip(selected, counts) { context.output.line("\(count)\t\(rule.name)") }
        }
        context.output.flush()
        context.errors.line("tripline match: \(read) event\(read == 1 ? "" : "s") read, \(matched) matched by \(selected.count) rule\(selected.count == 1 ? "" : "s")"
                            + (bad > 0 ? ", \(bad) bad record\(bad == 1 ? "" : "s") skipped" : "")
                            + (fileErrors > 0 ? ", \(fileErrors) input\(fileErrors == 1 ? "" : "s") not read to the end" : ""))
        // A backtest over inputs it could not read would understate what the rules match.
        if fileErrors > 0 { return ExitStatus.invalidInput }
        return matched > 0 ? ExitStatus.success : ExitStatus.negative
    }
}
