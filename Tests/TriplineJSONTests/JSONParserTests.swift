#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SeededRandom
import Testing
import TriplineJSON

/// The error thrown for `bytes`, or nil when they parse.
private func parseError(_ bytes: [UInt8], options: JSONParser.Options = .init()) -> JSONError? {
    do {
        _ = try JSONParser.parse(bytes, options: options)
        return nil
    } catch {
        return error
    }
}

private func parseError(_ text: String, options: JSONParser.Options = .init()) -> JSONError? {
    parseError(Array(text.utf8), options: options)
}


@Suite("JSON reader: valid documents")
struct JSONParserValidDocumentTests {
    /// Compact documents whose text `JSONWriter` must reproduce exactly.
    static let compactDocuments = [
        #"{}"#, #"[]"#, #"null"#, #"true"#, #"false"#, #"0"#, #"-0"#, #"3.0e2"#, #"1E-7"#, #""""#,
        #"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#,
        #"[[[[]]],{},{"":""}]"#,
        #"{"é":"ß","emoji":"😀","quote":"a\"b","backslash":"a\\b","nl":"a\nb","tab":"\t","ctl":"\u0001"}"#,
        #"{"z":1,"a":2,"m":3}"#,
        #"[1,-1,1.5,-1.5e-10,123456789012345678901234567890,1e400]"#,
    ]

    @Test("compact documents round-trip through JSONWriter byte for byte", arguments: compactDocuments)
    func compactRoundTrip(_ text: String) throws {
        let value = try JSONParser.parse(text)
        #expect(JSONWriter.string(value) == text)
        #expect(JSONWriter.byteCount(value) == text.utf8.count)
        #expect(try JSONParser.parse(JSONWriter.bytes(value)) == value)
    }

    static let spacedDocuments = [
        " { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : { } }\r\n",
        "\u{FEFF}{\"bom\": true}",
        "[\n  \"\\u00e9\\ud83d\\ude00\\/\\b\\f\"\n]",
    ]

    @Test("documents with whitespace, escapes and a BOM re-read to the same value", arguments: spacedDocuments)
    func spacedRoundTrip(_ text: String) throws {
        let value = try JSONParser.parse(text)
        let written = JSONWriter.bytes(value)
        #expect(try JSONParser.parse(written) == value)
        #expect(JSONWriter.bytes(try JSONParser.parse(written)) == written)
    }

    @Test("escapes decode to the right scalars")
    func escapes() throws {
        #expect(try JSONParser.parse(#""\u00e9""#) == .string("é"))
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try JSONParser.parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{08}\u{0C}\n\r\t"))
        #expect(try JSONParser.parse(#""\u0000""#) == .string("\u{0}"))
    }

    @Test("objects keep members in source order")
    func memberOrder() throws {
        let value = try JSONParser.parse(#"{"z":1,"a":2,"m":3}"#)
        #expect(value.objectValue?.keys == ["z", "a", "m"])
    }

    @Test("random trees survive write → parse")
    func randomTrees() throws {
        var rng = SplitMix64(seed: 0x5EED_0001)
        for _ in 0..<500 {
            let value = Self.randomValue(depth: 0, rng: &rng)
            let bytes = JSONWriter.bytes(value)
            #expect(try JSONParser.parse(bytes) == value, "\(String(decoding: bytes, as: UTF8.self))")
            #expect(JSONWriter.byteCount(value) == bytes.count)
        }
    }

    static func randomValue(depth: Int, rng: inout SplitMix64) -> JSONValue {
        let strings = ["", "a", "é", "ß", "😀", "\"", "\\", "\n", "\u{1}", "x y", "İ"]
        let numbers = ["0", "-0", "1", "-12", "3.5", "3e2", "1E-7", "123456789012345678901234567890"]
        switch Int.random(in: 0..<(depth > 4 ? 4 : 6), using: &rng) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .number(JSONNumber(text: numbers.randomElement(using: &rng)!))
        case 3: return .string(strings.randomElement(using: &rng)! + strings.randomElement(using: &rng)!)
        case 4: return .array((0..<Int.random(in: 0..<4, using: &rng)).map { _ in randomValue(depth: depth + 1, rng: &rng) })
        default:
            var object = JSONObject()
            for key in ["a", "b", "c", "é"] where Bool.random(using: &rng) {
                object.members.append(JSONMember(key: key, value: randomValue(depth: depth + 1, rng: &rng)))
            }
            return .object(object)
        }
    }
}

/// A malformed input and where the reader must say it stopped.
struct ErrorRow: Sendable, CustomTestStringConvertible {
    enum Kind: Sendable { case unexpectedEnd, unexpectedByte, invalidUTF8, controlCharacter, invalidEscape, loneSurrogate,
                          invalidNumber, duplicateKey, tooDeep, trailingContent }
    var bytes: [UInt8]
    var kind: Kind
    var line: Int
    var column: Int

    init(_ text: String, _ kind: Kind, _ line: Int, _ column: Int) {
        self.init(bytes: Array(text.utf8), kind, line, column)
    }

    init(bytes: [UInt8], _ kind: Kind, _ line: Int, _ column: Int) {
        self.bytes = bytes
        self.kind = kind
        self.line = line
        self.column = column
    }

    var testDescription: String { "\(kind) at \(line):\(column) in \(bytes.map { $0 < 0x80 ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined().debugDescription)" }

    func matches(_ error: JSONError) -> Bool {
        switch (kind, error) {
        case (.unexpectedEnd, .unexpectedEnd), (.unexpectedByte, .unexpectedByte), (.invalidUTF8, .invalidUTF8),
             (.controlCharacter, .controlCharacterInString), (.invalidEscape, .invalidEscape), (.loneSurrogate, .loneSurrogate),
             (.invalidNumber, .invalidNumber), (.duplicateKey, .duplicateKey), (.tooDeep, .tooDeep),
             (.trailingContent, .trailingContent):
            return true
        default:
            return false
        }
    }
}

@Suite("JSON reader: errors")
struct JSONParserErrorTests {
    static let rows: [ErrorRow] = [
        ErrorRow("", .unexpectedEnd, 1, 1),
        ErrorRow("   ", .unexpectedEnd, 1, 4),
        ErrorRow(#"{"a": 1"#, .unexpectedEnd, 1, 8),
        ErrorRow(#"["abc"#, .unexpectedEnd, 1, 6),
        ErrorRow(#"{"a" 1}"#, .unexpectedByte, 1, 6),
        ErrorRow(#"{a: 1}"#, .unexpectedByte, 1, 2),
        ErrorRow(#"[1,]"#, .unexpectedByte, 1, 4),
        ErrorRow(#"{"a":1,}"#, .unexpectedByte, 1, 8),
        ErrorRow("{\n  \"a\": tru\n}", .unexpectedByte, 2, 8),
        ErrorRow("[NaN]", .unexpectedByte, 1, 2),
        ErrorRow("[Infinity]", .unexpectedByte, 1, 2),
        ErrorRow("'a'", .unexpectedByte, 1, 1),
        ErrorRow(bytes: Array(#"["#.utf8) + [0x22, 0xC0, 0xAF, 0x22, 0x5D], .invalidUTF8, 1, 3),
        ErrorRow(bytes: [0x22, 0xED, 0xA0, 0x80, 0x22], .invalidUTF8, 1, 2),
        ErrorRow(bytes: [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], .invalidUTF8, 1, 2),
        ErrorRow(bytes: [0x22, 0xE2, 0x82, 0x22], .invalidUTF8, 1, 2),
        ErrorRow(bytes: [0x22, 0x80, 0x22], .invalidUTF8, 1, 2),
        ErrorRow("\"a\u{01}b\"", .controlCharacter, 1, 3),
        ErrorRow("[\n\"a\tb\"]", .controlCharacter, 2, 3),
        ErrorRow(#""a\xb""#, .invalidEscape, 1, 3),
        ErrorRow(#""\u12G4""#, .invalidEscape, 1, 2),
        ErrorRow(#""\ud800""#, .loneSurrogate, 1, 2),
        ErrorRow(#""\udc00""#, .loneSurrogate, 1, 2),
        ErrorRow(#""\ud800\u0041""#, .loneSurrogate, 1, 2),
        ErrorRow("01", .invalidNumber, 1, 1),
        ErrorRow("[-01]", .invalidNumber, 1, 2),
        ErrorRow("1.", .invalidNumber, 1, 1),
        ErrorRow("[.5]", .unexpectedByte, 1, 2),
        ErrorRow("-", .invalidNumber, 1, 1),
        ErrorRow("1e", .invalidNumber, 1, 1),
        ErrorRow("1e+", .invalidNumber, 1, 1),
        ErrorRow("+1", .unexpectedByte, 1, 1),
        ErrorRow(#"{"a":1,"a":2}"#, .duplicateKey, 1, 8),
        ErrorRow("{\"x\": {\n  \"a\": 1,\n  \"a\": 2}}", .duplicateKey, 3, 3),
        ErrorRow(#"{"\u0061":1,"a":2}"#, .duplicateKey, 1, 13),
        ErrorRow(#"{"a":1,"\u0061":2}"#, .duplicateKey, 1, 8),
        ErrorRow(#"{"abcdefghijk":1,"abcdefghijl":2,"abcdefghijk":3}"#, .duplicateKey, 1, 34),
        ErrorRow(#"{"abcdefgh\u0069jk":1,"abcdefghijk":3}"#, .duplicateKey, 1, 23),
        // The object's own keys are remembered across the nested objects between them.
        ErrorRow(#"{"a":1,"n":{"x":1,"a":2},"b":{"c":{"a":1}},"a":3}"#, .duplicateKey, 1, 44),
        ErrorRow("{} x", .trailingContent, 1, 4),
        ErrorRow("[1]]", .trailingContent, 1, 4),
        ErrorRow("1 2", .trailingContent, 1, 3),
    ]

    @Test("each error kind, with line:column", arguments: rows)
    func errorKindAndLocation(_ row: ErrorRow) {
        guard let error = parseError(row.bytes) else {
            Issue.record("accepted")
            return
        }
        #expect(row.matches(error), "wrong kind: \(error)")
        #expect(error.location?.line == row.line && error.location?.column == row.column, "wrong location: \(error)")
        #expect(error.description.hasPrefix("\(row.line):\(row.column): "), "\(error)")
    }

    @Test("duplicate keys: rejected by default, last one wins on request")
    func duplicateKeys() throws {
        let text = #"{"a":1,"b":{"c":true,"c":false},"a":2}"#
        guard case .duplicateKey(let key, let path, _) = parseError(text) else {
            Issue.record("duplicate key accepted")
            return
        }
        #expect(key == "c" && path == "b")
        let value = try JSONParser.parse(text, options: .init(duplicateKeys: .lastWins))
        #expect(value == ["a": 2, "b": ["c": false]])
        #expect(value.objectValue?.keys == ["a", "b"])
    }

    @Test("duplicate keys are found in objects too large for pairwise comparison")
    func duplicateKeysInLargeObjects() {
        let members = (0..<200).map { #""k\#($0)":\#($0)"# }
        #expect(parseError("{" + members.joined(separator: ",") + "}") == nil)
        guard case .duplicateKey(let key, _, _) = parseError("{" + (members + [#""k150":0"#]).joined(separator: ",") + "}") else {
            Issue.record("duplicate key accepted")
            return
        }
        #expect(key == "k150")
    }

    @Test("nesting limit: the default allows 100 levels, and 10,000 levels fail cleanly")
    func depthLimit() {
        let limit = JSONLimits.defaultMaxDepth
        #expect(parseError(String(repeating: "[", count: limit) + String(repeating: "]", count: limit)) == nil)
        guard case .tooDeep(let reported, let at) = parseError(String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)) else {
            Issue.record("too deep accepted")
            return
        }
        #expect(reported == limit && at.column == limit + 1)
        if case .tooDeep = parseError(String(repeating: #"{"a":"#, count: 10_000)) {} else { Issue.record("10,000 objects deep not rejected as too deep") }
        if case .tooDeep = parseError(String(repeating: "[", count: 10_000)) {} else { Issue.record("10,000 arrays deep not rejected as too deep") }
        let options = JSONParser.Options(maxDepth: 3)
        #expect(parseError("[[[1]]]", options: options) == nil)
        if case .tooDeep = parseError("[[[[1]]]]", options: options) {} else { Issue.record("maxDepth 3 not enforced") }
    }

    @Test("size limit is checked before reading")
    func sizeLimit() {
        #expect(parseError("[1,2,3]", options: .init(maxBytes: 4)) == .tooLarge(size: 7, limit: 4))
        #expect(parseError("[1,2,3]", options: .init(maxBytes: 7)) == nil)
    }

    @Test("source map records where each value starts")
    func locations() throws {
        let text = "{\n  \"a\": [1,\n    {\"b\": null}]\n}"
        let document = try JSONParser.parseDocument(Array(text.utf8), options: .init(recordLocations: true))
        let b = JSONPath([.key("a"), .index(1), .key("b")])
        #expect(document.locations.location(of: b)?.description == "3:11")
        #expect(document.locations.location(of: JSONPath([.key("a"), .index(0)]))?.description == "2:9")
        #expect(document.locations.location(of: b.appending("missing"))?.description == "3:11")
        #expect(b.description == "a[1].b")
        #expect(JSONPath([.key("a.b"), .key("c")]).description == #"["a.b"].c"#)
    }

    @Test("a syntax error comes with the path of the value being read: the object or array it is in, or the value itself", arguments: [
        (#"{"a": {"b": ["x"],}}"#, "a", "unexpected '}', expected a string"),
        (#"{"a": {"b": ["x",]}}"#, "a.b[1]", "unexpected ']', expected a JSON value"),
        (#"[{"Name": tru}]"#, "[0].Name", "unexpected 't', expected a JSON value (true?)"),
        (#"{"a": {"b": 1 "c": 2}}"#, "a", "unexpected '\"', expected ',' or '}'"),
        (#"{"a": [{"b": "#, "a[0].b", "unexpected end of input, expected a JSON value"),
        (#"{"a": 1} x"#, "", "unexpected content after the JSON value"),
        (#"{"a" 1}"#, "", "unexpected '1', expected ':' after an object key"),
    ])
    func errorPath(text: String, path: String, message: String) {
        var errorPath = JSONPath([.key("stale")])
        do {
            _ = try JSONParser.parseDocument(Array(text.utf8), errorPath: &errorPath)
            Issue.record("parsed: \(text)")
        } catch {
            #expect(error.message == message, "\(text)")
            #expect(errorPath.isRoot ? path.isEmpty : errorPath.description == path, "\(text): \(errorPath)")
        }
        // A document that parses leaves it at the root.
        #expect(throws: Never.self) { _ = try JSONParser.parseDocument(Array(#"{"a": [1]}"#.utf8), errorPath: &errorPath) }
        #expect(errorPath.isRoot)
    }

    @Test("every recorded location agrees with counting lines from the start")
    func locationsCountedOnward() throws {
        let text = "\u{FEFF}{\"a\": [1,\n\n  {\"b\": \"x\"}, \"\\n\"],\r\n \"c\":\n{\"d\": [[],\n{}], \"e\": true}}"
        let bytes = Array(text.utf8)
        let document = try JSONParser.parseDocument(bytes, options: .init(recordLocations: true))
        #expect(document.locations.byPath.count == 11)
        for (path, location) in document.locations.byPath {
            let counted = bytes.withUnsafeBufferPointer { JSONLocation(offset: location.offset, in: $0) }
            #expect(location == counted, "\(path)")
        }
        #expect(document.locations.location(of: JSONPath([.key("c"), .key("d"), .index(1)]))?.description == "6:1")
    }
}

@Suite("JSON reader: numbers")
struct JSONNumberTests {
    @Test("isExact: the text says what its double holds", arguments: [
        ("0", true), ("-0.0", true), ("0e10", true), ("300", true), ("3e2", true), ("300.000", true), ("0.1", true),
        ("1e-7", true), ("123456789.123456", true), ("1.7976931348623157e308", true), ("100e-2", true),
        ("9007199254740992", true), ("123456789012345", true), ("1234567890123456789e-3", false),
        ("9007199254740993", false), ("0.10000000000000001", false), ("4999999999.9999999", false),
        ("12345678901234567890", false), ("1e400", false), ("0.30000000000000004", true), ("0.3000000000000000444", false),
        // Decided against event-ruler: 16 and 17 digits are exact only as the double's shortest text.
        ("123456789012345.67", true), ("1234567890123456.7", false), ("-122.41907965460651", false), ("-122.4190796546065", true),
        ("0.30000000000000005", false), ("100000000000000000000", true), ("1.00000000000000000000e20", true),
        ("12345678901234567000", true), ("1.2345678901234567e-300", false), ("1.2345678901234568e-300", true),
        ("2.2250738585072014e-308", true), ("4.9e-324", true), ("5e-324", false), ("4.94e-324", false), ("1.0000000000000001", false), ("0.1000000000000000055511151231257827", false),
    ])
    func isExact(_ text: String, _ expected: Bool) {
        #expect(JSONNumber(text: text).isExact == expected, "\(text)")
        #expect(JSONNumber(text: text).comparableValue.isNaN == !expected, "\(text)")
    }

    /// A decimal text's significant digits and the power of ten of the first, for comparing values.
    static func decimalValue(_ text: String) -> (digits: String, power: Int) {
        let lower = text.lowercased()
        let parts = lower.split(separator: "e", maxSplits: 1)
        var mantissa = String(parts[0])
        if mantissa.hasPrefix("-") { mantissa.removeFirst() }
        let exponent = parts.count > 1 ? Int(parts[1])! : 0
        let point = mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) } ?? mantissa.count
        var digits = mantissa.replacingOccurrences(of: ".", with: "")
        var power = point + exponent - 1
        while digits.hasPrefix("0") { digits.removeFirst(); power -= 1 }
        while digits.hasSuffix("0") { digits.removeLast() }
        return (digits, digits.isEmpty ? 0 : power)
    }

    @Test("isExact agrees with formatting the double's shortest text, on seeded random numbers of 15 to 19 digits")
    func isExactAgreesWithShortestText() {
        var random = SplitMix64(seed: 20_261_126)
        var checked = 0, exact = 0
        for _ in 0..<20_000 {
            // A double spread over many magnitudes, its shortest text, then that text nudged or extended.
            let x = Double(sign: .plus, exponent: random.below(160) - 80, significand: 1 + Double(random.next() >> 11) / Double(1 << 53))
            let shortest = x.description
            var text = shortest
            let digits = Self.decimalValue(shortest)
            switch random.below(4) {
            case 0: break
            case 1, 2:
                // The same value written with one digit more or less, or its last digit moved by one.
                var d = Array(digits.digits.utf8)
                if random.chance(50) && d.count < 19 { d.append(UInt8(ascii: "0") + UInt8(random.below(10))) }
                else { let i = d.count - 1; d[i] = d[i] == UInt8(ascii: "9") ? UInt8(ascii: "8") : d[i] + 1 }
                text = "0." + String(decoding: d, as: UTF8.self) + "e\(digits.power + 1)"
            default:
                // A 16- or 17-digit integer-looking text near 2^53.
                text = String(9_007_199_254_740_000 + UInt64(random.below(2_000)) * (random.chance(50) ? 1 : 10))
            }
            let number = JSONNumber(text: text)
            guard number.value.isFinite, number.value != 0 else { continue }
            let reference = Self.decimalValue(number.value.magnitude.description)
            let expected = Self.decimalValue(text) == reference
            #expect(number.isExact == expected, "\(text) reads as \(number.value)")
            checked += 1
            if expected { exact += 1 }
        }
        // Both answers must be well represented, or the test proves little.
        #expect(checked > 15_000 && exact > 3_000 && checked - exact > 3_000, "checked \(checked), exact \(exact)")
    }

    /// What the C library makes of `text`: the correctly rounded double.
    static func strtodValue(_ text: String) -> Double {
        text.withCString { strtod($0, nil) }
    }

    static let edgeTexts = [
        "0", "-0", "0.0", "-0.0", "0e0", "0E+10", "1", "-1", "0.1", "0.2", "0.3", "1e-400", "-1e-400", "1e400", "-1e400",
        "123456789012345678901234567890", "2.2250738585072014e-308", "2.2250738585072011e-308", "4.9e-324", "5e-324",
        "2.4703282292062327e-324", "2.4703282292062328e-324", "1.7976931348623157e308", "1.7976931348623158e308",
        "1.7976931348623159e308", "9007199254740992", "9007199254740993", "9007199254740995", "18014398509481985",
        "1e22", "1e23", "8.589973e9", "3.0e2", "300.0", "30000e-2", "1E-7", "0.000001", "1234567890.123456",
        "1234567890.1234561", "5000000000.000001", "0.1234567", "99999999999999999999999e-23", "100000000000000000000000",
        "7.038531e-26", "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124", "0.000000000000000000000000000000000000001",
        "123456789012345", "1234567890123456", "12345678901234567", "-9.999999999999999e22",
    ]

    @Test("parseDouble equals strtod on edge cases", arguments: edgeTexts)
    func edgeCase(_ text: String) throws {
        let expected = Self.strtodValue(text)
        let got = JSONNumber.parseDouble(text.utf8)
        #expect(got.bitPattern == expected.bitPattern, "\(text): got \(got), strtod \(expected)")
        #expect(try JSONParser.parse(text).numberValue?.value.bitPattern == expected.bitPattern)
    }

    @Test("parseDouble equals strtod on 20,000 random number texts")
    func randomTexts() {
        var rng = SplitMix64(seed: 0x00D0_0B1E)
        var failures: [String] = []
        for _ in 0..<20_000 {
            let text = Self.randomNumberText(&rng)
            let got = JSONNumber.parseDouble(text.utf8)
            let expected = Self.strtodValue(text)
            if got.bitPattern != expected.bitPattern, failures.count < 20 {
                failures.append("\(text): got \(got), strtod \(expected)")
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    /// A valid JSON number text: varied digit counts, fractions and exponents, biased to hard cases.
    static func randomNumberText(_ rng: inout SplitMix64) -> String {
        func digits(_ count: Int, _ rng: inout SplitMix64) -> String {
            String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &rng))) })
        }
        var text = Bool.random(using: &rng) ? "-" : ""
        if Int.random(in: 0..<5, using: &rng) == 0 {
            text += "0"
        } else {
            text += String(Int.random(in: 1...9, using: &rng)) + digits(Int.random(in: 0...22, using: &rng), &rng)
        }
        if Bool.random(using: &rng) {
            text += "." + digits(Int.random(in: 1...22, using: &rng), &rng)
        }
        if Bool.random(using: &rng) {
            text += ["e", "E"].randomElement(using: &rng)! + ["", "+", "-"].randomElement(using: &rng)!
            let magnitude = [Int.random(in: 0...25, using: &rng), Int.random(in: 0...330, using: &rng), Int.random(in: 280...400, using: &rng)]
            text += String(magnitude.randomElement(using: &rng)!)
        }
        return text
    }

    @Test("number text is kept; equality is by value")
    func textAndValue() throws {
        let a = try JSONParser.parse("3.0e2").numberValue
        let b = try JSONParser.parse("300").numberValue
        #expect(a?.text == "3.0e2" && b?.text == "300")
        #expect(a == b)
        #expect(a?.isIntegerLiteral == false && b?.isIntegerLiteral == true)
    }
}

@Suite("JSON reader: literal guesses in errors")
struct JSONLiteralGuessTests {
    @Test("a misspelt literal is guessed; a word that only starts like one is not", arguments: [
        ("nul", "(null?)"), ("[tru]", "(true?)"), ("fals", "(false?)"), ("not json", nil), ("fine", nil), ("t", nil),
    ] as [(String, String?)])
    func guesses(_ text: String, _ guess: String?) throws {
        let error = try #require(parseError(text))
        if let guess {
            #expect(error.message.contains(guess), "\(error.message)")
        } else {
            #expect(!error.message.contains("?)"), "\(error.message)")
        }
    }
}
