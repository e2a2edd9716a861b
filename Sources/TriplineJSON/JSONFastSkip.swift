/// The fast path of `JSONCursor.skipValue`: validates and skips one value with everything in locals.
///
/// Skipping is most of the cost of matching (an event is mostly fields no pattern names), and the
/// careful skipper pays for its error reporting on every token: the position lives in the cursor,
/// every token is a call that can throw with a located message. This one only answers whether the
/// value is valid; when it is not, or it meets something rare (an escaped key, an object of more
/// than 64 keys), it says so and the careful skipper runs over the same value, producing the error
/// or accepting it. It accepts exactly what the careful skipper accepts, never more: RFC 8259, the
/// depth limit, unique keys.
extension JSONCursor {
    /// Skips the members left in an object whose keys start at `mark` in the key stack, from just
    /// after one of its values through its closing `}`, validating them and checking their keys
    /// against all the object's keys; `depth` is the object's own. False when the careful path
    /// must do it (an error to report, an escaped key, over 64 keys): then nothing was consumed.
    ///
    /// For readers that have found everything they look for in an object: the rest of it is only
    /// validated. With `dottedHeads` (see ``keyMayLeadDeeper(_:_:heads:)``), it stops before a key
    /// that may still name something, returning false with nothing consumed.
    public mutating func skipRestOfObject(since mark: Int, depth: Int, dottedHeads: UInt64 = 0) -> Bool {
        skipWhitespace()
        guard index < bytes.count else { return false }
        if bytes[index] == UInt8(ascii: "}") {
            index &+= 1
            releaseKeys(to: mark)
            return true
        }
        guard bytes[index] == UInt8(ascii: ",") else { return false }
        let comma = index
        if dottedHeads != 0 { return skipRestOfObject(since: mark, depth: depth, comma: comma, dottedHeads: dottedHeads) }
        index &+= 1
        // The object is the skipper's first open container, so its values nest as deep as a
        // value skipped at `depth + 1` would.
        let room = maxDepth - depth
        let done = withUnsafeTemporaryAllocation(of: Int.self, capacity: max(room, 1) + 1) { open in
            skipValueFast(depth: depth, open: open.baseAddress!, room: room, objectMark: mark)
        }
        if !done { index = comma }
        return done
    }

    /// ``skipRestOfObject(since:depth:dottedHeads:)`` member by member, for an object some of whose
    /// keys may name fields below its children: it stops, leaving everything as it was from `comma`
    /// on, at the first key with a `.` where `dottedHeads` says (``keyMayLeadDeeper(_:_:heads:)``).
    private mutating func skipRestOfObject(since mark: Int, depth: Int, comma: Int, dottedHeads: UInt64) -> Bool {
        let entryKeys = keyCount
        let base = bytes.baseAddress!
        let room = maxDepth - depth - 1
        while true {
            index &+= 1   // past the comma
            guard let key = readKey(since: mark),
                  !JSONCursor.keyMayLeadDeeper(base + key.start, key.end &- key.start, heads: dottedHeads) else { break }
            if !skipStringValue() {
                let skipped = withUnsafeTemporaryAllocation(of: Int.self, capacity: max(room, 1) + 1) { open in
                    skipValueFast(depth: depth &+ 1, open: open.baseAddress!, room: room)
                }
                guard skipped else { break }
            }
            skipWhitespace()
            guard index < bytes.count else { break }
            if bytes[index] == UInt8(ascii: "}") {
                index &+= 1
                releaseKeys(to: mark)
                return true
            }
            guard bytes[index] == UInt8(ascii: ",") else { break }
        }
        // A key that may lead deeper, or something for the careful path: the caller reads on from the comma.
        index = comma
        keyCount = entryKeys
        return false
    }

    /// Reads an object member's key and its colon, from `index` (whitespace allowed first), and
    /// records the key among those of the object whose keys start at `mark`, as `scanString`,
    /// `checkDuplicate` and `expect(":")` would. Nil when the careful path must do it (an error to
    /// report, an escaped key, over 64 keys): then nothing was consumed.
    ///
    /// For readers that look every key of an object up: the returned key carries its fingerprint.
    @inlinable @inline(__always)
    public mutating func readKey(since mark: Int) -> JSONStringToken? {
        let count = bytes.count
        let base = bytes.baseAddress!
        var i = index
        if i < count && base[i] <= 0x20 { i = JSONCursor.skipSpace(base, count, from: i) }
        guard i < count, base[i] == UInt8(ascii: "\"") else { return nil }
        let keyStart = i &+ 1
        let end = JSONCursor.skipStringBody(base, count, from: keyStart, allowEscapes: false)
        guard end >= 0 else { return nil }
        let recorded = keyCount
        guard recorded &- mark < 64 else { return nil }
        var key = JSONStringToken(start: keyStart, end: end &- 1, hasEscapes: false)
        key.fingerprint = JSONCursor.fingerprint(base, count, start: keyStart, length: end &- 1 &- keyStart)
        let bit = JSONCursor.filterBit(key.fingerprint)
        let filter = recorded == mark ? 0 : keyFilters[mark]
        if filter & bit != 0 && JSONCursor.isRecorded(key, base, fingerprints, keys, from: mark, to: recorded) { return nil }
        var colon = end
        if colon < count && base[colon] != UInt8(ascii: ":") { colon = JSONCursor.skipSpace(base, count, from: colon) }
        guard colon < count, base[colon] == UInt8(ascii: ":") else { return nil }
        pushKey(key)
        keyFilters[mark] = filter | bit
        index = colon &+ 1
        return key
    }

    /// Whether a key equal to the unescaped `key` is among keys `from..<to`, or may be: an escaped
    /// key with the same fingerprint counts too (a careful reader recorded it; the careful path
    /// decides).
    @usableFromInline @inline(never)
    static func isRecorded(_ key: JSONStringToken, _ base: UnsafePointer<UInt8>, _ fingerprints: UnsafeMutablePointer<UInt64>,
                           _ keys: UnsafeMutablePointer<JSONStringToken>, from: Int, to: Int) -> Bool {
        var k = from
        while k < to {
            if fingerprints[k] == key.fingerprint && (keys[k].hasEscapes || sameBytes(base, keys[k], key)) { return true }
            k &+= 1
        }
        return false
    }

    /// Skips one value starting at `index` (whitespace allowed first); false leaves `index` and the
    /// key stack as they were, for the careful skipper to redo. With `objectMark` (≥ 0), starts
    /// instead inside an object whose keys start there, at a key (see ``skipRestOfObject(since:depth:)``).
    @usableFromInline
    mutating func skipValueFast(depth: Int, open: UnsafeMutablePointer<Int>, room: Int, objectMark: Int = -1) -> Bool {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return false }
        let entryIndex = index
        let entryKeys = keyCount
        var i = index
        var level = 0
        // Whether a key comes next (in an object, after `{` or `,`): one place reads keys, so the
        // key reader is inlined.
        var keyNext = false
        if objectMark >= 0 {
            open[0] = objectMark
            level = 1
            keyNext = true
        }

        while true {
            if keyNext {
                // A key, unique among those recorded since the object opened, then the colon.
                i = JSONCursor.skipSpace(base, count, from: i)
                guard i < count, base[i] == UInt8(ascii: "\"") else { break }
                let keyStart = i &+ 1
                // A key with escapes goes the careful way (its fingerprint is taken on the decoded
                // text), so every key recorded here compares bytewise.
                i = JSONCursor.skipStringBody(base, count, from: keyStart, allowEscapes: false)
                if i < 0 { break }
                var key = JSONStringToken(start: keyStart, end: i &- 1, hasEscapes: false)
                // Duplicate check, as `checkDuplicate` does it for objects of up to 64 keys.
                let objectKeys = open[level &- 1]
                let end = keyCount
                guard end &- objectKeys < 64 else { break }
                key.fingerprint = fingerprint(of: key)
                let bit = JSONCursor.filterBit(key.fingerprint)
                let filter = end == objectKeys ? 0 : keyFilters[objectKeys]
                // (An earlier key with escapes, read by a careful reader, may equal it too: the
                // careful path decides those.)
                if filter & bit != 0 && JSONCursor.isRecorded(key, base, fingerprints, keys, from: objectKeys, to: end) { break }
                pushKey(key)
                keyFilters[objectKeys] = filter | bit
                i = JSONCursor.skipSpace(base, count, from: i)
                guard i < count, base[i] == UInt8(ascii: ":") else { break }
                i &+= 1
                keyNext = false
            }
            // A value.
            i = JSONCursor.skipSpace(base, count, from: i)
            guard i < count else { break }
            let c = base[i]
            if c == UInt8(ascii: "\"") {
                i = JSONCursor.skipStringBody(base, count, from: i &+ 1)
                if i < 0 { break }
            } else if c &- UInt8(ascii: "0") < 10 || c == UInt8(ascii: "-") {
                i = JSONCursor.skipNumber(base, count, from: i)
                if i < 0 { break }
            } else if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                guard level < room else { break }
                i = JSONCursor.skipSpace(base, count, from: i &+ 1)
                guard i < count else { break }
                if c == UInt8(ascii: "[") {
                    if base[i] != UInt8(ascii: "]") {
                        open[level] = -1
                        level &+= 1
                        continue
                    }
                    i &+= 1
                } else if base[i] != UInt8(ascii: "}") {
                    open[level] = keyCount
                    level &+= 1
                    keyNext = true
                    continue
                } else {
                    i &+= 1
                }
            } else if c == UInt8(ascii: "t") || c == UInt8(ascii: "n") {
                guard i &+ 4 <= count,
                      UnsafeRawPointer(base + i).loadUnaligned(as: UInt32.self) == (c == UInt8(ascii: "t") ? JSONCursor.trueWord : JSONCursor.nullWord)
                else { break }
                i &+= 4
            } else if c == UInt8(ascii: "f") {
                guard i &+ 5 <= count, UnsafeRawPointer(base + i + 1).loadUnaligned(as: UInt32.self) == JSONCursor.alseWord else { break }
                i &+= 5
            } else {
                break
            }

            // After a value: close containers until one continues.
            var next = false
            while level > 0 {
                i = JSONCursor.skipSpace(base, count, from: i)
                guard i < count else { break }
                let c = base[i]
                let mark = open[level &- 1]
                i &+= 1
                if c == UInt8(ascii: ",") {
                    keyNext = mark >= 0
                    next = true
                    break
                } else if c == UInt8(ascii: "}") && mark >= 0 {
                    keyCount = mark
                    level &-= 1
                } else if c == UInt8(ascii: "]") && mark < 0 {
                    level &-= 1
                } else {
                    break
                }
            }
            if next { continue }
            if level == 0 {
                index = i
                return true
            }
            break
        }
        // Invalid, or something for the careful path: leave everything as it was.
        index = entryIndex
        keyCount = entryKeys
        return false
    }

    /// Whether a key of `length` bytes at `bytes` has a `.` right after a first segment as long as
    /// one of `heads` (bit `n`: a name of `n` bytes; bit 63 also stands for every length of 63 and
    /// more, where a `.` anywhere from there on counts): whether the key may name a field below one
    /// of those names (`"a.b"` names what `"a": {"b"}` does).
    @inlinable @inline(__always)
    public static func keyMayLeadDeeper(_ bytes: UnsafePointer<UInt8>, _ length: Int, heads: UInt64) -> Bool {
        var candidates = length > 63 ? heads : heads & ((1 << UInt64(length)) &- 1)
        while candidates != 0 {
            let at = candidates.trailingZeroBitCount
            if at == 63 {
                var i = 63
                while i < length {
                    if bytes[i] == UInt8(ascii: ".") { return true }
                    i &+= 1
                }
                return false
            }
            if bytes[at] == UInt8(ascii: ".") { return true }
            candidates &= candidates &- 1
        }
        return false
    }

    @usableFromInline static var trueWord: UInt32 { UInt32(0x65_75_72_74) }   // "true"
    @usableFromInline static var nullWord: UInt32 { UInt32(0x6C_6C_75_6E) }   // "null"
    @usableFromInline static var alseWord: UInt32 { UInt32(0x65_73_6C_61) }   // "alse"

    /// The index of the first byte at or after `start` that is not JSON whitespace.
    @inlinable @inline(__always)
    static func skipSpace(_ base: UnsafePointer<UInt8>, _ count: Int, from start: Int) -> Int {
        var i = start
        while i < count {
            let c = base[i]
            if c > 0x20 || !(c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09) { break }
            i &+= 1
        }
        return i
    }

    /// Whether two unescaped keys have the same bytes.
    @usableFromInline @inline(never)
    static func sameBytes(_ base: UnsafePointer<UInt8>, _ a: JSONStringToken, _ b: JSONStringToken) -> Bool {
        let length = a.end &- a.start
        guard length == b.end &- b.start else { return false }
        var k = 0
        while k < length {
            if base[a.start &+ k] != base[b.start &+ k] { return false }
            k &+= 1
        }
        return true
    }

    /// Skips the value at `index` (whitespace allowed first) when it is a valid string, the most
    /// common value a reader passes over, without a call; false, with nothing consumed, for any
    /// other value (then `skipValue(depth:)` skips it or reports the error).
    @inlinable @inline(__always)
    public mutating func skipStringValue() -> Bool {
        let count = bytes.count
        guard let base = bytes.baseAddress else { return false }
        var i = index
        if i < count && base[i] <= 0x20 { i = JSONCursor.skipSpace(base, count, from: i) }
        guard i < count, base[i] == UInt8(ascii: "\"") else { return false }
        let end = JSONCursor.skipStringBody(base, count, from: i &+ 1)
        guard end >= 0 else { return false }
        index = end
        return true
    }

    /// Skips a string's body from just after its opening quote; returns the index after the closing
    /// quote, or -1 when it is invalid, unterminated, or has an escape that `allowEscapes` refuses.
    @inlinable @inline(__always)
    static func skipStringBody(_ base: UnsafePointer<UInt8>, _ count: Int, from start: Int, allowEscapes: Bool = true) -> Int {
        var i = start
        while true {
            var c: UInt8
            if i &+ 8 <= count {
                let special = specialStringBytes(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
                if special == 0 { i &+= 8; continue }
                i &+= special.littleEndian.trailingZeroBitCount >> 3
                c = base[i]
            } else {
                while i < count {
                    c = base[i]
                    if c &- 0x20 >= 0x60 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { break }
                    i &+= 1
                }
                guard i < count else { return -1 }
                c = base[i]
            }
            if c == UInt8(ascii: "\"") { return i &+ 1 }
            if c == UInt8(ascii: "\\") {
                guard allowEscapes else { return -1 }
                i = skipEscape(base, count, at: i)
            } else if c >= 0x80 {
                i = skipMultibyte(base, count, at: i)
            } else {
                return -1   // a control character
            }
            if i < 0 { return -1 }
        }
    }

    /// The bytes of `word` that are `"`, `\\`, below 0x20 or above 0x7F, as their high bits. Exact
    /// up to the first such byte (borrows may mark bytes after it), which is all callers use.
    @inlinable @inline(__always)
    static func specialStringBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let hasQuote = (quote &- ones) & ~quote
        let hasBackslash = (backslash &- ones) & ~backslash
        let hasControl = (word &- ones &* 0x20) & ~word
        return (hasQuote | hasBackslash | hasControl | word) & highs
    }

    /// Skips the escape at `at` (a backslash), as `scanEscape` accepts them; -1 when invalid.
    @usableFromInline @inline(never)
    static func skipEscape(_ base: UnsafePointer<UInt8>, _ count: Int, at start: Int) -> Int {
        var i = start &+ 1
        guard i < count else { return -1 }
        switch base[i] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return i &+ 1
        case UInt8(ascii: "u"):
            i &+= 1
            guard let unit = hex4(base, count, at: i) else { return -1 }
            i &+= 4
            if unit >= 0xD800 && unit <= 0xDBFF {
                guard i &+ 1 < count, base[i] == UInt8(ascii: "\\"), base[i &+ 1] == UInt8(ascii: "u"),
                      let low = hex4(base, count, at: i &+ 2), low >= 0xDC00 && low <= 0xDFFF else { return -1 }
                return i &+ 6
            }
            return unit >= 0xDC00 && unit <= 0xDFFF ? -1 : i
        default:
            return -1
        }
    }

    /// The value of four hex digits at `at`, or nil.
    static func hex4(_ base: UnsafePointer<UInt8>, _ count: Int, at start: Int) -> UInt32? {
        guard start &+ 4 <= count else { return nil }
        var value: UInt32 = 0
        for k in 0..<4 {
            guard let digit = hexValue(base[start &+ k]) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Skips the multi-byte UTF-8 sequence at `at` (no overlongs, no surrogates, at most U+10FFFF);
    /// -1 when invalid. `scanMultibyte` is this with the error.
    @usableFromInline @inline(never)
    static func skipMultibyte(_ base: UnsafePointer<UInt8>, _ count: Int, at start: Int) -> Int {
        let c0 = base[start]
        let length: Int
        var lowerBound: UInt8 = 0x80
        var upperBound: UInt8 = 0xBF
        switch c0 {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lowerBound = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upperBound = 0x9F
        case 0xF0: length = 4; lowerBound = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upperBound = 0x8F
        default: return -1
        }
        guard start &+ length <= count else { return -1 }
        let c1 = base[start &+ 1]
        guard c1 >= lowerBound && c1 <= upperBound else { return -1 }
        var k = 2
        while k < length {
            guard base[start &+ k] & 0xC0 == 0x80 else { return -1 }
            k &+= 1
        }
        return start &+ length
    }

    /// Skips a number per the RFC 8259 grammar; returns the index after it, or -1.
    @inline(__always)
    static func skipNumber(_ base: UnsafePointer<UInt8>, _ count: Int, from start: Int) -> Int {
        var i = start
        if base[i] == UInt8(ascii: "-") {
            i &+= 1
            guard i < count else { return -1 }
        }
        let first = base[i]
        if first == UInt8(ascii: "0") {
            i &+= 1
            if i < count && base[i] &- UInt8(ascii: "0") < 10 { return -1 }
        } else if first &- UInt8(ascii: "1") < 9 {
            i = skipDigitRun(base, count, from: i &+ 1)
        } else {
            return -1
        }
        if i < count && base[i] == UInt8(ascii: ".") {
            let digits = i &+ 1
            i = skipDigitRun(base, count, from: digits)
            if i == digits { return -1 }
        }
        if i < count && (base[i] | 0x20) == UInt8(ascii: "e") {
            i &+= 1
            if i < count && (base[i] == UInt8(ascii: "+") || base[i] == UInt8(ascii: "-")) { i &+= 1 }
            let digits = i
            i = skipDigitRun(base, count, from: digits)
            if i == digits { return -1 }
        }
        return i
    }

    /// The index of the first non-digit at or after `start`, eight bytes at a time where possible.
    @inlinable @inline(__always)
    static func skipDigitRun(_ base: UnsafePointer<UInt8>, _ count: Int, from start: Int) -> Int {
        var i = start
        while i &+ 8 <= count {
            let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            let nibbles: UInt64 = 0xF0F0_F0F0_F0F0_F0F0
            let threes: UInt64 = 0x3030_3030_3030_3030
            let notDigit = ((word & nibbles) ^ threes) | (((word &+ 0x0606_0606_0606_0606) & nibbles) ^ threes)
            if notDigit != 0 { return i &+ (notDigit.littleEndian.trailingZeroBitCount >> 3) }
            i &+= 8
        }
        while i < count && base[i] &- UInt8(ascii: "0") < 10 { i &+= 1 }
        return i
    }
}
