import Foundation
import TriplineBench

/// `tripline bench match|scaling|delivery|webhook`: the benchmarks behind `make bench`.
///
/// `match` reproduces the citylots benchmark the reference figures come from (one JSON line per
/// group); `scaling` shows how the cost per event changes from 1 to 10,000 rules; `delivery` measures
/// deliveries per second through the durable path (state directory with synchronous FULL and NORMAL,
/// and in memory) and the journal's own cost per delivery; `webhook` measures webhook deliveries per
/// second to a loopback server over 1 and 64 connections.
enum BenchCommand: Command {
    static let spec = CommandSpec(
        name: "bench",
        summary: "Measure speed (match: citylots groups; scaling: 1 to 10,000 rules; delivery: durable deliveries; webhook: HTTP deliveries)",
        synopses: ["bench match --rules RULES.json --events EVENTS.json[.gz] [--group NAME]... [--limit N] [--passes N]",
                   "bench scaling [--events N] [--rule-count N]... [--mix selective|broad|absent|shared|wildcard]... [--passes N] [--write-inputs DIR]",
                   "bench delivery [--deliveries N] [--concurrency N] [--handler PATH] [--state KIND]... [--journal-rows N] [--work-dir DIR] [--passes N]",
                   "bench webhook [--deliveries N] [--connections N]... [--body-bytes N]"],
        options: [
            OptionSpec(name: "rules", valueName: "RULES.json", help: "Rule groups in the layout of benchmark-rules.json."),
            OptionSpec(name: "events", valueName: "EVENTS", help: "match: NDJSON event file, plain or gzipped; scaling: number of events (default 20000)."),
            OptionSpec(name: "group", valueName: "NAME", help: "Run only these groups (default: all).", repeatable: true),
            OptionSpec(name: "limit", valueName: "N", help: "Read at most N events."),
            OptionSpec(name: "mix", valueName: "MIX", help: "scaling: selective (rules pinned to one API call, as real ones), broad (matches grow with the rules), absent (broad conditions on a field events lack), shared (one common condition and a specific one each), wildcard (words inside values, by wildcards of two or more stars); default all five.", repeatable: true),
            OptionSpec(name: "rule-count", valueName: "N", help: "scaling: measure only these rule counts (default 1, 10, 100, 1000, 10000; the first is the baseline).", repeatable: true),
            OptionSpec(name: "write-inputs", valueName: "DIR", help: "scaling: write the generated events and rules (largest count) as NDJSON files into DIR instead of measuring, to run other matchers on them."),
            OptionSpec(name: "passes", valueName: "N", help: "Timed passes after the warm-up; the best counts (default 3; webhook: 1)."),
            OptionSpec(name: "deliveries", valueName: "N", help: "delivery: events routed per pass (default 5000); webhook: POSTs per connection count (default 20000)."),
            OptionSpec(name: "concurrency", valueName: "N", help: "delivery: the target's MaxConcurrency and worker threads (default 8)."),
            OptionSpec(name: "handler", valueName: "PATH", help: "delivery: the function target's handler (default /bin/true)."),
            OptionSpec(name: "state", valueName: "KIND", help: "delivery: durable-full, durable-normal or memory (default: all three).", repeatable: true),
            OptionSpec(name: "journal-rows", valueName: "N", help: "delivery: deliveries of the journal-only measurement (default 50000; 0 skips it)."),
            OptionSpec(name: "work-dir", valueName: "DIR", help: "delivery: where the temporary state directories go (default: the temporary directory)."),
            OptionSpec(name: "connections", valueName: "N", help: "webhook: connection counts to measure (default 1 and 64).", repeatable: true),
            OptionSpec(name: "body-bytes", valueName: "N", help: "webhook: size of each POST body (default 256)."),
        ],
        positionals: "match|scaling|delivery|webhook",
        discussion: """
            match and scaling: one thread, events held in memory, parse + match timed, best of the passes after a warm-up;
            passes run in rounds over all groups (match) or rule counts (scaling), so machine noise hits them alike.
            match prints {"group","events","seconds","eventsPerSecond","matches":{rule: count}} per group;
            scaling prints {"mix","rules","events","nsPerEvent","eventsPerSecond","matchesPerEvent","relativeToOneRule"}
            per mix and rule count (passes interleaved across rule counts).
            delivery routes N NDJSON events through `run`'s whole path (journal, dispatcher, one handler process per
            delivery) per state kind and prints {"group":"delivery","state","deliveries","seconds","deliveriesPerSecond",
            "overheadVsMemoryPercent"} per kind, then the journal alone (accept in batches of 512, load, complete in
            groups of 8, no processes): {"group":"delivery-journal","state","rows","seconds","rowsPerSecond"}.
            webhook prints {"group":"webhook","connections","deliveries","seconds","deliveriesPerSecond"} per count.

            Exit status: 0 when measured; 2 when an input cannot be read or the measurement cannot run.
            """)

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        let modes = "'match', 'scaling', 'delivery' or 'webhook'"
        guard arguments.positionals.count == 1, let mode = arguments.positionals.first else {
            return context.usageError("expected \(modes)", spec: spec)
        }
        let passes = Int(arguments.value("passes") ?? (mode == "webhook" ? "1" : "3")) ?? 0
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
                let chosen = groups.filter { wanted.isEmpty || wanted.contains($0.name) }
                for result in try MatchBenchmark.run(groups: chosen, events: loaded, passes: passes) {
                    context.output.line(result.jsonLine)
                }
            case "scaling":
                let count = Int(arguments.value("events") ?? "20000") ?? 0
                guard count > 0 else { return context.usageError("--events needs a positive number for scaling", spec: spec) }
                let ruleCounts = arguments.values("rule-count").compactMap { Int($0) }.filter { $0 > 0 }
                guard ruleCounts.count == arguments.values("rule-count").count else {
                    return context.usageError("--rule-count needs a positive number", spec: spec)
                }
                var mixes: [ScalingBenchmark.Mix] = []
                for name in arguments.values("mix") {
                    guard let mix = ScalingBenchmark.Mix(rawValue: name) else {
                        return context.usageError("--mix needs 'selective', 'broad', 'absent', 'shared' or 'wildcard', got '\(name)'", spec: spec)
                    }
                    mixes.append(mix)
                }
                if let directory = arguments.value("write-inputs") {
                    let largest = ruleCounts.max() ?? ScalingBenchmark.ruleCounts.max() ?? 1
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                    for mix in mixes.isEmpty ? ScalingBenchmark.Mix.allCases : mixes {
                        let inputs = ScalingBenchmark.generated(mix: mix, eventCount: count, ruleCount: largest)
                        try Data(inputs.events).write(to: URL(fileURLWithPath: directory).appendingPathComponent("events.ndjson"))
                        let rulesFile = URL(fileURLWithPath: directory).appendingPathComponent("rules-\(mix.rawValue).ndjson")
                        try Data(inputs.rules).write(to: rulesFile)
                        context.output.line("wrote \(count) events and \(largest) \(mix.rawValue) rules to \(directory)")
                    }
                    return ExitStatus.success
                }
                for mix in mixes.isEmpty ? ScalingBenchmark.Mix.allCases : mixes {
                    let results = try ScalingBenchmark.run(mix: mix, eventCount: count,
                                                           ruleCounts: ruleCounts.isEmpty ? ScalingBenchmark.ruleCounts : ruleCounts, passes: passes)
                    let baseline = results.first?.nanosecondsPerEvent ?? 1
                    for result in results { context.output.line(result.jsonLine(baseline: baseline)) }
                }
            case "delivery":
                var options = DeliveryBenchmark.Options(passes: passes)
                guard let deliveries = count(arguments, "deliveries", default: options.deliveries, minimum: 0),
                      let concurrency = count(arguments, "concurrency", default: options.concurrency, minimum: 1),
                      let journalRows = count(arguments, "journal-rows", default: options.journalRows, minimum: 0) else {
                    return context.usageError("--deliveries and --journal-rows need a number (0 or more), --concurrency a positive one", spec: spec)
                }
                options.deliveries = deliveries
                options.concurrency = concurrency
                options.journalRows = journalRows
                if let handler = arguments.value("handler") { options.handler = handler }
                if let directory = arguments.value("work-dir") { options.workDirectory = directory }
                var kinds: [DeliveryBenchmark.StateKind] = [.memory, .durableNormal, .durableFull]
                let named = arguments.values("state")
                if !named.isEmpty {
                    let parsed = named.compactMap(DeliveryBenchmark.StateKind.init(rawValue:))
                    guard parsed.count == named.count else {
                        return context.usageError("--state is durable-full, durable-normal or memory", spec: spec)
                    }
                    kinds = [.memory, .durableNormal, .durableFull].filter(parsed.contains)
                }
                _ = try DeliveryBenchmark.run(options: options, kinds: kinds) { line in
                    context.output.line(line)
                    context.output.flush()
                }
            case "webhook":
                guard let deliveries = count(arguments, "deliveries", default: 20_000, minimum: 1),
                      let bodyBytes = count(arguments, "body-bytes", default: 256, minimum: 0) else {
                    return context.usageError("--deliveries needs a positive number, --body-bytes a number", spec: spec)
                }
                var connections = [1, 64]
                let named = arguments.values("connections")
                if !named.isEmpty {
                    connections = named.flatMap { $0.split(separator: ",") }.compactMap { Int($0) }
                    guard connections.count == named.flatMap({ $0.split(separator: ",") }).count, connections.allSatisfy({ $0 >= 1 }) else {
                        return context.usageError("--connections needs positive numbers", spec: spec)
                    }
                }
                for _ in 0..<passes {
                    _ = try WebhookBenchmark.run(deliveries: deliveries, connectionCounts: connections, bodyBytes: bodyBytes) { line in
                        context.output.line(line)
                        context.output.flush()
                    }
                }
            default:
                return context.usageError("unknown benchmark '\(mode)'; expected \(modes)", spec: spec)
            }
        } catch {
            context.errors.line("tripline bench: \(error)")
            return ExitStatus.invalidInput
        }
        return ExitStatus.success
    }

    /// The option `name` as a whole number of at least `minimum`, `fallback` when absent; nil when invalid.
    private static func count(_ arguments: ParsedArguments, _ name: String, default fallback: Int, minimum: Int) -> Int? {
        guard let text = arguments.value(name) else { return fallback }
        guard let value = Int(text), value >= minimum else { return nil }
        return value
    }
}
