#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TriplineJSON
import TriplineRouter
import TriplineTargets

/// `tripline invoke`: runs one handler once with one event, as `run` would for a match.
///
/// For writing and debugging handlers: same environment, same standard input, same timeout
/// handling as a real delivery, with the handler's output printed as `run` prints it (control
/// characters escaped) and its exit status passed on.
enum InvokeCommand: Command {
    static let spec = CommandSpec(
        name: "invoke",
        summary: "Run a handler once with an event, as a rule target would",
        synopses: ["invoke HANDLER [ARG...] --event FILE [--rule NAME] [--target ID] [--timeout SECONDS] [--env NAME=VALUE]..."],
        options: [
            OptionSpec(name: "event", valueName: "FILE", help: "The event: a CloudTrail record (wrapped as EventBridge delivers it) or an EventBridge event; '-' for standard input."),
            OptionSpec(name: "rule", valueName: "NAME", help: "TRIPLINE_RULE for the handler (default: invoke)."),
            OptionSpec(name: "target", valueName: "ID", help: "TRIPLINE_TARGET for the handler (default: manual)."),
            OptionSpec(name: "timeout", valueName: "SECONDS", help: "Stop the handler after this long (default: 30)."),
            OptionSpec(name: "env", valueName: "NAME=VALUE", help: "An extra environment variable, as a target's Env; may be repeated.", repeatable: true),
        ],
        positionals: "HANDLER [ARG...]",
        discussion: """
            The handler is started directly (no shell) with the event JSON on standard input and
            TRIPLINE_RULE, TRIPLINE_TARGET, TRIPLINE_EVENT_ID, TRIPLINE_IDEMPOTENCY_KEY and
            TRIPLINE_ATTEMPT set. Its standard output and error are printed (at most 64 KB each; as
            'run' prints them, control characters such as ESC shown as escapes like \\x1b), then
            a status line on standard error. Exit status: the handler's, 124 if it timed out,
            128+N if it was killed by signal N, 2 if it could not be started or the event is invalid.
            """)

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        guard let handler = arguments.positionals.first else { return context.usageError("no handler given", spec: spec) }
        guard let eventPath = arguments.value("event") else { return context.usageError("--event is required", spec: spec) }
        var timeout = FunctionTarget.defaultTimeoutSeconds
        if let text = arguments.value("timeout") {
            guard let value = Double(text), value > 0 else { return context.usageError("--timeout needs a positive number of seconds", spec: spec) }
            timeout = value
        }
        var environment: [String: String] = [:]
        for assignment in arguments.values("env") {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                return context.usageError("--env needs NAME=VALUE, got '\(assignment)'", spec: spec)
            }
            environment[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...])
        }

        let event: NormalizedEvent
        switch readEvent(eventPath, context: context) {
        case .success(let normalized): event = normalized
        case .failure(let error):
            context.errors.line("tripline invoke: \(error)")
            return ExitStatus.invalidInput
        }

        let delivery = HandlerEnvironment.Delivery(ruleName: arguments.value("rule") ?? "invoke",
                                                   targetID: arguments.value("target") ?? "manual", eventID: event.id)
        let invocation = FunctionInvocation(executable: handler, arguments: Array(arguments.positionals.dropFirst()),
                                            environment: HandlerEnvironment.make(delivery: delivery, target: environment),
                                            payload: event.bytes, timeoutSeconds: timeout)
        let outcome: FunctionOutcome
        do {
            outcome = try FunctionRunner().run(invocation)
        } catch {
            context.errors.line("tripline invoke: \(error)")
            return ExitStatus.invalidInput
        }
        // Escaped line by line as 'run' prints handler output: event data a handler echoes must not
        // drive the terminal (escape sequences, bidi overrides) or hide lines (CR).
        for line in PrintableText.printableLines(of: outcome.stdout) { context.output.line(line) }
        context.output.flush()
        for line in PrintableText.printableLines(of: outcome.stderr) { context.errors.line(line) }
        if outcome.stdoutDroppedBytes > 0 { context.errors.line("tripline invoke: \(outcome.stdoutDroppedBytes) more bytes of standard output dropped") }
        if outcome.stderrDroppedBytes > 0 { context.errors.line("tripline invoke: \(outcome.stderrDroppedBytes) more bytes of standard error dropped") }
        context.errors.line("tripline invoke: \(handler): \(outcome.summary) (event \(event.id), idempotency key \(delivery.idempotencyKey))")
        if outcome.timedOut { return 124 }
        switch outcome.termination {
        case .exited(let status): return status
        case .signaled(let signal): return 128 + signal
        }
    }

    /// Reads and normalizes the event file (`-`: standard input), as `run` would.
    static func readEvent(_ path: String, context: CommandContext) -> Result<NormalizedEvent, InputError> {
        let limit = CloudTrailRecordsReader.defaultMaxRecordBytes * EventInputs.singleDocumentSlack
        let origin = EventOrigin(source: path == "-" ? EventOrigin.standardInputName : path, position: .document)
        var bytes: [UInt8] = []
        if path == "-" {
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(context.inputDescriptor, $0.baseAddress!, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 { return .failure(.file(.readFailed(path: origin.source, offset: Int64(bytes.count), reason: String(cString: strerror(errno))))) }
                if n == 0 { break }
                bytes.append(contentsOf: chunk[0..<n])
                if bytes.count > limit { return .failure(.eventTooLarge(origin: origin, limit: limit)) }
            }
        } else {
            do {
                bytes = try readWholeFile(path: path, limit: limit)
            } catch .tooLarge {
                return .failure(.eventTooLarge(origin: origin, limit: limit))
            } catch {
                return .failure(.file(error))
            }
        }
        var clock = IngestionClock()
        return EventNormalizer().normalize(RawEvent(bytes: bytes, origin: origin), ingestionTime: clock.now(), allowingOwnSource: true)
    }
}
