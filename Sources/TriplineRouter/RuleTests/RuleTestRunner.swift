import EventPattern
import TriplineJSON

/// Runs the examples in rules' `Tests` and says, for each, whether the rule behaves as written.
///
/// A test passes when the rule receives the event exactly when `Matches` says so. "Receives" is
/// what `tripline run` does: the event is normalized the same way (a CloudTrail record is wrapped
/// in the EventBridge envelope), matched with the compiled ``PatternMachine``, and the rule's
/// `State` is applied (`ENABLED` does not receive read-only management events). A failing test
/// carries the ``PatternExplainer``'s account of why, so the author sees which field or operator
/// is to blame without reaching for another tool.
public struct RuleTestRunner: Sendable {
    /// The ingestion time put in envelopes of records without `eventTime`.
    public var ingestionTime: String
    /// The directory relative rule-file paths are taken from.
    public var currentDirectory: String
    /// Largest event, as for `tripline run`.
    public var maxEventBytes: Int
    /// Largest `EventFile` read (it may be pretty-printed or a one-record log file).
    public var maxEventFileBytes: Int

    public init(ingestionTime: String? = nil, currentDirectory: String? = nil,
                maxEventBytes: Int = CloudTrailRecordsReader.defaultMaxRecordBytes) {
        var clock = IngestionClock()
        self.ingestionTime = ingestionTime ?? clock.now()
        self.currentDirectory = currentDirectory ?? RuleFile.workingDirectory()
        self.maxEventBytes = maxEventBytes
        self.maxEventFileBytes = maxEventBytes * EventInputs.singleDocumentSlack
    }

    /// Runs every test of every rule, in rule order and then test order.
    public func run(_ rules: [Rule]) -> RuleTestReport {
        var report = RuleTestReport()
        report.rulesWithoutTests = rules.filter(\.tests.isEmpty).map(\.name)
        for (rule, parsed) in parsedTests(of: rules) {
            var results: [(index: Int, result: RuleTestResult)] = []
            var problems: [Int: [RuleTestError]] = [:]
            for error in parsed.errors { problems[Self.testIndex(error.path), default: []].append(error) }
            for (index, errors) in problems {
                let name = errors[0].testName ?? "Tests[\(index)]"
                results.append((index, RuleTestResult(ruleName: rule.name, testName: name, outcome: .invalid(errors))))
            }
            var machine = PatternMachine()
            machine.add(rule.pattern, id: 0)
            for test in parsed.tests {
                results.append((Self.testIndex(test.path), run(test, rule: rule, machine: machine)))
            }
            // One line per test entry, in file order.
            report.results.append(contentsOf: results.sorted { $0.index < $1.index }.map(\.result))
        }
        return report
    }

    /// Every problem that makes a test of `rules` malformed, as ``run(_:)`` reports it (same
    /// message, same position), without judging any test: a bad entry, an `EventFile` that cannot
    /// be read, an event that is neither a CloudTrail record nor an EventBridge event. For `validate`.
    public func problems(in rules: [Rule]) -> [RuleTestError] {
        problemsByRule(in: rules).flatMap(\.errors)
    }

    /// ``problems(in:)`` by rule: the name of each rule whose tests have problems, and those
    /// problems, in rule order.
    public func problemsByRule(in rules: [Rule]) -> [(rule: String, errors: [RuleTestError])] {
        var found: [(rule: String, errors: [RuleTestError])] = []
        for (rule, parsed) in parsedTests(of: rules) {
            var errors = parsed.errors
            for test in parsed.tests {
                if case .failure(let problem) = loadEvent(test).flatMap({ normalize($0, origin: origin(of: test)) }) {
                    errors.append(Self.error(problem, of: test))
                }
            }
            if !errors.isEmpty { found.append((rule.name, errors)) }
        }
        return found
    }

    /// The `Tests` of each rule that has some, read with the line and column of their file.
    func parsedTests(of rules: [Rule]) -> [(rule: Rule, parsed: (tests: [RuleTest], errors: [RuleTestError]))] {
        // Each rule file is read once more for line and column; nil when it cannot be.
        var sourceMaps: [String: JSONSourceMap?] = [:]
        return rules.filter { !$0.tests.isEmpty }.map { rule in
            let locations: JSONSourceMap?
            if let cached = sourceMaps[rule.file] {
                locations = cached
            } else {
                locations = Self.sourceMap(of: rule.file)
                sourceMaps[rule.file] = .some(locations)
            }
            return (rule, RuleTest.parse(rule, rulePath: Self.path(of: rule, in: locations), locations: locations, currentDirectory: currentDirectory))
        }
    }

    /// Runs one test of `rule`.
    public func run(_ test: RuleTest, rule: Rule) -> RuleTestResult {
        var machine = PatternMachine()
        machine.add(rule.pattern, id: 0)
        return run(test, rule: rule, machine: machine)
    }

    func run(_ test: RuleTest, rule: Rule, machine: PatternMachine) -> RuleTestResult {
        let verdict: RuleVerdict
        switch loadEvent(test).flatMap({ judge($0, rule: rule, machine: machine, origin: origin(of: test)) }) {
        case .success(let v): verdict = v
        case .failure(let problem):
            return RuleTestResult(ruleName: rule.name, testName: test.name, outcome: .invalid([Self.error(problem, of: test)]))
        }
        guard verdict.receives != test.expectedMatch else {
            return RuleTestResult(ruleName: rule.name, testName: test.name, outcome: .passed)
        }
        let (reason, details) = verdict.failure(expectedMatch: test.expectedMatch, rule: rule)
        return RuleTestResult(ruleName: rule.name, testName: test.name, outcome: .failed(reason: reason, details: details))
    }

    /// Normalizes `event` as `tripline run` does and judges it with `rule`'s pattern and state.
    public func judge(_ event: JSONValue, rule: Rule, origin: EventOrigin) -> Result<RuleVerdict, RuleTestProblem> {
        var machine = PatternMachine()
        machine.add(rule.pattern, id: 0)
        return judge(event, rule: rule, machine: machine, origin: origin)
    }

    func judge(_ event: JSONValue, rule: Rule, machine: PatternMachine, origin: EventOrigin) -> Result<RuleVerdict, RuleTestProblem> {
        let normalized: NormalizedEvent
        switch normalize(event, origin: origin) {
        case .success(let n): normalized = n
        case .failure(let problem): return .failure(problem)
        }
        let patternMatches: Bool
        do {
            patternMatches = try machine.matches(event: normalized.bytes) == [0]
        } catch {
            return .failure(.invalidEvent(eventFile: nil, detail: "cannot be matched: \(error)"))
        }
        let envelope = normalized.envelope
        let explanation = PatternExplainer.explain(rule.pattern, event: envelope)
        return .success(RuleVerdict(envelope: envelope, patternMatches: patternMatches,
                                    stateAllows: rule.receives(readOnlyManagementEvent: normalized.isReadOnlyManagementEvent),
                                    state: rule.state, explanation: explanation))
    }

    /// `event` as `tripline run` would see it (a record wrapped in its envelope), or why it cannot be.
    func normalize(_ event: JSONValue, origin: EventOrigin) -> Result<NormalizedEvent, RuleTestProblem> {
        let normalizer = EventNormalizer(maxEventBytes: maxEventBytes)
        return normalizer.normalize(RawEvent(bytes: JSONWriter.bytes(event), origin: origin), ingestionTime: ingestionTime, allowingOwnSource: true)
            .mapError { .invalidEvent(eventFile: nil, detail: Self.detail($0)) }
    }

    /// What is wrong with a test's event, without the origin and the "skipped" that `run`'s
    /// messages about input carry: the error says where the event is.
    static func detail(_ error: InputError) -> String {
        switch error {
        case .invalidEvent(_, let detail): return detail
        case .eventTooLarge(_, let limit): return "the event is larger than \(limit) bytes"
        case .cloudTrailDigest: return "a CloudTrail digest (no events), not an event"
        default: return error.description
        }
    }

    /// A problem with `test`'s event as an error: at the `Event` or `EventFile` value for what is
    /// wrong with the event itself, at the test for an `EventFile` that cannot be read.
    static func error(_ problem: RuleTestProblem, of test: RuleTest) -> RuleTestError {
        if case .invalidEvent(_, let detail) = problem {
            var eventFile: String?
            if case .file(let written, _) = test.event { eventFile = written }
            return RuleTestError(file: test.file, location: test.eventLocation ?? test.location, path: test.eventPath,
                                 problem: .invalidEvent(eventFile: eventFile, detail: detail), testName: test.name)
        }
        return RuleTestError(file: test.file, location: test.location, path: test.path, problem: problem, testName: test.name)
    }

    /// The test's event: inline, or read from its `EventFile`.
    func loadEvent(_ test: RuleTest) -> Result<JSONValue, RuleTestProblem> {
        switch test.event {
        case .inline(let value):
            return .success(value)
        case .file(let written, let path):
            let bytes: [UInt8]
            do {
                bytes = try readWholeFile(path: path, limit: maxEventFileBytes)
            } catch {
                return .failure(.unreadableEventFile(path: written, reason: Self.reason(error)))
            }
            let value: JSONValue
            do {
                value = try JSONParser.parse(bytes, options: JSONParser.Options(maxBytes: maxEventFileBytes, duplicateKeys: .reject))
            } catch {
                return .failure(.invalidEventFile(path: written, error))
            }
            if let records = value["Records"]?.arrayValue {
                guard records.count == 1 else { return .failure(.notOneRecord(path: written, count: records.count)) }
                return .success(records[0])
            }
            return .success(value)
        }
    }

    func origin(of test: RuleTest) -> EventOrigin {
        switch test.event {
        case .inline: return EventOrigin(source: "\(test.file) \(test.path).Event", position: .document)
        case .file(let written, _): return EventOrigin(source: written, position: .document)
        }
    }

    static func reason(_ error: IngestionError) -> String {
        switch error {
        case .cannotOpen(_, let reason), .readFailed(_, _, let reason): return reason
        case .tooLarge(_, let limit): return "larger than \(limit) bytes"
        default: return error.description
        }
    }

    // MARK: Locations

    /// The source map of a rule file, for line and column in test errors; nil when unreadable.
    static func sourceMap(of file: String) -> JSONSourceMap? {
        guard let bytes = try? readWholeFile(path: file, limit: RuleFile.maxFileBytes),
              let document = try? JSONParser.parseDocument(bytes, options: JSONParser.Options(
                  maxBytes: RuleFile.maxFileBytes, duplicateKeys: .reject, recordLocations: true)) else { return nil }
        return document.locations
    }

    /// The rule's path in its file: the top level, or `[i]` in a file holding an array of rules, or
    /// the `Properties` of a CloudFormation resource.
    static func path(of rule: Rule, in locations: JSONSourceMap?) -> JSONPath {
        if let path = rule.cloudFormationPath { return path }
        guard let locations, let location = rule.location else { return .root }
        for (path, found) in locations.byPath where path.components.count <= 1 && found == location {
            if path.components.isEmpty { return .root }
            if case .index = path.components[0] { return path }
        }
        return .root
    }

    /// The index of the `Tests` entry a path points into.
    static func testIndex(_ path: JSONPath) -> Int {
        for (i, component) in path.components.enumerated() {
            if case .key("Tests") = component, i + 1 < path.components.count, case .index(let index) = path.components[i + 1] {
                return index
            }
        }
        return -1
    }
}

/// How a rule judges one event: its pattern, its state, and the explanation.
public struct RuleVerdict: Sendable {
    /// The event as matched (a record wrapped in its EventBridge envelope).
    public var envelope: JSONValue
    /// The compiled matcher's verdict on the pattern.
    public var patternMatches: Bool
    /// Whether the rule's `State` lets it see the event.
    public var stateAllows: Bool
    public var state: RuleState
    /// Field by field: why the pattern matches or not.
    public var explanation: PatternExplanation

    /// What `tripline run` does: the rule receives the event.
    public var receives: Bool { patternMatches && stateAllows }

    /// Why the verdict differs from the expectation: one line, then detail lines.
    func failure(expectedMatch: Bool, rule: Rule) -> (reason: String, details: [String]) {
        var details: [String] = []
        let reason: String
        if expectedMatch {
            if !patternMatches {
                reason = "expected a match, got none: " + explanation.summary
                details = explanation.lines()
            } else {
                if state == .disabled {
                    reason = "the pattern matches, but the rule is DISABLED"
                } else {
                    reason = "the pattern matches, but State ENABLED does not receive read-only management events "
                        + "(detail.readOnly is true); use ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS to receive them"
                }
                details = explanation.lines()
            }
        } else {
            reason = "expected no match, but the rule receives it: " + explanation.summary
            details = explanation.lines()
        }
        if explanation.matches != patternMatches {
            details.append("note: the explanation's verdict (\(explanation.matches ? "match" : "no match")) differs from the matcher's; please report this")
        }
        return (reason, details)
    }
}

/// The outcome of one rule test.
public struct RuleTestResult: Sendable {
    public enum Outcome: Sendable {
        case passed
        /// The rule did not behave as `Matches` says: why, in one line and in detail.
        case failed(reason: String, details: [String])
        /// The test could not be run: its entry is malformed or its event unusable (every problem).
        case invalid([RuleTestError])
    }

    public var ruleName: String
    public var testName: String
    public var outcome: Outcome

    public init(ruleName: String, testName: String, outcome: Outcome) {
        self.ruleName = ruleName
        self.testName = testName
        self.outcome = outcome
    }

    public var passed: Bool { if case .passed = outcome { return true }; return false }

    /// `PASS rule: test`, or `FAIL rule: test: why`.
    public var line: String {
        switch outcome {
        case .passed: return "PASS \(ruleName): \(testName)"
        case .failed(let reason, _): return "FAIL \(ruleName): \(testName): \(reason)"
        case .invalid(let errors): return "FAIL \(ruleName): \(testName): \(errors[0])"
        }
    }

    /// Lines after a FAIL line: the explanation, or the further problems of a malformed test.
    public var details: [String] {
        switch outcome {
        case .passed: return []
        case .failed(_, let details): return details
        case .invalid(let errors): return errors.dropFirst().map(\.description)
        }
    }
}

/// Every test result of a run.
public struct RuleTestReport: Sendable {
    public var results: [RuleTestResult] = []
    /// Rules with no `Tests`, by name.
    public var rulesWithoutTests: [String] = []

    public init() {}

    public var passed: Int { results.filter(\.passed).count }
    public var failed: Int { results.count - passed }
    /// `N passed, N failed`.
    public var summaryLine: String { "\(passed) passed, \(failed) failed" }
}
