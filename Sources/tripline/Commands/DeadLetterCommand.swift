import Foundation
import TriplineJSON
import TriplineRouter
import TriplineState
import TriplineTargets

/// `tripline dlq list|show|redrive|purge`: the dead letters of a state directory.
///
/// Every action works on a state directory something has run with (a missing one is refused, never
/// created). Listing, showing, purging and `redrive --queue-only` work next to a running `tripline run`
/// (short database writes without the directory's lock: the run reads dead letters and the queue from
/// the database when it needs them); a delivering redrive takes the lock, because it delivers.
enum DeadLetterCommand: Command {
    static let spec = CommandSpec(
        name: "dlq",
        summary: "List, show, redrive or purge dead letters",
        synopses: [
            "dlq list [--rule NAME] [--target ID] [--older-than SECONDS] [--json] [--state-dir DIR]",
            "dlq show ID... [--json] [--state-dir DIR]",
            "dlq redrive [--rule NAME] [--target ID] [--older-than SECONDS] [ID...] [--rules DIR] [--queue-only] [--shutdown-timeout SECONDS] [--state-dir DIR]",
            "dlq purge (--all | [--rule NAME] [--target ID] [--older-than SECONDS] [ID...]) [--state-dir DIR]",
        ],
        options: [
            OptionSpec(name: "state-dir", valueName: "DIR", help: "The state directory (default: .tripline beside the rules)."),
            OptionSpec(name: "rules", valueName: "DIR", help: "Rule files (default: Rules); redrive delivers with their current targets."),
            OptionSpec(name: "rule", valueName: "NAME", help: "Only letters of this rule."),
            OptionSpec(name: "target", valueName: "ID", help: "Only letters of this target."),
            OptionSpec(name: "older-than", valueName: "SECONDS", help: "Only letters dead-lettered at least this long ago."),
            OptionSpec(name: "all", valueName: nil, help: "purge: every dead letter (a filter or ids are needed otherwise)."),
            OptionSpec(name: "queue-only", valueName: nil, help: "redrive: put the letters back in the queue without delivering now."),
            OptionSpec(name: "shutdown-timeout", valueName: "SECONDS",
                       help: "redrive: on SIGINT/SIGTERM, how long running deliveries may finish (default 10), as for run."),
            OptionSpec(name: "json", valueName: nil, help: "One JSON object per letter (list, show), or a JSON result."),
        ],
        positionals: "ACTION [ID...]",
        discussion: """
            A delivery is dead-lettered when its retries run out, when it gets older than the target's
            MaximumEventAgeInSeconds, or when it fails permanently. Each letter keeps the event, the
            rule and target, and every attempt's time and error; it is also appended to the target's
            dead-letter file (DeadLetterConfig.Path, default <state-dir>/dead-letters/<rule>.<target>.ndjson).

            redrive sends letters back through their target as it is configured now: they are queued
            as fresh deliveries (attempts and age start again, the idempotency key stays) and delivered
            at once, with retries, like 'tripline run' does (other queued deliveries go along). With
            --queue-only they wait for the next run. purge deletes letters from the database (the
            dead-letter files are an append-only log and are left alone).

            Exit status: 0 on success; 1 when show names an id that is not a dead letter, or when a
            redrive's deliveries did not all succeed (some failed again, or wait for a retry); 2 when
            the state directory cannot be used (missing, nothing has run with it, held by a run when
            delivering) or the rules have errors.
            """)

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        guard let action = arguments.positionals.first else {
            return context.usageError("an action is needed: list, show, redrive or purge", spec: spec)
        }
        let allowed: [String: Set<String>] = [
            "list": ["rule", "target", "older-than", "json"],
            "show": ["json"],
            "redrive": ["rule", "target", "older-than", "queue-only", "shutdown-timeout", "json"],
            "purge": ["all", "rule", "target", "older-than", "json"],
        ]
        guard let options = allowed[action] else {
            return context.usageError("unknown action '\(action)'; expected list, show, redrive or purge", spec: spec)
        }
        for name in arguments.options.keys.sorted() where !options.contains(name) && !["state-dir", "rules"].contains(name) {
            return context.usageError("--\(name) does not apply to '\(action)'", spec: spec)
        }
        if action == "purge" && arguments.has("all") {
            if let filter = ["rule", "target", "older-than"].first(where: { arguments.value($0) != nil }) {
                return context.usageError("purge takes --all or a filter, not both (--all with --\(filter))", spec: spec)
            }
            if arguments.positionals.count > 1 {
                return context.usageError("purge takes --all or ids, not both (--all with '\(arguments.positionals[1])')", spec: spec)
            }
        }
        var ids: [Int64] = []
        for text in arguments.positionals.dropFirst() {
            guard let id = Int64(text), id > 0 else { return context.usageError("'\(text)' is not a dead-letter id (a positive number)", spec: spec) }
            ids.append(id)
        }
        var filter = DeadLetterFilter(rule: arguments.value("rule"), target: arguments.value("target"), ids: ids)
        if let text = arguments.value("older-than") {
            guard let seconds = Double(text), seconds >= 0 else {
                return context.usageError("--older-than needs a number of seconds, got '\(text)'", spec: spec)
            }
            filter.olderThanSeconds = seconds
        }
        let rulesPath = arguments.value("rules") ?? "Rules"
        let directory = arguments.value("state-dir") ?? StateDirectory.defaultPath(rules: rulesPath)
        let json = arguments.has("json")

        switch action {
        case "list", "show":
            if action == "show" && ids.isEmpty { return context.usageError("show needs the id of a dead letter (see 'tripline dlq list')", spec: spec) }
            return withStore(directory, access: .readOnly, context: context) { (store) throws(StateError) -> Int32 in
                let letters = try DeadLetterStore(store: store).list(filter, now: StateTime.now())
                for letter in letters {
                    if json || action == "show" && json {
                        context.output.line(JSONWriter.string(letter.json))
                    } else if action == "show" {
                        context.output.write(showText(letter))
                    } else {
                        context.output.line(listLine(letter))
                    }
                }
                if !json && action == "list" {
                    context.output.line("\(letters.count) dead letter\(letters.count == 1 ? "" : "s")")
                }
                // show prints the letters it found, then names every id it did not.
                let missing = action == "show" ? ids.filter { id in !letters.contains { $0.id == id } } : []
                for id in missing { context.errors.line("tripline dlq: no dead letter \(id) in \(directory)") }
                return missing.isEmpty ? ExitStatus.success : ExitStatus.negative
            }
        case "purge":
            if !arguments.has("all") && filter == DeadLetterFilter() {
                return context.usageError("purge needs --all, a filter (--rule, --target, --older-than) or ids", spec: spec)
            }
            return withStore(directory, access: .shared(createIfMissing: false), context: context) { (store) throws(StateError) -> Int32 in
                let count = try DeadLetterStore(store: store).purge(filter, now: StateTime.now())
                context.output.line(json ? "{\"purged\":\(count)}" : "purged \(count) dead letter\(count == 1 ? "" : "s")")
                return ExitStatus.success
            }
        case "redrive":
            var options = Router.Options()
            options.command = "dlq"
            if let text = arguments.value("shutdown-timeout") {
                guard let seconds = Double(text), seconds >= 0, seconds.isFinite else {
                    return context.usageError("--shutdown-timeout needs a number of seconds, got '\(text)'", spec: spec)
                }
                options.shutdownTimeout = seconds
            }
            return redrive(filter, directory: directory, rulesPath: rulesPath, queueOnly: arguments.has("queue-only"), json: json,
                           options: options, context: context)
        default:
            return context.usageError("unknown action '\(action)'; expected list, show, redrive or purge", spec: spec)
        }
    }

    private static func redrive(_ filter: DeadLetterFilter, directory: String, rulesPath: String, queueOnly: Bool, json: Bool,
                                options: Router.Options, context: CommandContext) -> Int32 {
        let runner = FunctionRunner()
        let stop = StopSignal(beforeQuitting: { runner.killRunning() })
        // Queueing only is a short database write, done next to a running process as purge is (the run
        // reads the queue from the database); delivering needs the directory to itself.
        let access: StateStore.Access = queueOnly ? .shared(createIfMissing: false) : .exclusive(createIfMissing: false)
        let busy = "stop it first to deliver them now, or put them back in the queue with --queue-only (delivered when a run next starts)"
        return withStore(directory, access: access, lockedAdvice: busy, context: context) { (store) throws(StateError) -> Int32 in
            // Check the rules before changing anything: delivering needs them.
            let (rules, ruleErrors) = RuleSet.load(paths: [rulesPath])
            if !queueOnly && !ruleErrors.isEmpty {
                for error in ruleErrors { context.errors.line(error.description) }
                context.errors.line("tripline dlq: \(ruleErrors.count) problem\(ruleErrors.count == 1 ? "" : "s") in the rules; nothing was redriven")
                return ExitStatus.invalidInput
            }
            let (webhooks, webhookErrors, missingVariables) = WebhookRegistry.resolve(rules: rules, environment: ProcessInfo.processInfo.environment)
            if !queueOnly && !webhookErrors.isEmpty {
                for error in webhookErrors { context.errors.line(error) }
                context.errors.line(missingVariables ? "tripline dlq: set the missing variables and fix any other problem above; nothing was redriven"
                                                     : "tripline dlq: the webhook targets above cannot be used as configured; nothing was redriven")
                return ExitStatus.invalidInput
            }
            let queued = try DeadLetterStore(store: store).redrive(filter, now: StateTime.now())
            // Deliveries an interrupted run (or redrive) left queued go along: with no letter to redrive, they are the work.
            let waiting = queueOnly ? 0 : try DeliveryJournal(store: store).count() - queued.count
            if queueOnly || (queued.isEmpty && waiting == 0) {
                let running = StatusCommand.lockHolder(directory)
                let when = running.map { "; a run is using the state directory (\($0)): they are delivered when a run next starts" }
                    ?? "; the next 'tripline run' delivers them"
                context.output.line(json ? "{\"redriven\":\(queued.count)}"
                                    : "redrove \(queued.count) dead letter\(queued.count == 1 ? "" : "s")" + (queued.isEmpty ? "" : when))
                return ExitStatus.success
            }
            let console = RunConsole(output: context.output.fileDescriptor, errors: context.errors.fileDescriptor)
            let log = DeliveryLog(format: json ? .json : .text, console: console)
            // Before any delivery: handlers a killed run (or redrive) left running are stopped first.
            runner.takeOver(stateDirectory: directory) { log.leftoverHandlers($0, stateDirectory: directory, command: "dlq") }
            context.output.line("redrove \(queued.count) dead letter\(queued.count == 1 ? "" : "s")"
                                + (waiting > 0 ? " (and \(waiting) deliver\(waiting == 1 ? "y" : "ies") an earlier run left queued)" : "") + "; delivering…")
            context.output.flush()
            let router = Router(rules: rules, options: options, log: log, store: store, runner: runner, webhooks: webhooks)
            let summary = router.run(inputs: EventInputs(sources: { nil }), stop: stop)
            console.output(json ? summary.json : summary.text)
            return summary.isClean ? ExitStatus.success : ExitStatus.negative
        }
    }

    /// Opens the state directory with `access` and runs `body`; state errors become a message and exit status 2.
    ///
    /// `lockedAdvice` replaces the general advice of ``StateError/locked(path:holder:)`` (which is about
    /// a second run) when another process holds the directory.
    static func withStore(_ directory: String, access: StateStore.Access, lockedAdvice: String? = nil, command: String = spec.name,
                          context: CommandContext, _ body: (StateStore) throws(StateError) -> Int32) -> Int32 {
        do {
            let store = try StateStore.open(directory: directory, access: access)
            return try body(store)
        } catch {
            if case .locked(let path, let holder) = error, let lockedAdvice {
                context.errors.line("tripline \(command): state directory \(path) is in use by a running tripline"
                                    + (holder.map { " (\($0))" } ?? "") + "; " + lockedAdvice)
            } else {
                context.errors.line("tripline \(command): \(error)")
            }
            return ExitStatus.invalidInput
        }
    }

    /// One line per letter. Reasons, errors and event ids come from servers, handlers and events:
    /// control and bidi characters in them are escaped (``PrintableText/escapingControls(_:)``).
    static func listLine(_ letter: DeadLetter) -> String {
        let last = letter.history.last.map { "; last error: \($0.error)" } ?? ""
        return PrintableText.escapingControls("\(letter.id)  \(StateTime.iso8601(letter.deadAt))  \(letter.rule)/\(letter.target)  event \(letter.eventID) "
            + "(\(letter.origin)): \(letter.reason)\(last)")
    }

    static func showText(_ letter: DeadLetter) -> String {
        var lines = [
            "Dead letter \(letter.id)",
            "  rule/target:     \(letter.rule)/\(letter.target)",
            "  event:           \(letter.eventID) from \(letter.origin)",
            "  idempotency key: \(letter.idempotencyKey)",
            "  accepted:        \(StateTime.iso8601(letter.acceptedAt))",
            "  dead-lettered:   \(StateTime.iso8601(letter.deadAt))",
            "  reason:          \(letter.reason)",
        ]
        if let file = letter.file { lines.append("  file:            \(file)") }
        lines.append("  attempts:        \(letter.history.count)")
        for attempt in letter.history {
            lines.append("    #\(attempt.attempt) at \(StateTime.iso8601(attempt.at)): \(attempt.error)")
        }
        lines.append("  event JSON:")
        lines.append("    " + String(decoding: letter.event, as: UTF8.self))
        // Every part may hold untrusted text; escaping each line keeps the line structure.
        return lines.map(PrintableText.escapingControls).joined(separator: "\n") + "\n"
    }
}
