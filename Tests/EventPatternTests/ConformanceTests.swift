import EventPattern
import Foundation
import Testing
import TriplineJSON

/// One case of the shared conformance corpus (`../shared/conformance/cases.json`).
struct ConformanceCase: Sendable {
    var id: String
    var feature: String
    /// The exact pattern text to validate or match.
    var patternText: String
    /// The exact event text, for matching cases.
    var eventText: String?
    /// Expected verdict of a matching case.
    var matches: Bool?
    /// Expected validity of a validation case.
    var valid: Bool?
    /// event-ruler's behaviour, not confirmed for EventBridge: reported, not asserted.
    var disputed: Bool

    /// A validation case has `valid` and no `matches` (some also carry an event, which is never used).
    var isValidationCase: Bool { valid != nil && matches == nil }

    init(json: JSONValue) throws {
        guard let id = json["id"]?.stringValue else { throw CorpusError("a case without an id") }
        self.id = id
        feature = json["feature"]?.stringValue ?? "?"
        if let text = json["pattern_text"]?.stringValue {
            patternText = text
        } else if let text = json["pattern"]?.stringValue {
            // A pattern given as a JSON string is the pattern text itself (e.g. malformed JSON).
            patternText = text
        } else if let pattern = json["pattern"] {
            patternText = JSONWriter.string(pattern)
        } else {
            throw CorpusError("\(id): no pattern")
        }
        if let text = json["event_text"]?.stringValue {
            eventText = text
        } else if let event = json["event"] {
            eventText = JSONWriter.string(event)
        }
        matches = json["matches"]?.boolValue
        valid = json["valid"]?.boolValue
        disputed = json["disputed"]?.boolValue ?? false
    }
}

struct CorpusError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Finds and reads the corpus shared with the other Tripline implementations.
enum ConformanceCorpus {
    /// The package root, three levels above this file (`<root>/Tests/EventPatternTests/…`).
    static func packageRoot(filePath: String = #filePath) -> URL {
        URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var casesURL: URL {
        packageRoot().deletingLastPathComponent().appendingPathComponent("shared/conformance/cases.json").standardizedFileURL
    }

    /// The cases, or nil when the corpus is not checked out next to the package.
    static func load() throws -> [ConformanceCase]? {
        guard let data = FileManager.default.contents(atPath: casesURL.path) else { return nil }
        guard case .array(let elements) = try JSONParser.parse(replacingNonStandardNumbers([UInt8](data))) else {
            throw CorpusError("cases.json is not a JSON array")
        }
        return try elements.map(ConformanceCase.init(json:))
    }

    /// The corpus is written by Python's `json.dump`, which spells non-finite floats `Infinity`,
    /// `-Infinity` and `NaN` (validation-060). Outside strings, these become `1e999` (parsed as an
    /// infinite double) and `null`, so the strict parser can read the file. The affected cases carry
    /// a `pattern_text`, so nothing is lost.
    static func replacingNonStandardNumbers(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var inString = false, escaped = false
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if inString {
                if escaped { escaped = false } else if c == UInt8(ascii: "\\") { escaped = true } else if c == UInt8(ascii: "\"") { inString = false }
            } else if c == UInt8(ascii: "\"") {
                inString = true
            } else if bytes[i...].starts(with: "Infinity".utf8) {
                out.append(contentsOf: "1e999".utf8)
                i += 8
                continue
            } else if bytes[i...].starts(with: "NaN".utf8) {
                out.append(contentsOf: "null".utf8)
                i += 3
                continue
            }
            out.append(c)
            i += 1
        }
        return out
    }
}

@Suite("Conformance corpus")
struct ConformanceTests {
    @Test("every corpus case: validation verdicts, and matching by both the reference and the machine")
    func corpus() throws {
        guard let cases = try ConformanceCorpus.load() else {
            print("conformance corpus not found at \(ConformanceCorpus.casesURL.path); skipping")
            return
        }
        var passed = 0, failed = 0, disputed = 0
        var referencePassed = 0, referenceAsserted = 0
        for testCase in cases {
            let outcome = evaluate(testCase)
            if testCase.disputed {
                disputed += 1
                print("conformance: disputed \(testCase.id) (event-ruler: \(outcome.expected)): ours: \(outcome.ours)")
                continue
            }
            if let referenceOK = outcome.referenceOK {
                referenceAsserted += 1
                if referenceOK { referencePassed += 1 }
            }
            if outcome.ok {
                passed += 1
            } else {
                failed += 1
                Issue.record("""
                    conformance case \(testCase.id) (\(testCase.feature)) failed
                      pattern:  \(testCase.patternText)
                      event:    \(testCase.eventText ?? "(none)")
                      expected: \(outcome.expected)
                      got:      \(outcome.ours)
                    """)
            }
        }
        print("conformance: \(passed) passed, \(failed) failed, \(disputed) disputed (reported, not asserted) of \(cases.count) cases; "
              + "reference interpreter: \(referencePassed) of \(referenceAsserted) matching cases")
    }

    @Test("all corpus patterns in one machine agree with the reference on every corpus event")
    func corpusCrossProduct() throws {
        guard let cases = try ConformanceCorpus.load() else {
            print("conformance corpus not found at \(ConformanceCorpus.casesURL.path); skipping")
            return
        }
        var machine = PatternMachine()
        var patterns: [(id: Int, pattern: EventPattern)] = []
        for (id, testCase) in cases.enumerated() {
            if let pattern = try? EventPattern.parse(testCase.patternText) { patterns.append((id, pattern)) }
        }
        machine.add(contentsOf: patterns)
        var events: [(id: String, text: String, flat: ReferenceMatcher.FlatEvent)] = []
        var seen = Set<String>()
        for testCase in cases {
            guard let text = testCase.eventText, seen.insert(text).inserted,
                  let value = try? JSONParser.parse(text) else { continue }
            events.append((testCase.id, text, ReferenceMatcher.FlatEvent(value)))
        }
        var disagreements = 0
        for event in events {
            let expected = patterns.filter { ReferenceMatcher.matches($0.pattern, event.flat) }.map(\.id)
            let got: [Int]
            do {
                got = try machine.matches(event: Array(event.text.utf8))
            } catch {
                Issue.record("event of \(event.id) rejected by the machine: \(error)\n  event: \(event.text)")
                continue
            }
            if got != expected {
                disagreements += 1
                let missing = Set(expected).subtracting(got).sorted().map { cases[$0].id }
                let extra = Set(got).subtracting(expected).sorted().map { cases[$0].id }
                Issue.record("""
                    event of \(event.id) with all \(patterns.count) corpus patterns loaded:
                      event: \(event.text)
                      patterns the reference matches but the machine does not: \(missing)
                      patterns the machine matches but the reference does not: \(extra)
                    """)
            }
        }
        print("conformance cross-product: \(events.count) events x \(patterns.count) patterns, \(disagreements) disagreeing events")
    }

    /// Our verdicts for one case, next to the expected one.
    struct Outcome {
        var ok: Bool
        /// nil for validation cases.
        var referenceOK: Bool?
        var expected: String
        var ours: String
    }

    func evaluate(_ testCase: ConformanceCase) -> Outcome {
        let validation = EventPattern.validate(text: Array(testCase.patternText.utf8))
        if testCase.isValidationCase, let valid = testCase.valid {
            let expected = valid ? "valid" : "invalid"
            switch validation {
            case .success:
                return Outcome(ok: valid, referenceOK: nil, expected: expected, ours: "valid")
            case .failure(let errors):
                return Outcome(ok: !valid, referenceOK: nil, expected: expected, ours: "invalid: \(errors)")
            }
        }
        guard let expectedMatch = testCase.matches, let eventText = testCase.eventText else {
            return Outcome(ok: false, referenceOK: false, expected: "?", ours: "case has neither valid nor matches+event")
        }
        let expected = expectedMatch ? "match" : "no match"
        let pattern: EventPattern
        switch validation {
        case .success(let p): pattern = p
        case .failure(let errors):
            return Outcome(ok: false, referenceOK: false, expected: expected, ours: "pattern rejected: \(errors)")
        }
        let verdict = DualVerdict(pattern: pattern, eventText: eventText)
        let referenceOK = verdict.reference == expectedMatch
        let ok = referenceOK && verdict.machineVerdict == expectedMatch
        return Outcome(ok: ok, referenceOK: referenceOK, expected: expected, ours: verdict.description)
    }
}
