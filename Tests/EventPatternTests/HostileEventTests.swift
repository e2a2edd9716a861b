import EventPattern
import SeededRandom
import Testing
import TriplineJSON

/// An event the machine must reject with an error, and which error.
struct HostileRow: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    /// The acceptable `JSONError` case names, `|`-separated (see `HostileEventTests.caseName`).
    var error: String

    init(_ name: String, _ text: String, _ error: String) {
        self.init(name, bytes: Array(text.utf8), error)
    }

    init(_ name: String, bytes: [UInt8], _ error: String) {
        self.name = name
        self.bytes = bytes
        self.error = error
    }

    var testDescription: String { name }
}

@Suite("Hostile events are rejected with an error, never a crash")
struct HostileEventTests {
    /// Patterns naming `a`, `b.c`, `d` and `e`; everything else in an event is validated and skipped.
    static func machine() throws -> PatternMachine {
        var machine = PatternMachine()
        machine.add(contentsOf: [
            (1, try EventPattern.parse(#"{"a":["x"]}"#)),
            (2, try EventPattern.parse(#"{"b":{"c":[{"prefix":"p"}]}}"#)),
            (3, try EventPattern.parse(#"{"d":[{"exists":false}]}"#)),
            (4, try EventPattern.parse(#"{"e":[{"numeric":[">",0]}]}"#)),
            (5, try EventPattern.parse(#"{"a":[{"anything-but":"q"}],"b":{"c":[{"wildcard":"*z"}]}}"#)),
        ])
        return machine
    }

    static func caseName(_ error: JSONError) -> String {
        switch error {
        case .unexpectedEnd: return "unexpectedEnd"
        case .unexpectedByte: return "unexpectedByte"
        case .invalidUTF8: return "invalidUTF8"
        case .controlCharacterInString: return "controlCharacter"
        case .invalidEscape: return "invalidEscape"
        case .loneSurrogate: return "loneSurrogate"
        case .invalidNumber: return "invalidNumber"
        case .duplicateKey: return "duplicateKey"
        case .tooDeep: return "tooDeep"
        case .tooLarge: return "tooLarge"
        case .trailingContent: return "trailingContent"
        case .matchingWorkLimit: return "matchingWorkLimit"
        }
    }

    static func deep(_ depth: Int, open: String, close: String, inside: String = "1") -> String {
        String(repeating: open, count: depth) + inside + String(repeating: close, count: depth)
    }

    static let rows: [HostileRow] = [
        HostileRow("empty input", "", "unexpectedEnd"),
        HostileRow("whitespace only", " \n\t", "unexpectedEnd"),
        HostileRow("bare word", #"{"a": x}"#, "unexpectedByte|invalidNumber"),
        HostileRow("single quotes", #"{'a': 'x'}"#, "unexpectedByte"),
        HostileRow("missing colon", #"{"a" "x"}"#, "unexpectedByte"),
        HostileRow("trailing comma in object", #"{"a":"x",}"#, "unexpectedByte"),
        HostileRow("trailing comma in skipped array", #"{"zzz":[1,2,]}"#, "unexpectedByte"),
        HostileRow("truncated in a string", #"{"a": "x"#, "unexpectedEnd"),
        HostileRow("truncated after a value", #"{"a": "x""#, "unexpectedEnd"),
        HostileRow("truncated after a colon", #"{"a": "#, "unexpectedEnd"),
        HostileRow("truncated in a key", #"{"a"#, "unexpectedEnd"),
        HostileRow("truncated in a skipped subtree", #"{"zzz": {"q": [1, {"r": "#, "unexpectedEnd"),
        HostileRow("truncated in an escape", #"{"a": "\u00"#, "unexpectedEnd"),
        HostileRow("overlong UTF-8 in a named value", bytes: Array(#"{"a": ""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8), "invalidUTF8"),
        HostileRow("overlong UTF-8 in a key", bytes: [0x7B, 0x22, 0xC0, 0xAF, 0x22, 0x3A, 0x31, 0x7D], "invalidUTF8"),
        HostileRow("overlong 3-byte UTF-8 in a skipped value", bytes: Array(#"{"zzz": ""#.utf8) + [0xE0, 0x80, 0xAF] + Array(#""}"#.utf8), "invalidUTF8"),
        HostileRow("UTF-8 encoded surrogate (ED A0 80)", bytes: Array(#"{"a": ""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8), "invalidUTF8"),
        HostileRow("UTF-8 encoded surrogate in a skipped value", bytes: Array(#"{"zzz": ["#.utf8) + [0x22, 0xED, 0xBF, 0xBF, 0x22] + Array(#"]}"#.utf8), "invalidUTF8"),
        HostileRow("byte F5", bytes: Array(#"{"a": ""#.utf8) + [0xF5, 0x80, 0x80, 0x80] + Array(#""}"#.utf8), "invalidUTF8"),
        HostileRow("byte FF", bytes: Array(#"{"b": {"c": ""#.utf8) + [0xFF] + Array(#""}}"#.utf8), "invalidUTF8"),
        HostileRow("code point above U+10FFFF (F4 90)", bytes: Array(#"{"a": ""#.utf8) + [0xF4, 0x90, 0x80, 0x80] + Array(#""}"#.utf8), "invalidUTF8"),
        HostileRow("lone continuation byte", bytes: Array(#"{"a": ""#.utf8) + [0x80] + Array(#""}"#.utf8), "invalidUTF8"),
        HostileRow("truncated UTF-8 sequence", bytes: Array(#"{"a": ""#.utf8) + [0xE2, 0x82] + Array(#""}"#.utf8), "invalidUTF8"),
        HostileRow("invalid UTF-8 outside strings", bytes: [0x7B, 0xC3, 0xA9, 0x7D], "unexpectedByte"),
        HostileRow("lone high surrogate escape", #"{"a": "\ud800"}"#, "loneSurrogate"),
        HostileRow("lone low surrogate escape", #"{"a": "\udc00"}"#, "loneSurrogate"),
        HostileRow("high surrogate then a non-surrogate", #"{"a": "\ud800\u0041"}"#, "loneSurrogate"),
        HostileRow("lone surrogate in a key", #"{"\ud800": 1}"#, "loneSurrogate"),
        HostileRow("lone surrogate in a skipped value", #"{"zzz": ["\udbff"]}"#, "loneSurrogate"),
        HostileRow("invalid escape", #"{"a": "\x41"}"#, "invalidEscape"),
        HostileRow("short unicode escape", #"{"a": "\u12"}"#, "invalidEscape"),
        HostileRow("duplicate key at the top level", #"{"a": "x", "a": "y"}"#, "duplicateKey"),
        HostileRow("duplicate unnamed key at the top level", #"{"zzz": 1, "zzz": 2}"#, "duplicateKey"),
        HostileRow("duplicate key spelled with an escape", #"{"a": "x", "\u0061": "y"}"#, "duplicateKey"),
        HostileRow("duplicate key in a named nested object", #"{"b": {"c": "p", "c": "q"}}"#, "duplicateKey"),
        HostileRow("duplicate key inside a skipped subtree", #"{"zzz": {"q": 1, "q": 2}}"#, "duplicateKey"),
        HostileRow("duplicate key deep inside a skipped array", #"{"zzz": [{"q": 1}, {"r": [{"s": 1, "s": 2}]}]}"#, "duplicateKey"),
        HostileRow("duplicate key in an array of named objects", #"{"b": [{"c": "p"}, {"c": "p", "c": "z"}]}"#, "duplicateKey"),
        HostileRow("duplicate key after nested objects, named and skipped",
                   #"{"b": {"c": "p", "n": {"c": 1}, "zzz": {"y": {"c": 2}}, "c": "q"}}"#, "duplicateKey"),
        HostileRow("duplicate key after nested objects inside a skipped subtree",
                   #"{"zzz": {"q": 1, "n": {"q": 1, "m": {"q": 2}}, "r": 0, "q": 2}}"#, "duplicateKey"),
        // Once the last key a pattern names in an object is read, the rest of the object is only
        // validated (pattern 2 names one key in "b"): it must fail as the careful reader does.
        HostileRow("invalid literal after an object's last named key", #"{"b": {"c": "p", "x": tru}}"#, "unexpectedByte"),
        HostileRow("unterminated object after an object's last named key", #"{"b": {"c": "p", "x": 1"#, "unexpectedEnd"),
        HostileRow("missing colon after an object's last named key", #"{"b": {"c": "p", "x" 1}}"#, "unexpectedByte"),
        // The validator of the rest compares its keys with those read before, escaped ones included.
        HostileRow("a key equal to an escaped one read before an object's last named key",
                   #"{"b": {"\u0078": 1, "c": "p", "x": 2}}"#, "duplicateKey"),
        HostileRow("an escaped key, then the same key after an object's last named key",
                   #"{"b": {"c\u0063": 1, "c": "p", "cc": 2}}"#, "duplicateKey"),
        HostileRow("a named key spelled with an escape after the same key unescaped",
                   #"{"b": {"zz": 1, "c": "p"}, "a": "x", "\u0061": "y"}"#, "duplicateKey"),
        HostileRow("arrays nested 10,000 deep after an object's last named key",
                   #"{"b": {"c": "p", "x": "# + deep(10_000, open: "[", close: "]") + "}}", "tooDeep"),
        // The same at the top level, whose named child "b" has children: after "a", "b", "d" and "e"
        // the rest is validated member by member, stopping before a key that may name "b.c".
        HostileRow("invalid literal after the last named key of an object with a nested named child",
                   #"{"a": "x", "b": {"c": "p"}, "d": 1, "e": 2, "z": tru}"#, "unexpectedByte"),
        HostileRow("duplicate key after the last named key of an object with a nested named child",
                   #"{"a": "x", "b": {"c": "p"}, "d": 1, "e": 2, "z": {"a": 1}, "a": "y"}"#, "duplicateKey"),
        HostileRow("unterminated object after the last named key of an object with a nested named child",
                   #"{"a": "x", "b": {"c": "p"}, "d": 1, "e": 2, "z": 1"#, "unexpectedEnd"),
        HostileRow("an error after a dotted key that follows the last named key",
                   #"{"a": "x", "b": {"c": "p"}, "d": 1, "e": 2, "b.c": "q", "z": [1, 2,]}"#, "unexpectedByte"),
        HostileRow("arrays nested 10,000 deep after the last named key of an object with a nested named child",
                   #"{"a": "x", "b": {"c": "p"}, "d": 1, "e": 2, "z": "# + deep(10_000, open: "[", close: "]") + "}", "tooDeep"),
        HostileRow("arrays nested 10,000 deep in a skipped field", #"{"zzz": "# + deep(10_000, open: "[", close: "]") + "}", "tooDeep"),
        HostileRow("objects nested 10,000 deep in a named field", #"{"b": "# + deep(10_000, open: #"{"c": "#, close: "}") + "}", "tooDeep"),
        HostileRow("unterminated nesting 10,000 deep", #"{"a": "# + String(repeating: "[", count: 10_000), "tooDeep"),
        HostileRow("trailing garbage", #"{"a": "x"} x"#, "trailingContent"),
        HostileRow("trailing close brace", #"{"a": "x"}}"#, "trailingContent"),
        HostileRow("two documents", #"{"a": "x"} {"a": "x"}"#, "trailingContent"),
        HostileRow("leading zero", #"{"e": 01}"#, "invalidNumber"),
        HostileRow("negative leading zero in a skipped field", #"{"zzz": -01}"#, "invalidNumber"),
        HostileRow("fraction without digits", #"{"e": 1.}"#, "invalidNumber"),
        HostileRow("exponent without digits", #"{"e": 1e}"#, "invalidNumber"),
        HostileRow("leading plus", #"{"e": +1}"#, "unexpectedByte|invalidNumber"),
        HostileRow("leading dot", #"{"e": .5}"#, "unexpectedByte|invalidNumber"),
        HostileRow("NaN", #"{"e": NaN}"#, "unexpectedByte|invalidNumber"),
        HostileRow("Infinity", #"{"e": Infinity}"#, "unexpectedByte|invalidNumber"),
        HostileRow("-Infinity", #"{"e": -Infinity}"#, "invalidNumber"),
        HostileRow("raw control character in a value", "{\"a\": \"x\u{01}\"}", "controlCharacter"),
        HostileRow("raw newline in a value", "{\"a\": \"x\ny\"}", "controlCharacter"),
        HostileRow("raw tab in a key", "{\"a\tb\": 1}", "controlCharacter"),
        HostileRow("raw NUL in a skipped value", bytes: Array(#"{"zzz": "a"#.utf8) + [0x00] + Array(#""}"#.utf8), "controlCharacter"),
        HostileRow("misspelled literal", #"{"a": nul}"#, "unexpectedByte"),
        HostileRow("literal with a suffix", #"{"a": truex}"#, "unexpectedByte"),
    ]

    @Test("malformed events throw the right error", arguments: rows)
    func rejected(_ row: HostileRow) throws {
        let machine = try Self.machine()
        do {
            let ids = try machine.matches(event: row.bytes)
            Issue.record("accepted, matching \(ids)")
        } catch {
            #expect(row.error.split(separator: "|").contains(Substring(Self.caseName(error))), "\(error)")
        }
    }

    @Test("valid events next to the hostile ones still match")
    func controls() throws {
        let machine = try Self.machine()
        #expect(try machine.matches(event: Array(#"{"a": "x", "zzz": {"q": [1, {"r": null}]}}"#.utf8)) == [1, 3])
        #expect(try machine.matches(event: Array(#"{"a": "y", "b": [{"c": "zz"}]}"#.utf8)) == [3, 5])
        #expect(try machine.matches(event: Array(#"{"b": {"c": "pz"}, "d": 1, "e": 1e-3}"#.utf8)) == [2, 4])
        #expect(try machine.matches(event: Array((#"{"zzz": "# + Self.deep(98, open: "[", close: "]") + "}").utf8)) == [3])
        #expect(try machine.matches(event: Array(#"{"a": "\u0078", "q": "\ud83d\ude00"}"#.utf8)) == [1, 3])
        // A byte order mark before the event is skipped, as JSONParser skips it (fuzz.md F2).
        #expect(try machine.matches(event: [0xEF, 0xBB, 0xBF] + Array(#"{"a": "x"}"#.utf8)) == [1, 3])
    }

    @Test("the event size limit comes from MatchScratch.maxEventBytes (256 KB by default)")
    func sizeLimit() throws {
        let machine = try Self.machine()
        let big = Array((#"{"a": "x", "pad": ""# + String(repeating: "p", count: JSONLimits.defaultMaxEventBytes) + #""}"#).utf8)
        #expect(throws: JSONError.tooLarge(size: big.count, limit: JSONLimits.defaultMaxEventBytes)) {
            try machine.matches(event: big)
        }
        var scratch = MatchScratch(maxEventBytes: 64)
        let fits = Array((#"{"a": "x", "pad": ""# + String(repeating: "p", count: 64 - 21) + #""}"#).utf8)
        #expect(fits.count == 64)
        let ids = try fits.withUnsafeBufferPointer { (buffer) throws(JSONError) -> [Int] in try machine.matches(event: buffer, scratch: &scratch) }
        #expect(ids == [1, 3])
        let over = fits.dropLast(2) + Array(#"p"}"#.utf8)
        #expect(over.count == 65)
        #expect(throws: JSONError.tooLarge(size: 65, limit: 64)) {
            try Array(over).withUnsafeBufferPointer { (buffer) throws(JSONError) -> [Int] in try machine.matches(event: buffer, scratch: &scratch) }
        }
    }

    @Test("the depth limit comes from MatchScratch.maxDepth")
    func depthLimit() throws {
        let machine = try Self.machine()
        var scratch = MatchScratch(maxDepth: 5)
        func run(_ text: String) throws(JSONError) -> [Int] {
            try Array(text.utf8).withUnsafeBufferPointer { (buffer) throws(JSONError) -> [Int] in try machine.matches(event: buffer, scratch: &scratch) }
        }
        #expect(try run(#"{"zzz": [[[1]]]}"#) == [3])
        #expect(throws: JSONError.self) { try run(#"{"zzz": [[[[[[[1]]]]]]]}"#) }
        // The same limit for what follows the last key a pattern names in an object.
        #expect(try run(#"{"b": {"c": "pz", "zzz": [[[1]]]}}"#) == [2, 3])
        #expect(throws: JSONError.self) { try run(#"{"b": {"c": "pz", "zzz": [[[[1]]]]}}"#) }
        // The scratch is still usable after an error.
        #expect(try run(#"{"a": "x"}"#) == [1, 3])
    }

    @Test("matching work past MatchScratch.maxMatchWork refuses the event, for each shape that makes work; an ordinary event stays far below")
    func matchingWorkLimit() throws {
        func run(_ pattern: String, _ event: String, work: Int = MatchScratch.defaultMaxMatchWork,
                 pairs: Int = MatchScratch.defaultMaxMatchPairs) throws(JSONError) -> [Int] {
            var machine = PatternMachine()
            machine.add(try! EventPattern.parse(pattern), id: 1)
            var scratch = MatchScratch()
            scratch.maxMatchWork = work
            scratch.maxMatchPairs = pairs
            return try Array(event.utf8).withUnsafeBufferPointer { (buffer) throws(JSONError) -> [Int] in try machine.matches(event: buffer, scratch: &scratch) }
        }
        // Two conditions on one array of objects inside an array of one element: every x is checked against every y.
        let elements = (0..<400).map { $0 % 2 == 0 ? #"{"x":1}"# : #"{"y":1}"# }.joined(separator: ",")
        let arrays = #"{"a":[{"b":["# + elements + "]}]}"
        let both = #"{"a":{"b":{"x":[1],"y":[1]}}}"#
        #expect(try run(both, arrays) == [], "answered within the default limit")
        #expect(throws: JSONError.matchingWorkLimit(limit: "10000 steps")) { try run(both, arrays, work: 10_000) }
        // A long suffix against a long repetitive value: the automaton's cache overflows into simulation.
        let suffix = #"{"v":[{"suffix":""# + String(repeating: "a", count: 300) + #"b"}]}"#
        let value = #"{"v":""# + String(repeating: "a", count: 5_000) + #""}"#
        #expect(try run(suffix, value) == [])
        #expect(throws: JSONError.matchingWorkLimit(limit: "100000 steps")) { try run(suffix, value, work: 100_000) }
        // Many values each satisfying many conditions: the (condition, value) pairs kept.
        let ranges = #"{"$or":["# + (0..<50).map { #"{"n":[{"numeric":[">",-\#($0)]}]}"# }.joined(separator: ",") + "]}"
        let ones = #"{"n":["# + Array(repeating: "1", count: 1_000).joined(separator: ",") + "]}"
        #expect(try run(ranges, ones) == [1])
        #expect(throws: JSONError.matchingWorkLimit(limit: "20000 recorded (condition, value) pairs")) { try run(ranges, ones, pairs: 20_000) }
        // The scratch and machine keep working: an ordinary event takes a few hundred steps.
        #expect(try run(both, #"{"a":[{"b":[{"x":1,"y":1}]}]}"#, work: 1_000) == [1])
    }

    /// One random edit of a byte string.
    static func mutate(_ bytes: inout [UInt8], _ rng: inout SplitMix64) {
        let interesting: [UInt8] = Array(#"{}[]":,\ -.0123456789eEtfnu"#.utf8) + [0x00, 0x01, 0x1F, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF]
        guard !bytes.isEmpty else { bytes.append(rng.pick(interesting)); return }
        let i = rng.below(bytes.count)
        switch rng.below(11) {
        case 9:
            // A letter spelled as a \u escape: the same string when inside one (a key may then
            // equal another key only once decoded).
            guard let letter = bytes.indices.filter({ (bytes[$0] | 0x20) >= 0x61 && (bytes[$0] | 0x20) <= 0x7A }).randomElement(using: &rng) else { return }
            let hex = String(bytes[letter], radix: 16, uppercase: rng.below(2) == 0)
            bytes.replaceSubrange(letter...letter, with: Array("\\u00\(hex)".utf8))
        case 10:
            // A copy of some key with a new value, after a `{` or `,`: often a duplicate key.
            let keyEnds = bytes.indices.dropLast().filter { bytes[$0] == UInt8(ascii: "\"") && bytes[$0 + 1] == UInt8(ascii: ":") }
            let places = bytes.indices.filter { bytes[$0] == UInt8(ascii: "{") || bytes[$0] == UInt8(ascii: ",") }
            guard let end = keyEnds.randomElement(using: &rng), let place = places.randomElement(using: &rng),
                  let start = bytes[..<end].lastIndex(of: UInt8(ascii: "\"")) else { return }
            var copy = Array(bytes[start...end])
            if rng.below(2) == 0, let letter = copy.indices.filter({ (copy[$0] | 0x20) >= 0x61 && (copy[$0] | 0x20) <= 0x7A }).randomElement(using: &rng) {
                // Spelled differently: equal only once decoded.
                copy.replaceSubrange(letter...letter, with: Array("\\u00\(String(copy[letter], radix: 16))".utf8))
            }
            bytes.insert(contentsOf: copy + Array(":1,".utf8), at: place + 1)
        case 0: bytes[i] = rng.pick(interesting)
        case 7, 8:
            // Mild: a letter or digit for a letter or digit, which often keeps the event valid.
            let mild = Array("abcxyzXY019".utf8)
            if mild.contains(bytes[i]) || bytes[i] >= 0x30 && bytes[i] <= 0x39 { bytes[i] = rng.pick(mild) } else { bytes.insert(rng.pick(mild), at: i) }
        case 1: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
        case 2: bytes.insert(rng.pick(interesting), at: i)
        case 3: bytes.remove(at: i)
        case 4:
            let end = min(bytes.count, i + 1 + rng.below(12))
            bytes.insert(contentsOf: bytes[i..<end], at: rng.below(bytes.count))
        case 5: bytes.removeSubrange(i...)
        default:
            let j = rng.below(bytes.count)
            bytes.swapAt(i, j)
        }
    }

    @Test("seeded fuzz: mutated events never crash, are rejected exactly when invalid, and otherwise match like the reference")
    func fuzz() throws {
        let seed: UInt64 = 0xF022_2024
        var corpus = RandomCorpus(seed: seed)
        let patterns = DifferentialTests.patterns(40, corpus: &corpus)
        var machine = PatternMachine()
        machine.add(contentsOf: patterns.map { ($0.id, $0.pattern) })
        let prepared = patterns.map { ReferenceMatcher.Prepared($0.pattern) }
        var rng = SplitMix64(seed: seed)
        var scratch = MatchScratch()
        var accepted = 0, rejected = 0, problems = 0
        for iteration in 0..<8_000 {
            var bytes = Array(JSONWriter.string(corpus.event()).utf8)
            for _ in 0..<rng.pick([1, 1, 1, 1, 2, 2, 3, 4]) { Self.mutate(&bytes, &rng) }
            let machineResult: Result<[Int], JSONError> = bytes.withUnsafeBufferPointer { buffer in
                Result { () throws(JSONError) -> [Int] in try machine.matches(event: buffer, scratch: &scratch) }
            }
            let parsed = try? JSONParser.parse(bytes)
            let text = String(decoding: bytes, as: UTF8.self).debugDescription
            switch machineResult {
            case .failure:
                rejected += 1
                if let parsed, parsed.objectValue != nil {
                    problems += 1
                    if problems <= 10 { Issue.record("seed \(seed) #\(iteration): valid event rejected: \(machineResult)\n  event: \(text)") }
                }
            case .success(let ids):
                accepted += 1
                guard let parsed, parsed.objectValue != nil else {
                    problems += 1
                    if problems <= 10 { Issue.record("seed \(seed) #\(iteration): invalid event accepted\n  event: \(text)") }
                    continue
                }
                let flat = ReferenceMatcher.FlatEvent(parsed)
                let expected = patterns.indices.filter { ReferenceMatcher.matches(prepared[$0], flat) }.map { patterns[$0].id }
                if ids != expected {
                    problems += 1
                    if problems <= 10 { Issue.record("seed \(seed) #\(iteration): machine \(ids), reference \(expected)\n  event: \(text)") }
                }
            }
        }
        #expect(problems == 0)
        #expect(accepted > 400 && rejected > 1_000, "mutations too mild or too harsh: \(accepted) accepted, \(rejected) rejected")
        print("hostile fuzz (seed \(seed)): \(accepted) mutated events accepted, \(rejected) rejected, \(problems) problems")
    }
}
