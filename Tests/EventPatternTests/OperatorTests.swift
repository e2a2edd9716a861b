import EventPattern
import Testing
import TriplineJSON

/// One pattern/event pair and whether the pattern must match the event.
struct MatchRow: Sendable, CustomTestStringConvertible {
    var pattern: String
    var event: String
    var expected: Bool

    init(_ pattern: String, _ event: String, _ expected: Bool) {
        self.pattern = pattern
        self.event = event
        self.expected = expected
    }

    var testDescription: String { "\(pattern) \(expected ? "matches" : "does not match") \(event)" }
}

/// Checks a row against both the reference interpreter and a `PatternMachine`.
func checkBothMatchers(_ row: MatchRow, sourceLocation: SourceLocation = #_sourceLocation) {
    let pattern: EventPattern
    do {
        pattern = try EventPattern.parse(row.pattern)
    } catch {
        Issue.record("pattern rejected: \(error)\n  pattern: \(row.pattern)", sourceLocation: sourceLocation)
        return
    }
    let verdict = DualVerdict(pattern: pattern, eventText: row.event)
    let context = "pattern: \(row.pattern)\n  event: \(row.event)\n  expected: \(row.expected ? "match" : "no match")\n  got: \(verdict)"
    #expect(verdict.reference == row.expected, "reference disagrees\n  \(context)", sourceLocation: sourceLocation)
    #expect(verdict.machineVerdict == row.expected, "machine disagrees\n  \(context)", sourceLocation: sourceLocation)
}

@Suite("Operators: exact values")
struct ExactOperatorTests {
    static let rows: [MatchRow] = [
        MatchRow(#"{"a":["x"]}"#, #"{"a":"x"}"#, true),
        MatchRow(#"{"a":["x"]}"#, #"{"a":"X"}"#, false),
        MatchRow(#"{"a":["x"]}"#, #"{"a":"xy"}"#, false),
        MatchRow(#"{"a":["x"]}"#, #"{"a":["y","x"]}"#, true),
        MatchRow(#"{"a":["x"]}"#, #"{}"#, false),
        MatchRow(#"{"a":["x"]}"#, #"{"a":null}"#, false),
        MatchRow(#"{"a":["x"]}"#, #"{"a":{"b":"x"}}"#, false),
        MatchRow(#"{"a":["x","y"]}"#, #"{"a":"y"}"#, true),
        MatchRow(#"{"a":[""]}"#, #"{"a":""}"#, true),
        MatchRow(#"{"a":[""]}"#, #"{"a":null}"#, false),
        MatchRow(#"{"a":[300]}"#, #"{"a":3e2}"#, true),
        MatchRow(#"{"a":[300]}"#, #"{"a":300.0}"#, true),
        MatchRow(#"{"a":[3.0e2]}"#, #"{"a":300}"#, true),
        MatchRow(#"{"a":[300]}"#, #"{"a":"300"}"#, false),
        MatchRow(#"{"a":["300"]}"#, #"{"a":300}"#, false),
        MatchRow(#"{"a":[1.5]}"#, #"{"a":15e-1}"#, true),
        MatchRow(#"{"a":[-0]}"#, #"{"a":0}"#, true),
        MatchRow(#"{"a":[true]}"#, #"{"a":true}"#, true),
        MatchRow(#"{"a":[true]}"#, #"{"a":"true"}"#, false),
        MatchRow(#"{"a":[false]}"#, #"{"a":true}"#, false),
        MatchRow(#"{"a":[null]}"#, #"{"a":null}"#, true),
        MatchRow(#"{"a":[null]}"#, #"{}"#, false),
        MatchRow(#"{"a":[null]}"#, #"{"a":"null"}"#, false),
        MatchRow(#"{"a":[null]}"#, #"{"a":[]}"#, false),
        MatchRow(#"{"a":["é"]}"#, #"{"a":"\u00e9"}"#, true),
        MatchRow(#"{"a":["\u00e9"]}"#, #"{"a":"é"}"#, true),
        // Bytes, not canonical equivalence: a decomposed é is a different string.
        MatchRow(#"{"a":["é"]}"#, #"{"a":"e\u0301"}"#, false),
        MatchRow(#"{"a":["😀"]}"#, #"{"a":"\ud83d\ude00"}"#, true),
        MatchRow(#"{"a":["x"],"b":["y"]}"#, #"{"a":"x","b":"y"}"#, true),
        MatchRow(#"{"a":["x"],"b":["y"]}"#, #"{"a":"x"}"#, false),
        MatchRow(#"{"a":{"b":["x"]}}"#, #"{"a":{"b":"x"}}"#, true),
        MatchRow(#"{"a":{"b":["x"]}}"#, #"{"a":{"c":"x"}}"#, false),
        MatchRow(#"{"a":{"b":{"c":["x"]}}}"#, #"{"a":{"b":{"c":"x"}},"z":1}"#, true),
        // Keys are joined with "." when the event is flattened, as event-ruler does.
        MatchRow(#"{"a":{"b":["x"]}}"#, #"{"a.b":"x"}"#, true),
        // Once every named child of an object was read, the rest is skipped, but for a key with a
        // dot, which may name a field below a child; a dotted key is not a child itself.
        MatchRow(#"{"a":{"b":["x"]},"c":["y"]}"#, #"{"c":"y","a":{"b":"z"},"a.b":"x"}"#, true),
        MatchRow(#"{"a":{"b":["x"],"e":["q"]},"c":["y"]}"#, #"{"a.b":"x","c":"y","a":{"e":"q"}}"#, true),
        MatchRow(#"{"a":{"b":["x"]},"c":["y"]}"#, #"{"c":"y","a":{"b":"x"},"z.q":"x","w":[1,{"v.u":2}]}"#, true),
        MatchRow(#"{"a":{"b":["x"]},"c":["y"]}"#, #"{"c":"y","a":{"b":"z"},"a.b":"z"}"#, false),
        // A dotted key is looked at where a name with children would end: first segments of other
        // lengths, earlier dots, names of 63 bytes and more, several levels, the empty name.
        MatchRow(#"{"ab":{"c":["x"]},"abc":{"d":["y"]}}"#, #"{"abc.d":"y","ab.c":"x"}"#, true),
        MatchRow(#"{"ab":{"c":["x"]}}"#, #"{"a.b.c":"x"}"#, false),
        MatchRow(#"{"ab":{"c":["x"]}}"#, #"{"abc":{"c":"x"},"ab.c.d":"x"}"#, false),
        MatchRow(#"{"ab":{"c":{"d":["x"]}}}"#, #"{"ab.c.d":"x"}"#, true),
        MatchRow(#"{"ab":{"c":{"d":["x"]}}}"#, #"{"ab.c":{"d":"x"}}"#, true),
        MatchRow(#"{"ab":{"c":{"d":["x"]}}}"#, #"{"ab":{"c.d":"x"}}"#, true),
        MatchRow(#"{"":{"b":["x"]}}"#, #"{".b":"x"}"#, true),
        MatchRow(#"{"LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL":{"b":["x"]}}"#, #"{"LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL.b":"x"}"#, true),
        MatchRow(#"{"LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL":{"b":["x"]}}"#, #"{"LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLM.b":"x"}"#, false),
        MatchRow(#"{"LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLM":{"b":["x"]},"LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL":{"c":["y"]}}"#, #"{"LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL.c":"y","LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLM.b":"x"}"#, true),
        // An empty key is a path segment of its own: {"": {"b": …}} is ".b", not "b".
        MatchRow(#"{"":["x"]}"#, #"{"":"x"}"#, true),
        MatchRow(#"{"":{"b":["x"]}}"#, #"{"":{"b":"x"}}"#, true),
        MatchRow(#"{"":{"b":["x"]}}"#, #"{"b":"x"}"#, false),
        MatchRow(#"{"b":["x"]}"#, #"{"":{"b":"x"}}"#, false),
        MatchRow(#"{"a":{"":["x"]}}"#, #"{"a":{"":"x"}}"#, true),
        MatchRow(#"{"a":{"":["x"]}}"#, #"{"a":"x"}"#, false),
        // Field names are compared whole: past their first eight bytes, escaped, dotted and escaped.
        MatchRow(#"{"requestParameters":["x"]}"#, #"{"requestParametersX":"x","requestParameterz":"x"}"#, false),
        MatchRow(#"{"requestParameters":["x"]}"#, #"{"requestParameterz":"y","requestParameters":"x"}"#, true),
        MatchRow(#"{"eventName":["x"]}"#, #"{"event\u004eame":"x"}"#, true),
        MatchRow(#"{"a":{"b":["x"]}}"#, #"{"a\u002eb":"x"}"#, true),
        MatchRow(#"{"abcdefgh":{"b":["x"]}}"#, #"{"abcdefgh.b":"x","abcdefg":{"b":"x"}}"#, true),
        MatchRow(#"{"abcdefgh":{"b":["x"]}}"#, #"{"abcdefgi.b":"x","abcdefg":{"b":"x"}}"#, false),
        // The last of duplicate pattern keys counts.
        MatchRow(#"{"a":["x"],"a":["y"]}"#, #"{"a":"y"}"#, true),
        MatchRow(#"{"a":["x"],"a":["y"]}"#, #"{"a":"x"}"#, false),
        // Exact values are looked up by their first and last eight bytes and length, then the
        // bytes between: keys of every length class, differing only where each class looks.
        MatchRow(#"{"a":["ab"]}"#, #"{"a":"ab"}"#, true),
        MatchRow(#"{"a":["ab"]}"#, #"{"a":"ac"}"#, false),
        MatchRow(#"{"a":["abcde"]}"#, #"{"a":"abXde"}"#, false),
        MatchRow(#"{"a":["abcdefghij"]}"#, #"{"a":"abcdefghij"}"#, true),
        MatchRow(#"{"a":["abcdefghij"]}"#, #"{"a":"abcdXfghij"}"#, false),
        MatchRow(#"{"a":["abcdefgh12345678X"]}"#, #"{"a":"abcdefgh12345678X"}"#, true),
        MatchRow(#"{"a":["abcdefgh12345678X"]}"#, #"{"a":"abcdefghY2345678X"}"#, false),
        MatchRow(#"{"a":["abcdefgh-middle-12345678"]}"#, #"{"a":"abcdefgh-middlE-12345678"}"#, false),
        MatchRow(#"{"a":[{"equals-ignore-case":"ABCDEFGH-middle-12345678"}]}"#, #"{"a":"abcdefgh-MIDDLE-12345678"}"#, true),
        MatchRow(#"{"a":[{"equals-ignore-case":"ABCDEFGH-middle-12345678"}]}"#, #"{"a":"abcdefgh-MIDDLX-12345678"}"#, false),
    ]

    @Test(arguments: rows) func exact(_ row: MatchRow) { checkBothMatchers(row) }
}

@Suite("Operators: prefix and suffix")
struct PrefixSuffixOperatorTests {
    static let rows: [MatchRow] = [
        MatchRow(#"{"a":[{"prefix":"ab"}]}"#, #"{"a":"abc"}"#, true),
        MatchRow(#"{"a":[{"prefix":"ab"}]}"#, #"{"a":"ab"}"#, true),
        MatchRow(#"{"a":[{"prefix":"ab"}]}"#, #"{"a":"a"}"#, false),
        MatchRow(#"{"a":[{"prefix":"ab"}]}"#, #"{"a":"xab"}"#, false),
        MatchRow(#"{"a":[{"prefix":"ab"}]}"#, #"{"a":"ABc"}"#, false),
        MatchRow(#"{"a":[{"prefix":"1"}]}"#, #"{"a":12}"#, false),
        MatchRow(#"{"a":[{"prefix":""}]}"#, #"{"a":""}"#, true),
        MatchRow(#"{"a":[{"prefix":""}]}"#, #"{"a":"x"}"#, true),
        MatchRow(#"{"a":[{"prefix":""}]}"#, #"{"a":null}"#, false),
        MatchRow(#"{"a":[{"prefix":"é"}]}"#, #"{"a":"été"}"#, true),
        MatchRow(#"{"a":[{"prefix":"ab"}]}"#, #"{"a":["x","abz"]}"#, true),
        MatchRow(#"{"a":[{"prefix":{"equals-ignore-case":"AB"}}]}"#, #"{"a":"abc"}"#, true),
        MatchRow(#"{"a":[{"prefix":{"equals-ignore-case":"AB"}}]}"#, #"{"a":"aBc"}"#, true),
        MatchRow(#"{"a":[{"prefix":{"equals-ignore-case":"AB"}}]}"#, #"{"a":"xab"}"#, false),
        MatchRow(#"{"a":[{"prefix":{"equals-ignore-case":"straß"}}]}"#, #"{"a":"STRASSE"}"#, true),
        MatchRow(#"{"a":[{"suffix":".png"}]}"#, #"{"a":"a.png"}"#, true),
        MatchRow(#"{"a":[{"suffix":".png"}]}"#, #"{"a":".png"}"#, true),
        MatchRow(#"{"a":[{"suffix":".png"}]}"#, #"{"a":"a.PNG"}"#, false),
        MatchRow(#"{"a":[{"suffix":".png"}]}"#, #"{"a":"a.png.jpg"}"#, false),
        MatchRow(#"{"a":[{"suffix":"5"}]}"#, #"{"a":15}"#, false),
        MatchRow(#"{"a":[{"suffix":{"equals-ignore-case":".PNG"}}]}"#, #"{"a":"a.png"}"#, true),
        MatchRow(#"{"a":[{"suffix":{"equals-ignore-case":".PNG"}}]}"#, #"{"a":"a.pnx"}"#, false),
        MatchRow(#"{"a":[{"suffix":"é"}]}"#, #"{"a":"café"}"#, true),
        // event-ruler reads a string with its quotes ("x"), a prefix as `"` + text, a suffix as text + `"`.
        MatchRow(#"{"a":[{"prefix":"x\""}]}"#, #"{"a":"x"}"#, true),
        MatchRow(#"{"a":[{"prefix":"x\""}]}"#, #"{"a":"x\"y"}"#, true),
        MatchRow(#"{"a":[{"prefix":"x\""}]}"#, #"{"a":"xy"}"#, false),
        MatchRow(#"{"a":[{"prefix":"\""}]}"#, #"{"a":""}"#, true),
        MatchRow(#"{"a":[{"prefix":"\""}]}"#, #"{"a":"a"}"#, false),
        MatchRow(#"{"a":[{"suffix":"\"x"}]}"#, #"{"a":"x"}"#, true),
        MatchRow(#"{"a":[{"suffix":"\"x"}]}"#, #"{"a":"yx"}"#, false),
        MatchRow(#"{"a":[{"prefix":{"equals-ignore-case":"X\""}}]}"#, #"{"a":"x"}"#, true),
        MatchRow(#"{"a":[{"suffix":{"equals-ignore-case":"\"X"}}]}"#, #"{"a":"x"}"#, true),
        MatchRow(#"{"a":[{"prefix":"5\""}]}"#, #"{"a":5}"#, false),
    ]

    @Test(arguments: rows) func prefixAndSuffix(_ row: MatchRow) { checkBothMatchers(row) }
}

@Suite("Operators: equals-ignore-case")
struct EqualsIgnoreCaseOperatorTests {
    static let rows: [MatchRow] = [
        MatchRow(#"{"a":[{"equals-ignore-case":"Alice"}]}"#, #"{"a":"alice"}"#, true),
        MatchRow(#"{"a":[{"equals-ignore-case":"Alice"}]}"#, #"{"a":"ALICE"}"#, true),
        MatchRow(#"{"a":[{"equals-ignore-case":"Alice"}]}"#, #"{"a":"aLiCe"}"#, true),
        // Only A-Z fold: the bytes just outside the range ('@' '[' '`' '{') differ from their
        // neighbours by the case bit but are not letters, in a value's first eight bytes and after.
        MatchRow(#"{"a":[{"equals-ignore-case":"@AZ[`az{@AZ[`az{"}]}"#, #"{"a":"@az[`AZ{@Az[`aZ{"}"#, true),
        MatchRow(#"{"a":[{"equals-ignore-case":"@AZ[`az{@AZ[`az{"}]}"#, #"{"a":"`az[`az{@az[`az{"}"#, false),
        MatchRow(#"{"a":[{"equals-ignore-case":"@AZ[`az{@AZ[`az{"}]}"#, #"{"a":"@az[`az{@az{`az{"}"#, false),
        MatchRow(#"{"a":[{"equals-ignore-case":"@AZ[`az{@AZ[`az{"}]}"#, #"{"a":"@az[`az{@az[`az["}"#, false),
        MatchRow(#"{"a":[{"equals-ignore-case":"Alice"}]}"#, #"{"a":"alic"}"#, false),
        MatchRow(#"{"a":[{"equals-ignore-case":"Alice"}]}"#, #"{"a":"alice "}"#, false),
        MatchRow(#"{"a":[{"equals-ignore-case":"5"}]}"#, #"{"a":5}"#, false),
        MatchRow(#"{"a":[{"equals-ignore-case":""}]}"#, #"{"a":""}"#, true),
        MatchRow(#"{"a":[{"equals-ignore-case":"straße"}]}"#, #"{"a":"STRASSE"}"#, true),
        MatchRow(#"{"a":[{"equals-ignore-case":"straße"}]}"#, #"{"a":"Straße"}"#, true),
        MatchRow(#"{"a":[{"equals-ignore-case":"Σ"}]}"#, #"{"a":"σ"}"#, true),
        // Greek final sigma does not fold.
        MatchRow(#"{"a":[{"equals-ignore-case":"σ"}]}"#, #"{"a":"ς"}"#, false),
        MatchRow(#"{"a":[{"equals-ignore-case":"é"}]}"#, #"{"a":"É"}"#, true),
        MatchRow(#"{"a":[{"equals-ignore-case":"İ"}]}"#, #"{"a":"İ"}"#, true),
        MatchRow(#"{"a":[{"equals-ignore-case":"İ"}]}"#, #"{"a":"I"}"#, false),
        // ASCII texts are looked up folded: a value with any non-ASCII byte cannot equal them.
        MatchRow(#"{"a":[{"equals-ignore-case":"k"}]}"#, #"{"a":"\u212A"}"#, false),
        MatchRow(#"{"a":[{"equals-ignore-case":"abc-1_Z"}]}"#, #"{"a":"ABC-1_z"}"#, true),
        MatchRow(#"{"a":[{"equals-ignore-case":"a@b"}]}"#, #"{"a":"A`B"}"#, false),
        MatchRow(#"{"a":[{"equals-ignore-case":"Abc"}, "x"]}"#, #"{"a":["q","aBC"]}"#, true),
    ]

    @Test(arguments: rows) func equalsIgnoreCase(_ row: MatchRow) { checkBothMatchers(row) }
}

@Suite("Operators: wildcard")
struct WildcardOperatorTests {
    static let rows: [MatchRow] = [
        MatchRow(#"{"a":[{"wildcard":"*.png"}]}"#, #"{"a":"a.png"}"#, true),
        MatchRow(#"{"a":[{"wildcard":"*.png"}]}"#, #"{"a":".png"}"#, true),
        MatchRow(#"{"a":[{"wildcard":"*.png"}]}"#, #"{"a":"a.jpg"}"#, false),
        MatchRow(#"{"a":[{"wildcard":"a*b*c"}]}"#, #"{"a":"abc"}"#, true),
        MatchRow(#"{"a":[{"wildcard":"a*b*c"}]}"#, #"{"a":"aXbYc"}"#, true),
        MatchRow(#"{"a":[{"wildcard":"a*b*c"}]}"#, #"{"a":"acb"}"#, false),
        MatchRow(#"{"a":[{"wildcard":"a*b*c"}]}"#, #"{"a":"abcb"}"#, false),
        MatchRow(#"{"a":[{"wildcard":"*a*"}]}"#, #"{"a":"bab"}"#, true),
        MatchRow(#"{"a":[{"wildcard":"*"}]}"#, #"{"a":""}"#, true),
        MatchRow(#"{"a":[{"wildcard":"*"}]}"#, #"{"a":5}"#, false),
        MatchRow(#"{"a":[{"wildcard":"ab"}]}"#, #"{"a":"ab"}"#, true),
        MatchRow(#"{"a":[{"wildcard":"ab"}]}"#, #"{"a":"abc"}"#, false),
        MatchRow(#"{"a":[{"wildcard":"a\\*b"}]}"#, #"{"a":"a*b"}"#, true),
        MatchRow(#"{"a":[{"wildcard":"a\\*b"}]}"#, #"{"a":"aXb"}"#, false),
        MatchRow(#"{"a":[{"wildcard":"a\\\\*"}]}"#, #"{"a":"a\\xyz"}"#, true),
        MatchRow(#"{"a":[{"wildcard":"a\\\\*"}]}"#, #"{"a":"axyz"}"#, false),
        MatchRow(#"{"a":[{"wildcard":"é*ß"}]}"#, #"{"a":"étaß"}"#, true),
        MatchRow(#"{"a":[{"wildcard":"*ab*ab*"}]}"#, #"{"a":"xabab"}"#, true),
        MatchRow(#"{"a":[{"wildcard":"*ab*ab*"}]}"#, #"{"a":"xaba"}"#, false),
        // Beside case-insensitive operators, each member still judged alone (event-ruler errs on these).
        MatchRow(#"{"a":[{"wildcard":"*a"},{"anything-but":{"equals-ignore-case":["b"]}}]}"#, #"{"a":"X"}"#, true),
        MatchRow(#"{"a":[{"wildcard":"*a"},{"anything-but":{"equals-ignore-case":["b"]}}]}"#, #"{"a":"B"}"#, false),
        MatchRow(#"{"a":[{"wildcard":"*a"},{"anything-but":{"equals-ignore-case":["b"]}}]}"#, #"{"a":"ba"}"#, true),
        MatchRow(#"{"a":[{"wildcard":"*x*"},{"equals-ignore-case":"é"}]}"#, #"{"a":"ǆ"}"#, false),
        MatchRow(#"{"a":[{"wildcard":"*x*"},{"equals-ignore-case":"é"}]}"#, #"{"a":"É"}"#, true),
        MatchRow(#"{"a":["xé",{"numeric":["<=",300]},{"equals-ignore-case":"ab"}]}"#, #"{"a":"xé"}"#, true),
        MatchRow(#"{"a":["xé",{"numeric":["<=",300]},{"equals-ignore-case":"ab"}]}"#, #"{"a":"AB"}"#, true),
        MatchRow(#"{"a":["xé",{"numeric":["<=",300]},{"equals-ignore-case":"ab"}]}"#, #"{"a":"XÉ"}"#, false),
        MatchRow(#"{"a":[{"wildcard":"*x*"},{"equals-ignore-case":"b"}]}"#, #"{"a":"a"}"#, false),
        MatchRow(#"{"$or":[{"a":[{"wildcard":"*\\**"}]},{"a":[{"equals-ignore-case":"I"}]}]}"#, #"{"a":"a\\c"}"#, false),
        MatchRow(#"{"$or":[{"a":[{"wildcard":"*\\**"}]},{"a":[{"equals-ignore-case":"I"}]}]}"#, #"{"a":"i"}"#, true),
        MatchRow(#"{"a":["abc",{"numeric":["<=",300]},{"suffix":"zz"}]}"#, #"{"a":"abc"}"#, true),
        MatchRow(#"{"a":["abc",{"numeric":["<=",300]},{"suffix":"zz"}]}"#, #"{"a":"xzz"}"#, true),
        MatchRow(#"{"a":["true",{"numeric":[">",-1,"<=",300]},{"prefix":"ab"}]}"#, #"{"a":"true"}"#, true),
        MatchRow(#"{"a":["true",{"numeric":[">",-1,"<=",300]},{"prefix":"ab"}]}"#, #"{"a":true}"#, false),
        MatchRow(#"{"a":["ı",{"numeric":["<",0.3]},"*"]}"#, #"{"a":"ı"}"#, true),
        MatchRow(#"{"a":["ı",{"numeric":["<",0.3]},"*"]}"#, #"{"a":0.2}"#, true),
        MatchRow(#"{"a":["ı",{"numeric":["<",0.3]},"*"]}"#, #"{"a":"x"}"#, false),
    ]

    @Test(arguments: rows) func wildcard(_ row: MatchRow) { checkBothMatchers(row) }
}

@Suite("Operators: anything-but")
struct AnythingButOperatorTests {
    static let rows: [MatchRow] = [
        MatchRow(#"{"a":[{"anything-but":"x"}]}"#, #"{"a":"y"}"#, true),
        MatchRow(#"{"a":[{"anything-but":"x"}]}"#, #"{"a":"x"}"#, false),
        MatchRow(#"{"a":[{"anything-but":"x"}]}"#, #"{"a":null}"#, true),
        MatchRow(#"{"a":[{"anything-but":"x"}]}"#, #"{"a":5}"#, true),
        MatchRow(#"{"a":[{"anything-but":"x"}]}"#, #"{}"#, false),
        MatchRow(#"{"a":[{"anything-but":"x"}]}"#, #"{"a":[]}"#, false),
        MatchRow(#"{"a":[{"anything-but":"x"}]}"#, #"{"a":["x","y"]}"#, true),
        MatchRow(#"{"a":[{"anything-but":"x"}]}"#, #"{"a":["x","x"]}"#, false),
        MatchRow(#"{"a":[{"anything-but":["x","y"]}]}"#, #"{"a":"z"}"#, true),
        MatchRow(#"{"a":[{"anything-but":["x","y"]}]}"#, #"{"a":"y"}"#, false),
        MatchRow(#"{"a":[{"anything-but":300}]}"#, #"{"a":3e2}"#, false),
        MatchRow(#"{"a":[{"anything-but":300}]}"#, #"{"a":301}"#, true),
        MatchRow(#"{"a":[{"anything-but":300}]}"#, #"{"a":"300"}"#, true),
        MatchRow(#"{"a":[{"anything-but":[1.0,2e0]}]}"#, #"{"a":2}"#, false),
        MatchRow(#"{"a":[{"anything-but":[1.0,2e0]}]}"#, #"{"a":3}"#, true),
        MatchRow(#"{"a":[{"anything-but":{"prefix":"ab"}}]}"#, #"{"a":"abc"}"#, false),
        MatchRow(#"{"a":[{"anything-but":{"prefix":"ab"}}]}"#, #"{"a":"xab"}"#, true),
        MatchRow(#"{"a":[{"anything-but":{"prefix":"ab"}}]}"#, #"{"a":5}"#, true),
        MatchRow(#"{"a":[{"anything-but":{"prefix":"ab"}}]}"#, #"{"a":null}"#, true),
        MatchRow(#"{"a":[{"anything-but":{"prefix":["a","b"]}}]}"#, #"{"a":"bx"}"#, false),
        MatchRow(#"{"a":[{"anything-but":{"prefix":["a","b"]}}]}"#, #"{"a":"cx"}"#, true),
        MatchRow(#"{"a":[{"anything-but":{"suffix":".png"}}]}"#, #"{"a":"a.png"}"#, false),
        MatchRow(#"{"a":[{"anything-but":{"suffix":".png"}}]}"#, #"{"a":"a.PNG"}"#, true),
        MatchRow(#"{"a":[{"anything-but":{"equals-ignore-case":["Alice","Bob"]}}]}"#, #"{"a":"ALICE"}"#, false),
        MatchRow(#"{"a":[{"anything-but":{"equals-ignore-case":["Alice","Bob"]}}]}"#, #"{"a":"carol"}"#, true),
        MatchRow(#"{"a":[{"anything-but":{"equals-ignore-case":"straße"}}]}"#, #"{"a":"STRASSE"}"#, false),
        MatchRow(#"{"a":[{"anything-but":{"wildcard":"*.png"}}]}"#, #"{"a":"a.png"}"#, false),
        MatchRow(#"{"a":[{"anything-but":{"wildcard":"*.png"}}]}"#, #"{"a":"a.jpg"}"#, true),
        MatchRow(#"{"a":[{"anything-but":{"wildcard":["*.png","*.gif"]}}]}"#, #"{"a":"b.gif"}"#, false),
        // The quoted-string reading of prefix and suffix (see prefixAndSuffix) holds for exclusions too.
        MatchRow(#"{"a":[{"anything-but":{"prefix":"x\""}}]}"#, #"{"a":"x"}"#, false),
        MatchRow(#"{"a":[{"anything-but":{"prefix":"x\""}}]}"#, #"{"a":"x\"z"}"#, false),
        MatchRow(#"{"a":[{"anything-but":{"prefix":"x\""}}]}"#, #"{"a":"xz"}"#, true),
        MatchRow(#"{"a":[{"anything-but":{"prefix":["x\"","b*\\"]}}]}"#, #"{"a":"b*\\q"}"#, false),
        MatchRow(#"{"a":[{"anything-but":{"prefix":["x\"","b*\\"]}}]}"#, #"{"a":"bq"}"#, true),
        MatchRow(#"{"a":[{"anything-but":{"suffix":"\"x"}}]}"#, #"{"a":"x"}"#, false),
        MatchRow(#"{"a":[{"anything-but":{"suffix":"\"x"}}]}"#, #"{"a":"yx"}"#, true),
        MatchRow(#"{"a":[{"anything-but":{"suffix":"\"x"}}]}"#, #"{"a":5}"#, true),
    ]

    @Test(arguments: rows) func anythingBut(_ row: MatchRow) { checkBothMatchers(row) }
}

/// Conditions checked only for candidates (a rule's other conditions once its most selective one
/// matched), in their compact forms: lists of strings and anything-but lists, by comparison.
@Suite("Operators: a rule's conditions beyond its trigger")
struct CandidateConditionTests {
    static let rows: [MatchRow] = [
        MatchRow(#"{"t":["x"],"a":["p","q","r"]}"#, #"{"t":"x","a":"q"}"#, true),
        MatchRow(#"{"t":["x"],"a":["p","q","r"]}"#, #"{"t":"x","a":"s"}"#, false),
        MatchRow(#"{"t":["x"],"a":["p","q","r"]}"#, #"{"t":"x","a":["s","r"]}"#, true),
        MatchRow(#"{"t":["x"],"a":["p","q","r"]}"#, #"{"t":"x","a":"\u0071"}"#, true),
        MatchRow(#"{"t":["x"],"a":["p","q","r"]}"#, #"{"t":"x","a":"qq"}"#, false),
        MatchRow(#"{"t":["x"],"a":["p","q","r"]}"#, #"{"t":"x","a":1}"#, false),
        MatchRow(#"{"t":["x"],"a":[{"anything-but":["p","q"]}]}"#, #"{"t":"x","a":"q"}"#, false),
        MatchRow(#"{"t":["x"],"a":[{"anything-but":["p","q"]}]}"#, #"{"t":"x","a":"z"}"#, true),
        MatchRow(#"{"t":["x"],"a":[{"anything-but":["p","q"]}]}"#, #"{"t":"x","a":"\u0070"}"#, false),
        MatchRow(#"{"t":["x"],"a":[{"anything-but":["p","q"]}]}"#, #"{"t":"x","a":5}"#, true),
        MatchRow(#"{"t":["x"],"a":[{"anything-but":["p","q"]}]}"#, #"{"t":"x","a":null}"#, true),
        MatchRow(#"{"t":["x"],"a":[{"anything-but":["p","q"]}]}"#, #"{"t":"x","a":true}"#, true),
        MatchRow(#"{"t":["x"],"a":[{"anything-but":["p","q"]}]}"#, #"{"t":"x"}"#, false),
        MatchRow(#"{"t":["x"],"a":[{"anything-but":["p","q"]}]}"#, #"{"t":"x","a":["q","z"]}"#, true),
        MatchRow(#"{"t":["x"],"a":[{"anything-but":["p","q"]}]}"#, #"{"t":"x","a":["q","p"]}"#, false),
        MatchRow(#"{"t":["x"],"a":[{"anything-but":["p"]},{"exists":false}]}"#, #"{"t":"x"}"#, true),
        MatchRow(#"{"t":["x"],"a":[{"anything-but":["p"]},{"exists":false}]}"#, #"{"t":"x","a":"p"}"#, false),
        MatchRow(#"{"t":["x"],"a":[{"anything-but":"p"}]}"#, #"{"t":"x","a":"p"}"#, false),
        MatchRow(#"{"t":["x"],"a":[{"anything-but":"p"}]}"#, #"{"t":"x","a":"pp"}"#, true),
        MatchRow(#"{"t":["x"],"a":[{"anything-but":["p"]}, {"exists":true}]}"#, #"{"t":"x","a":"p"}"#, true),
        MatchRow(#"{"t":["x"],"o":{"a":[{"anything-but":["p"]}],"b":["u","v"]}}"#, #"{"t":"x","o":[{"a":"p","b":"u"},{"a":"q","b":"w"}]}"#, false),
        MatchRow(#"{"t":["x"],"o":{"a":[{"anything-but":["p"]}],"b":["u","v"]}}"#, #"{"t":"x","o":[{"a":"p","b":"u"},{"a":"q","b":"v"}]}"#, true),
    ]

    @Test(arguments: rows) func candidateCondition(_ row: MatchRow) { checkBothMatchers(row) }
}

@Suite("Operators: numeric")
struct NumericOperatorTests {
    static let rows: [MatchRow] = [
        MatchRow(#"{"a":[{"numeric":[">",0]}]}"#, #"{"a":1}"#, true),
        MatchRow(#"{"a":[{"numeric":[">",0]}]}"#, #"{"a":0}"#, false),
        MatchRow(#"{"a":[{"numeric":[">",0]}]}"#, #"{"a":-0.0}"#, false),
        MatchRow(#"{"a":[{"numeric":[">",0]}]}"#, #"{"a":-1}"#, false),
        MatchRow(#"{"a":[{"numeric":[">",0]}]}"#, #"{"a":"1"}"#, false),
        MatchRow(#"{"a":[{"numeric":[">",0]}]}"#, #"{"a":1E-7}"#, true),
        MatchRow(#"{"a":[{"numeric":[">",0]}]}"#, #"{"a":true}"#, false),
        MatchRow(#"{"a":[{"numeric":[">=",0,"<",10]}]}"#, #"{"a":0}"#, true),
        MatchRow(#"{"a":[{"numeric":[">=",0,"<",10]}]}"#, #"{"a":10}"#, false),
        MatchRow(#"{"a":[{"numeric":[">=",0,"<",10]}]}"#, #"{"a":9.999}"#, true),
        MatchRow(#"{"a":[{"numeric":[">",0,"<=",5]}]}"#, #"{"a":5}"#, true),
        MatchRow(#"{"a":[{"numeric":[">",0,"<=",5]}]}"#, #"{"a":5.000001}"#, false),
        MatchRow(#"{"a":[{"numeric":["=",300]}]}"#, #"{"a":3e2}"#, true),
        MatchRow(#"{"a":[{"numeric":["=",300]}]}"#, #"{"a":300.000001}"#, false),
        MatchRow(#"{"a":[{"numeric":["<",-5]}]}"#, #"{"a":-5.5}"#, true),
        MatchRow(#"{"a":[{"numeric":["<=",-5]}]}"#, #"{"a":-5}"#, true),
        MatchRow(#"{"a":[{"numeric":["=",5.0e9]}]}"#, #"{"a":5000000000}"#, true),
        MatchRow(#"{"a":[{"numeric":["=",-5.0e9]}]}"#, #"{"a":-5000000000}"#, true),
        MatchRow(#"{"a":[{"numeric":[">",10]}]}"#, #"{"a":[1,20]}"#, true),
        MatchRow(#"{"a":[{"numeric":[">",10]}]}"#, #"{"a":[1,2]}"#, false),
        MatchRow(#"{"a":[{"numeric":[">",0.5,"<",0.75]}]}"#, #"{"a":0.625}"#, true),
        MatchRow(#"{"a":[{"numeric":[">",0]},{"numeric":["<",-10]}]}"#, #"{"a":-11}"#, true),
        MatchRow(#"{"a":[{"numeric":[">",0]},{"numeric":["<",-10]}]}"#, #"{"a":-1}"#, false),
        // An event number is compared only when its text says exactly what its double holds (the
        // double's shortest text, by value), as event-ruler decides: more digits than that are not a
        // number it can compare, so no range and no exact number matches them.
        MatchRow(#"{"a":[{"numeric":[">",5]}]}"#, #"{"a":9007199254740993}"#, false),
        MatchRow(#"{"a":[{"numeric":[">",5]}]}"#, #"{"a":9007199254740992}"#, true),
        MatchRow(#"{"a":[{"numeric":[">",5]}]}"#, #"{"a":12345678901234567890}"#, false),
        MatchRow(#"{"a":[{"numeric":[">",5]}]}"#, #"{"a":1234567890123456.7}"#, false),
        MatchRow(#"{"a":[{"numeric":[">",5]}]}"#, #"{"a":123456789012345.67}"#, true),
        MatchRow(#"{"a":[{"numeric":["<",0]}]}"#, #"{"a":-122.41907965460651}"#, false),
        MatchRow(#"{"a":[{"numeric":["<",0]}]}"#, #"{"a":-122.4190796546065}"#, true),
        MatchRow(#"{"a":[{"numeric":[">",5]}]}"#, #"{"a":100000000000000000000}"#, true),
        MatchRow(#"{"a":[5]}"#, #"{"a":5.00000000000000000001}"#, false),
        MatchRow(#"{"a":[5]}"#, #"{"a":5.000000000000000000000}"#, true),
        MatchRow(#"{"a":[{"anything-but":[9007199254740992]}]}"#, #"{"a":9007199254740993}"#, true),
        MatchRow(#"{"a":[{"numeric":["<",1]}]}"#, #"{"a":0.30000000000000004}"#, true),
        MatchRow(#"{"a":[{"numeric":["<",1]}]}"#, #"{"a":0.30000000000000005}"#, false),
        // An exact number in a pattern that says more than its double holds matches only event
        // numbers written the same way (event-ruler's text comparison), never by value.
        MatchRow(#"{"a":[9007199254740993]}"#, #"{"a":9007199254740993}"#, true),
        MatchRow(#"{"a":[9007199254740993]}"#, #"{"a":9007199254740992}"#, false),
        MatchRow(#"{"a":[9007199254740993]}"#, #"{"a":9007199254740993.0}"#, false),
        MatchRow(#"{"a":[9007199254740993]}"#, #"{"a":"9007199254740993"}"#, false),
        MatchRow(#"{"a":[1.0000000000000001]}"#, #"{"a":1}"#, false),
        MatchRow(#"{"a":[1.0000000000000001]}"#, #"{"a":[2, 1.0000000000000001]}"#, true),
        MatchRow(#"{"a":[12345678901234567890]}"#, #"{"a":12345678901234567000}"#, false),
        MatchRow(#"{"a":[1e400]}"#, #"{"a":1e400}"#, true),
        MatchRow(#"{"a":[1e400]}"#, #"{"a":1E400}"#, false),
        MatchRow(#"{"a":[9007199254740992]}"#, #"{"a":9007199254740992.0}"#, true),
        MatchRow(#"{"a":[9007199254740993], "b":["x"]}"#, #"{"a":9007199254740993, "b":"x"}"#, true),
        MatchRow(#"{"b":["x"], "a":[9007199254740993, 5]}"#, #"{"a":5.0, "b":"x"}"#, true),
        MatchRow(#"{"a":[{"numeric":[">",0]}]}"#, #"{"a":1e-300}"#, true),
    ]

    @Test(arguments: rows) func numeric(_ row: MatchRow) { checkBothMatchers(row) }
}

/// Conditions that are not a sub-rule's trigger are tested on demand, through compact tests for
/// single numbers, ranges, exact strings and prefixes, and through their own matcher otherwise.
/// Each row pairs the condition under test (on `a`) with an exact trigger on `t`.
@Suite("Operators: conditions tested on demand")
struct OnDemandConditionTests {
    static let rows: [MatchRow] = [
        // Beyond a double's range an event number is not compared (event-ruler's rule).
        MatchRow(#"{"A":["x"],"a":[{"numeric":[">",300]}]}"#, #"{"A":"x","a":1e400}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"numeric":["<",300]}]}"#, #"{"A":"x","a":-1e400}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"numeric":["<",300]}]}"#, #"{"A":"x","a":1e-400}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"anything-but":[300]}]}"#, #"{"A":"x","a":1e400}"#, true),
        MatchRow(#"{"A":["x"],"a":[0]}"#, #"{"A":"x","a":0.0e5}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"numeric":[">",0,"<",10]}]}"#, #"{"A":"x","a":10}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"numeric":[">=",0,"<=",10]}]}"#, #"{"A":"x","a":10}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"numeric":[">",0,"<=",10]}]}"#, #"{"A":"x","a":0}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"numeric":[">=",0,"<",10]}]}"#, #"{"A":"x","a":0}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"numeric":[">",0]}]}"#, #"{"A":"x","a":"5"}"#, false),
        MatchRow(#"{"A":["x"],"a":[300]}"#, #"{"A":"x","a":3e2}"#, true),
        MatchRow(#"{"A":["x"],"a":[300]}"#, #"{"A":"x","a":"300"}"#, false),
        MatchRow(#"{"A":["x"],"a":["300"]}"#, #"{"A":"x","a":300}"#, false),
        MatchRow(#"{"A":["x"],"a":["caf\u00e9"]}"#, #"{"A":"x","a":"café"}"#, true),
        MatchRow(#"{"A":["x"],"a":["café"]}"#, #"{"A":"x","a":"caf\u00e9"}"#, true),
        MatchRow(#"{"A":["x"],"a":["ab"]}"#, #"{"A":"x","a":"abc"}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"prefix":"ab"}]}"#, #"{"A":"x","a":"abc"}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"prefix":"ab"}]}"#, #"{"A":"x","a":"a"}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"prefix":"a\"b"}]}"#, #"{"A":"x","a":"a\"bc"}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"prefix":""}]}"#, #"{"A":"x","a":""}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"prefix":"ab"}]}"#, #"{"A":"x","a":["zz","abz"]}"#, true),
        MatchRow(#"{"A":["x"],"a":[true]}"#, #"{"A":"x","a":true}"#, true),
        MatchRow(#"{"A":["x"],"a":[null]}"#, #"{"A":"x","a":false}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"anything-but":"y"}]}"#, #"{"A":"x","a":"y"}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"anything-but":"y"}]}"#, #"{"A":"x","a":5}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"anything-but":"y"}, 5]}"#, #"{"A":"x","a":"y"}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"anything-but":{"prefix":"y"}}]}"#, #"{"A":"x","a":"yes"}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"exists":true}]}"#, #"{"A":"x","a":null}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"exists":false}]}"#, #"{"A":"x"}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"exists":false}, "q"]}"#, #"{"A":"x","a":"q"}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"suffix":"z"}]}"#, #"{"A":"x","a":"buzz"}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"equals-ignore-case":"ABC"}]}"#, #"{"A":"x","a":"aBc"}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"cidr":"10.0.0.0/8"}]}"#, #"{"A":"x","a":"10.1.2.3"}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"wildcard":"a*c"}]}"#, #"{"A":"x","a":"abbc"}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"wildcard":"a*c"}]}"#, #"{"A":"x","a":"ac"}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"wildcard":"a*c"}]}"#, #"{"A":"x","a":"abcd"}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"wildcard":"*b*d*"}]}"#, #"{"A":"x","a":"abcde"}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"wildcard":"a*b*b"}]}"#, #"{"A":"x","a":"ab"}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"wildcard":"a\\*b"}]}"#, #"{"A":"x","a":"a*b"}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"suffix":"z"}]}"#, #"{"A":"x","a":"zb"}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"suffix":"é"}]}"#, #"{"A":"x","a":"caf\u00e9"}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"cidr":"10.0.0.0/8"}]}"#, #"{"A":"x","a":"11.1.2.3"}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"cidr":"10.0.0.0/8"}]}"#, #"{"A":"x","a":["11.1.2.3","10.9.9.9"]}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"cidr":"2001:db8::/32"}]}"#, #"{"A":"x","a":"2001:db8::1"}"#, true),
        MatchRow(#"{"A":["x"],"a":[{"cidr":"2001:db8::/32"}]}"#, #"{"A":"x","a":"10.0.0.1"}"#, false),
        MatchRow(#"{"A":["x"],"a":[{"cidr":"10.0.0.0/8"}]}"#, #"{"A":"x","a":"not an address"}"#, false),
    ]

    @Test(arguments: rows) func onDemand(_ row: MatchRow) { checkBothMatchers(row) }
}

@Suite("Operators: exists")
struct ExistsOperatorTests {
    static let rows: [MatchRow] = [
        MatchRow(#"{"a":[{"exists":true}]}"#, #"{"a":"x"}"#, true),
        MatchRow(#"{"a":[{"exists":true}]}"#, #"{"a":null}"#, true),
        MatchRow(#"{"a":[{"exists":true}]}"#, #"{"a":0}"#, true),
        MatchRow(#"{"a":[{"exists":true}]}"#, #"{"a":[null]}"#, true),
        MatchRow(#"{"a":[{"exists":true}]}"#, #"{"a":[]}"#, false),
        MatchRow(#"{"a":[{"exists":true}]}"#, #"{"a":{}}"#, false),
        // Only leaves exist: an object counts as absent.
        MatchRow(#"{"a":[{"exists":true}]}"#, #"{"a":{"b":1}}"#, false),
        MatchRow(#"{"a":[{"exists":true}]}"#, #"{}"#, false),
        MatchRow(#"{"a":[{"exists":false}]}"#, #"{}"#, true),
        MatchRow(#"{"a":[{"exists":false}]}"#, #"{"a":"x"}"#, false),
        MatchRow(#"{"a":[{"exists":false}]}"#, #"{"a":null}"#, false),
        MatchRow(#"{"a":[{"exists":false}]}"#, #"{"a":[]}"#, true),
        MatchRow(#"{"a":[{"exists":false}]}"#, #"{"a":{}}"#, true),
        MatchRow(#"{"a":[{"exists":false}]}"#, #"{"a":{"b":1}}"#, true),
        MatchRow(#"{"a":{"b":[{"exists":false}]}}"#, #"{"a":{"c":1}}"#, true),
        MatchRow(#"{"a":{"b":[{"exists":false}]}}"#, #"{"a":{"b":1}}"#, false),
        MatchRow(#"{"x":["1"],"a":[{"exists":false}]}"#, #"{"x":"1"}"#, true),
        MatchRow(#"{"x":["1"],"a":[{"exists":false}]}"#, #"{"x":"2"}"#, false),
        MatchRow(#"{"x":["1"],"a":[{"exists":false}]}"#, #"{"x":"1","a":"y"}"#, false),
        // exists:false next to another value: absent, or present and matching.
        MatchRow(#"{"a":[{"exists":false},"y"]}"#, #"{}"#, true),
        MatchRow(#"{"a":[{"exists":false},"y"]}"#, #"{"a":"y"}"#, true),
        MatchRow(#"{"a":[{"exists":false},"y"]}"#, #"{"a":"z"}"#, false),
    ]

    @Test(arguments: rows) func exists(_ row: MatchRow) { checkBothMatchers(row) }
}

@Suite("Operators: cidr")
struct CIDROperatorTests {
    static let rows: [MatchRow] = [
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/24"}]}"#, #"{"a":"10.0.0.1"}"#, true),
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/24"}]}"#, #"{"a":"10.0.0.255"}"#, true),
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/24"}]}"#, #"{"a":"10.0.1.1"}"#, false),
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/24"}]}"#, #"{"a":"not an ip"}"#, false),
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/24"}]}"#, #"{"a":" 10.0.0.1"}"#, false),
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/24"}]}"#, #"{"a":"10.0.0.1/32"}"#, false),
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/24"}]}"#, #"{"a":10}"#, false),
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/24"}]}"#, #"{"a":null}"#, false),
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/24"}]}"#, #"{"a":["1.1.1.1","10.0.0.9"]}"#, true),
        MatchRow(#"{"a":[{"cidr":"0.0.0.0/0"}]}"#, #"{"a":"1.2.3.4"}"#, true),
        MatchRow(#"{"a":[{"cidr":"10.1.2.3/8"}]}"#, #"{"a":"10.200.0.1"}"#, true),
        MatchRow(#"{"a":[{"cidr":"2001:db8::/32"}]}"#, #"{"a":"2001:db8::1"}"#, true),
        MatchRow(#"{"a":[{"cidr":"2001:db8::/32"}]}"#, #"{"a":"2001:DB8:0:0:0:0:0:1"}"#, true),
        MatchRow(#"{"a":[{"cidr":"2001:db8::/32"}]}"#, #"{"a":"2001:db9::1"}"#, false),
        MatchRow(#"{"a":[{"cidr":"2001:db8::/32"}]}"#, #"{"a":"10.0.0.1"}"#, false),
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/8"}]}"#, #"{"a":"2001:db8::1"}"#, false),
        // Addresses are read as event-ruler (Java's InetAddress) reads them.
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/8"}]}"#, #"{"a":"0010.0.0.1"}"#, true),
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/8"}]}"#, #"{"a":"010.000.000.001"}"#, true),
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/8"}]}"#, #"{"a":"0010.000.000.001"}"#, false),   // over 15 characters
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/8"}]}"#, #"{"a":"10.0.0.256"}"#, false),
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/8"}]}"#, #"{"a":"::ffff:a00:1"}"#, true),        // IPv4-mapped: the IPv4 address
        MatchRow(#"{"a":[{"cidr":"10.0.0.0/8"}]}"#, #"{"a":"::ffff:10.0.0.1"}"#, false),    // a dotted tail is not an address
        MatchRow(#"{"a":[{"cidr":"::/0"}]}"#, #"{"a":"::ffff:10.0.0.1"}"#, false),
        MatchRow(#"{"a":[{"cidr":"2001:db8::/32"}]}"#, #"{"a":"2001:db8:0:0:0:0:0:00001"}"#, true),  // a group is its value
        MatchRow(#"{"a":[{"cidr":"2001:db8::/32"}]}"#, #"{"a":"2001:db8:0:0:0:0:0:10000"}"#, false),
        MatchRow(#"{"a":[{"cidr":"2001:db8::/32"}]}"#, #"{"a":"2001:db8::1::2"}"#, false),
        MatchRow(#"{"a":[{"cidr":"2001:db8::/32"}]}"#, #"{"a":"2001:db8:1:"}"#, false),
        MatchRow(#"{"a":[{"cidr":"::/0"}]}"#, #"{"a":":1::2"}"#, false),
        MatchRow(#"{"a":[{"cidr":"::/0"}]}"#, #"{"a":"::"}"#, true),
        // A block takes addresses of its own family only, never numbers (event-ruler's /0 blocks take both).
        MatchRow(#"{"a":[{"cidr":"::/0"}]}"#, #"{"a":300}"#, false),
        MatchRow(#"{"a":[{"cidr":"0.0.0.0/0"}]}"#, #"{"a":123456789.123456}"#, false),
        MatchRow(#"{"a":[{"cidr":"::/0"}]}"#, #"{"a":"192.168.4.4"}"#, false),
        MatchRow(#"{"a":[{"cidr":"::/0"}]}"#, #"{"a":"1:2:3:4:5:6:7::"}"#, true),
        MatchRow(#"{"a":[{"cidr":"::/0"}]}"#, #"{"a":"1:2:3:4:5:6:7:8::"}"#, false),
        MatchRow(#"{"a":[{"cidr":"::/0"}]}"#, #"{"a":"1:2:3:4:5:6:7"}"#, false),
    ]

    @Test(arguments: rows) func cidr(_ row: MatchRow) { checkBothMatchers(row) }
}

@Suite("Operators: exact strings that are IP addresses")
struct ExactAddressTests {
    /// An exact string that reads as an IP address matches every spelling of that address, as
    /// event-ruler compiles it (to a one-address range); other strings match only themselves.
    static let rows: [MatchRow] = [
        MatchRow(#"{"a":["10.0.0.1"]}"#, #"{"a":"10.0.0.1"}"#, true),
        MatchRow(#"{"a":["10.0.0.1"]}"#, #"{"a":"010.0.0.001"}"#, true),
        MatchRow(#"{"a":["0010.0.0.1"]}"#, #"{"a":"10.0.0.1"}"#, true),
        MatchRow(#"{"a":["10.0.0.1"]}"#, #"{"a":"10.0.0.2"}"#, false),
        MatchRow(#"{"a":["10.0.0.1"]}"#, #"{"a":["x","10.00.0.1"]}"#, true),
        MatchRow(#"{"a":["10.0.0.1"]}"#, #"{"a":10}"#, false),
        MatchRow(#"{"a":["2001:db8::ff"]}"#, #"{"a":"2001:DB8:0:0::FF"}"#, true),
        MatchRow(#"{"a":["::"]}"#, #"{"a":"0:0::0"}"#, true),
        MatchRow(#"{"a":["::ffff:a00:1"]}"#, #"{"a":"10.0.0.1"}"#, true),
        MatchRow(#"{"a":["10.0.0.1", "x"]}"#, #"{"a":"x"}"#, true),
        // Not addresses: compared as text.
        MatchRow(#"{"a":["300.0.0.1"]}"#, #"{"a":"300.0.0.1"}"#, true),
        MatchRow(#"{"a":["::ffff:10.0.0.1"]}"#, #"{"a":"::ffff:10.0.0.1"}"#, true),
        MatchRow(#"{"a":["::ffff:10.0.0.1"]}"#, #"{"a":"::FFFF:10.0.0.1"}"#, false),
        MatchRow(#"{"a":["1::2::3"]}"#, #"{"a":"1::2::3"}"#, true),
        // Only exact values: anything-but and prefix compare text.
        MatchRow(#"{"a":[{"anything-but":"10.0.0.1"}]}"#, #"{"a":"010.0.0.1"}"#, true),
        MatchRow(#"{"a":[{"prefix":"10.0.0.1"}]}"#, #"{"a":"010.0.0.1"}"#, false),
    ]

    @Test(arguments: rows) func exactAddress(_ row: MatchRow) { checkBothMatchers(row) }
}

@Suite("Operators: $or")
struct OrOperatorTests {
    static let rows: [MatchRow] = [
        MatchRow(#"{"$or":[{"a":["x"]},{"b":["y"]}]}"#, #"{"a":"x"}"#, true),
        MatchRow(#"{"$or":[{"a":["x"]},{"b":["y"]}]}"#, #"{"b":"y"}"#, true),
        // Branches that test one field, one of them with null: either branch suffices (event-ruler
        // sometimes misses these, differently from run to run).
        MatchRow(#"{"k":["k",{"numeric":["<",0.3]}],"$or":[{"a":["x"]},{"a":[null]}]}"#, #"{"k":"k","a":"x"}"#, true),
        MatchRow(#"{"k":["k",{"numeric":["<",0.3]}],"$or":[{"a":["x"]},{"a":[null]}]}"#, #"{"k":"k","a":null}"#, true),
        MatchRow(#"{"k":["k",{"numeric":["<",0.3]}],"$or":[{"a":["x"]},{"a":[null]}]}"#, #"{"k":"k","a":"y"}"#, false),
        MatchRow(#"{"k":["k",{"numeric":["<",0.3]}],"$or":[{"a":["x"]},{"a":[null]}]}"#, #"{"k":"k"}"#, false),
        MatchRow(#"{"c":{"$or":[{"a.b":["x"]},{"a.b":[null]}]}}"#, #"{"c":{"a":true,"a.b":"x"}}"#, true),
        MatchRow(#"{"$or":[{"a":["x"]},{"b":["y"]}]}"#, #"{"c":"z"}"#, false),
        MatchRow(#"{"s":["s"],"$or":[{"a":[{"numeric":[">",5]}]},{"b":[{"prefix":"p"}]}]}"#, #"{"s":"s","b":"pq"}"#, true),
        MatchRow(#"{"s":["s"],"$or":[{"a":[{"numeric":[">",5]}]},{"b":[{"prefix":"p"}]}]}"#, #"{"s":"t","a":6}"#, false),
        MatchRow(#"{"d":{"$or":[{"a":["x"]},{"b":["y"]}]}}"#, #"{"d":{"b":"y"}}"#, true),
        MatchRow(#"{"d":{"$or":[{"a":["x"]},{"b":["y"]}]}}"#, #"{"b":"y"}"#, false),
        MatchRow(#"{"$or":[{"a":[{"exists":false}]},{"b":["y"]}]}"#, #"{"c":1}"#, true),
        MatchRow(#"{"$or":[{"a":[{"exists":false}]},{"b":["y"]}]}"#, #"{"a":1,"b":"z"}"#, false),
        MatchRow(#"{"$or":[{"a":["1"]},{"$or":[{"b":["2"]},{"c":["3"]}]}]}"#, #"{"c":"3"}"#, true),
        MatchRow(#"{"$or":[{"a":["1"],"b":["2"]},{"c":["3"]}]}"#, #"{"a":"1"}"#, false),
        MatchRow(#"{"$or":[{"a":["1"],"b":["2"]},{"c":["3"]}]}"#, #"{"a":"1","b":"2"}"#, true),
        // A field literally named "$or" whose list holds no objects is an ordinary field.
        MatchRow(#"{"$or":["x"]}"#, #"{"$or":"x"}"#, true),
        // Operator names are field names outside "$or" alternatives (inside them, refused).
        MatchRow(#"{"prefix":["abc"],"$or":[{"a":["1"]},{"b":["2"]}]}"#, #"{"prefix":"abc","b":"2"}"#, true),
        MatchRow(#"{"prefix":["abc"],"$or":[{"a":["1"]},{"b":["2"]}]}"#, #"{"prefix":"abd","b":"2"}"#, false),
    ]

    @Test(arguments: rows) func or(_ row: MatchRow) { checkBothMatchers(row) }
}

@Suite("Operators: canonically equivalent text stays distinct")
struct CanonicalEquivalenceTests {
    /// Matching compares bytes; Swift's String equality would call these pairs equal (the Kelvin
    /// sign and "K", precomposed and decomposed "é") and merge the conditions that name them.
    static let rows: [MatchRow] = [
        MatchRow(#"{"a":["K","\u212a"]}"#, #"{"a":"\u212a"}"#, true),
        MatchRow(#"{"a":["\u212a","K"]}"#, #"{"a":"K"}"#, true),
        MatchRow(#"{"a":["\u212a"]}"#, #"{"a":"K"}"#, false),
        MatchRow(#"{"a":["\u00e9","e\u0301"]}"#, #"{"a":"e\u0301"}"#, true),
        MatchRow(#"{"a":["\u00e9"]}"#, #"{"a":"e\u0301"}"#, false),
        MatchRow(#"{"\u00e9":["x"],"e\u0301":["y"]}"#, #"{"e\u0301":"y","\u00e9":"x"}"#, true),
        MatchRow(#"{"\u00e9":["x"],"e\u0301":["y"]}"#, #"{"e\u0301":"x"}"#, false),
        MatchRow(#"{"\u00e9":["x"]}"#, #"{"e\u0301":"x"}"#, false),
        MatchRow(#"{"a":[{"anything-but":["K"]}],"b":[{"anything-but":["\u212a"]}]}"#, #"{"a":"\u212a","b":"K"}"#, true),
        MatchRow(#"{"a":[{"prefix":"K"},{"prefix":"\u212a"}]}"#, #"{"a":"\u212ax"}"#, true),
        MatchRow(#"{"a":[{"anything-but":["K","\u212a"]}]}"#, #"{"a":"\u212a"}"#, false),
        MatchRow(#"{"a":[{"anything-but":["K","\u212a"]},{"prefix":"zz"}]}"#, #"{"a":"\u212a"}"#, false),
        MatchRow(#"{"a":[{"anything-but":["\u212a","K"]},{"prefix":"zz"}]}"#, #"{"a":"K"}"#, false),
        MatchRow(#"{"a":[{"anything-but":{"prefix":["K","\u212a"]}},{"prefix":"zz"}]}"#, #"{"a":"\u212ax"}"#, false),
        MatchRow(#"{"a":[{"anything-but":{"equals-ignore-case":["\u00e9","e\u0301"]}},{"prefix":"zz"}]}"#, #"{"a":"E\u0301"}"#, false),
        MatchRow(#"{"\u00e9":["x"],"$or":[{"e\u0301":["y"]},{"b":["x"]}]}"#, #"{"e\u0301":"y","\u00e9":"x"}"#, true),
    ]

    @Test(arguments: rows) func canonicallyEquivalent(_ row: MatchRow) { checkBothMatchers(row) }
}

@Suite("Operators: a field named twice (document order decides)")
struct RepeatedFieldTests {
    /// As event-ruler compiles a pattern: each leaf writes its condition to its dotted path, a later
    /// write replaces an earlier one, and `$or` copies what came before it into every alternative.
    static let rows: [MatchRow] = [
        MatchRow(#"{"c":["x"],"$or":[{"c":["y"]},{"d":["z"]}]}"#, #"{"c":"y"}"#, true),
        MatchRow(#"{"c":["x"],"$or":[{"c":["y"]},{"d":["z"]}]}"#, #"{"c":"x","d":"z"}"#, true),
        MatchRow(#"{"c":["x"],"$or":[{"c":["y"]},{"d":["z"]}]}"#, #"{"c":"x"}"#, false),
        MatchRow(#"{"c":["x"],"$or":[{"c":["y"]},{"d":["z"]}]}"#, #"{"c":["x","y"]}"#, true),
        MatchRow(#"{"$or":[{"c":["y"]},{"d":["z"]}],"c":["x"]}"#, #"{"c":"y"}"#, false),
        MatchRow(#"{"$or":[{"c":["y"]},{"d":["z"]}],"c":["x"]}"#, #"{"c":"x"}"#, true),
        MatchRow(#"{"a":{"c":["x"]},"$or":[{"a":{"c":["y"]}},{"d":["z"]}]}"#, #"{"a":{"c":"y"}}"#, true),
        MatchRow(#"{"a":{"c":["x"]},"$or":[{"a":{"b":["y"]}},{"d":["z"]}]}"#, #"{"a":{"b":"y"}}"#, false),
        MatchRow(#"{"a":{"c":["x"],"$or":[{"c":["y"]},{"d":["z"]}]}}"#, #"{"a":{"c":"y"}}"#, true),
        // Dotted keys name the same path as nesting.
        MatchRow(#"{"a":{"b":["x"]},"a.b":["y"]}"#, #"{"a":{"b":"y"}}"#, true),
        MatchRow(#"{"a.b":["y"],"a":{"b":["x"]}}"#, #"{"a":{"b":"y"}}"#, false),
        // Repeated keys: leaves replace, objects merge, `$or` groups multiply.
        MatchRow(#"{"a":["x"],"a":["y"]}"#, #"{"a":"y"}"#, true),
        MatchRow(#"{"a":["x"],"a":["y"]}"#, #"{"a":"x"}"#, false),
        MatchRow(#"{"a":{"b":["x"]},"a":{"c":["y"]}}"#, #"{"a":{"c":"y"}}"#, false),
        MatchRow(#"{"a":{"b":["x"]},"a":{"c":["y"]}}"#, #"{"a":{"b":"x","c":"y"}}"#, true),
        MatchRow(#"{"a":["x"],"a":{"b":["y"]}}"#, #"{"a":{"b":"y"}}"#, false),
        MatchRow(#"{"$or":[{"a":["1"]},{"b":["1"]}],"$or":[{"c":["1"]},{"d":["1"]}]}"#, #"{"c":"1"}"#, false),
        MatchRow(#"{"$or":[{"a":["1"]},{"b":["1"]}],"$or":[{"c":["1"]},{"d":["1"]}]}"#, #"{"b":"1","c":"1"}"#, true),
    ]

    @Test(arguments: rows) func repeatedField(_ row: MatchRow) { checkBothMatchers(row) }
}

@Suite("Operators: arrays")
struct ArrayMatchingTests {
    static let rows: [MatchRow] = [
        MatchRow(#"{"a":["x"]}"#, #"{"a":[["x"]]}"#, true),
        MatchRow(#"{"a":["x"]}"#, #"{"a":[[],["y",["x"]]]}"#, true),
        MatchRow(#"{"a":{"b":["x"]}}"#, #"{"a":[{"b":["y","x"]}]}"#, true),
        // Fields inside objects must come from the same array element.
        MatchRow(#"{"e":{"f":["Anna"],"l":["Jones"]}}"#, #"{"e":[{"f":"Anna","l":"Smith"},{"f":"Bob","l":"Jones"}]}"#, false),
        MatchRow(#"{"e":{"f":["Anna"],"l":["Jones"]}}"#, #"{"e":[{"f":"Bob","l":"Smith"},{"f":"Anna","l":"Jones"}]}"#, true),
        // Different arrays do not constrain each other.
        MatchRow(#"{"a":{"x":["1"]},"b":{"y":["2"]}}"#, #"{"a":[{"x":"1"}],"b":[{"y":"2"}]}"#, true),
        MatchRow(#"{"a":{"b":{"c":["1"],"d":["2"]}}}"#, #"{"a":[{"b":[{"c":"1"},{"d":"2"}]}]}"#, false),
        MatchRow(#"{"a":{"b":{"c":["1"],"d":["2"]}}}"#, #"{"a":[{"b":[{"c":"1","d":"2"}]}]}"#, true),
        MatchRow(#"{"a":{"b":{"c":["1"],"d":["2"]}}}"#, #"{"a":[{"b":[{"c":"1"}]},{"b":[{"d":"2"}]}]}"#, false),
        // Outer array element shared, inner elements independent arrays.
        MatchRow(#"{"a":{"b":["1"],"c":["2"]}}"#, #"{"a":[{"b":["0","1"],"c":["2","3"]}]}"#, true),
        MatchRow(#"{"a":{"x":["1"],"y":[{"exists":false}]}}"#, #"{"a":[{"x":"1","y":"2"},{"x":"1"}]}"#, true),
        MatchRow(#"{"a":{"x":["1"],"y":[{"exists":false}]}}"#, #"{"a":[{"x":"1","y":"2"},{"x":"3"}]}"#, false),
        MatchRow(#"{"a":{"x":["1"]},"t":["k"]}"#, #"{"a":[{"x":"0"},{"x":"1"}],"t":"k"}"#, true),
        MatchRow(#"{"a":[{"exists":true}]}"#, #"{"a":[[],[]]}"#, false),
    ]

    @Test(arguments: rows) func arrays(_ row: MatchRow) { checkBothMatchers(row) }
}

/// One commonly mistaken pattern and what its error message must say.
struct ValidationRow: Sendable, CustomTestStringConvertible {
    var pattern: String
    /// The JSON path the message must name.
    var path: String
    /// A phrase of the expectation the message must contain.
    var message: String

    init(_ pattern: String, path: String, _ message: String) {
        self.pattern = pattern
        self.path = path
        self.message = message
    }

    var testDescription: String { pattern }
}

@Suite("Validation messages")
struct ValidationMessageTests {
    static let rows: [ValidationRow] = [
        ValidationRow(#"{"detail":{"eventName":["a", {"numeric": "x"}]}}"#, path: "detail.eventName[1].numeric", #""numeric" needs an array"#),
        ValidationRow(#"{"source": "aws.ec2"}"#, path: "source", "expected an array of values"),
        ValidationRow(#"{"source": []}"#, path: "source", "empty arrays are not allowed"),
        ValidationRow(#"{"detail": {}}"#, path: "detail", "empty objects are not allowed"),
        ValidationRow(#"["x"]"#, path: "", "a pattern must be a JSON object"),
        ValidationRow(#"{"a": [["x"]]}"#, path: "a[0]", "cannot contain an array"),
        ValidationRow(#"{"a": [{"prefix": 5}]}"#, path: "a[0].prefix", #""prefix" needs a string"#),
        ValidationRow(#"{"a": [{"suffix": ["x"]}]}"#, path: "a[0].suffix", #""suffix" needs a string"#),
        ValidationRow(#"{"a": [{"contains": "x"}]}"#, path: "a[0].contains", #"unknown operator "contains""#),
        ValidationRow(#"{"a": [{"Prefix": "x"}]}"#, path: "a[0].Prefix", #"unknown operator "Prefix""#),
        ValidationRow(#"{"a": [{"prefix": "x", "suffix": "y"}]}"#, path: "a[0]", "exactly one operator"),
        ValidationRow(#"{"a": [{"prefix": "x", "prefix": "y"}]}"#, path: "a[0].prefix", #"duplicate key "prefix""#),
        ValidationRow(#"{"a": [{"exists": false, "x": 1}]}"#, path: "a[0].x", #"unknown operator "x""#),
        ValidationRow(#"{"a": [{"anything-but": {"prefix": "a"}, "x": 1}]}"#, path: "a[0].x", #"unknown operator "x""#),
        ValidationRow(#"{"a": [{"numeric": ["<", 0.10000000000000001]}]}"#, path: "a[0].numeric[1]", "more precision than that keeps"),
        ValidationRow(#"{"a": [{"anything-but": [1, 9007199254740993]}]}"#, path: "a[0].anything-but[1]", "more precision than that keeps"),
        ValidationRow(#"{"a": [{"anything-but": 9007199254740993}]}"#, path: "a[0].anything-but", "more precision than that keeps"),
        ValidationRow(#"{"a": [{"prefix": {"equals-ignore-case": "x", "equals-ignore-case": "y"}}]}"#, path: "a[0].prefix.equals-ignore-case",
                      #"duplicate key "equals-ignore-case""#),
        ValidationRow(#"{"a": [{"cidr": "::ffff:0:0/96"}]}"#, path: "a[0].cidr", "is an IPv4-mapped IPv6 address, which is matched as the IPv4 address"),
        ValidationRow(#"{"a": [{"cidr": "::ffff:10.0.0.0/104"}]}"#, path: "a[0].cidr", "valid IPv4 or IPv6 address"),
        ValidationRow(#"{"a": [{}]}"#, path: "a[0]", "needs exactly one operator"),
        ValidationRow(#"{"a": [{"numeric": [">", 5, "<", 1]}]}"#, path: "a[0].numeric", "must be less than the upper bound"),
        ValidationRow(#"{"a": [{"numeric": ["=", "5"]}]}"#, path: "a[0].numeric[1]", "must be followed by a number"),
        ValidationRow(#"{"a": [{"numeric": ["!=", 5]}]}"#, path: "a[0].numeric[0]", #"unknown comparison "!=""#),
        ValidationRow(#"{"a": [{"numeric": [">", 5, ">", 6]}]}"#, path: "a[0].numeric[2]", #"a range ends with "<" or "<=""#),
        ValidationRow(#"{"a": [{"numeric": []}]}"#, path: "a[0].numeric", "the array is empty"),
        ValidationRow(#"{"a": [{"numeric": ["=", 5, "=", 5]}]}"#, path: "a[0].numeric", #"cannot be part of a range, so ["=",5,"=",5] has too many elements"#),
        ValidationRow(#"{"a": [{"numeric": [">", 1, "=", 5]}]}"#, path: "a[0].numeric", "allowed are [op, number]"),
        ValidationRow(#"{"a": [{"numeric": [">", 1e-400]}]}"#, path: "a[0].numeric[1]", "1e-400 is outside the range EventBridge accepts"),
        ValidationRow(#"{"a": [{"anything-but": -1E-400}]}"#, path: "a[0].anything-but", "-1E-400 is outside the range EventBridge accepts"),
        ValidationRow(#"{"a": [{"anything-but": [1, 2e-999]}]}"#, path: "a[0].anything-but[1]", "too close to 0"),
        ValidationRow(#"{"a": [{"anything-but": {"prefix": ""}}]}"#, path: "a[0].anything-but.prefix", #""anything-but" "prefix" cannot be empty"#),
        ValidationRow(#"{"a": [{"anything-but": {"suffix": ""}}]}"#, path: "a[0].anything-but.suffix", #""anything-but" "suffix" cannot be empty"#),
        ValidationRow(#"{"a": [{"anything-but": {"prefix": ["x", ""]}}]}"#, path: "a[0].anything-but.prefix[1]", "every string starts with"),
        ValidationRow(#"{"a": [{"anything-but": {"suffix": ["", "x"]}}]}"#, path: "a[0].anything-but.suffix[0]", "every string ends with"),
        ValidationRow(#"{"a": [{"wildcard": "a**b"}]}"#, path: "a[0].wildcard", "consecutive '*'"),
        ValidationRow(#"{"a": [{"wildcard": "a\\b"}]}"#, path: "a[0].wildcard", "invalid escape"),
        ValidationRow(#"{"a": [{"cidr": "10.0.0.0"}]}"#, path: "a[0].cidr", "'/'"),
        ValidationRow(#"{"a": [{"cidr": "10.0.0.0/33"}]}"#, path: "a[0].cidr", "prefix length from 0 to 32"),
        ValidationRow(#"{"a": [{"cidr": "10.0.300.0/8"}]}"#, path: "a[0].cidr", "valid IPv4 or IPv6 address"),
        ValidationRow(#"{"a": [{"exists": "yes"}]}"#, path: "a[0].exists", #""exists" needs true or false"#),
        ValidationRow(#"{"a": [{"anything-but": ["x", 1]}]}"#, path: "a[0].anything-but[1]", "not a mix: got 1 in a list of strings"),
        ValidationRow(#"{"a": [{"anything-but": [1, 2, "b"]}]}"#, path: "a[0].anything-but[2]", #"not a mix: got "b" in a list of numbers"#),
        ValidationRow(#"{"a": [{"anything-but": []}]}"#, path: "a[0].anything-but", "non-empty list"),
        ValidationRow(#"{"a": [{"anything-but": {"numeric": [">", 1]}}]}"#, path: "a[0].anything-but.numeric", #""numeric" is not supported inside "anything-but""#),
        ValidationRow(#"{"a": [{"equals-ignore-case": 1}]}"#, path: "a[0].equals-ignore-case", #""equals-ignore-case" needs a string"#),
        ValidationRow(#"{"a": [{"prefix": {"wildcard": "x*"}}]}"#, path: "a[0].prefix.wildcard", #"not supported inside "prefix""#),
        ValidationRow(#"{"$or": [{"a": ["x"]}]}"#, path: "$or", #""$or" needs at least two"#),
        ValidationRow(#"{"$or": [{"a": ["x"]}, {}]}"#, path: "$or[1]", #"each "$or" alternative must be a non-empty pattern object"#),
        // event-ruler refuses operator names as field names inside "$or" (at any depth of an alternative).
        ValidationRow(#"{"$or": [{"prefix": ["abc"]}, {"b": ["y"]}]}"#, path: "$or[0].prefix", #""prefix" is an operator name"#),
        ValidationRow(#"{"$or": [{"a": {"numeric": ["x"]}}, {"b": ["y"]}]}"#, path: "$or[0].a.numeric", #""numeric" is an operator name"#),
        ValidationRow(#"{"a": {"$or": [{"b": ["1"]}, {"c": {"$or": [{"d": ["1"]}, {">=": ["2"]}]}}]}}"#, path: #"a.$or[1].c.$or[1][">="]"#, #"">=" is an operator name"#),
        ValidationRow(#"{"a": ["x"]"#, path: "", "not valid JSON"),
    ]

    @Test(arguments: rows) func messageNamesPathAndExpectation(_ row: ValidationRow) {
        do {
            _ = try EventPattern.parse(row.pattern)
            Issue.record("accepted an invalid pattern: \(row.pattern)")
        } catch {
            let text = error.description
            if !row.path.isEmpty {
                #expect(text.contains("\(row.path): "), "message does not name \(row.path): \(text)")
            }
            #expect(text.contains(row.message), "message lacks “\(row.message)”: \(text)")
        }
    }

    @Test("errors carry file:line:column of the offending value")
    func errorLocation() {
        let text = """
            {
              "detail": {
                "eventName": ["a", {"numeric": "x"}]
              }
            }
            """
        do {
            _ = try EventPattern.parse(text, file: "rules/p.json")
            Issue.record("accepted an invalid pattern")
        } catch {
            #expect(error.description.hasPrefix("rules/p.json:3:36: detail.eventName[1].numeric: "), "\(error)")
        }
    }

    @Test("every problem is reported, in document order")
    func allProblems() {
        let text = #"{"a": [{"prefix": 1}], "b": {"c": []}, "d": [{"exists": 1}]}"#
        guard case .failure(let errors) = EventPattern.validate(text: Array(text.utf8)) else {
            Issue.record("accepted an invalid pattern")
            return
        }
        #expect(errors.errors.map(\.path.description) == ["a[0].prefix", "b.c", "d[0].exists"])
    }

    @Test("the $or combination limit (1000) is enforced", arguments: [([10, 10, 10], true), ([10, 10, 11], false)])
    func orCombinationLimit(groupSizes: [Int], valid: Bool) {
        // One "$or" group per nesting level (one object holds one "$or"); they multiply.
        func group(_ size: Int) -> String {
            #""$or":["# + (0..<size).map { #"{"k":["\#($0)"]}"# }.joined(separator: ",") + "]"
        }
        let text = "{" + group(groupSizes[0]) + #","x":{"# + group(groupSizes[1]) + #","y":{"# + group(groupSizes[2]) + "}}}"
        switch EventPattern.validate(text: Array(text.utf8)) {
        case .success(let pattern):
            #expect(valid, "accepted \(pattern.branches.count) combinations")
            #expect(pattern.branches.count == groupSizes.reduce(1, *))
        case .failure(let errors):
            #expect(!valid, "\(errors)")
            #expect(errors.description.contains("at most 1000"), "\(errors)")
        }
    }
}

/// Subtrees whose fields only non-trigger conditions name are skipped (validated) while reading
/// and walked only when a candidate needs one of their fields: every row has a trigger outside
/// the subtree (`t`, or `o.k`) and conditions inside it.
@Suite("Operators: conditions inside subtrees read on demand")
struct DeferredSubtreeTests {
    static let rows: [MatchRow] = [
        MatchRow(#"{"t":["x"],"r":{"b":[{"prefix":"u"}]}}"#, #"{"t":"x","r":{"b":"uu"}}"#, true),
        MatchRow(#"{"t":["x"],"r":{"b":[{"prefix":"u"}]}}"#, #"{"t":"y","r":{"b":"uu"}}"#, false),
        MatchRow(#"{"t":["x"],"r":{"b":[{"prefix":"u"}]}}"#, #"{"t":"x","r":{"b":"vu"}}"#, false),
        MatchRow(#"{"t":["x"],"r":{"b":[{"prefix":"u"}]}}"#, #"{"r":{"b":"uu"},"t":"x"}"#, true),
        MatchRow(#"{"t":["x"],"r":{"b":[{"prefix":"u"}]}}"#, #"{"t":"x","r":{"zz":{"b":"u"},"b":"u1"}}"#, true),
        MatchRow(#"{"t":["x"],"r":{"b":[{"prefix":"u"}]}}"#, #"{"t":"x","r":{"zz":{"b":"u"},"b":"w"}}"#, false),
        MatchRow(#"{"t":["x"],"r":{"b":[{"prefix":"u"}]}}"#, #"{"t":"x","r.b":"u"}"#, true),
        MatchRow(#"{"t":["x"],"r":{"b":[{"prefix":"u"}]}}"#, #"{"t":"x","r":{"b":"v"},"r.b":"u"}"#, true),
        MatchRow(#"{"t":["x"],"r":{"b":[{"prefix":"u"}]}}"#, #"{"t":"x","r":"uu"}"#, false),
        MatchRow(#"{"t":["x"],"r":{"b":[{"prefix":"u"}]}}"#, #"{"t":"x","r":[{"b":"v"},{"b":"u2"}]}"#, true),
        MatchRow(#"{"t":["x"],"r":{"b":[{"prefix":"u"}]}}"#, #"{"t":"x","r":[[{"b":"v"}],[[{"b":"u2"}]]]}"#, true),
        MatchRow(#"{"t":["x"],"r":{"b":[{"exists":false}]}}"#, #"{"t":"x","r":{"c":1}}"#, true),
        MatchRow(#"{"t":["x"],"r":{"b":[{"exists":false}]}}"#, #"{"t":"x","r":{"b":1}}"#, false),
        MatchRow(#"{"t":["x"],"r":{"b":[{"exists":false}]}}"#, #"{"t":"x"}"#, true),
        MatchRow(#"{"t":["x"],"r":{"b":[{"exists":false}]}}"#, #"{"t":"x","r":[{"c":1},{"b":null}]}"#, false),
        MatchRow(#"{"t":["x"],"r":{"s":{"b":[{"suffix":"u"}]},"c":[{"numeric":[">",1]}]}}"#, #"{"t":"x","r":{"c":2,"s":{"b":"au"}}}"#, true),
        MatchRow(#"{"t":["x"],"r":{"s":{"b":[{"suffix":"u"}]},"c":[{"numeric":[">",1]}]}}"#, #"{"t":"x","r":{"c":1,"s":{"b":"au"}}}"#, false),
        MatchRow(#"{"t":["x"],"r":{"s":{"b":[{"suffix":"u"}]},"c":[{"numeric":[">",1]}]}}"#, #"{"t":"x","r":{"c":2,"s":{"b":"ua"}}}"#, false),
        MatchRow(#"{"t":["x"],"r":{"a":[{"prefix":"p"}],"b":[{"prefix":"u"}]}}"#, #"{"t":"x","r":[{"a":"p","b":"w"},{"a":"q","b":"u"}]}"#, false),
        MatchRow(#"{"t":["x"],"r":{"a":[{"prefix":"p"}],"b":[{"prefix":"u"}]}}"#, #"{"t":"x","r":[{"a":"q"},{"a":"p","b":"u"}]}"#, true),
        MatchRow(#"{"o":{"k":["1"],"r":{"b":[{"prefix":"u"}]}}}"#, #"{"o":[{"k":"1","r":{"b":"w"}},{"k":"2","r":{"b":"u"}}]}"#, false),
        MatchRow(#"{"o":{"k":["1"],"r":{"b":[{"prefix":"u"}]}}}"#, #"{"o":[{"k":"2","r":{"b":"w"}},{"k":"1","r":{"b":"u"}}]}"#, true),
        MatchRow(#"{"o":{"k":["1"],"r":{"b":[{"prefix":"u"}]}}}"#, #"{"o":[{"k":"1","r":[{"b":"w"},{"b":"u"}]}]}"#, true),
        MatchRow(#"{"t":["x"],"r":{"b":[{"prefix":"u"}]},"q":{"c":[{"exists":true}]}}"#, #"{"t":"x","q":{"c":1},"r":{"b":"u"}}"#, true),
        MatchRow(#"{"t":["x"],"r":{"b":[{"prefix":"u"}]},"q":{"c":[{"exists":true}]}}"#, #"{"t":"x","q":{"d":1},"r":{"b":"u"}}"#, false),
    ]

    @Test(arguments: rows) func deferredSubtree(_ row: MatchRow) { checkBothMatchers(row) }

    @Test("a skipped subtree is still validated: errors in it fail the event whether or not a rule needs it", arguments: [
        #"{"t":"x","r":{"b":"u","b":"v"}}"#,
        #"{"t":"y","r":{"b":"u","b":"v"}}"#,
        #"{"t":"x","r":{"c":[1,2,]}}"#,
        #"{"t":"x","r":{"c":"\ud800"}}"#,
        #"{"t":"x","r":{"c":[[[[[[[[[[[[1]]]]]]]]]]]]}}"#,
    ])
    func skippedSubtreeErrors(_ event: String) throws {
        let machine = PatternMachine([(1, try EventPattern.parse(#"{"t":["x"],"r":{"b":[{"prefix":"u"}]}}"#))])
        var scratch = MatchScratch(maxDepth: 8)
        let bytes = Array(event.utf8)
        #expect(throws: JSONError.self) {
            try bytes.withUnsafeBufferPointer { try machine.matches(event: $0, scratch: &scratch) }
        }
    }
}
