import Foundation
import TriplineBench

/// `tripline bench match|scaling`: the matcher benchmarks behind `make bench`.
///
/// `match` reproduces the citylots benchmark the reference figures come from (one JSON line per
/// group); `scaling` shows how the cost per event changes from 1 to 10,000 rules.
enum BenchCommand: Command {
    static let spec = CommandSpec(
        name: "bench",
        summary: "Measure matching speed (match: citylots groups; scaling: 1 to 10,000 rules)",
        synopses: ["bench match --rules RULES.json --events EVENTS.json[.gz] [--group NAME]... [--limit N] [--passes N]",
                   "bench scaling [--events N] [--passes N]"],
        options: [
            OptionSpec(name: "rules", valueName: "RULES.json", help: "Rule groups in the layout of benchmark-rules.json."),
            OptionSpec(name: "events", valueName: "EVENTS", help: "match: NDJSON event file, plain or gzipped; scaling: number of events (default 20000)."),
            OptionSpec(name: "group", valueName: "NAME", help: "Run only these groups (default: all).", repeatable: true),
            OptionSpec(name: "limit", valueName: "N", help: "Read at most N events."),
            OptionSpec(name: "passes", valueName: "N", help: "Timed passes after the warm-up; the best counts (default 3)."),
        ],
        positionals: "match|scaling",
        discussion: """
            One thread, events held in memory, parse + match timed, best of the passes after a warm-up.
            match prints {"group","events","seconds","eventsPerSecond","matches":{rule: count}} per group;
            scaling prints {"rules","events","nsPerEvent","eventsPerSecond","matchesPerEvent","relativeToOneRule"}.
            """)

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        guard arguments.positionals.count == 1, let mode = arguments.positionals.first else {
            return context.usageError("expected 'match' or 'scaling'", spec: spec)
        }
        let passes = Int(arguments.value("passes") ?? "3") ?? 0
        guard passes >= 1 else { return context.usageError("--passes needs a positive number", spec: spec) }
        do {
            switch mode {
            case "match":
                guard let rules = arguments.value("rules"), let events = arguments.value("events") else {
                    return context.usageError("match needs --rules and --events", spec: spec)
                }
                let limit = Int(arguments.value("limit") ?? "") ?? Int.max
                let (groups, skipped) = try MatchBenchmark.loadGroups(path: rules)
                for group in skipped { context.errors.line("bench: skipping group \(group.group): \(group.reason)") }
                let wanted = arguments.values("group")
                let unknown = wanted.filter { name in !groups.contains { $0.name == name } && !skipped.contains { $0.group == name } }
                guard unknown.isEmpty else { return context.usageError("unknown group(s): \(unknown.joined(separator: ", "))", spec: spec) }
                let loaded = try MatchBenchmark.loadEvents(path: events, limit: limit)
                for group in groups where wanted.isEmpty || wanted.contains(group.name) {
                    context.output.line(try MatchBenchmark.run(group: group, events: loaded, passes: passes).jsonLine)
                    context.output.flush()
                }
            case "scaling":
                let count = Int(arguments.value("events") ?? "20000") ?? 0
                guard count > 0 else { return context.usageError("--events needs a positive number for scaling", spec: spec) }
                let results = try ScalingBenchmark.run(eventCount: count, passes: passes)
                let baseline = results.first?.nanosecondsPerEvent ?? 1
                for result in results { context.output.line(result.jsonLine(baseline: baseline)) }
            default:
                return context.usageError("unknown benchmark '\(mode)'; expected 'match' or 'scaling'", spec: spec)
            }
        } catch {
            context.errors.line("tripline bench: \(error)")
            return ExitStatus.invalidInput
        }
        return ExitStatus.success
    }
}
