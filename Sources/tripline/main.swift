import Foundation
import TriplineBench

// Temporary entry point until the command dispatcher lands.
let args = Array(CommandLine.arguments.dropFirst())
if args.count >= 2, args[0] == "bench", args[1] == "match" {
    var rules = "", events = ""
    var groups: [String] = []
    var i = 2
    while i < args.count {
        switch args[i] {
        case "--rules": rules = args[i + 1]; i += 2
        case "--events": events = args[i + 1]; i += 2
        case "--group": groups.append(args[i + 1]); i += 2
        default: i += 1
        }
    }
    let (all, skipped) = try MatchBenchmark.loadGroups(path: rules)
    for s in skipped { FileHandle.standardError.write(Data("skipping group \(s.group): \(s.reason)\n".utf8)) }
    let loaded = all.filter { groups.isEmpty || groups.contains($0.name) }
    let evs = try MatchBenchmark.loadEvents(path: events)
    for g in loaded { print(try MatchBenchmark.run(group: g, events: evs).jsonLine) }
}
