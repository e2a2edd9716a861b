import Foundation
import SeededRandom
import Testing
import TriplineJSON
@testable import TriplineRouter

/// Normalizes `text` both ways (scan, tree); nil when they agree, else what differs.
private func disagreement(_ text: [UInt8]) -> String? {
    let origin = EventOrigin(source: "t.json", position: .record(1))
    let scanning = EventNormalizer()
    var building = EventNormalizer()
    building.usesRecordScan = false
    let raw = RawEvent(bytes: text, origin: origin)
    let a = scanning.normalize(raw, ingestionTime: "2024-01-01T00:00:00Z")
    let b = building.normalize(raw, ingestionTime: "2024-01-01T00:00:00Z")
    switch (a, b) {
    case (.success(let x), .success(let y)):
        if x.bytes != y.bytes { return "bytes: \(String(decoding: x.bytes, as: UTF8.self)) vs \(String(decoding: y.bytes, as: UTF8.self))" }
        if x.id != y.id { return "id: \(x.id) vs \(y.id)" }
        if x.isReadOnlyManagementEvent != y.isReadOnlyManagementEvent { return "read-only: \(x.isReadOnlyManagementEvent) vs \(y.isReadOnlyManagementEvent)" }
        if x.envelope != y.envelope { return "envelope differs" }
        return nil
    case (.failure(let x), .failure(let y)):
        return x.description == y.description ? nil : "errors: \(x) vs \(y)"
    default:
        return "one failed: \(a) vs \(b)"
    }
}

/// A one-line record from the tests' fixtures (real CloudTrail, see Fixtures/LICENSE-NOTE.md).
private let fixtureLines: [[UInt8]] = {
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/cloudtrail-records.ndjson")
    guard let data = FileManager.default.contents(atPath: file.path) else { return [] }
    return [UInt8](data).split(separator: UInt8(ascii: "\n")).map(Array.init)
}()

/// Seeded record texts with the shapes the scan reads and the ones it must decline.
private struct RecordTextGenerator {
    var random: SplitMix64

    mutating func string() -> String {
        random.pick([#""plain""#, #""é日本""#, #""q\"uote""#, #""back\\slash""#, #""line\nbreak""#, #""ctl\u0001""#, #""ctl\u001F""#,
                     #""tab\t""#, #""slash\/""#, #""\u00e9scaped""#, #""\u0041""#, #""""#, #""\b\f""#, #""\ud83d\ude00""#])
    }

    mutating func scalar() -> String {
        random.pick([string(), "1", "-0", "1.0", "1e5", "1E+5", "0.10", "true", "false", "null", "[]", "{}"])
    }

    mutating func value(for key: String) -> String {
        if random.chance(15) { return scalar() }
        switch key {
        case "eventSource": return random.pick([#""sts.amazonaws.com""#, #""iam.amazonaws.com""#, #""s3""#, #""""#, #""sts.amazonaws.co\u006d""#])
        case "eventName": return random.pick([#""GetSessionToken""#, #""GetFederationToken""#, #""GetCallerIdentity""#, #""ConsoleLogin""#])
        case "eventType": return random.pick([#""AwsApiCall""#, #""AwsConsoleSignIn""#, #""AwsServiceEvent""#, #""AwsVpceEvent""#])
        case "eventTime": return random.pick([#""2024-03-01T10:00:00Z""#, #""2024-03-01 10:00:00""#, #""...""#, #""2024-03-01T10:00:00.5+02:00""#])
        case "userIdentity":
            return random.pick([#"{"type":"IAMUser","accountId":"111122223333"}"#, #"{"accountId":5}"#, #"{"acc\u006funtId":"222"}"#,
                                #"{"a":{"b":[1,{"accountId":"deep"}]},"accountId":"333"}"#, "[]", "{}", #"{"accountId":"\u0031"}"#])
        case "resources":
            return random.pick(["[]", #"[{"ARN":"arn:1"},{"arn":"x"},{"ARN":5},"str",{"ARN":"a","x":{"y":[1]}}]"#, #""notarray""#,
                                #"{"ARN":"x"}"#, #"[{"A\u0052N":"escaped"},[],null]"#])
        case "readOnly": return random.pick(["true", "false", #""true""#, "null"])
        case "managementEvent": return random.pick(["true", "false", "0"])
        case "eventCategory": return random.pick([#""Management""#, #""Data""#, "null", "5", #""Manag\u0065ment""#])
        case "requestParameters": return random.pick([#"{"policy":"{\"Version\":\"2012\"}","n":[1,2.5,-3e-2]}"#, "null", #"{"k":{"k":{"k":[]}}}"#])
        default: return scalar()
        }
    }

    mutating func record() -> [UInt8] {
        var keys = ["eventVersion", "eventSource", "eventName", "eventType", "eventTime", "awsRegion", "recipientAccountId", "userIdentity",
                    "resources", "readOnly", "managementEvent", "eventCategory", "requestParameters", "eventID"].filter { _ in random.chance(70) }
        if random.chance(5) { keys.append(random.pick(["source", "detail", "detail-type", "logFiles", "digestEndTime", "id"])) }
        keys.shuffle(using: &random)
        let spaced = random.chance(15)
        var members = keys.map { key -> String in
            let name = random.chance(3) ? key.replacingOccurrences(of: "e", with: #"\u0065"#) : key
            return "\"\(name)\"" + (spaced ? ": " : ":") + value(for: key)
        }
        if random.chance(3), let first = members.first { members.append(first) }   // a duplicate key
        var text = "{" + members.joined(separator: spaced ? ", " : ",") + "}"
        if random.chance(3) { text = " " + text + " \r" }
        var bytes = Array(text.utf8)
        if random.chance(2) { bytes = [0xEF, 0xBB, 0xBF] + bytes }
        if random.chance(8), !bytes.isEmpty {
            // Damage: a byte changed, or the text cut short.
            let at = random.below(bytes.count)
            if random.chance(50) { bytes[at] = random.pick([UInt8(ascii: "\""), UInt8(ascii: "}"), 0x0A, 0xFF, UInt8(ascii: "\\")]) } else { bytes = Array(bytes[..<at]) }
        }
        return bytes
    }
}

@Suite("Wrapping one-line CloudTrail records from a scan of their text gives what the tree gives")
struct CloudTrailRecordScanTests {
    @Test("every fixture record, compact as CloudTrail writes it, takes the scan and gives the tree's event")
    func fixtures() throws {
        try #require(fixtureLines.count >= 10)
        for line in fixtureLines {
            // (Fixture lines are written compactly; the scan must not decline them, or the test below proves little.)
            let wrapped = EventNormalizer.wrapOneLineRecord(RawEvent(bytes: line, origin: EventOrigin(source: "t.json", position: .record(1))),
                                                            ingestionTime: "2024-01-01T00:00:00Z", maxEventBytes: 256 * 1024)
            #expect(wrapped != nil, "\(String(decoding: line.prefix(120), as: UTF8.self))")
            #expect(disagreement(line) == nil, "\(disagreement(line) ?? "")")
        }
    }

    @Test("seeded records with escapes, spacing, odd shapes and damage: the same event or the same error either way", arguments: [1, 2, 3] as [UInt64])
    func seeded(seed: UInt64) {
        var generator = RecordTextGenerator(random: SplitMix64(seed: seed))
        var scanned = 0
        for _ in 0..<1_500 {
            let text = generator.record()
            if EventNormalizer.wrapOneLineRecord(RawEvent(bytes: text, origin: EventOrigin(source: "t.json", position: .record(1))),
                                                 ingestionTime: "2024-01-01T00:00:00Z", maxEventBytes: 256 * 1024) != nil { scanned += 1 }
            if let difference = disagreement(text) {
                Issue.record("\(String(decoding: text, as: UTF8.self)): \(difference)")
                return
            }
        }
        #expect(scanned > 300, "the scan takes a fair share of the records (\(scanned) of 1,500)")
    }

    @Test("the canonical form is JSONWriter's", arguments: [
        (#"{"a":"b"}"#, true), (#"{"a": "b"}"#, false), (#"{"a":"b"} "#, false), (#"{"a":"x\"y\\z\n\r\t"}"#, true),
        (#"{"a":"\u0001\u001f\u0008"}"#, true), (#"{"a":"\u001F"}"#, false), (#"{"a":"\u000a"}"#, false), (#"{"a":"\/"}"#, false),
        (#"{"a":"\b"}"#, false), (#"{"a":"\u00e9"}"#, false), (#"{"a":"é"}"#, true), (#"{"a b":[1,2.50,-0,1E+5]}"#, true),
    ] as [(String, Bool)])
    func canonical(text: String, expected: Bool) throws {
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBufferPointer(JSONWriter.hasCompactCanonicalForm) == expected)
        // What the writer writes for the parsed text is canonical, and equal to the text when the text is.
        let written = JSONWriter.bytes(try JSONParser.parse(bytes))
        #expect(written.withUnsafeBufferPointer(JSONWriter.hasCompactCanonicalForm))
        #expect((written == bytes) == expected)
    }
}
