import SeededRandom
import Testing
import TriplineJSON

/// `JSONWriter.isCompactCanonical`: true exactly for documents the writer would write back byte for
/// byte, so a caller that compacts by parsing and writing again may copy them instead.
@Suite("JSONWriter.isCompactCanonical")
struct CompactCanonicalTests {
    /// What compacting by parsing and writing again makes of `bytes` (nil: not a document the parser reads).
    private func rewritten(_ bytes: [UInt8]) -> [UInt8]? {
        (try? JSONParser.parse(bytes)).map { JSONWriter.bytes($0) }
    }

    @Test("the writer's own output is canonical: events, notifications, escapes, numbers as written, empty containers")
    func writerOutputIsCanonical() throws {
        let texts = [
            #"{"version":"0","id":"x","detail":{"eventName":"PutObject","n":-1.50e+3,"ok":true,"none":null,"list":[1,"two",{},[]]}}"#,
            #"{"Type":"Notification","Message":"{\"a\":\"b\\\\c\"}","tab":"a\tb\nc\rd","ctl":"\u0001\u001f\u0000","uni":"é☃😀"}"#,
            #"[]"#, #"{}"#, #""text""#, #"12"#, #"true"#, #"null"#,
        ]
        for text in texts {
            let value = try JSONParser.parse(Array(text.utf8))
            let written = JSONWriter.bytes(value)
            #expect(JSONWriter.isCompactCanonical(written), "\(text)")
            #expect(rewritten(written) == written)
        }
    }

    @Test("whatever it accepts, parsing and writing gives back unchanged; whatever parsing and writing changes, it refuses")
    func agreesWithParseAndWrite() {
        let deep = String(repeating: "[", count: JSONLimits.defaultMaxDepth) + String(repeating: "]", count: JSONLimits.defaultMaxDepth)
        let tooDeep = String(repeating: "[", count: JSONLimits.defaultMaxDepth + 1) + String(repeating: "]", count: JSONLimits.defaultMaxDepth + 1)
        var texts: [[UInt8]] = [
            #"{"a":1}"#, #"{"a": 1}"#, #" {"a":1}"#, #"{"a":1} "#, "{\"a\":1}\n", #"{"a":1,"a":2}"#, #"{"a":1,"b":{"a":2}}"#,
            #"{"a":"\/"}"#, #"{"a":"\b\f"}"#, #"{"a":"\u0041"}"#, #"{"a":"\u00e9"}"#, #"{"a":"\u001F"}"#, #"{"a":"\u001f"}"#,
            #"{"a":"\u000a"}"#, #"{"a":"\u0009"}"#, #"{"a":"\u000d"}"#, #"{"a":"\u0022"}"#, #"{"a":"\u005c"}"#, #"{"a":"\ud83d\ude00"}"#,
            #"{"a":"\ud83d"}"#, #"{"a":"\n\r\t\"\\"}"#, #"{"a":"x"#, #"{"a":1,}"#, #"[1,2,]"#, #"[01]"#, #"[1.]"#, #"[-]"#, #"[1e5,-0,0.5E-3]"#,
            #"nul"#, #"{"a":1}{"b":2}"#, #"{"a":1}x"#, #"""#, #""\"#, "", "not json", deep, tooDeep,
        ].map { Array($0.utf8) }
        texts.append([0xEF, 0xBB, 0xBF] + Array(#"{"a":1}"#.utf8))
        texts.append(Array(#"{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8))   // invalid UTF-8
        texts.append(Array(#"{"a":""#.utf8) + [0xFF] + Array(#""}"#.utf8))
        texts.append(Array(#"{"a":""#.utf8) + [0x01] + Array(#""}"#.utf8))          // raw control character
        texts.append(Array(#"{"a":""#.utf8) + [0xE2, 0x98, 0x83] + Array(#""}"#.utf8))
        for text in texts {
            let canonical = JSONWriter.isCompactCanonical(text)
            let again = rewritten(text)
            #expect(canonical == (again == text), "\(String(decoding: text, as: UTF8.self)): canonical \(canonical), rewritten \(again.map { String(decoding: $0, as: UTF8.self) } ?? "nil")")
        }
    }

    @Test("seeded mutations of canonical documents: it accepts exactly those that parsing and writing leaves unchanged")
    func mutationsAgree() {
        var random = SplitMix64(seed: 0x5eed_cafe)
        let bases = [
            #"{"a":"x\ty","b":[1,-2.5e3,true,null,{"c":"\u0001"}],"d":{"e":"é"}}"#,
            #"{"Type":"Notification","Message":"{\"k\":\"v\"}","n":0}"#,
        ].map { Array($0.utf8) }
        let alphabet: [UInt8] = Array(#" \"u01aAfF{}[],:eE.-+/nrtb"#.utf8) + [0x0A, 0x09, 0x00, 0x1F, 0xC3, 0xA9, 0x80, 0xFF]
        var accepted = 0
        for _ in 0..<4000 {
            var text = random.pick(bases)
            for _ in 0...random.below(3) {
                let at = random.below(text.count + 1)
                switch random.below(3) {
                case 0: text.insert(random.pick(alphabet), at: at)
                case 1: if at < text.count { text[at] = random.pick(alphabet) }
                default: if at < text.count { text.remove(at: at) }
                }
            }
            let canonical = JSONWriter.isCompactCanonical(text)
            if canonical { accepted += 1 }
            #expect(canonical == (rewritten(text) == text), "\(text)")
        }
        #expect(accepted > 50, "the mutations keep some canonical documents (\(accepted))")
    }
}
