import TriplineRouter

/// `tripline normalize`: prints the EventBridge events `run` would match, one per line.
///
/// Shows exactly what patterns see: CloudTrail records wrapped in their envelope, EventBridge
/// events passed through, in input order. Bad records are reported on standard error and skipped.
enum NormalizeCommand: Command {
    static let spec = CommandSpec(
        name: "normalize",
        summary: "Print input events as the EventBridge events rules match (NDJSON)",
        synopses: ["normalize [INPUT...]"],
        options: [],
        positionals: "INPUT...",
        discussion: """
            INPUT is read as by 'tripline run': CloudTrail log files (plain or .gz), NDJSON files,
            pretty-printed events one after another (jq without -c), single-event files, directories,
            or '-' (standard input, the default, read like a file: gzip, a CloudTrail log, one event,
            pretty-printed events or NDJSON).
            A CloudTrail digest file (no events) is skipped with a note on standard error.
            Exit status: 0 when every event was normalized, 1 when some were skipped.
            """)

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        let inputs = EventInputs(arguments: arguments.positionals, standardInput: context.inputDescriptor)
        // Before waiting for more input, print what is done: `tail -f … | tripline normalize` streams.
        inputs.onIdle = { context.output.flush() }
        let normalizer = EventNormalizer()
        var clock = IngestionClock()
        var skipped = 0
        while let item = inputs.next() {
            switch item.flatMap({ normalizer.normalize($0, ingestionTime: clock.now()) }) {
            case .success(let event):
                context.output.write(bytes: event.bytes)
                context.output.write(bytes: [0x0A])
            case .failure(let error):
                if error.isError { skipped += 1 }
                context.output.flush()
                context.errors.line(error.descriptionWithoutCheckpoints)
                context.errors.flush()
            }
        }
        return skipped == 0 ? ExitStatus.success : ExitStatus.negative
    }
}
