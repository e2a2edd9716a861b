import Foundation
import TriplineJSON
import TriplineRouter
import TriplineState
import TriplineTargets

/// `tripline blocklist list|add|remove|expire`: the principals a state directory has blocked.
///
/// Every action works next to a running `tripline run`: listing only reads, and adding, removing and
/// expiring are short database writes without the directory's lock. The run reads the blocklist from
/// the database when it blocks or lifts blocks, and reloads the set it marks events with when another
/// process changed the database, so a change made here takes effect in the run within a second.
/// Only `add` creates a state directory that does not exist (to block before the first run), and
/// says so on standard error; the other actions refuse it, as `status` does.
enum BlocklistCommand: Command {
    static let spec = CommandSpec(
        name: "blocklist",
        summary: "List, add, remove or expire blocked principals",
        synopses: [
            "blocklist list [--active] [--json] [--state-dir DIR] [--rules DIR]",
            "blocklist add (--arn ARN | --principal-json FILE) --reason TEXT [--duration SECONDS] [--enforce HANDLER] [--dry-run] [--env NAME=VALUE]... [--json] [--state-dir DIR]",
            "blocklist remove (KEY | ARN) [--enforce HANDLER | --keep-enforcement] [--env NAME=VALUE]... [--json] [--state-dir DIR] [--rules DIR]",
            "blocklist expire [--enforce HANDLER] [--env NAME=VALUE]... [--json] [--state-dir DIR] [--rules DIR]",
        ],
        options: [
            OptionSpec(name: "state-dir", valueName: "DIR", help: "The state directory (default: .tripline beside the rules)."),
            OptionSpec(name: "rules", valueName: "DIR", help: "Where the rules are: the default state directory is beside them, and remove/expire give each handler the Environment of the BlockUser target its entry came from (default: Rules, when it exists)."),
            OptionSpec(name: "json", valueName: nil, help: "list: one JSON object per entry; other actions: one JSON result (expire: {\"expired\", \"lifted\", \"blocks\"}), the handler's output on stderr."),
            OptionSpec(name: "active", valueName: nil, help: "list: only blocks that have not expired."),
            OptionSpec(name: "arn", valueName: "ARN", help: "add: the IAM user, role, assumed-role session or federated user to block."),
            OptionSpec(name: "principal-json", valueName: "FILE", help: "add: a CloudTrail userIdentity, record or event naming the principal."),
            OptionSpec(name: "reason", valueName: "TEXT", help: "add: why (required)."),
            OptionSpec(name: "duration", valueName: "SECONDS", help: "add: lift the block after this long, 60 to 7776000 (90 days) (default: never)."),
            OptionSpec(name: "enforce", valueName: "HANDLER", help: "add: apply the block with this handler; remove, expire: run its unblock path instead of that of the handler that applied the block."),
            OptionSpec(name: "keep-enforcement", valueName: nil, help: "remove: only forget the entry; run no unblock path, so what the handler applied (deny policy, deactivated keys) stays in AWS."),
            OptionSpec(name: "dry-run", valueName: nil, help: "add: the handler only prints what it would do (TRIPLINE_DRY_RUN=1)."),
            OptionSpec(name: "env", valueName: "NAME=VALUE", help: "An environment variable for the handler (AWS_PROFILE=…), over the target's Environment; may be repeated.", repeatable: true),
        ],
        positionals: "ACTION [KEY]",
        discussion: """
            The blocklist holds one entry per principal key: the IAM user's ARN, the role's ARN for
            an assumed role (blocking covers all its sessions), the federated user's ARN, or the
            Identity Center user's identity-store path. Entries come from BlockUser rule targets and
            from 'add'; each records the reason, the rule and event that caused it, when, until when,
            who added it, whether it was a dry run, and whether the handler applied it.

            list ends with the circuit breaker of automatic blocks once a run has counted one: blocks
            in its window, its limit, and whether it is open (as tripline status shows it).

            add with --enforce runs the handler (e.g. Handlers/block-user.sh) with the block request
            on standard input; without it the entry is only recorded. Adding a principal that is
            already blocked changes nothing, unless the new block lasts longer (a later --duration, or
            none): then the entry's expiry is extended ("already blocked; expiry extended to …").
            Root users and AWS service principals are refused.
            remove lifts an entry as expire does: it runs the unblock path of the handler that applied
            it (or of --enforce) and then deletes it; an applied block whose unblock fails stays.
            --keep-enforcement only deletes the entry: no handler runs, and what it applied stays in
            AWS (the message and the User Unblocked event, keptEnforcement: true, say so). remove takes
            the key, or an ARN resolved as add resolves it (an assumed-role session names its role's
            entry), and finds a role's or user's entry whatever its IAM path (same account, same name). expire runs the unblock path for every expired entry (with the handler that
            applied it, or --enforce) and removes it; an applied block whose unblock fails stays for
            the next try.
            tripline run does the same as blocks expire. The unblock path of remove and expire gets
            the Environment of the BlockUser target the entry came from, read from the rules (--rules,
            default Rules when it exists; its ${NAME} values filled from this environment, and an unset
            one refuses the action, as run refuses to start), then every --env over it; an entry added
            by hand gets only --env. The state database never holds an environment.
            All actions work next to a running
            'tripline run' on the same state directory: it sees a change within a second.

            add creates the state directory when it does not exist yet (to block before the first
            run), and says so on standard error; list, remove and expire refuse a state directory
            nothing has run with (exit status 2), as status does.

            Exit status: 0 on success; 1 when add is refused (a root user, an AWS service, another
            account, a principal it cannot name) or the block is recorded but not applied, when remove
            names no entry (or an IAM name under several paths), or when an unblock failed; 2 when the
            state directory or the rules cannot be used, or the --principal-json file cannot be read.
            """)

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        guard let action = arguments.positionals.first else {
            return context.usageError("an action is needed: list, add, remove or expire", spec: spec)
        }
        let directory = arguments.value("state-dir") ?? StateDirectory.defaultPath(rules: arguments.value("rules") ?? "Rules")
        let extra = action == "remove" ? 2 : 1
        if arguments.positionals.count > extra {
            return context.usageError("unexpected argument '\(arguments.positionals[extra])'", spec: spec)
        }
        let allowed: [String: Set<String>] = [
            "list": ["active"],
            "add": ["arn", "principal-json", "reason", "duration", "enforce", "dry-run", "env"],
            "remove": ["enforce", "keep-enforcement", "env"],
            "expire": ["enforce", "env"],
        ]
        guard let options = allowed[action] else {
            return context.usageError("unknown action '\(action)'; expected list, add, remove or expire", spec: spec)
        }
        for name in arguments.options.keys.sorted() where !options.contains(name) && !["state-dir", "rules", "json"].contains(name) {
            return context.usageError("--\(name) does not apply to '\(action)'", spec: spec)
        }
        var environment: [String: String] = [:]
        for assignment in arguments.values("env") {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                return context.usageError("--env needs NAME=VALUE, got '\(assignment)'", spec: spec)
            }
            environment[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...])
        }
        let json = arguments.has("json")
        var settings = BlockUserExecutor.Settings(environment: environment)
        if action == "remove" || action == "expire" {
            // The environment of the rule target each entry came from (AWS_PROFILE, …), never stored.
            guard let environments = targetEnvironments(rules: arguments.value("rules"), context: context) else { return ExitStatus.invalidInput }
            settings.targetEnvironments = environments
        }

        switch action {
        case "list":
            return list(directory: directory, activeOnly: arguments.has("active"), json: json, context: context)
        case "add":
            return add(arguments, directory: directory, settings: settings, json: json, context: context)
        case "remove":
            guard arguments.positionals.count == 2 else {
                return context.usageError("remove needs the key of an entry (see 'tripline blocklist list')", spec: spec)
            }
            let given = arguments.positionals[1]
            let keep = arguments.has("keep-enforcement")
            if keep && arguments.value("enforce") != nil {
                return context.usageError("--keep-enforcement runs no handler, so it cannot be combined with --enforce", spec: spec)
            }
            // An ARN is looked up under the key add stores it as: an assumed-role session under its role.
            var key = given
            if case .success(let principal)? = BlockPrincipalCoding.principal(arn: given) { key = principal.key }
            return withExecutor(directory, settings: settings, context: context) { (executor) throws(StateError) -> Int32 in
                // The same role or user may be on the list under a path (…:role/emergency/Name) the session ARN does not show.
                switch try BlockPrincipalCoding.lookup(key: key, in: executor.blocklist) {
                case .found(let found): key = found
                case .ambiguous(let keys):
                    context.errors.line("tripline blocklist: \(given) names \(keys.count) entries, one IAM name under different paths: "
                                        + keys.joined(separator: ", ") + "; give the key of the one to remove")
                    return ExitStatus.negative
                case .notFound: break
                }
                guard let outcome = try executor.unblock(key: key, enforce: arguments.value("enforce"), keepEnforcement: keep,
                                                         now: StateTime.now()) else {
                    let under = key == given ? "" : " (looked up under its key \(key))"
                    context.errors.line("tripline blocklist: \(given) is not on the blocklist in \(directory)\(under)")
                    return ExitStatus.negative
                }
                if key != given && !json { context.output.line("\(given) is blocked under its key \(key)") }
                report(outcome, json: json, context: context)
                if !outcome.removed {
                    context.errors.line("tripline blocklist: \(outcome.entry.key) stays blocked; fix the handler and remove it again, or forget it "
                                        + "with --keep-enforcement and lift the block in AWS by hand")
                }
                try queueForBus(outcome.events, action: "remove", executor: executor, json: json, context: context)
                return outcome.removed ? ExitStatus.success : ExitStatus.negative
            }
        default:  // expire
            return withExecutor(directory, settings: settings, context: context) { (executor) throws(StateError) -> Int32 in
                let outcomes = try executor.expire(now: StateTime.now(), enforce: arguments.value("enforce"))
                let lifted = outcomes.filter(\.removed).count
                if json {
                    // One JSON result, also when nothing expired (as 'dlq purge --json' prints {"purged":0}).
                    for outcome in outcomes { printHandlerOutput(outcome.handler, json: true, context: context) }
                    context.output.line(JSONWriter.string(.object(JSONObject([
                        "expired": .number(JSONNumber(outcomes.count)), "lifted": .number(JSONNumber(lifted)),
                        "blocks": .array(outcomes.map(unblockJSON)),
                    ]))))
                } else {
                    for outcome in outcomes { report(outcome, json: false, context: context) }
                    context.output.line("\(lifted) of \(outcomes.count) expired block\(outcomes.count == 1 ? "" : "s") lifted")
                }
                try queueForBus(outcomes.flatMap(\.events), action: "expire", executor: executor, json: json, context: context)
                return outcomes.allSatisfy(\.removed) ? ExitStatus.success : ExitStatus.negative
            }
        }
    }

    /// The resolved `Environment` of every `BlockUser` target of the rules at `rules` (default
    /// `Rules`, skipped when that does not exist); nil, with the problems printed, when the rules
    /// cannot be read or a variable is unset.
    private static func targetEnvironments(rules: String?, context: CommandContext) -> [String: [String: String]]? {
        let path = rules ?? "Rules"
        guard FileManager.default.fileExists(atPath: path) else {
            if rules == nil { return [:] }
            context.errors.line("tripline blocklist: no rules at '\(path)' (needed for the Environment of BlockUser targets)")
            return nil
        }
        let (loaded, loadErrors) = RuleSet.load(paths: [path])
        if !loadErrors.isEmpty {
            for error in loadErrors { context.errors.line(error.description) }
            context.errors.line("tripline blocklist: \(loadErrors.count) problem\(loadErrors.count == 1 ? "" : "s") in the rules, whose BlockUser "
                                + "targets give their handlers' Environment; fix them (or point --rules elsewhere); nothing was lifted")
            return nil
        }
        let (environments, errors, _) = BlockUserEnvironments.resolve(rules: loaded, environment: ProcessInfo.processInfo.environment)
        if !errors.isEmpty {
            for error in errors { context.errors.line(error) }
            context.errors.line("tripline blocklist: set the missing variables and fix any other problem above; nothing was lifted")
            return nil
        }
        return environments
    }

    // MARK: - Actions

    private static func list(directory: String, activeOnly: Bool, json: Bool, context: CommandContext) -> Int32 {
        return DeadLetterCommand.withStore(directory, access: .readOnly, command: spec.name, context: context) { (store) throws(StateError) -> Int32 in
            let now = StateTime.now()
            let entries = try Blocklist(store: store).list(includeExpired: !activeOnly, now: now)
            for entry in entries {
                context.output.line(json ? JSONWriter.string(entry.json) : listLine(entry, now: now))
            }
            if !json {
                let expired = entries.filter { !$0.isActive(now: now) }.count
                context.output.line("\(entries.count) blocked principal\(entries.count == 1 ? "" : "s")"
                                    + (expired > 0 ? " (\(expired) expired, lifted by the next 'tripline blocklist expire' or run)" : ""))
                // Only once automatic blocking has counted something: until then there is nothing to say.
                if let line = BreakerReport.line(try Blocklist(store: store).savedBreakerState(), now: now, always: false) {
                    context.output.line(line)
                }
            }
            return ExitStatus.success
        }
    }

    private static func add(_ arguments: ParsedArguments, directory: String, settings: BlockUserExecutor.Settings, json: Bool,
                            context: CommandContext) -> Int32 {
        guard let reason = arguments.value("reason"), !reason.isEmpty else {
            return context.usageError("add needs --reason: say why the principal is blocked", spec: spec)
        }
        var duration: Double?
        if let text = arguments.value("duration") {
            guard let seconds = Double(text), BlockUserTarget.durationRange.contains(seconds) else {
                return context.usageError("--duration needs a number of seconds from \(Int(BlockUserTarget.durationRange.lowerBound)) to "
                                          + "\(Int(BlockUserTarget.durationRange.upperBound)), got '\(text)'", spec: spec)
            }
            duration = seconds
        }
        let resolved: Result<BlockPrincipal, BlockRefusal>
        switch (arguments.value("arn"), arguments.value("principal-json")) {
        case (let arn?, nil):
            guard let result = BlockPrincipalCoding.principal(arn: arn) else {
                return context.usageError("--arn '\(arn)' is not the ARN of an IAM user (arn:aws:iam::ACCOUNT:user/NAME), a role "
                                          + "(…:role/NAME), an assumed-role session (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION) "
                                          + "or a federated user (…:federated-user/NAME)", spec: spec)
            }
            resolved = result
        case (nil, let path?):
            let value: JSONValue
            let bytes: [UInt8]
            do {
                bytes = try readWholeFile(path: path, limit: 1 << 20)
            } catch {
                // The read error names the file itself.
                context.errors.line("tripline blocklist: \(error)")
                return ExitStatus.invalidInput
            }
            do {
                value = try JSONParser.parse(bytes)
            } catch {
                context.errors.line("tripline blocklist: \(path): \(error)")
                return ExitStatus.invalidInput
            }
            if let principal = BlockPrincipalCoding.principal(json: value) {
                resolved = .success(principal)
            } else {
                let identity = value["detail"]?["userIdentity"] ?? value["userIdentity"] ?? value
                resolved = PrincipalResolver.resolve(userIdentity: identity)
            }
        default:
            return context.usageError("add needs exactly one of --arn and --principal-json", spec: spec)
        }
        let principal: BlockPrincipal
        switch resolved {
        case .success(let p): principal = p
        case .failure(let refusal):
            context.errors.line("tripline blocklist: not blocked: \(refusal)")
            if json { context.output.line(JSONWriter.string(["result": "refused", "refusal": .string(refusal.description)])) }
            return ExitStatus.negative
        }
        return withExecutor(directory, creating: true, settings: settings, context: context) { (executor) throws(StateError) -> Int32 in
            let outcome = executor.block(principal: principal, reason: reason, durationSeconds: duration, enforce: arguments.value("enforce"),
                                         dryRun: arguments.has("dry-run"), now: StateTime.now())
            printHandlerOutput(outcome.handler, json: json, context: context)
            var result = JSONObject()
            var entry: BlockEntry?
            switch outcome.result {
            case .blocked(let e): result["result"] = "blocked"; entry = e
            case .alreadyBlocked(let e): result["result"] = "alreadyBlocked"; entry = e
            case .extended(let e, _): result["result"] = "extended"; entry = e
            case .refused(let refusal): result["result"] = "refused"; result["refusal"] = .string(refusal.description)
            case .failed(let e, let error, _): result["result"] = "failed"; result["error"] = .string(error); entry = e
            }
            result["entry"] = entry?.json ?? .null
            result["events"] = .array(outcome.events)
            if json {
                context.output.line(JSONWriter.string(.object(result)))
            } else {
                context.output.line(outcome.summary)
            }
            try queueForBus(outcome.events, action: "add", executor: executor, json: json, context: context)
            if case .failed(_, let error, _) = outcome.result {
                context.errors.line("tripline blocklist: the block is recorded but not applied: \(error); run the same add again to retry")
            }
            return outcome.succeeded && !isRefused(outcome) ? ExitStatus.success : ExitStatus.negative
        }
    }

    private static func isRefused(_ outcome: BlockOutcome) -> Bool {
        if case .refused = outcome.result { return true }
        return false
    }

    /// Prints what an enforcement handler printed: its standard output on ours, except with --json,
    /// where standard output holds only the JSON result and the handler's output goes to standard error.
    private static func printHandlerOutput(_ handler: FunctionOutcome?, json: Bool, context: CommandContext) {
        guard let handler else { return }
        if json {
            context.errors.write(bytes: handler.stdout)
        } else {
            context.output.write(bytes: handler.stdout)
        }
        context.errors.write(bytes: handler.stderr)
    }

    /// Prints one lifted (or not lifted) block: its summary line, or with `json` its JSON object.
    private static func report(_ outcome: UnblockOutcome, json: Bool, context: CommandContext) {
        printHandlerOutput(outcome.handler, json: json, context: context)
        if json {
            context.output.line(JSONWriter.string(unblockJSON(outcome)))
        } else {
            context.output.line(outcome.summary)
        }
    }

    /// One lifted (or not lifted) block as JSON: the key, whether it left the list, the handler's
    /// summary, the error, the entry and the events emitted.
    private static func unblockJSON(_ outcome: UnblockOutcome) -> JSONValue {
        .object(JSONObject([
            "key": .string(outcome.entry.key), "removed": .bool(outcome.removed),
            "handler": outcome.handler.map { .string($0.summary) } ?? .null,
            "error": outcome.error.map(JSONValue.string) ?? .null, "keptEnforcement": .bool(outcome.keptEnforcement),
            "entry": outcome.entry.json, "events": .array(outcome.events),
        ]))
    }

    /// Writes the events an action made (User Blocked, User Unblocked, …) to the state database's
    /// outbox, where a `tripline run` on the same directory picks them up (within a second while one
    /// runs, else when the next starts) and routes them like the events it emits itself; says so
    /// unless `json`. A failure to write them throws: the change itself is made, and the message says
    /// that its events will not reach the rules.
    private static func queueForBus(_ events: [JSONValue], action: String, executor: BlockUserExecutor, json: Bool,
                                    context: CommandContext) throws(StateError) {
        guard !events.isEmpty else { return }
        do {
            try BusOutbox(store: executor.blocklist.store).add(events.map { JSONWriter.bytes($0) }, origin: "tripline blocklist " + action,
                                                              now: StateTime.now())
        } catch {
            context.errors.line("tripline blocklist: the \(action) is done, but its \(events.count) event\(events.count == 1 ? "" : "s") "
                                + "could not be queued for the rules (User Blocked, User Unblocked, …):")
            throw error
        }
        if !json {
            context.output.line("\(events.count) event\(events.count == 1 ? "" : "s") queued for the rules: the run on this state directory "
                                + "routes \(events.count == 1 ? "it" : "them") within a second, or the next run when it starts")
        }
    }

    /// Opens the state directory with its lock and an executor over its blocklist, and runs `body`.
    private static func withExecutor(_ directory: String, creating: Bool = false, settings: BlockUserExecutor.Settings, context: CommandContext,
                                     _ body: (BlockUserExecutor) throws(StateError) -> Int32) -> Int32 {
        do {
            let isNew = !FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(StateStore.databaseName))
            let store = try StateStore.open(directory: directory, access: .shared(createIfMissing: creating))
            if isNew {
                // Said out loud: a mistyped --state-dir would otherwise leave a block where no run looks.
                context.errors.line("tripline \(spec.name): created the state directory \(directory) (nothing had run with it yet)")
            }
            let executor = try BlockUserExecutor(blocklist: try Blocklist(store: store), settings: settings)
            return try body(executor)
        } catch {
            context.errors.line("tripline \(spec.name): \(error)")
            return ExitStatus.invalidInput
        }
    }

    static func listLine(_ entry: BlockEntry, now: Double) -> String {
        var parts = [entry.key, entry.kind]
        parts.append("added \(StateTime.iso8601(entry.addedAt)) by \(entry.addedBy)")
        if let expiresAt = entry.expiresAt {
            parts.append((expiresAt > now ? "expires " : "EXPIRED ") + StateTime.iso8601(expiresAt))
        } else {
            parts.append("no expiry")
        }
        var status = entry.enforcement.rawValue
        if entry.dryRun { status += " (dry run)" }
        if let error = entry.lastError { status += ": " + error }
        parts.append(status)
        parts.append("reason: " + entry.reason)
        if let eventID = entry.eventID { parts.append("event " + eventID) }
        return parts.joined(separator: "  ")
    }
}
