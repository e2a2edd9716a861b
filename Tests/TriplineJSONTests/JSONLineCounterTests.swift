import Testing
import TriplineJSON

/// The location of the first `@` in `text` (which the test places where a reader would stop).
private func locationOfMarker(_ text: String) -> JSONLocation {
    let bytes = Array(text.utf8)
    let offset = bytes.firstIndex(of: UInt8(ascii: "@"))!
    return bytes.withUnsafeBufferPointer { JSONLocation(offset: offset, in: $0) }
}

@Suite("Lines and columns")
struct JSONLineCounterTests {
    @Test("columns count characters and lines end at LF, CRLF or a lone CR", arguments: [
        ("ab@", 1, 3),
        ("一二三四五六@", 1, 7),
        ("é😀@", 1, 3),
        ("\u{FEFF}ab@", 1, 3),
        ("a\nb\n@", 3, 1),
        ("a\r\nb\r\n日本@", 3, 3),
        ("a\rb\r日本@", 3, 3),
        ("a\r\rb@", 3, 2),
        ("a\n\r@", 3, 1),
        ("a\r\n\n@", 3, 1),
    ] as [(String, Int, Int)])
    func location(_ text: String, _ line: Int, _ column: Int) {
        let location = locationOfMarker(text)
        #expect(location.line == line && location.column == column, "\(text.debugDescription): \(location)")
    }

    @Test("a counter asked for later and earlier offsets agrees with counting from the start")
    func onwardAndBack() {
        let bytes = Array("x\r\n€\ry\r\nz\n😀 w".utf8)
        var counter = JSONLineCounter()
        bytes.withUnsafeBufferPointer { buffer in
            for offset in Array(0...bytes.count) + [3, 0, 7, 2] {
                #expect(counter.location(of: offset, in: buffer) == JSONLocation(offset: offset, in: buffer), "offset \(offset)")
            }
        }
    }

    @Test("parse errors and recorded locations use the same count")
    func parserUsesIt() throws {
        let text = "{\r\"名前\": \"値\",\r\"a\": @}"
        #expect(throws: JSONError.unexpectedByte(found: "'@'", expected: "a JSON value", at: JSONLocation(offset: 24, line: 3, column: 6))) {
            try JSONParser.parse(text)
        }
        let document = try JSONParser.parseDocument(Array("{\r\"名前\": \"値\",\r\"a\": 1}".utf8), options: .init(recordLocations: true))
        #expect(document.locations.location(of: JSONPath([.key("名前")]))?.description == "2:7")
        #expect(document.locations.location(of: JSONPath([.key("a")]))?.description == "3:6")
    }
}
