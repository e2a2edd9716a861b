import Foundation
import EventPattern
import TriplineJSON
import SeededRandom

/// How matching cost changes with the number of rules: one fixed stream of CloudTrail-shaped events
/// against 1, 10, 100, 1,000 and 10,000 generated rules of mixed kinds.
///
/// Rules and events come from a seeded generator, so every run measures the same work. The rule
/// sets are nested (the first 10 rules are the 10-rule set, and so on). Two mixes of the same ten
/// kinds are measured:
/// - ``Mix/selective``: each rule is also pinned to one API call (an exact `eventName`, or an exact
///   user for the rule that tests `eventName` by prefix), as real CloudTrail rules are. A rule then
///   matches a small share of events, so matches per event stay few as rules are added and the
///   figures show what adding rules itself costs.
/// - ``Mix/broad``: the kinds alone. Several match a fixed share of all events (a source and a wide
///   numeric range, `bucket-1*-logs`), so matches per event grow in proportion to the rule count
///   (44 per event at 10,000 rules) and the cost with them: this mix shows the cost per match.
/// - ``Mix/absent``: rules of broad conditions only (`anything-but`, `exists`), with no exact value
///   to index them by but (for every other rule) the `detail-type` every event has, each needing a
///   value on a field the events never have (as rules on an error detail or a rarely sent
///   parameter lack it in most events). They match nothing; what they cost an event they cannot
///   match should not grow with their number.
/// - ``Mix/shared``: rules that all test the one `detail-type` every event has, each with its own
///   prefix, suffix, CIDR block or narrow range (as rule packs filter on the CloudTrail
///   `detail-type` and then on something specific). The shared condition says nothing about which
///   rule may match; the cost should follow the specific ones.
/// - ``Mix/wildcard``: rules that each look for words inside one value with a wildcard of two or
///   more stars (`*Delete*Bucket2*`, `arn:aws:*:*:*/user-42`, `bucket-*1017*-logs`), as
///   detections match a user agent, an ARN or a name containing something. No exact value
///   indexes them; the cost should follow the words the events hold, not the rule count.
///
/// Passes are interleaved (every rule count once per round), so a noisy machine slows every rule
/// count alike rather than one of them.
public struct ScalingBenchmark {
    /// Which generated rule set.
    public enum Mix: String, Sendable, CaseIterable {
        case selective, broad, absent, shared, wildcard
    }

    public struct Result: Sendable {
        public var mix: Mix
        public var rules: Int
        public var events: Int
        public var seconds: Double
        public var matches: Int
        public var nanosecondsPerEvent: Double { seconds * 1e9 / Double(events) }

        public func jsonLine(baseline: Double) -> String {
            let fields: [JSONMember] = [
                JSONMember(key: "mix", value: .string(mix.rawValue)),
                JSONMember(key: "rules", value: .number(JSONNumber(rules))),
                JSONMember(key: "events", value: .number(JSONNumber(events))),
                JSONMember(key: "nsPerEvent", value: .number(JSONNumber(text: String(format: "%.1f", nanosecondsPerEvent)))),
                JSONMember(key: "eventsPerSecond", value: .number(JSONNumber(Int((Double(events) / seconds).rounded())))),
                JSONMember(key: "matchesPerEvent", value: .number(JSONNumber(text: String(format: "%.3f", Double(matches) / Double(events))))),
                JSONMember(key: "relativeToOneRule", value: .number(JSONNumber(text: String(format: "%.2f", nanosecondsPerEvent / baseline)))),
            ]
            return JSONWriter.string(.object(JSONObject(fields)))
        }
    }

    public static let ruleCounts = [1, 10, 100, 1_000, 10_000]

    /// Runs every rule count of `mix` against the same events; best of `passes` interleaved timed passes each.
    public static func run(mix: Mix = .selective, eventCount: Int = 20_000, ruleCounts: [Int] = ruleCounts, passes: Int = 3) throws -> [Result] {
        var generator = Generator(seed: 20261125)
        let events = (0..<eventCount).map { _ in generator.event() }
        let allRules = (0..<(ruleCounts.max() ?? 1)).map { generator.rule(index: $0, mix: mix) }
        var machines: [PatternMachine] = []
        var matches: [Int] = []
        var scratch = MatchScratch()
        var matched: [Int] = []
        for count in ruleCounts {
            let machine = PatternMachine(allRules.prefix(count).enumerated().map { (id: $0.offset, pattern: $0.element) })
            // The warm-up pass, which also counts the matches every timed pass must reproduce.
            var total = 0
            for event in events {
                try event.withUnsafeBufferPointer { try machine.matches(event: $0, scratch: &scratch, into: &matched) }
                total += matched.count
            }
            machines.append(machine)
            matches.append(total)
        }
        var best = Array(repeating: Double.infinity, count: ruleCounts.count)
        for _ in 0..<passes {
            for (k, machine) in machines.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                var total = 0
                for event in events {
                    try event.withUnsafeBufferPointer { try machine.matches(event: $0, scratch: &scratch, into: &matched) }
                    total &+= matched.count
                }
                best[k] = min(best[k], Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                precondition(total == matches[k])
            }
        }
        return ruleCounts.indices.map { k in
            Result(mix: mix, rules: ruleCounts[k], events: events.count, seconds: best[k], matches: matches[k])
        }
    }

    /// The events and the largest rule set of `mix` as NDJSON texts (one event or pattern per line),
    /// exactly as ``run(mix:eventCount:ruleCounts:passes:)`` generates them: other matchers can be
    /// measured on the same work.
    public static func generated(mix: Mix, eventCount: Int, ruleCount: Int) -> (events: [UInt8], rules: [UInt8]) {
        var generator = Generator(seed: 20261125)
        var events: [UInt8] = [], rules: [UInt8] = []
        for _ in 0..<eventCount { events += generator.event() + [0x0A] }
        for index in 0..<ruleCount { rules += JSONWriter.bytes(generator.ruleJSON(index: index, mix: mix)) + [0x0A] }
        return (events, rules)
    }

    /// Seeded generator of CloudTrail-shaped EventBridge events and of rules over their fields.
    struct Generator {
        var random: SplitMix64
        init(seed: UInt64) { random = SplitMix64(seed: seed) }

        mutating func next() -> UInt64 { random.next() }
        mutating func below(_ n: Int) -> Int { Int(random.next() % UInt64(n)) }
        mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

        static let services = ["iam", "s3", "ec2", "sts", "kms", "cloudtrail", "lambda", "rds", "dynamodb", "sns", "sqs", "logs",
                               "signin", "organizations", "config", "guardduty", "secretsmanager", "ssm", "ecr", "eks"]
        static let verbs = ["Create", "Delete", "Update", "Put", "Get", "List", "Describe", "Attach", "Detach", "Start", "Stop",
                            "Modify", "Tag", "Untag", "Enable", "Disable", "Authorize", "Revoke", "Assume", "Decrypt"]
        static let nouns = ["User", "Role", "Policy", "Bucket", "Instance", "Key", "Trail", "Function", "Table", "Topic", "Queue",
                            "LogGroup", "AccessKey", "LoginProfile", "SecurityGroup", "Snapshot", "Image", "Secret", "Parameter", "Repository"]
        static let identityTypes = ["IAMUser", "AssumedRole", "Root", "AWSService", "FederatedUser", "IdentityCenterUser"]
        static let errorCodes = ["AccessDenied", "UnauthorizedOperation", "ThrottlingException", "NoSuchEntity", "ValidationException"]
        static let regions = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]

        func eventName(_ i: Int) -> String { Generator.verbs[i % 20] + Generator.nouns[(i / 20) % 20] + (i >= 400 ? String(i / 400) : "") }
        func userName(_ i: Int) -> String { "user-\(i % 1000)" }

        mutating func event() -> [UInt8] {
            let service = pick(Generator.services)
            let name = eventName(below(1200))
            let failed = below(10) == 0
            let ip = "\(below(4) == 0 ? 10 : 20 + below(200)).\(below(256)).\(below(256)).\(below(256))"
            let detail: JSONValue = [
                "eventVersion": "1.08",
                "userIdentity": ["type": .string(pick(Generator.identityTypes)), "principalId": .string("AIDA\(below(1_000_000))"),
                                 "arn": .string("arn:aws:iam::123456789012:user/\(userName(below(5000)))"), "accountId": "123456789012",
                                 "accessKeyId": .string("AKIA\(below(1_000_000_000))"), "userName": .string(userName(below(5000)))],
                "eventTime": "2026-11-25T12:00:00Z",
                "eventSource": .string(service + ".amazonaws.com"),
                "eventName": .string(name),
                "awsRegion": .string(pick(Generator.regions)),
                "sourceIPAddress": .string(ip),
                "userAgent": .string("aws-cli/2.\(below(20)).\(below(10)) Python/3.11"),
                "errorCode": failed ? .string(pick(Generator.errorCodes)) : .null,
                "requestParameters": ["bucketName": .string("bucket-\(below(3000))-\(pick(["logs", "data", "backup", "public"]))"),
                                      "durationSeconds": .number(JSONNumber(below(43200))),
                                      "tags": .array((0..<below(4)).map { _ in ["key": .string(pick(["env", "team", "owner"])), "value": .string("v\(below(50))")] })],
                "responseElements": .null,
                "readOnly": .bool(name.hasPrefix("Get") || name.hasPrefix("List") || name.hasPrefix("Describe")),
                "eventType": "AwsApiCall",
                "managementEvent": true,
                "recipientAccountId": "123456789012",
                "eventCategory": "Management",
            ]
            let envelope: JSONValue = [
                "version": "0", "id": .string("e-\(next())"), "detail-type": "AWS API Call via CloudTrail",
                "source": .string("aws." + service), "account": "123456789012", "time": "2026-11-25T12:00:00Z",
                "region": "us-east-1", "resources": [], "detail": detail,
            ]
            return JSONWriter.bytes(envelope)
        }

        /// Rule `index` of `mix`.
        mutating func rule(index: Int, mix: Mix) -> EventPattern {
            // Generated rules are valid by construction; a failure here is a bug in the generator.
            try! EventPattern(json: ruleJSON(index: index, mix: mix))
        }

        /// The pattern JSON of rule `index` of `mix`.
        mutating func ruleJSON(index: Int, mix: Mix) -> JSONValue {
            switch mix {
            case .absent: absentRuleJSON(index: index)
            case .shared: sharedRuleJSON(index: index)
            case .wildcard: wildcardRuleJSON(index: index)
            case .selective, .broad: ruleJSON(index: index, pinned: mix == .selective)
            }
        }

        /// Rule `index` of ``Mix/shared``: the `detail-type` of every event, and one of four
        /// specific conditions.
        mutating func sharedRuleJSON(index: Int) -> JSONValue {
            let specific: JSONMember
            switch index % 4 {
            case 0: specific = JSONMember(key: "requestParameters", value: ["bucketName": [["prefix": .string("bucket-\(below(3000))-")]]])
            case 1: specific = JSONMember(key: "sourceIPAddress", value: [["cidr": .string("\(20 + below(200)).\(below(256)).0.0/16")]])
            case 2: specific = JSONMember(key: "userIdentity", value: ["arn": [["suffix": .string("/\(userName(below(5000)))")]]])
            default:
                let low = below(43200)
                specific = JSONMember(key: "requestParameters", value: ["durationSeconds": [["numeric": [">", .number(JSONNumber(low)), "<=", .number(JSONNumber(low + 5))]]]])
            }
            return .object(JSONObject([JSONMember(key: "detail-type", value: ["AWS API Call via CloudTrail"]),
                                       JSONMember(key: "detail", value: .object(JSONObject([specific])))]))
        }

        /// Rule `index` of ``Mix/wildcard``: words inside an API call, an ARN, a bucket name or a
        /// user agent.
        mutating func wildcardRuleJSON(index: Int) -> JSONValue {
            let detail: JSONMember
            switch index % 4 {
            case 0:
                let name = eventName(400 + below(800))   // a verb, a noun and a number: "*Delete*Bucket2*"
                let verb = Generator.verbs.first { name.hasPrefix($0) } ?? ""
                detail = JSONMember(key: "eventName", value: [["wildcard": .string("*\(verb)*\(name.dropFirst(verb.count))*")]])
            case 1: detail = JSONMember(key: "userIdentity", value: ["arn": [["wildcard": .string("arn:aws:*:*:*/\(userName(below(1000)))")]]])
            case 2: detail = JSONMember(key: "requestParameters", value: ["bucketName": [["wildcard": .string("bucket-*\(1000 + below(2000))*-\(pick(["logs", "data"]))")]]])
            default: detail = JSONMember(key: "userAgent", value: [["wildcard": .string("*aws-cli/2.\(below(20)).\(below(10)) *Python/3.1\(below(10))*")]])
            }
            return .object(JSONObject([JSONMember(key: "detail", value: .object(JSONObject([detail])))]))
        }

        /// Rule `index` of ``Mix/absent``: one of five broad conditions on a field every event has,
        /// `exists: true` on one of 100 fields no event has, and for every other rule the
        /// `detail-type` every event has.
        mutating func absentRuleJSON(index: Int) -> JSONValue {
            var detail: [JSONMember] = []
            switch index % 5 {
            case 0: detail.append(JSONMember(key: "userIdentity", value: ["userName": [["anything-but": [.string(userName(below(1000)))]]]]))
            case 1: detail.append(JSONMember(key: "eventName", value: [["anything-but": ["prefix": .string(pick(Generator.verbs))]]]))
            case 2: detail.append(JSONMember(key: "requestParameters", value: ["bucketName": [["anything-but": ["suffix": .string("-" + pick(["logs", "data"]))]]]]))
            case 3: detail.append(JSONMember(key: "sourceIPAddress", value: [["anything-but": [.string("10.\(below(256)).0.1")]]]))
            default: detail.append(JSONMember(key: "errorCode", value: [["exists": true]]))
            }
            detail.append(JSONMember(key: "additionalEventData", value: .object(JSONObject([JSONMember(key: "x\(below(100))", value: [["exists": true]])]))))
            var top = [JSONMember(key: "detail", value: .object(JSONObject(detail)))]
            // Every other rule also tests the detail-type every event has: selective in form, it says nothing.
            if index % 2 == 1 { top.append(JSONMember(key: "detail-type", value: ["AWS API Call via CloudTrail"])) }
            return .object(JSONObject(top))
        }

        /// Rule `index`: one of ten kinds, on fields the events carry, with values that sometimes
        /// match; `pinned` adds the API call (or user) the rule is about.

        /// The pattern JSON of ``rule(index:pinned:)``.
        mutating func ruleJSON(index: Int, pinned: Bool) -> JSONValue {
            var detail: [JSONMember] = []
            var top: [JSONMember] = []
            switch index % 10 {
            case 0: detail.append(JSONMember(key: "eventName", value: [.string(eventName(below(2000)))]))
            case 1: detail.append(JSONMember(key: "eventName", value: [["prefix": .string(pick(Generator.verbs) + pick(Generator.nouns).prefix(2))]]))
                    top.append(JSONMember(key: "source", value: [.string("aws." + pick(Generator.services))]))
            case 2: detail.append(JSONMember(key: "requestParameters", value: ["bucketName": [["suffix": .string("\(below(3000))-" + pick(["logs", "data"]))]]]))
            case 3: detail.append(JSONMember(key: "userIdentity", value: ["userName": [["anything-but": [.string(userName(below(1000))), .string(userName(below(1000)))]]],
                                                                        "type": [.string(pick(Generator.identityTypes))]]))
                    detail.append(JSONMember(key: "eventName", value: [.string(eventName(below(1200)))]))
            case 4: detail.append(JSONMember(key: "requestParameters", value: ["durationSeconds": [["numeric": [">", .number(JSONNumber(below(40000))), "<=", .number(JSONNumber(40000 + below(3000)))]]]]))
                    detail.append(JSONMember(key: "eventSource", value: [.string(pick(Generator.services) + ".amazonaws.com")]))
            case 5: detail.append(JSONMember(key: "sourceIPAddress", value: [["cidr": .string("\(20 + below(200)).\(below(256)).0.0/16")]]))
            case 6: detail.append(JSONMember(key: "requestParameters", value: ["bucketName": [["wildcard": .string("bucket-\(below(30))*-" + pick(["logs", "data", "backup"]))]]]))
            case 7: detail.append(JSONMember(key: "eventName", value: [["equals-ignore-case": .string(eventName(below(1200)).uppercased())]]))
                    detail.append(JSONMember(key: "errorCode", value: [["exists": true]]))
            case 8: top.append(JSONMember(key: "$or", value: [["detail": ["errorCode": [.string(pick(Generator.errorCodes))], "eventName": [.string(eventName(below(1200)))]]],
                                                               ["detail": ["userIdentity": ["userName": [.string(userName(below(5000)))]]]]]))
            default: detail.append(JSONMember(key: "requestParameters", value: ["tags": ["key": [.string(pick(["env", "team", "owner"]))], "value": [.string("v\(below(50))")]]]))
                     detail.append(JSONMember(key: "awsRegion", value: [.string(pick(Generator.regions))]))
            }
            if pinned {
                switch index % 10 {
                case 1: detail.append(JSONMember(key: "userIdentity", value: ["userName": [.string(userName(below(1000)))]]))
                case 2, 4, 5, 6, 9: detail.append(JSONMember(key: "eventName", value: [.string(eventName(below(1200)))]))
                default: break   // already about one API call (or one user, for the $or)
                }
            }
            if !detail.isEmpty { top.append(JSONMember(key: "detail", value: .object(JSONObject(detail)))) }
            return .object(JSONObject(top))
        }
    }
}
