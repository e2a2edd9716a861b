/// A strict RFC 8259 reader positioned inside a UTF-8 buffer: the lexical layer every JSON reader here shares.
///
/// It validates as it goes (UTF-8, escapes, number grammar, nesting depth, duplicate keys when skipping),
/// never allocates for ASCII strings without escapes, and reports errors with line:column. The buffer
/// must outlive the cursor; callers use it inside `withUnsafeBufferPointer`.
public struct JSONCursor {
    public let bytes: UnsafeBufferPointer<UInt8>
    /// Offset of the next unread byte.
    public var index: Int
    /// Deepest nesting of arrays and objects accepted.
    public let maxDepth: Int
    /// Keys of the objects currently open, for duplicate detection; owned by `keyStack`.
    @usableFromInline var keys: UnsafeMutablePointer<JSONStringToken>
    /// The keys' fingerprints, packed; owned by `keyStack` (cached here: reading a class's stored
    /// property costs a dynamic exclusivity check).
    @usableFromInline var fingerprints: UnsafeMutablePointer<UInt64>
    /// Per open object, at its mark: one bit per key recorded (a hash of its fingerprint), so a
    /// new key whose bit is clear is known to be new without comparing it with the others.
    @usableFromInline var keyFilters: UnsafeMutablePointer<UInt64>
    @usableFromInline var keyCount = 0
    @usableFromInline var keyCapacity: Int
    @usableFromInline let keyStack: JSONKeyStack
    /// Hashed keys of objects too large for pairwise comparison, by their mark in the key stack.
    @usableFromInline var largeObjectKeys: [Int: Set<[UInt8]>] = [:]

    /// A cursor over `bytes`; pass a `keyStack` kept from an earlier cursor to avoid allocating.
    public init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = JSONLimits.defaultMaxDepth, keyStack: JSONKeyStack = JSONKeyStack()) {
        self.bytes = bytes
        self.index = 0
        self.maxDepth = maxDepth
        self.keyStack = keyStack
        self.keys = keyStack.storage
        self.fingerprints = keyStack.fingerprints
        self.keyFilters = keyStack.filters
        self.keyCapacity = keyStack.capacity
    }

    // MARK: Positions and errors

    @inlinable @inline(never)
    public func location(_ offset: Int) -> JSONLocation { JSONLocation(offset: offset, in: bytes) }

    @inlinable @inline(never)
    public func unexpected(expected: String) -> JSONError {
        if index >= bytes.count { return .unexpectedEnd(expected: expected, at: location(index)) }
        return .unexpectedByte(found: JSONCursor.describe(byte: bytes[index]), expected: expected, at: location(index))
    }

    @usableFromInline
    static func describe(byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16, uppercase: true)
    }

    // MARK: Whitespace and structure

    @inlinable @inline(__always)
    public mutating func skipWhitespace() {
        var i = index
        let count = bytes.count
        // Minified JSON has none: one comparison decides the common case.
        if i < count && bytes[i] > 0x20 { return }
        while i < count {
            let c = bytes[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i &+= 1 } else { break }
        }
        index = i
    }

    /// The next non-whitespace byte, or nil at the end.
    @inlinable
    public mutating func peekToken() -> UInt8? {
        skipWhitespace()
        return index < bytes.count ? bytes[index] : nil
    }

    @inlinable @inline(__always)
    public mutating func expect(_ byte: UInt8, _ what: String) throws(JSONError) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { throw unexpected(expected: what) }
        index += 1
    }

    /// After a value inside an object or array: consumes `,` and returns true, or consumes `close` and returns false.
    @inlinable @inline(__always)
    public mutating func nextMember(close: UInt8) throws(JSONError) -> Bool {
        skipWhitespace()
        if index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: ",") { index += 1; return true }
            if c == close { index += 1; return false }
        }
        throw memberError(close: close)
    }

    @inlinable @inline(never)
    func memberError(close: UInt8) -> JSONError {
        unexpected(expected: close == UInt8(ascii: "}") ? "',' or '}'" : "',' or ']'")
    }

    /// Fails unless only whitespace remains.
    public mutating func expectEnd() throws(JSONError) {
        skipWhitespace()
        if index < bytes.count { throw .trailingContent(at: location(index)) }
    }

    // MARK: Strings

    /// Reads a string starting at the opening quote; returns the raw byte range between the quotes.
    @inlinable @inline(__always)
    public mutating func scanString() throws(JSONError) -> JSONStringToken {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw unexpected(expected: "a string") }
        let start = index &+ 1
        var escaped = false
        let count = bytes.count
        let base = bytes.baseAddress!
        var i = start
        while true {
            // Plain ASCII runs eight bytes at a time, straight to the first special byte (the
            // closing quote, usually); byte by byte only near the end of the buffer.
            if i &+ 8 <= count {
                let special = JSONCursor.specialStringBytes(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
                if special == 0 { i &+= 8; continue }
                i &+= special.littleEndian.trailingZeroBitCount >> 3
            } else {
                while i < count {
                    let c = base[i]
                    if c &- 0x20 >= 0x60 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { break }
                    i &+= 1
                }
                guard i < count else { break }
            }
            let c = base[i]
            if c == UInt8(ascii: "\"") {
                index = i &+ 1
                return JSONStringToken(start: start, end: i, hasEscapes: escaped)
            }
            index = i
            if c == UInt8(ascii: "\\") {
                escaped = true
                try scanEscape()
            } else if c < 0x20 {
                throw .controlCharacterInString(at: location(i))
            } else {
                try scanMultibyte()
            }
            i = index
        }
        index = i
        throw .unexpectedEnd(expected: "'\"' to close the string", at: location(index))
    }

    /// Advances past a run of ASCII digits, eight at a time where possible.
    @inlinable @inline(__always)
    mutating func skipDigits() {
        index = JSONCursor.skipDigitRun(bytes.baseAddress!, bytes.count, from: index)
    }

    @usableFromInline @inline(never)
    mutating func scanEscape() throws(JSONError) {
        let escapeStart = index
        index += 1
        guard index < bytes.count else { throw .unexpectedEnd(expected: "an escape sequence", at: location(index)) }
        switch bytes[index] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            index += 1
        case UInt8(ascii: "u"):
            index += 1
            let unit = try scanHex4(escapeStart: escapeStart)
            if unit >= 0xD800 && unit <= 0xDBFF {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw .loneSurrogate(at: location(escapeStart))
                }
                index += 2
                let low = try scanHex4(escapeStart: index - 2)
                guard low >= 0xDC00 && low <= 0xDFFF else { throw .loneSurrogate(at: location(escapeStart)) }
            } else if unit >= 0xDC00 && unit <= 0xDFFF {
                throw .loneSurrogate(at: location(escapeStart))
            }
        default:
            let end = min(index + 1, bytes.count)
            let found = String(decoding: UnsafeBufferPointer(rebasing: bytes[escapeStart..<end]), as: UTF8.self)
            throw .invalidEscape(found: found, at: location(escapeStart))
        }
    }

    @usableFromInline
    mutating func scanHex4(escapeStart: Int) throws(JSONError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw .unexpectedEnd(expected: "four hex digits after \\u", at: location(index)) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = JSONCursor.hexValue(bytes[index]) else {
                let end = min(index + 1, bytes.count)
                let found = String(decoding: UnsafeBufferPointer(rebasing: bytes[escapeStart..<end]), as: UTF8.self)
                throw .invalidEscape(found: found, at: location(escapeStart))
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    @usableFromInline
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Validates one multi-byte UTF-8 sequence (no overlongs, no surrogates, at most U+10FFFF);
    /// the rules live in `skipMultibyte`, which the fast skipper shares.
    @usableFromInline @inline(never)
    mutating func scanMultibyte() throws(JSONError) {
        let end = JSONCursor.skipMultibyte(bytes.baseAddress!, bytes.count, at: index)
        guard end >= 0 else { throw .invalidUTF8(at: location(index)) }
        index = end
    }

    /// The unescaped UTF-8 bytes of a scanned string, appended to `out`.
    @inlinable
    public func decode(_ token: JSONStringToken, into out: inout [UInt8]) {
        JSONCursor.decode(token, in: bytes, into: &out)
    }

    /// The unescaped UTF-8 bytes of a string scanned from `bytes`, appended to `out`.
    @inlinable
    static func decode(_ token: JSONStringToken, in bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        if !token.hasEscapes {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[token.start..<token.end]))
            return
        }
        var i = token.start
        while i < token.end {
            let c = bytes[i]
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = JSONCursor.hex4(bytes, at: i)
                i += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    let low = JSONCursor.hex4(bytes, at: i + 2)
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                JSONCursor.appendUTF8(scalar, to: &out)
            default: out.append(e)
            }
        }
    }

    /// The unescaped string as a Swift `String`.
    @inlinable
    public func string(_ token: JSONStringToken) -> String {
        if !token.hasEscapes {
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[token.start..<token.end]), as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(token.end - token.start)
        decode(token, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @usableFromInline
    static func hex4(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> UInt32 {
        var value: UInt32 = 0
        for k in 0..<4 { value = value << 4 | UInt32(hexValue(bytes[i + k]) ?? 0) }
        return value
    }

    @usableFromInline
    static func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (scalar >> 6)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (scalar >> 12)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (scalar >> 18)))
            out.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }

    /// True when two scanned strings have the same unescaped text.
    @inlinable
    public func equal(_ a: JSONStringToken, _ b: JSONStringToken) -> Bool {
        if !a.hasEscapes && !b.hasEscapes {
            let n = a.end - a.start
            guard n == b.end - b.start else { return false }
            var k = 0
            while k < n {
                if bytes[a.start + k] != bytes[b.start + k] { return false }
                k += 1
            }
            return true
        }
        var x: [UInt8] = [], y: [UInt8] = []
        decode(a, into: &x)
        decode(b, into: &y)
        return x == y
    }

    // MARK: Numbers and literals

    /// Reads a number per the RFC 8259 grammar; returns its byte range.
    @inlinable @inline(__always)
    public mutating func scanNumber() throws(JSONError) -> Range<Int> {
        let start = index
        let count = bytes.count
        if index < count && bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < count else { throw numberError(start, "digits expected") }
        let first = bytes[index]
        if first == UInt8(ascii: "0") {
            index += 1
            if index < count && bytes[index] &- UInt8(ascii: "0") < 10 {
                throw numberError(start, "leading zeros are not allowed")
            }
        } else if first &- UInt8(ascii: "1") < 9 {
            index += 1
            skipDigits()
        } else {
            throw numberError(start, "digits expected")
        }
        if index < count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            let digitsStart = index
            skipDigits()
            if index == digitsStart { throw numberError(start, "digits expected after '.'") }
        }
        if index < count && (bytes[index] | 0x20) == UInt8(ascii: "e") {
            index += 1
            if index < count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
            let digitsStart = index
            skipDigits()
            if index == digitsStart { throw numberError(start, "digits expected in the exponent") }
        }
        return start..<index
    }

    @usableFromInline @inline(never)
    func numberError(_ start: Int, _ reason: String) -> JSONError {
        var end = index
        while end < bytes.count, end - start < 40, !JSONCursor.isDelimiter(bytes[end]) { end += 1 }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<max(end, min(start + 1, bytes.count))]), as: UTF8.self)
        return .invalidNumber(text: text, reason: reason, at: location(start))
    }

    @usableFromInline
    static func isDelimiter(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 || c == UInt8(ascii: ",") || c == UInt8(ascii: "]") || c == UInt8(ascii: "}")
    }

    /// Consumes `true`, `false` or `null` (the first byte decides which is expected).
    @inlinable
    public mutating func scanLiteral(_ literal: StaticString) throws(JSONError) {
        let n = literal.utf8CodeUnitCount
        guard index + n <= bytes.count else { throw literalError(literal) }
        let p = literal.utf8Start
        for k in 0..<n where bytes[index + k] != p[k] { throw literalError(literal) }
        index += n
    }

    /// The literal is guessed only when at least two of its bytes are there (`nul`, `tru`): a word
    /// that merely starts like one (`not json`) gets no misleading "(null?)".
    @usableFromInline @inline(never)
    func literalError(_ literal: StaticString) -> JSONError {
        let p = literal.utf8Start
        var same = 0
        while same < literal.utf8CodeUnitCount, index + same < bytes.count, bytes[index + same] == p[same] { same += 1 }
        return .unexpectedByte(found: JSONCursor.describe(byte: bytes[index]), expected: same >= 2 ? "a JSON value (\(literal)?)" : "a JSON value",
                               at: location(index))
    }

    // MARK: Skipping

    /// Reads and discards one value, validating it completely (including duplicate keys).
    ///
    /// Iterative, with its own small stack of open containers, so skipping a large subtree is one
    /// tight loop rather than a call per value. Containers go through `skipValueFast` first; this
    /// careful loop runs only when that one declines, and produces the located error.
    public mutating func skipValue(depth: Int) throws(JSONError) {
        // Scalars, most skipped values, need no stack of open containers.
        if skipStringValue() { return }
        skipWhitespace()
        if index < bytes.count, let base = bytes.baseAddress {
            let c = base[index]
            if c == UInt8(ascii: "\"") {
                _ = try scanString()   // invalid: the careful reader reports where
                return
            }
            if c &- UInt8(ascii: "0") < 10 || c == UInt8(ascii: "-") {
                let end = JSONCursor.skipNumber(base, bytes.count, from: index)
                if end >= 0 { index = end } else { _ = try scanNumber() }
                return
            }
        }
        let room = maxDepth - depth
        try withUnsafeTemporaryAllocation(of: Int.self, capacity: max(room, 1) + 1) { (open) throws(JSONError) in
            if skipValueFast(depth: depth, open: open.baseAddress!, room: room) { return }
            try skipValue(depth: depth, open: open.baseAddress!, room: room)
        }
    }

    @usableFromInline
    enum SkipState { case value, key, afterValue }

    @usableFromInline
    mutating func skipValue(depth: Int, open: UnsafeMutablePointer<Int>, room: Int) throws(JSONError) {
        // `open[k]` is the key mark of an open object, or -1 for an open array.
        var level = 0
        var state = SkipState.value
        let count = bytes.count
        while true {
            switch state {
            case .value:
                skipWhitespace()
                guard index < count else { throw unexpected(expected: "a JSON value") }
                let c = bytes[index]
                if c == UInt8(ascii: "\"") {
                    _ = try scanString()
                    state = .afterValue
                } else if c &- UInt8(ascii: "0") < 10 || c == UInt8(ascii: "-") {
                    _ = try scanNumber()
                    state = .afterValue
                } else if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                    guard level < room else { throw .tooDeep(limit: maxDepth, at: location(index)) }
                    index &+= 1
                    skipWhitespace()
                    if c == UInt8(ascii: "{") {
                        if index < count && bytes[index] == UInt8(ascii: "}") { index &+= 1; state = .afterValue; continue }
                        open[level] = keyCount
                        level &+= 1
                        state = .key
                    } else {
                        if index < count && bytes[index] == UInt8(ascii: "]") { index &+= 1; state = .afterValue; continue }
                        open[level] = -1
                        level &+= 1
                    }
                } else if c == UInt8(ascii: "t") {
                    try scanLiteral("true"); state = .afterValue
                } else if c == UInt8(ascii: "f") {
                    try scanLiteral("false"); state = .afterValue
                } else if c == UInt8(ascii: "n") {
                    try scanLiteral("null"); state = .afterValue
                } else {
                    throw unexpected(expected: "a JSON value")
                }
            case .key:
                skipWhitespace()
                let key = try scanString()
                try checkDuplicate(key, since: open[level &- 1])
                skipWhitespace()
                guard index < count, bytes[index] == UInt8(ascii: ":") else { throw unexpected(expected: "':' after an object key") }
                index &+= 1
                state = .value
            case .afterValue:
                if level == 0 { return }
                skipWhitespace()
                guard index < count else { throw unexpected(expected: open[level &- 1] >= 0 ? "',' or '}'" : "',' or ']'") }
                let c = bytes[index]
                let mark = open[level &- 1]
                if c == UInt8(ascii: ",") {
                    index &+= 1
                    state = mark >= 0 ? .key : .value
                } else if mark >= 0 && c == UInt8(ascii: "}") {
                    index &+= 1
                    releaseKeys(to: mark)
                    level &-= 1
                } else if mark < 0 && c == UInt8(ascii: "]") {
                    index &+= 1
                    level &-= 1
                } else {
                    throw unexpected(expected: mark >= 0 ? "',' or '}'" : "',' or ']'")
                }
            }
        }
    }

    /// Records `key` among the keys of the object whose keys start at `mark`, failing if it is
    /// already there. Objects of up to 64 keys are compared by fingerprint (one word per key, read
    /// from their own array) and fully only when fingerprints agree; larger ones through a hash
    /// set. `path` names the object in the error.
    @inlinable @inline(__always)
    public mutating func checkDuplicate(_ key: JSONStringToken, since mark: Int, path: String = "") throws(JSONError) {
        var key = key
        let end = keyCount
        if end &- mark > 64 {
            return try checkDuplicateHashed(key, since: mark, path: path)
        }
        key.fingerprint = key.hasEscapes ? decodedFingerprint(of: key) : fingerprint(of: key)
        let bit = JSONCursor.filterBit(key.fingerprint)
        let filter = end == mark ? 0 : keyFilters[mark]
        if filter & bit != 0 {
            var k = mark
            while k < end {
                if fingerprints[k] == key.fingerprint && JSONCursor.keysEqual(keys[k], key, in: bytes) {
                    throw duplicateKeyError(key, path: path)
                }
                k &+= 1
            }
        }
        pushKey(key)
        keyFilters[mark] = filter | bit
    }

    /// A key's bit in its object's filter: one of 64, from a hash of the fingerprint. Equal keys
    /// have equal fingerprints, so a clear bit means no earlier key of the object equals it; an
    /// object of 20 keys compares a new key in full about one time in seven.
    @inlinable @inline(__always)
    static func filterBit(_ fingerprint: UInt64) -> UInt64 {
        1 &<< ((fingerprint &* 0x9E37_79B9_7F4A_7C15) >> 58)
    }

    /// Full comparison, kept out of line so the common loop above stays small. Static: passing the
    /// cursor itself would copy it on every call site's path.
    @usableFromInline @inline(never)
    static func keysEqual(_ a: JSONStringToken, _ b: JSONStringToken, in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if !a.hasEscapes && !b.hasEscapes {
            let n = a.end - a.start
            guard n == b.end - b.start else { return false }
            for k in 0..<n where bytes[a.start + k] != bytes[b.start + k] { return false }
            return true
        }
        var x: [UInt8] = [], y: [UInt8] = []
        decode(a, in: bytes, into: &x)
        decode(b, in: bytes, into: &y)
        return x == y
    }

    @usableFromInline @inline(never)
    func duplicateKeyError(_ key: JSONStringToken, path: String) -> JSONError {
        .duplicateKey(key: string(key), path: path, at: location(key.start - 1))
    }

    /// Length and first bytes of a key in one word: unequal fingerprints mean unequal keys (for
    /// keys without escapes), so most comparisons are one integer compare.
    @inlinable @inline(__always)
    func fingerprint(of key: JSONStringToken) -> UInt64 {
        JSONCursor.fingerprint(bytes.baseAddress!, bytes.count, start: key.start, length: key.end &- key.start)
    }

    /// The fingerprint of the `length` bytes from `start` (`count` bytes of `base` readable): the
    /// first seven bytes, zero-padded, over the length (saturated at 255) in the low byte. Also
    /// how readers of keys look them up in their own tables, so a key read once is hashed once.
    @inlinable @inline(__always)
    public static func fingerprint(_ base: UnsafePointer<UInt8>, _ count: Int, start: Int, length: Int) -> UInt64 {
        var word: UInt64 = 0
        if start &+ 8 <= count {
            word = UnsafeRawPointer(base + start).loadUnaligned(as: UInt64.self)
            if length < 8 { word &= (UInt64(1) << UInt64(truncatingIfNeeded: length &* 8)) &- 1 }
        } else {
            var i = 0
            while i < length && i < 8 {
                word |= UInt64(base[start &+ i]) << UInt64(truncatingIfNeeded: 8 &* i)
                i &+= 1
            }
        }
        return (word << 8) | UInt64(truncatingIfNeeded: min(length, 255))
    }

    /// The fingerprint of an escaped key's decoded text, so it compares with unescaped spellings.
    @usableFromInline @inline(never)
    func decodedFingerprint(of key: JSONStringToken) -> UInt64 {
        var decoded: [UInt8] = []
        decode(key, into: &decoded)
        return decoded.withUnsafeBufferPointer { buffer in
            JSONCursor(bytes: buffer, keyStack: keyStack).fingerprint(of: JSONStringToken(start: 0, end: buffer.count, hasEscapes: false))
        }
    }

    @inlinable @inline(__always)
    mutating func pushKey(_ key: JSONStringToken) {
        if keyCount == keyCapacity {
            keyStack.grow(keeping: keyCount)
            keys = keyStack.storage
            fingerprints = keyStack.fingerprints
            keyFilters = keyStack.filters
            keyCapacity = keyStack.capacity
        }
        keys[keyCount] = key
        fingerprints[keyCount] = key.fingerprint
        keyCount &+= 1
    }

    @usableFromInline
    mutating func checkDuplicateHashed(_ key: JSONStringToken, since mark: Int, path: String) throws(JSONError) {
        var buffer: [UInt8] = []
        if largeObjectKeys[mark] == nil {
            var seen = Set<[UInt8]>()
            for k in mark..<keyCount {
                buffer.removeAll(keepingCapacity: true)
                decode(keys[k], into: &buffer)
                seen.insert(buffer)
            }
            largeObjectKeys[mark] = seen
        }
        buffer.removeAll(keepingCapacity: true)
        decode(key, into: &buffer)
        if largeObjectKeys[mark]!.insert(buffer).inserted == false {
            throw .duplicateKey(key: string(key), path: path, at: location(key.start - 1))
        }
        pushKey(key)
    }

    /// Forgets the keys recorded since `mark` (call when an object closes).
    @inlinable
    public mutating func releaseKeys(to mark: Int) {
        if keyCount - mark > 64 { largeObjectKeys[mark] = nil }
        keyCount = mark
    }

    /// The number of keys currently recorded (the mark for a new object).
    @inlinable
    public var keyMark: Int { keyCount }
}

/// A string's raw bytes between its quotes, and whether decoding is needed.
public struct JSONStringToken: Sendable, Equatable {
    public var start: Int
    public var end: Int
    public var hasEscapes: Bool
    /// `JSONCursor.fingerprint` of the key's text, set by the key readers (decoded text for keys
    /// with escapes); 0 until then.
    public var fingerprint: UInt64 = 0

    @inlinable
    public init(start: Int, end: Int, hasEscapes: Bool) {
        self.start = start
        self.end = end
        self.hasEscapes = hasEscapes
    }

    public static func == (a: JSONStringToken, b: JSONStringToken) -> Bool {
        a.start == b.start && a.end == b.end && a.hasEscapes == b.hasEscapes
    }
}

/// The limits applied to untrusted JSON.
public enum JSONLimits {
    /// Deepest nesting accepted by default.
    public static let defaultMaxDepth = 100
    /// EventBridge's event size limit, 256 KB.
    public static let defaultMaxEventBytes = 256 * 1024
}

/// Storage for the keys of open objects, kept between cursors so reading many events does not allocate.
///
/// Not thread-safe: one per reading thread.
///
/// Its storage is read once per cursor; `@exclusivity(unchecked)` spares each read the runtime's
/// dynamic exclusivity check (four calls per event otherwise), which guards nothing here: one
/// thread uses a stack, and only `grow` writes it.
public final class JSONKeyStack {
    @exclusivity(unchecked) @usableFromInline var storage: UnsafeMutablePointer<JSONStringToken>
    /// Each key's fingerprint again, packed, for the duplicate scan.
    @exclusivity(unchecked) @usableFromInline var fingerprints: UnsafeMutablePointer<UInt64>
    /// The open objects' key filters, each at its object's mark.
    @exclusivity(unchecked) @usableFromInline var filters: UnsafeMutablePointer<UInt64>
    @exclusivity(unchecked) @usableFromInline var capacity: Int

    public init(capacity: Int = 64) {
        self.capacity = capacity
        storage = UnsafeMutablePointer<JSONStringToken>.allocate(capacity: capacity)
        fingerprints = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        filters = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
    }

    /// Doubles the capacity, keeping the first `count` keys.
    @usableFromInline
    func grow(keeping count: Int) {
        let bigger = UnsafeMutablePointer<JSONStringToken>.allocate(capacity: capacity * 2)
        bigger.update(from: storage, count: count)
        storage.deallocate()
        storage = bigger
        let biggerFingerprints = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity * 2)
        biggerFingerprints.update(from: fingerprints, count: count)
        fingerprints.deallocate()
        fingerprints = biggerFingerprints
        let biggerFilters = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity * 2)
        biggerFilters.update(from: filters, count: count)
        filters.deallocate()
        filters = biggerFilters
        capacity *= 2
    }

    deinit {
        storage.deallocate()
        fingerprints.deallocate()
        filters.deallocate()
    }
}
