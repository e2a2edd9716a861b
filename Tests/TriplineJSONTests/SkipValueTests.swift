import SeededRandom
import Testing
@testable import TriplineJSON

/// What one skipper did with a value: where it stopped, or that it refused.
private enum SkipOutcome: Equatable {
    case skipped(end: Int, keys: Int)
    case refused
}

/// The careful skipper alone (the one that reports errors).
private func carefulSkip(_ bytes: [UInt8], maxDepth: Int) -> SkipOutcome {
    bytes.withUnsafeBufferPointer { buffer in
        var cursor = JSONCursor(bytes: buffer, maxDepth: maxDepth)
        let room = maxDepth
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: room + 1) { open in
            do {
                try cursor.skipValue(depth: 0, open: open.baseAddress!, room: room)
                return .skipped(end: cursor.index, keys: cursor.keyMark)
            } catch {
                return .refused
            }
        }
    }
}

/// The fast skipper alone; also checks that a refusal leaves the cursor as it was.
private func fastSkip(_ bytes: [UInt8], maxDepth: Int) -> SkipOutcome {
    bytes.withUnsafeBufferPointer { buffer in
        var cursor = JSONCursor(bytes: buffer, maxDepth: maxDepth)
        let room = maxDepth
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: room + 1) { open in
            if cursor.skipValueFast(depth: 0, open: open.baseAddress!, room: room) {
                return .skipped(end: cursor.index, keys: cursor.keyMark)
            }
            #expect(cursor.index == 0 && cursor.keyMark == 0, "a refusal must leave the cursor untouched")
            return .refused
        }
    }
}

/// Random JSON text with the features skipping must validate: escapes, multi-byte UTF-8, every
/// number form, nesting, whitespace, and keys that sometimes repeat or are escaped.
private struct JSONTextGenerator {
    var random: SplitMix64
    /// Set when an object key with an escape was written (the fast skipper hands those over).
    var wroteEscapedKey = false

    mutating func value(depth: Int) -> String {
        switch depth > 4 ? random.below(4) : random.below(7) {
        case 0: return string()
        case 1: return number()
        case 2: return random.pick(["true", "false", "null"])
        case 3: return random.pick(["\"\"", "0", "-0", "[]", "{}"])
        case 4, 5: return object(depth: depth)
        default: return array(depth: depth)
        }
    }

    mutating func space() -> String { random.chance(20) ? random.pick([" ", "\n", "\t", "\r\n ", "  "]) : "" }

    mutating func string() -> String {
        var text = "\""
        for _ in 0..<random.below(12) {
            text += random.pick(["a", "Z", "7", " ", "é", "€", "😀", "\\\"", "\\\\", "\\/", "\\n", "\\u00e9", "\\uD83D\\uDE00",
                                 "xxxxxxxx", "\u{7F}", "'"])
        }
        return text + "\""
    }

    mutating func key(among used: inout [String]) -> String {
        if !used.isEmpty && random.chance(8) { return random.pick(used) }   // a duplicate, sometimes
        var name = random.pick(["x", "y", "z", "type", "coordinates", "coordinateA", "coordinateB", "é", "k"])
        if random.chance(30) { name += String(random.below(100)) }
        if random.chance(5) {
            wroteEscapedKey = true
            name = random.chance(50) ? name + "\\u0041" : "\\\"" + name
        }
        used.append(name)
        return "\"" + name + "\""
    }

    mutating func number() -> String {
        var text = random.chance(30) ? "-" : ""
        text += random.chance(20) ? "0" : String(random.below(1_000_000_000) + 1)
        if random.chance(50) { text += "." + String(random.below(100_000_000_000)) }
        if random.chance(20) { text += random.pick(["e", "E"]) + random.pick(["", "+", "-"]) + String(random.below(400)) }
        return text
    }

    mutating func object(depth: Int) -> String {
        var used: [String] = []
        let members = (0..<random.below(5)).map { _ in
            space() + key(among: &used) + space() + ":" + space() + value(depth: depth + 1) + space()
        }
        return "{" + members.joined(separator: ",") + (members.isEmpty ? space() : "") + "}"
    }

    mutating func array(depth: Int) -> String {
        let elements = (0..<random.below(5)).map { _ in space() + value(depth: depth + 1) + space() }
        return "[" + elements.joined(separator: ",") + (elements.isEmpty ? space() : "") + "]"
    }

    /// `text` with one random damage: a byte replaced, removed or inserted, or the end cut off.
    mutating func damage(_ text: [UInt8]) -> [UInt8] {
        var bytes = text
        guard !bytes.isEmpty else { return [random.pick(Array("{[\"-1tfn".utf8))] }
        let at = random.below(bytes.count)
        let interesting: [UInt8] = Array("{}[],:\"\\ \n0123456789.-+eEtrufalsn/bu".utf8) + [0x00, 0x01, 0x1F, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xE2, 0xED, 0xF0, 0xF4, 0xF5, 0xFF]
        switch random.below(4) {
        case 0: bytes[at] = random.pick(interesting)
        case 1: bytes.remove(at: at)
        case 2: bytes.insert(random.pick(interesting), at: at)
        default: bytes.removeSubrange(at...)
        }
        return bytes
    }
}

@Suite("Skipping values: the fast skipper against the careful one")
struct SkipValueTests {
    @Test("random values and damaged copies: the fast skipper never accepts what the careful one refuses, and stops at the same place")
    func fastSkipperAgreesWithTheCarefulOne() {
        var generator = JSONTextGenerator(random: SplitMix64(seed: 0x5EED_0F_5C1B))
        var fastAccepted = 0, damagedRefused = 0
        for round in 0..<20_000 {
            generator.wroteEscapedKey = false
            let text = Array(generator.value(depth: 0).utf8)
            let maxDepth = round % 10 == 0 ? 3 : 100
            let careful = carefulSkip(text, maxDepth: maxDepth)
            let fast = fastSkip(text, maxDepth: maxDepth)
            if fast != .refused {
                #expect(fast == careful, "\(String(decoding: text, as: UTF8.self))")
                fastAccepted += 1
            } else if careful != .refused && !generator.wroteEscapedKey {
                // Valid, no escaped key: the fast skipper has no reason to hand it over.
                Issue.record("the fast skipper refused a valid value: \(String(decoding: text, as: UTF8.self))")
            }

            let damaged = generator.damage(text)
            let carefulOnDamaged = carefulSkip(damaged, maxDepth: maxDepth)
            let fastOnDamaged = fastSkip(damaged, maxDepth: maxDepth)
            if carefulOnDamaged == .refused {
                damagedRefused += 1
                #expect(fastOnDamaged == .refused, "accepted invalid text: \(damaged)")
            } else if fastOnDamaged != .refused {
                #expect(fastOnDamaged == carefulOnDamaged, "\(damaged)")
            }
        }
        // Both halves of the comparison were exercised.
        #expect(fastAccepted > 15_000)
        #expect(damagedRefused > 5_000)
    }

    @Test("refusals the fast skipper must make", arguments: [
        #"{"a":1,"a":2}"#, #"{"x":{"k":1,"k":1}}"#, #"[1,]"#, #"{"a":1,}"#, "[01]", "[1.]", "[1e]", "[-]", "[tru]", "[nul]", "[falsy]",
        "[\"\u{01}\"]", "[\"\\x\"]", "[\"\\uD800\"]", "[\"\\uDC00\"]", "[\"\\u12G4\"]", "[1 2]", "{\"a\" 1}", "[[[[1]]]]",
        "[\u{0C}1]", "[\"abc", "{\"a\":1", "[1,2",
    ])
    func fastSkipperRefuses(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(fastSkip(bytes, maxDepth: 3) == .refused)
        #expect(carefulSkip(bytes, maxDepth: 3) == .refused)
    }

    @Test("invalid UTF-8 inside strings is refused by both", arguments: [
        [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80], [0xFF],
    ] as [[UInt8]])
    func invalidUTF8IsRefused(_ sequence: [UInt8]) {
        let bytes = Array("[\"ab".utf8) + sequence + Array("cd\"]".utf8)
        #expect(fastSkip(bytes, maxDepth: 10) == .refused)
        #expect(carefulSkip(bytes, maxDepth: 10) == .refused)
    }
}
