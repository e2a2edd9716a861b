import Foundation
import TriplineRouter
import TriplineState
import TriplineTargets

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
        synopses: ["run [--rules DIR] [--state-dir DIR | --ephemeral] [--from-start] [--dedupe-window SECONDS] [--forget-missing SECONDS|never] [--log-format text|json] [--follow DIR] [INPUT...]"],
        options: [
            OptionSpec(name: "rules", valueName: "DIR", help: "Rule files: a directory (every *.json below it, and .yaml/.yml files that hold JSON) or one file (default: Rules)."),
            OptionSpec(name: "state-dir", valueName: "DIR", help: "The state directory: delivery queue, dead letters, checkpoints (default: .tripline beside the rules)."),
            OptionSpec(name: "ephemeral", valueName: nil, help: "Keep state in memory only: no checkpoints, nothing survives the run."),
            OptionSpec(name: "from-start", valueName: nil, help: "Ignore checkpoints: read every input file from its start."),
            OptionSpec(name: "dedupe-window", valueName: "SECONDS", help: "A match already delivered or dead-lettered this recently (same event id, rule and target) is not delivered again (default 86400; 0: off)."),
            OptionSpec(name: "forget-missing", valueName: "SECONDS", help: "Forget the checkpoint of a file gone from a walked or watched directory once it has been gone this long (default 86400; 'never' keeps them)."),
            OptionSpec(name: "shutdown-timeout", valueName: "SECONDS", help: "On SIGINT/SIGTERM (and a reload on SIGHUP), how long running deliveries may finish (default 10)."),
            OptionSpec(name: "linger", valueName: "SECONDS", help: "At the end of the input, keep retrying while a retry is due within this time (default 30)."),
            OptionSpec(name: "retry-delay", valueName: "BASE[,MAX]", help: "Backoff of retries in seconds: first ceiling and longest wait (default 1,300)."),
            OptionSpec(name: "protect", valueName: "ARN", help: "Never block principals matching this ARN pattern (* wildcards; repeatable); a role or user with a path is also tried without it.", repeatable: true),
            OptionSpec(name: "max-blocks", valueName: "N", help: "Circuit breaker: at most N automatic blocks per --block-window (default 10; dry-run blocks do not count)."),
            OptionSpec(name: "block-window", valueName: "SECONDS", help: "The circuit breaker's window (default 3600)."),
            OptionSpec(name: "dry-run-blocks", valueName: nil, help: "BlockUser targets record blocks and run their handler in dry-run mode only; expired real blocks are left for a run without it."),
            OptionSpec(name: "synchronous", valueName: "full|normal", help: "SQLite durability: 'full' (default) survives power loss, 'normal' a process crash."),
            OptionSpec(name: "log-format", valueName: "FORMAT", help: "'text' (default) or 'json': one JSON object per log line."),
            OptionSpec(name: "follow", valueName: "DIR", help: "After the INPUTs, read the files in DIR, then each new one as it arrives, until SIGINT/SIGTERM."),
        ],
        positionals: "INPUT...",
        discussion: """
            INPUT is a CloudTrail log file ({"Records":[...]}, plain or .gz), an NDJSON file (one event
            per line), pretty-printed events one after another (jq without -c: the first line is only
            '{'), a file holding one JSON event, a directory (read recursively in name order, which
            for AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/ is time order; digest and hidden files
            are skipped), or '-' for standard input, read like a file as it arrives (gzip, a CloudTrail log,
            one event, pretty-printed events or NDJSON; also the default without INPUT and --follow).
            Events may be bare CloudTrail records (wrapped as EventBridge delivers them) or EventBridge events.

            Handler output is printed as [rule/target] LINE; failed deliveries, bad records and a summary
            are reported too. With --log-format json every log line is a JSON object with a "type", the
            problems that stop the run before it starts too ("error"); only a wrong command line (exit
            status 64) is reported as text.
            Delivery is at-least-once: each match is committed to the state database before it counts
            as accepted, and removed only after its target succeeded. Failed attempts are retried with
            exponential backoff and full jitter within the target's RetryPolicy; a delivery that runs out
            of retries (or fails permanently: handler exit status 65, a handler that cannot start) goes to
            the dead letters ('tripline dlq'). Checkpoints remember how far each input file was read, so
            reading the same files again delivers nothing twice; and a match whose event id, rule and
            target were already delivered or dead-lettered within --dedupe-window is not queued again
            (event ids of CloudTrail records are derived from their content, so a record read twice is
            one event). The checkpoint of a file gone from a directory INPUT or the --follow folder is
            forgotten once two checks --forget-missing apart found it gone (at the start, and during the
            run every quarter of that, 5 s to 15 min); a directory that is missing, cannot be listed or
            is on another device than its files were (an unmounted mount point) proves nothing. A file or
            directory renamed within the followed folder while the run watches (into a directory made
            just before included) keeps its checkpoint; one renamed between runs, through a hidden or
            non-input name, or in a burst that overflows the inotify queue is read again (README). A
            stopped or crashed run resumes its queued deliveries on the next start. SIGINT/SIGTERM stops
            reading and lets running deliveries finish within --shutdown-timeout; a second signal quits
            at once with status 128 + the signal number, 130 for Ctrl-C (nothing accepted is lost: it is
            all in the database). SIGHUP reads the rules again, checked as at the start: valid rules
            take over between events (running deliveries finish first, within --shutdown-timeout;
            reading resumes where it paused, nothing queued is lost), rules with a problem are reported
            and the rules in force stay. A run reading standard input cannot pause and resume it: it
            keeps its rules (restart it instead).

            Exit status: 0 when every event was read and every delivery succeeded (or the run was stopped
            by a first signal), 1 when some records were bad, a file could not be read, a delivery was
            dead-lettered or is still waiting for a retry, or the state database failed; 2 when the rules
            have errors, a handler cannot be started (missing, not executable, not on PATH, a script
            without a #! line, a #! interpreter that is missing or ends in a Windows carriage return), a
            webhook or BlockUser Environment variable is unset, or the state directory cannot be used (for
            instance, another run holds it).
            """)

    /// With `--follow`, seconds a file must stay quiet before its unfinished end is reported.
    static let incompleteGrace: Double = 10

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
        // Every line from here on goes through the run's log, so that with --log-format json each one
        // is a JSON object, the problems that stop the run before it starts included.
        let console = RunConsole(output: context.output.fileDescriptor, errors: context.errors.fileDescriptor)
        let log = DeliveryLog(format: format, console: console, ephemeral: arguments.has("ephemeral"))
        // Before any thread starts, so every thread inherits the blocked signals. A second signal
        // quits at once: the handlers, in their own process groups, must not outlive the run.
        let runner = FunctionRunner()
        let stop = StopSignal(beforeQuitting: { runner.killRunning() })
        // SIGHUP reads the rules again (see `RuleReloader`); blocked here, before any thread starts, as the stop signals are.
        let reloader = RuleReloader(log: log, stop: stop)
        let hangup = HangupSignal { reloader.hangup() }
        defer { withExtendedLifetime(hangup) {} }

        let rulesPath = arguments.value("rules") ?? "Rules"
        var options = Router.Options()
        if arguments.has("ephemeral") && arguments.has("state-dir") {
            return context.usageError("--ephemeral and --state-dir exclude each other", spec: spec)
        }
        for (name, apply) in [("shutdown-timeout", { (value: Double) in options.shutdownTimeout = value }),
                              ("linger", { (value: Double) in options.linger = value })] as [(String, (Double) -> Void)] {
            guard let text = arguments.value(name) else { continue }
            guard let value = Double(text), value >= 0, value.isFinite else {
                return context.usageError("--\(name) needs a number of seconds, got '\(text)'", spec: spec)
            }
            apply(value)
        }
        if let text = arguments.value("retry-delay") {
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) }
            guard (1...2).contains(parts.count), parts.allSatisfy({ $0 != nil && $0! >= 0 && $0!.isFinite }) else {
                return context.usageError("--retry-delay needs BASE or BASE,MAX in seconds, got '\(text)'", spec: spec)
            }
            let base = parts[0]!, longest = parts.count == 2 ? parts[1]! : 300
            guard base <= longest else {
                return context.usageError("--retry-delay: BASE (\(text.split(separator: ",").first ?? "")) is more than MAX (\(parts.count == 2 ? String(text.split(separator: ",")[1]) : "300, the default")); the first wait cannot exceed the longest", spec: spec)
            }
            options.dispatcher.retry = RetrySchedule(baseDelay: base, maxDelay: longest)
        }
        var synchronous = StateStore.Synchronous.full
        if let text = arguments.value("synchronous") {
            guard let chosen = StateStore.Synchronous(rawValue: text.uppercased()) else {
                return context.usageError("--synchronous is 'full' or 'normal', got '\(text)'", spec: spec)
            }
            synchronous = chosen
        }
        options.fromStart = arguments.has("from-start")
        if let text = arguments.value("dedupe-window") {
            guard let seconds = Double(text), seconds >= 0, seconds.isFinite else {
                return context.usageError("--dedupe-window needs seconds (0 or more), got '\(text)'", spec: spec)
            }
            options.deduplicationWindow = seconds
        }
        if let text = arguments.value("forget-missing") {
            if text == "never" {
                options.forgetMissing = nil
            } else {
                guard let seconds = Double(text), seconds >= 0, seconds.isFinite else {
                    return context.usageError("--forget-missing needs seconds (0 or more) or 'never', got '\(text)'", spec: spec)
                }
                options.forgetMissing = seconds
            }
        }
        do {
            options.blocking.protected = try ProtectedPrincipals(patterns: arguments.values("protect"))
        } catch {
            return context.usageError("--protect: \(error)", spec: spec)
        }
        if let text = arguments.value("max-blocks") {
            guard let count = Int(text), count >= 0 else { return context.usageError("--max-blocks needs a number, got '\(text)'", spec: spec) }
            options.blocking.maxBlocks = count
        }
        if let text = arguments.value("block-window") {
            guard let seconds = Double(text), seconds > 0 else { return context.usageError("--block-window needs seconds, got '\(text)'", spec: spec) }
            options.blocking.windowSeconds = seconds
        }
        options.blocking.dryRun = arguments.has("dry-run-blocks")
        guard FileManager.default.fileExists(atPath: rulesPath) else {
            log.error("tripline run: no rules at '\(rulesPath)' (give a rules directory or file with --rules)")
            return ExitStatus.invalidInput
        }
        guard var loaded = loadRules(at: rulesPath, log: log, consequence: "nothing was run") else { return ExitStatus.invalidInput }

        let store: StateStore
        do {
            if arguments.has("ephemeral") {
                store = try StateStore.inMemory()
            } else {
                store = try StateStore.open(directory: arguments.value("state-dir") ?? StateDirectory.defaultPath(rules: rulesPath),
                                            synchronous: synchronous)
            }
        } catch {
            log.error("tripline run: \(error)")
            return ExitStatus.invalidInput
        }
        if let directory = store.directory {
            runner.takeOver(stateDirectory: directory) { log.leftoverHandlers($0, stateDirectory: directory, command: "run") }
        }

        // Standard input cannot be read again from where a stopped run left it (what was read ahead
        // would be lost); files and folders resume from their checkpoints.
        let followDirectory = arguments.value("follow")
        let readsStandardInput = arguments.positionals.contains("-") || (arguments.positionals.isEmpty && followDirectory == nil)
        reloader.configure(path: rulesPath, shutdownTimeout: options.shutdownTimeout,
                           refusal: readsStandardInput ? "this run reads standard input, which cannot be read again from where a reload would stop it" : nil,
                           load: { loadRules(at: rulesPath, log: log, consequence: $0, previousWebhooks: $1) })

        var earlierPartsClean = true
        var reloads = 0
        while true {
            var watcher: FolderWatcher?
            if let followDirectory {
                do {
                    watcher = try FolderWatcher(directory: followDirectory, stop: stop)
                } catch {
                    log.error("tripline run: --follow: \(error)")
                    return ExitStatus.invalidInput
                }
            }
            // Files in a watched folder may be read while still being written: an unfinished end is
            // reported only if it stays so (it is read again when the file grows).
            if watcher != nil { options.incompleteGrace = Self.incompleteGrace }
            let list: SourceList? = watcher != nil && arguments.positionals.isEmpty ? nil : SourceList(arguments: arguments.positionals)
            let inputs = EventInputs(standardInput: context.inputDescriptor) {
                if let item = list?.next() { return item }
                return watcher?.nextFile().map { $0.map(InputSource.file) }
            }
            watcher?.onWait = { [weak inputs] in inputs?.onWaiting?() }
            watcher?.shouldEnd = { [weak inputs] in inputs?.shouldStopWaiting?() ?? false }
            watcher?.onMove = { [weak inputs] in inputs?.onMoved?($0, $1, $2) }
            // Checkpoints of files gone from the walked directories and the watched folder are forgotten.
            options.checkpointRoots = arguments.positionals.filter { argument in
                var info = stat()
                return argument != "-" && stat(argument, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
            } + (watcher.map { [$0.root] } ?? [])
            options.blocking.targetEnvironments = loaded.blockEnvironments

            let count = loaded.rules.rules.count
            log.note("tripline run: \(count) rule\(count == 1 ? "" : "s") \(reloads == 0 ? "loaded" : "reloaded") from \(rulesPath) (\(loaded.enabledCount) enabled)"
                     + (watcher.map { "; following \($0.root) (Ctrl-C to stop)" } ?? ""))
            context.output.flush()
            context.errors.flush()

            reloader.inForce(loaded)
            let router = Router(rules: loaded.rules, options: options, log: log, store: store, runner: runner, webhooks: loaded.webhooks)
            var summary = router.run(inputs: inputs, stop: stop)
            // A stop that a reload asked for alone is taken back, and the run goes on with the new rules.
            let taken = reloader.takePending(rearm: summary.stopped && summary.stateError == nil)
            if let next = taken?.rules, taken?.goOn == true {
                summary.stopped = false
                summary.endedForReload = true
                printSummary(summary, format: format, console: console)
                earlierPartsClean = earlierPartsClean && summary.isClean
                loaded = next
                reloads += 1
                // --from-start is for the inputs as the run began: the next part goes on from the checkpoints this one left.
                options.fromStart = false
                options.afterReload = true
                // Handlers the pause interrupted have ended; the next part's must run. Webhook requests it
                // cut off are gone too: their rate-limit slots are free again (the buckets carry over).
                runner.resumeStarting()
                loaded.webhooks.forgiveReservations()
                continue
            }
            if taken != nil {
                let why = summary.stateError != nil ? "the state database failed"
                    : summary.stopped ? "a signal stopped the run while the reload waited for it" : "the input ended first"
                log.note("tripline run: the rules were not reloaded: \(why)")
            }
            printSummary(summary, format: format, console: console)
            return earlierPartsClean && summary.isClean ? ExitStatus.success : ExitStatus.negative
        }
    }

    private static func printSummary(_ summary: RunSummary, format: LogFormat, console: RunConsole) {
        switch format {
        case .text: console.output(summary.text)
        case .json: console.output(summary.json)
        }
    }

    /// Reads the rules at `rulesPath` and makes every check a run makes before it starts (rule files,
    /// handlers, webhook and BlockUser variables); reports every problem, ending with `consequence`,
    /// and returns nil when there is one.
    static func loadRules(at rulesPath: String, log: DeliveryLog, consequence: String, previousWebhooks: WebhookRegistry? = nil) -> LoadedRules? {
        let (rules, ruleErrors) = RuleSet.load(paths: [rulesPath])
        if !ruleErrors.isEmpty {
            for error in ruleErrors { log.error(error.description) }
            log.error("tripline run: \(ruleErrors.count) problem\(ruleErrors.count == 1 ? "" : "s") in the rules; \(consequence)")
            return nil
        }
        // A handler that cannot start would dead-letter every delivery to it: refuse now instead.
        let (_, handlerErrors, handlerWarnings) = rules.checkingHandlers()
        for warning in handlerWarnings { log.note("tripline run: warning: \(warning)") }
        if !handlerErrors.isEmpty {
            for error in handlerErrors { log.error(error.description) }
            log.error("tripline run: \(handlerErrors.count) handler\(handlerErrors.count == 1 ? "" : "s") cannot be started; \(consequence)")
            return nil
        }

        let (webhooks, webhookErrors, missingVariables) = WebhookRegistry.resolve(rules: rules, environment: ProcessInfo.processInfo.environment,
                                                                                  previous: previousWebhooks)
        if !webhookErrors.isEmpty {
            for error in webhookErrors { log.error(error) }
            log.error(missingVariables
                ? "tripline run: set the missing variables (or mark the target \"Optional\": true) and fix any other problem above; \(consequence)"
                : "tripline run: \(webhookErrors.count) webhook target\(webhookErrors.count == 1 ? "" : "s") cannot be used as configured; \(consequence)")
            return nil
        }
        for (key, reason) in webhooks.disabled { log.note("tripline run: webhook \(key) is off: \(reason)") }
        // BlockUser Environment values (AWS_PROFILE, credentials) come from ours, as webhook variables do.
        let (blockEnvironments, blockErrors, missingBlockVariables) = BlockUserEnvironments.resolve(
            rules: rules, environment: ProcessInfo.processInfo.environment)
        if !blockErrors.isEmpty {
            for error in blockErrors { log.error(error) }
            log.error(missingBlockVariables
                ? "tripline run: set the missing variables and fix any other problem above; \(consequence)"
                : "tripline run: \(blockErrors.count) BlockUser target\(blockErrors.count == 1 ? "" : "s") cannot be used as configured; \(consequence)")
            return nil
        }
        return LoadedRules(rules: rules, webhooks: webhooks, blockEnvironments: blockEnvironments)
    }
}
