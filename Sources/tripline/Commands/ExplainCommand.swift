import EventPattern
import Foundation
import TriplineJSON
import TriplineRouter

/// `tripline explain`: says, field by field, why an event does or does not match a rule or pattern.
///
/// The question EventBridge users ask most when a rule stays silent. A raw CloudTrail record is
/// wrapped in its EventBridge envelope first, as `tripline run` does, so the record a user copied
/// out of a log file can be explained against the rule that should have fired on it.
enum ExplainCommand: Command {
    static let spec = CommandSpec(
        name: "explain",
        summary: "Explain field by field why an event matches a rule or pattern, or not",
        synopses: ["explain --rule NAME|FILE [--rules PATH] --event EVENT", "explain --pattern PATTERN --event EVENT"],
        options: [
            OptionSpec(name: "rule", valueName: "NAME|FILE", help: "The rule: a rule file holding one rule, or a rule's name (looked up in --rules)."),
            OptionSpec(name: "rules", valueName: "PATH", help: "Where to look a rule name up: a directory or rule file (default: Rules)."),
            OptionSpec(name: "pattern", valueName: "PATTERN", help: "A bare event pattern instead of a rule: inline JSON (starting with '{') or a file."),
            OptionSpec(name: "event", valueName: "EVENT", help: "The event: inline JSON (starting with '{'), a file (plain or gzipped), or '-' for standard input."),
        ],
        positionals: nil,
        discussion: """
            EVENT is a CloudTrail record (wrapped in its EventBridge envelope, as 'tripline run'
            does), an EventBridge event, or a CloudTrail log file holding exactly one record.
            Prints "match" or "no match" with the first reason, then every condition of the pattern
            with ✓ or ✗ and why: which field is missing, which value fails which operator, each $or
            alternative in turn, and which fields fail array consistency. For a match it lists the
            value each condition matched. With --rule the rule's State counts too: an ENABLED rule
            does not receive read-only management events.
            Exit status: 0 match, 1 no match, 2 invalid rule, pattern or event.
            """)

    /// Largest pattern or event file read.
    static let maxInputBytes = 16 * 1024 * 1024

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        guard let eventArgument = arguments.value("event") else {
            return context.usageError("--event is required", spec: spec)
        }
        let ruleArgument = arguments.value("rule"), patternArgument = arguments.value("pattern")
        if ruleArgument != nil, patternArgument != nil {
            return context.usageError("give --rule or --pattern, not both", spec: spec)
        }
        if arguments.has("rules"), ruleArgument == nil {
            return context.usageError("--rules goes with --rule NAME", spec: spec)
        }

        // What to explain against: a rule (pattern + state) or a bare pattern.
        let pattern: EventPattern
        var rule: Rule?
        if let ruleArgument {
            switch findRule(ruleArgument, rulesPath: arguments.value("rules"), context: context) {
            case .success(let found):
                rule = found
                pattern = found.pattern
            case .failure(let status):
                return status.code
            }
        } else if let patternArgument {
            let input: CommandInput
            do {
                input = try CommandInput(argument: patternArgument, inlineName: "<pattern>", limit: maxInputBytes)
            } catch {
                context.errors.line("tripline explain: \(error)")
                return ExitStatus.invalidInput
            }
            switch EventPattern.validate(text: input.bytes, file: input.name) {
            case .success(let valid): pattern = valid
            case .failure(let errors):
                for error in errors.errors { context.errors.line(Diagnostics.describe(error, file: input.name)) }
                return ExitStatus.invalidInput
            }
        } else {
            return context.usageError("--rule or --pattern is required", spec: spec)
        }

        // The event, as the rule would see it.
        let loaded: LoadedEvent
        switch loadEvent(eventArgument, standardInput: context.inputDescriptor) {
        case .success(let event): loaded = event
        case .failure(let problem):
            context.errors.line("tripline explain: \(problem)")
            return ExitStatus.invalidInput
        }
        var machine = PatternMachine()
        machine.add(pattern, id: 0)
        let patternMatches: Bool
        do {
            patternMatches = try machine.matches(event: JSONWriter.bytes(loaded.event)) == [0]
        } catch {
            context.errors.line("tripline explain: \(loaded.name): the event cannot be matched: \(error)")
            return ExitStatus.invalidInput
        }
        let explanation = PatternExplainer.explain(pattern, event: loaded.event)
        let stateAllows = rule?.receives(loaded.event) ?? true

        if let rule {
            context.output.line("rule \(rule.name) (\(rule.file)), State \(rule.state.rawValue)")
        }
        if patternMatches && stateAllows {
            context.output.line("match")
        } else if patternMatches, let rule {
            context.output.line("no match: the pattern matches, but " + (rule.state == .disabled
                ? "the rule is DISABLED"
                : "State ENABLED does not receive read-only management events (detail.readOnly is true); "
                    + "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS would receive it"))
        } else {
            context.output.line("no match: " + explanation.summary)
        }
        if patternMatches { context.output.line("the pattern matches through:") }
        for line in explanation.lines() { context.output.line(line) }
        for note in loaded.notes { context.output.line("note: " + note) }
        if explanation.matches != patternMatches {
            context.output.line("note: the explanation's verdict differs from the matcher's (\(patternMatches ? "match" : "no match")); please report this")
        }
        return patternMatches && stateAllows ? ExitStatus.success : ExitStatus.negative
    }

    /// Why `explain` stopped before explaining: the exit status, the message already printed.
    struct Stop: Error {
        var code: Int32
    }

    /// The rule named by `--rule`: a file holding one rule, or a name in `rulesPath`.
    static func findRule(_ argument: String, rulesPath: String?, context: CommandContext) -> Result<Rule, Stop> {
        var isDirectory: ObjCBool = false
        let isFile = rulesPath == nil && FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) && !isDirectory.boolValue
        // An argument that looks like a path is not taken for a rule name: say what is wrong with the path.
        if !isFile, rulesPath == nil, argument.contains("/") || argument.hasSuffix(".json") {
            context.errors.line(isDirectory.boolValue
                ? "tripline explain: \(argument) is a directory; --rule takes one rule file, or a rule's name with --rules \(argument)"
                : "tripline explain: rule file \(argument) does not exist")
            return .failure(Stop(code: ExitStatus.invalidInput))
        }
        let source = isFile ? argument : (rulesPath ?? "Rules")
        guard FileManager.default.fileExists(atPath: source) else {
            context.errors.line("tripline explain: '\(argument)' is not a rule file, and there is no \(source) to look the rule name up in (give --rules PATH)")
            return .failure(Stop(code: ExitStatus.invalidInput))
        }
        // Explaining only matches: a rule whose topic cannot be loaded (its file is broken) is still explained.
        let (rules, errors) = RuleSet.load(paths: [source], checkTopicReferences: false)
        let found = isFile ? (rules.rules.count == 1 ? rules.rules.first : nil) : rules.rule(named: argument)
        if let found {
            // Problems elsewhere (another file of the folder, another rule of the file) do not stop the
            // explanation, but they are said: they would stop 'tripline run'.
            if !errors.isEmpty {
                context.errors.line("note: explaining rule \(found.name), but \(source) has \(errors.count) problem\(errors.count == 1 ? "" : "s") "
                                    + "that 'tripline run' would refuse to start with:")
                for error in errors { context.errors.line("note: " + error.description) }
            }
            return .success(found)
        }
        for error in errors { context.errors.line(error.description) }
        if isFile {
            if errors.isEmpty || rules.rules.count > 1 {
                let names = rules.rules.map(\.name)
                context.errors.line("tripline explain: \(argument) holds \(names.count) rules (\(names.joined(separator: ", "))); "
                                    + "name one with --rule NAME --rules \(argument)")
            }
            return .failure(Stop(code: ExitStatus.invalidInput))
        }
        let names = rules.rules.map(\.name)
        var message = errors.isEmpty ? "tripline explain: no rule named '\(argument)' in \(source)"
            : "tripline explain: no valid rule named '\(argument)' in \(source) (a rule with a problem above is left out)"
        if let close = names.first(where: { $0.lowercased() == argument.lowercased() }) ?? names.first(where: { $0.contains(argument) }) {
            message += "; did you mean '\(close)'?"
        } else if !names.isEmpty, names.count <= 30 {
            message += "; rules: " + names.joined(separator: ", ")
        }
        context.errors.line(message)
        return .failure(Stop(code: ExitStatus.invalidInput))
    }

    /// Why `--event` cannot be explained, said for people.
    struct EventProblem: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// An event ready to explain, with what was done to it.
    struct LoadedEvent {
        var name: String
        var event: JSONValue
        var notes: [String]
    }

    /// Reads `--event`: a record is wrapped as `tripline run` wraps it; a one-record log file gives its record.
    /// `-` reads `standardInput`.
    static func loadEvent(_ argument: String, standardInput: Int32? = nil) -> Result<LoadedEvent, EventProblem> {
        let input: CommandInput
        do {
            input = try CommandInput(argument: argument, inlineName: "<event>", limit: maxInputBytes, standardInput: standardInput)
        } catch {
            return .failure(EventProblem(error.description))
        }
        var value: JSONValue
        do {
            value = try JSONParser.parse(input.bytes, options: JSONParser.Options(maxBytes: maxInputBytes, duplicateKeys: .reject))
        } catch {
            return .failure(EventProblem(Diagnostics.describe(error, file: input.name, label: "invalid event")))
        }
        var notes: [String] = []
        if let records = value["Records"]?.arrayValue {
            guard records.count == 1 else {
                return .failure(EventProblem("\(input.name) is a CloudTrail log file with \(records.count) records; explain takes one event (copy the record into its own file)"))
            }
            value = records[0]
            notes.append("\(input.name) is a CloudTrail log file; its one record was used")
        }
        var clock = IngestionClock()
        switch CloudTrailNormalizer.classify(value) {
        case .cloudTrailRecord:
            value = CloudTrailNormalizer.envelope(for: value, ingestionTime: clock.now())
            notes.append("the CloudTrail record was wrapped in its EventBridge envelope (\"detail\" holds the record), as tripline run does")
        case .envelope:
            if value["source"]?.stringValue == BlockEvent.source {
                notes.append("its \"source\" is \"\(BlockEvent.source)\", which only the events Tripline emits itself carry: "
                             + "tripline run skips an input event claiming it (explained as it is)")
            }
        case .unknown:
            guard value.objectValue != nil else { return .failure(EventProblem("\(input.name): an event is a JSON object, got \(value.kindDescription)")) }
            notes.append("the event is neither a CloudTrail record nor an EventBridge event; it was explained as it is (tripline run would skip it)")
        }
        return .success(LoadedEvent(name: input.name, event: value, notes: notes))
    }
}
