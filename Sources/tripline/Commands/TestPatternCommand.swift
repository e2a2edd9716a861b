import EventPattern
import Foundation
import TriplineJSON
import TriplineRouter

/// `tripline test-pattern`: does a pattern match an event?
///
/// The quickest way to try a pattern by hand (`--pattern`/`--event`), and, with `--batch`, a fast
/// line-oriented interface for conformance and fuzz harnesses.
enum TestPatternCommand: Command {
    static let spec = CommandSpec(
        name: "test-pattern",
        summary: "Test whether an event pattern matches an event",
        synopses: ["test-pattern --pattern PATTERN --event EVENT", "test-pattern --batch < pairs.ndjson"],
        options: [
            OptionSpec(name: "pattern", valueName: "PATTERN", help: "The pattern: inline JSON (starting with '{'), a file path, or '-' for standard input."),
            OptionSpec(name: "event", valueName: "EVENT", help: "The event: inline JSON (starting with '{'), a file path, or '-' for standard input."),
            OptionSpec(name: "batch", valueName: nil, help: "Read pattern/event pairs from standard input, one per line."),
        ],
        positionals: nil,
        discussion: """
            PATTERN and EVENT are inline JSON when they start with '{' or '[' (after spaces),
            otherwise the path of a file (gzip-compressed files are read too).
            Prints "match" (exit 0) or "no match" (exit 1). An invalid pattern or event is
            reported on standard error with exit 2.

            The event is matched literally, as written: a raw CloudTrail record is not wrapped in
            its EventBridge envelope (the conformance corpus and --batch rely on this), so it has no
            source, detail-type or detail. To match a record as 'tripline run' sees it, use
            'tripline explain --pattern PATTERN --event RECORD'; 'tripline normalize RECORD' prints
            the envelope. When the event looks like a raw record and the pattern names source,
            detail-type or detail, a hint says so on standard error, as it does when the event is a
            whole CloudTrail log file ({"Records": [...]}) that does not match.

            With --batch, each input line is {"pattern": P, "event": E}, where P is a pattern
            object or a string holding pattern text (E likewise). Each line gets exactly one
            output line, in order: {"matches":true}, {"matches":false} or {"error":"..."}.
            A bad line never stops the run; the exit status is 0 unless standard input fails.
            """)

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        if arguments.has("batch") {
            if arguments.has("pattern") || arguments.has("event") {
                return context.usageError("--batch reads patterns and events from standard input; do not combine it with --pattern or --event", spec: spec)
            }
            var batch = BatchTester(context: context)
            return batch.run()
        }
        guard let patternArgument = arguments.value("pattern") else {
            return context.usageError("--pattern is required (or use --batch)", spec: spec)
        }
        guard let eventArgument = arguments.value("event") else {
            return context.usageError("--event is required (or use --batch)", spec: spec)
        }
        if patternArgument == "-" && eventArgument == "-" {
            return context.usageError("only one of --pattern and --event can be '-' (standard input)", spec: spec)
        }
        return testOne(patternArgument: patternArgument, eventArgument: eventArgument, context: context)
    }

    static func testOne(patternArgument: String, eventArgument: String, context: CommandContext) -> Int32 {
        let patternInput: CommandInput
        let eventInput: CommandInput
        do {
            patternInput = try CommandInput(argument: patternArgument, inlineName: "<pattern>", limit: 16 * 1024 * 1024, standardInput: context.inputDescriptor)
            eventInput = try CommandInput(argument: eventArgument, inlineName: "<event>", limit: 64 * 1024 * 1024, standardInput: context.inputDescriptor)
        } catch {
            context.errors.line("tripline test-pattern: \(error)")
            return ExitStatus.invalidInput
        }
        let pattern: EventPattern
        switch EventPattern.validate(text: patternInput.bytes, file: patternInput.name) {
        case .success(let valid):
            pattern = valid
        case .failure(let errors):
            for error in errors.errors { context.errors.line(Diagnostics.describe(error, file: patternInput.name)) }
            return ExitStatus.invalidInput
        }
        var machine = PatternMachine()
        machine.add(pattern, id: 0)
        do {
            let matched = try machine.matches(event: eventInput.bytes)
            context.output.line(matched.isEmpty ? "no match" : "match")
            if namesEnvelopeFields(pattern), isRawCloudTrailRecord(eventInput.bytes) {
                context.errors.line("hint: the event looks like a raw CloudTrail record, matched as it is (no EventBridge envelope: no source, "
                                    + "detail-type or detail); 'tripline explain --pattern … --event …' wraps it as 'tripline run' does")
            } else if matched.isEmpty, let records = (try? JSONParser.parse(eventInput.bytes))?["Records"]?.arrayValue {
                context.errors.line("hint: the event is a CloudTrail log file (\(records.count) record\(records.count == 1 ? "" : "s") under \"Records\"), "
                                    + "matched as one event; 'tripline normalize FILE' prints its records as the events rules match")
            }
            return matched.isEmpty ? ExitStatus.negative : ExitStatus.success
        } catch {
            context.errors.line(Diagnostics.describe(error, file: eventInput.name, label: "invalid event"))
            return ExitStatus.invalidInput
        }
    }
}

extension TestPatternCommand {
    /// Whether `pattern` tests a field only an EventBridge envelope has: `source`, `detail-type`, `detail.…`.
    static func namesEnvelopeFields(_ pattern: EventPattern) -> Bool {
        pattern.branches.contains { branch in
            branch.contains { $0.path == "source" || $0.path == "detail-type" || $0.path.hasPrefix("detail.") }
        }
    }

    /// Whether `event` is a CloudTrail record, not an envelope (as `tripline run` tells them apart).
    static func isRawCloudTrailRecord(_ event: [UInt8]) -> Bool {
        guard let value = try? JSONParser.parse(event) else { return false }
        return CloudTrailNormalizer.classify(value) == .cloudTrailRecord
    }
}

/// A command-line value that is either inline JSON or a file path, read into bytes.
struct CommandInput {
    /// What to call the input in messages: the file path, or a placeholder such as `<pattern>`.
    var name: String
    var bytes: [UInt8]

    /// Inline when the first non-blank character is `{` or `[`; `-` reads `standardInput` to its end
    /// (plain or gzipped) when one is given; otherwise a path read whole.
    init(argument: String, inlineName: String, limit: Int, standardInput: Int32? = nil) throws(IngestionError) {
        if argument == "-", let standardInput {
            name = "stdin"
            let reader = try CompressedFileReader(descriptor: dup(standardInput), path: "stdin")
            defer { reader.close() }
            var read: [UInt8] = []
            while let chunk = try reader.nextChunk() {
                guard chunk.count <= limit - read.count else { throw .tooLarge(path: "stdin", limit: limit) }
                read.append(contentsOf: chunk)
            }
            bytes = read
            return
        }
        let firstNonBlank = argument.utf8.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
        if firstNonBlank == UInt8(ascii: "{") || firstNonBlank == UInt8(ascii: "[") {
            name = inlineName
            bytes = Array(argument.utf8)
        } else {
            name = argument
            bytes = try readWholeFile(path: argument, limit: limit)
        }
    }
}
