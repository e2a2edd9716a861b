import Foundation
import EventPattern
import TriplineJSON
import TriplineRouter

/// The citylots-style matcher benchmark: groups of named rules against a file of events.
///
/// For each group: load its rules into one machine, hold every event in memory, then time parse +
/// match of every event, best of three passes after a warm-up, on one thread. This is how the
/// reference figures for aws/event-ruler were taken, so the output shape stays fixed.
public struct MatchBenchmark {
    public struct Rule: Sendable {
        public var name: String
        public var pattern: EventPattern
    }

    public struct Group: Sendable {
        public var name: String
        public var rules: [Rule]
    }

    public struct Result: Sendable {
        public var group: String
        public var events: Int
        public var seconds: Double
        public var matches: [(name: String, count: Int)]
        public var eventsPerSecond: Double { Double(events) / seconds }

        /// `{"group", "events", "seconds", "eventsPerSecond", "matches": {"<rule name>": count}}`.
        public var jsonLine: String {
            let matchesObject = JSONValue.object(JSONObject(matches.map { JSONMember(key: $0.name, value: .number(JSONNumber($0.count))) }))
            let line: JSONValue = .object(JSONObject([
                JSONMember(key: "group", value: .string(group)),
                JSONMember(key: "events", value: .number(JSONNumber(events))),
                JSONMember(key: "seconds", value: .number(JSONNumber(text: String(format: "%.4f", seconds)))),
                JSONMember(key: "eventsPerSecond", value: .number(JSONNumber(Int(eventsPerSecond.rounded())))),
                JSONMember(key: "matches", value: matchesObject),
            ]))
            return JSONWriter.string(line)
        }
    }

    public enum LoadError: Error, CustomStringConvertible {
        case rulesFile(String, String)
        public var description: String {
            switch self {
            case .rulesFile(let path, let detail): return "\(path): \(detail)"
            }
        }
    }

    /// Reads a rules file in the layout of `benchmark-rules.json` (groups of named rules).
    ///
    /// A group with a rule that is not valid EventBridge (quamina's `regexp` group, say) is left out
    /// and named in `skipped` with the reason, rather than failing the whole run.
    public static func loadGroups(path: String) throws -> (groups: [Group], skipped: [(group: String, reason: String)]) {
        let bytes = try readWholeFile(path: path, limit: 64 * 1024 * 1024)
        let root = try JSONParser.parse(bytes, options: .init(duplicateKeys: .lastWins))
        guard let groups = root["groups"]?.arrayValue else { throw LoadError.rulesFile(path, "expected an object with a \"groups\" array") }
        var out: [Group] = []
        var skipped: [(group: String, reason: String)] = []
        groupLoop: for (g, group) in groups.enumerated() {
            guard let name = group["group"]?.stringValue, let rules = group["rules"]?.arrayValue else {
                throw LoadError.rulesFile(path, "groups[\(g)] needs \"group\" and \"rules\"")
            }
            var parsed: [Rule] = []
            for (r, rule) in rules.enumerated() {
                guard let ruleName = rule["name"]?.stringValue else { throw LoadError.rulesFile(path, "groups[\(g)].rules[\(r)] needs a \"name\"") }
                let pattern: EventPattern
                do {
                    if let text = rule["patternText"]?.stringValue {
                        pattern = try EventPattern.parse(text)
                    } else if let json = rule["pattern"] {
                        pattern = try EventPattern(json: json)
                    } else {
                        throw LoadError.rulesFile(path, "groups[\(g)].rules[\(r)] needs \"pattern\" or \"patternText\"")
                    }
                } catch let error as PatternError {
                    skipped.append((name, "rule \(ruleName): \(error)"))
                    continue groupLoop
                }
                parsed.append(Rule(name: ruleName, pattern: pattern))
            }
            out.append(Group(name: name, rules: parsed))
        }
        return (out, skipped)
    }

    /// Reads every non-empty line of a plain or gzipped NDJSON file into memory.
    public static func loadEvents(path: String, limit: Int = .max) throws -> [[UInt8]] {
        let reader = try FileLineReader(path: path, maxLineLength: 16 * 1024 * 1024)
        defer { reader.close() }
        var events: [[UInt8]] = []
        while let line = try reader.nextLine() {
            if case .success(let l) = line, !l.bytes.isEmpty { events.append(l.bytes) }
            if events.count >= limit { break }
        }
        return events
    }

    /// Times each group: one warm-up pass per group (which also counts the matches), then
    /// `passes` rounds, each timing every group once, keeping each group's fastest pass.
    ///
    /// Rounds rather than one group after another: on a noisy machine a slow minute then slows
    /// every group a little instead of one group a lot.
    public static func run(groups: [Group], events: [[UInt8]], passes: Int = 3) throws -> [Result] {
        precondition(passes >= 1)
        let machines = groups.map { group in
            PatternMachine(group.rules.enumerated().map { (id: $0.offset, pattern: $0.element.pattern) })
        }
        var scratch = MatchScratch(maxEventBytes: 16 * 1024 * 1024)
        var counts: [[Int]] = []
        var matched: [Int] = []
        for (g, machine) in machines.enumerated() {
            var groupCounts = [Int](repeating: 0, count: groups[g].rules.count)
            for event in events {
                try event.withUnsafeBufferPointer { try machine.matches(event: $0, scratch: &scratch, into: &matched) }
                for id in matched { groupCounts[id] += 1 }
            }
            counts.append(groupCounts)
        }
        var best = Array(repeating: Double.infinity, count: groups.count)
        for _ in 0..<passes {
            for (g, machine) in machines.enumerated() {
                var total = 0
                let start = DispatchTime.now().uptimeNanoseconds
                for event in events {
                    try event.withUnsafeBufferPointer { try machine.matches(event: $0, scratch: &scratch, into: &matched) }
                    total &+= matched.count
                }
                best[g] = min(best[g], Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                precondition(total == counts[g].reduce(0, +))
            }
        }
        return groups.indices.map { g in
            Result(group: groups[g].name, events: events.count, seconds: best[g],
                   matches: zip(groups[g].rules, counts[g]).map { ($0.name, $1) })
        }
    }
}
