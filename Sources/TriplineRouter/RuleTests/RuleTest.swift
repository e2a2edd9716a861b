import TriplineJSON

/// One example from a rule's `Tests`: an event and whether the rule should receive it.
///
/// Rule files carry their own examples so that a rule and the evidence that it works travel
/// together (`tripline test` runs them):
///
/// ```json
/// "Tests": [
///   {"Name": "root lists buckets", "Event": {"eventVersion": "1.08", …}, "Matches": true},
///   {"Name": "IAM user lists buckets", "EventFile": "events/iam-list.json", "Matches": false}
/// ]
/// ```
///
/// `Event` is a raw CloudTrail record (wrapped as EventBridge delivers it, exactly as `tripline run`
/// does) or an EventBridge event. `EventFile` names a file holding one such event (or a CloudTrail
/// log file with exactly one record), plain or gzipped; a relative path is taken from the project
/// root, like `Handler` (see ``FunctionTarget/resolvePath(_:ruleFile:currentDirectory:)``). Event
/// files belong outside the rules directory, where every `*.json` is read as a rule file.
public struct RuleTest: Sendable, Equatable {
    /// Where a test's event comes from.
    public enum EventSource: Sendable, Equatable {
        /// `Event`, written in the rule file.
        case inline(JSONValue)
        /// `EventFile`: the path as written and as resolved.
        case file(written: String, path: String)
    }

    /// The rule the test belongs to.
    public var ruleName: String
    /// `Name`: unique among the rule's tests.
    public var name: String
    public var event: EventSource
    /// `Matches`: whether the rule must receive the event (pattern and `State` together).
    public var expectedMatch: Bool
    /// The rule file.
    public var file: String
    /// The test's path in the file (`Tests[2]`, or `[4].Tests[2]` in a file of several rules).
    public var path: JSONPath
    /// Where the test's object starts in ``file``.
    public var location: JSONLocation?
    /// Where its `Event` or `EventFile` value starts: what a problem with the event points at.
    public var eventLocation: JSONLocation?

    /// The path of its `Event` or `EventFile` value (`Tests[2].Event`).
    public var eventPath: JSONPath {
        switch event {
        case .inline: return path.appending("Event")
        case .file: return path.appending("EventFile")
        }
    }

    /// The fields of a test object.
    public static let fields = ["Name", "Event", "EventFile", "Matches"]

    public init(ruleName: String, name: String, event: EventSource, expectedMatch: Bool,
                file: String, path: JSONPath, location: JSONLocation? = nil, eventLocation: JSONLocation? = nil) {
        self.eventLocation = eventLocation
        self.ruleName = ruleName
        self.name = name
        self.event = event
        self.expectedMatch = expectedMatch
        self.file = file
        self.path = path
        self.location = location
    }
}

/// A problem with one rule test, with where it is: file, line:column and JSON path.
///
/// Printed like rule file errors, `file:line:column: path: message`, e.g.
/// `Rules/root.json:41:18: Tests[3].Matches: expected true or false, got "yes"`.
public struct RuleTestError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var location: JSONLocation?
    public var path: JSONPath
    public var problem: RuleTestProblem
    /// The test's `Name` when it has a usable one, so reports can name the test.
    public var testName: String?

    public init(file: String, location: JSONLocation?, path: JSONPath, problem: RuleTestProblem, testName: String? = nil) {
        self.file = file
        self.location = location
        self.path = path
        self.problem = problem
        self.testName = testName
    }

    public var description: String {
        JSONLocation.prefix(file: file, location: location) + "\(path): " + problem.description
    }
}

extension RuleError {
    /// A rule test's problem as a rule file error, printed the same: how `validate` reports it.
    public init(_ error: RuleTestError) {
        self.init(file: error.file, location: error.location, path: error.path, problem: .ruleTest(error.problem))
    }
}

/// What is wrong with a rule test.
public enum RuleTestProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// A `Tests` entry that is not an object.
    case notAnObject(found: String)
    /// A required field is absent.
    case missingField(String)
    /// A field a test does not have.
    case unknownField(String, suggestion: String?)
    /// A value of the wrong type: "expected …, got …".
    case expected(String, found: String)
    /// Both `Event` and `EventFile`, or neither.
    case needsOneEventSource(both: Bool)
    /// A test name used twice in the same rule.
    case duplicateName(String)
    /// `EventFile` could not be read.
    case unreadableEventFile(path: String, reason: String)
    /// `EventFile` is not valid JSON.
    case invalidEventFile(path: String, JSONError)
    /// `EventFile` is a CloudTrail log file with other than one record.
    case notOneRecord(path: String, count: Int)
    /// The event (from `eventFile`, when it is an `EventFile`) is neither a CloudTrail record nor an
    /// EventBridge event, is too large, or cannot be matched: `detail` says which.
    case invalidEvent(eventFile: String?, detail: String)

    public var description: String {
        switch self {
        case .notAnObject(let found):
            return "a rule test is an object such as {\"Name\": \"…\", \"Event\": {…}, \"Matches\": true}, got \(found)"
        case .missingField(let field):
            return "a rule test needs \(JSONWriter.quoted(field))"
        case .unknownField(let field, let suggestion):
            var text = "unknown field \(JSONWriter.quoted(field))"
            if let suggestion { text += "; did you mean \(JSONWriter.quoted(suggestion))?" }
            return text + "; allowed: " + RuleTest.fields.map(JSONWriter.quoted).joined(separator: ", ")
        case .expected(let expected, let found):
            return "expected \(expected), got \(found)"
        case .needsOneEventSource(let both):
            return both
                ? "give either \"Event\" or \"EventFile\", not both"
                : "a rule test needs \"Event\" (a CloudTrail record or EventBridge event) or \"EventFile\" (a file holding one)"
        case .duplicateName(let name):
            return "test name \(JSONWriter.quoted(name)) is already used in this rule; names must be unique within a rule"
        case .unreadableEventFile(let path, let reason):
            return "cannot read EventFile \(path): \(reason)"
        case .invalidEventFile(let path, let error):
            var text = "EventFile \(path) is not valid JSON"
            if let location = error.location { text += " at \(location.line):\(location.column)" }
            return text + ": " + error.message
        case .notOneRecord(let path, let count):
            return "EventFile \(path) is a CloudTrail log file with \(count) records; a test takes exactly one event"
        case .invalidEvent(let eventFile, let detail):
            return (eventFile.map { "EventFile \($0): " } ?? "") + detail
        }
    }
}

extension RuleTest {
    /// Reads the `Tests` entries of `rule`; every problem is returned, each with its path.
    ///
    /// `rulePath` is the rule's path in its file (`(top level)` or `[i]`); `locations` the file's
    /// source map, when available, so errors carry line and column.
    public static func parse(_ rule: Rule, rulePath: JSONPath, locations: JSONSourceMap?,
                             currentDirectory: String) -> (tests: [RuleTest], errors: [RuleTestError]) {
        var tests: [RuleTest] = []
        var errors: [RuleTestError] = []
        var names: Set<String> = []
        let testsPath = rulePath.appending("Tests")
        for (index, entry) in rule.tests.enumerated() {
            let path = testsPath.appending(index: index)
            let testName = entry["Name"]?.stringValue
            func fail(_ path: JSONPath, _ problem: RuleTestProblem) {
                errors.append(RuleTestError(file: rule.file, location: locations?.location(of: path), path: path, problem: problem, testName: testName))
            }
            guard case .object(let object) = entry else {
                fail(path, .notAnObject(found: RuleProblem.describe(entry)))
                continue
            }
            let before = errors.count
            for member in object where !fields.contains(member.key) {
                fail(path.appending(member.key), .unknownField(member.key, suggestion: Suggestion.closest(to: member.key, among: fields)))
            }
            var name: String?
            switch object["Name"] {
            case nil: fail(path, .missingField("Name"))
            case .string(let s)? where !s.isEmpty:
                if names.insert(s).inserted { name = s } else { fail(path.appending("Name"), .duplicateName(s)) }
            case let value?: fail(path.appending("Name"), .expected("a non-empty string", found: RuleProblem.describe(value)))
            }
            var expected: Bool?
            switch object["Matches"] {
            case nil: fail(path, .missingField("Matches"))
            case .bool(let b)?: expected = b
            case let value?: fail(path.appending("Matches"), .expected("true or false", found: RuleProblem.describe(value)))
            }
            var source: EventSource?
            switch (object["Event"], object["EventFile"]) {
            case (nil, nil):
                fail(path, .needsOneEventSource(both: false))
            case (.some, .some):
                fail(path.appending("EventFile"), .needsOneEventSource(both: true))
            case (let event?, nil):
                if case .object = event { source = .inline(event) } else {
                    fail(path.appending("Event"), .expected("an event object (a CloudTrail record or an EventBridge event)", found: RuleProblem.describe(event)))
                }
            case (nil, let file?):
                if case .string(let written) = file, !written.isEmpty, !written.contains("\0") {
                    source = .file(written: written, path: FunctionTarget.resolvePath(written, ruleFile: rule.file, currentDirectory: currentDirectory))
                } else {
                    fail(path.appending("EventFile"), .expected("the path of a JSON file holding one event", found: RuleProblem.describe(file)))
                }
            }
            guard errors.count == before, let name, let expected, let source else { continue }
            var test = RuleTest(ruleName: rule.name, name: name, event: source, expectedMatch: expected,
                                file: rule.file, path: path, location: locations?.location(of: path))
            test.eventLocation = locations?.location(of: test.eventPath)
            tests.append(test)
        }
        return (tests, errors)
    }
}
