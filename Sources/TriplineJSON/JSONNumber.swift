#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSON number as written, plus its value as the nearest `Double`.
///
/// The text is kept because the lexical form matters in places (error messages, re-serialising a
/// pattern) while matching compares by value: `300`, `300.0` and `3e2` are equal.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    /// The number exactly as it appeared in the source text.
    public let text: String
    /// The correctly rounded IEEE double; may be infinite for texts such as `1e400`.
    public let value: Double

    public init(text: String, value: Double) {
        self.text = text
        self.value = value
    }

    /// Whether the text says exactly what its double holds: the same decimal value as the shortest
    /// text that reads back as that double (`0.1`, `3e2` and `300.000` yes; `9007199254740993` and
    /// `0.10000000000000001` no). Any text with at most 15 significant digits qualifies. This is
    /// event-ruler's test for a number it can compare (`BigDecimal.valueOf(d).compareTo(text)`).
    public var isExact: Bool {
        var utf8 = text
        return utf8.withUTF8 { JSONNumber.isExact($0, value: value) }
    }

    /// Whether the text is a nonzero number too close to zero for a double (`1e-400`), whose
    /// ``value`` is therefore 0.
    public var underflows: Bool {
        guard value == 0 else { return false }
        var utf8 = text
        return utf8.withUTF8 { JSONNumber.hasNonzeroDigit($0) }
    }

    /// The value to compare with: the double, or NaN (equal to nothing, inside no range) when the
    /// text says more than its double holds (``isExact``): it overflows (`1e400`), a nonzero text
    /// underflows to zero (`1e-400`), or it has more significant digits than the double keeps
    /// (`9007199254740993`, `0.30000000000000005`, any text of 18 or more digits). Exactly the
    /// numbers event-ruler refuses to compare (`ComparableNumber.generate`).
    public var comparableValue: Double {
        var utf8 = text
        return utf8.withUTF8 { JSONNumber.comparableValue(buffer: $0) }
    }

    /// ``comparableValue`` of a number token read in place.
    @inlinable
    public static func comparableValue(buffer text: UnsafeBufferPointer<UInt8>) -> Double {
        let parts = scan(text)
        let value = double(of: parts, text: text)
        // Up to 15 characters hold at most 15 significant digits: exact for a normal double.
        if value.isNormal && text.count <= 15 { return value }
        return comparableSlowly(value, parts: parts, text: text)
    }

    @usableFromInline
    static func comparableSlowly(_ value: Double, parts: DecimalParts, text: UnsafeBufferPointer<UInt8>) -> Double {
        if value.isNormal { return isExact(parts, text: text, value: value) ? value : .nan }
        if value == 0 { return hasNonzeroDigit(text) ? .nan : value }
        // A subnormal value holds fewer digits than a normal one; infinity none.
        return value.isFinite && isExact(parts, text: text, value: value) ? value : .nan
    }

    /// Whether a digit before the exponent of the number text `text` is nonzero: the text is not zero.
    static func hasNonzeroDigit(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        for byte in text {
            if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { break }
            if byte >= UInt8(ascii: "1") && byte <= UInt8(ascii: "9") { return true }
        }
        return false
    }

    /// ``isExact`` for the text `text` whose double is `value`.
    public static func isExact(_ text: UnsafeBufferPointer<UInt8>, value: Double) -> Bool {
        isExact(scan(text), text: text, value: value)
    }

    /// ``isExact`` from the scanned parts of `text`, without formatting or allocating in all but
    /// rare cases: at most 15 significant digits are always exact (for a normal double), 18 or more
    /// never (a shortest text needs at most 17), and 16 or 17 are decided by
    /// ``isShortest(mantissa:exponent:value:)``.
    @usableFromInline
    static func isExact(_ parts: DecimalParts, text: UnsafeBufferPointer<UInt8>, value: Double) -> Bool {
        guard value.isFinite else { return false }
        if parts.truncated { return false }   // a nonzero digit beyond the 19th
        // Past the 19th digit all are zeros here (not truncated), already counted in the exponent.
        var mantissa = parts.mantissa, digits = min(parts.significant, 19), exponent = parts.exponent
        if mantissa == 0 { return value == 0 }
        if value == 0 { return false }   // a nonzero text underflowed
        while mantissa % 10 == 0 { mantissa /= 10; digits -= 1; exponent += 1 }
        if digits <= 15 && value.isNormal { return true }
        if digits >= 18 { return false }
        if value.isNormal, let shortest = isShortest(mantissa: mantissa, exponent: exponent, value: value.magnitude) {
            return shortest
        }
        return formattedIsExact(text, value: value)
    }

    /// Whether `mantissa × 10^exponent` (16 or 17 digits, the last nonzero), which reads as the
    /// positive normal double `value`, is the shortest decimal that reads as `value` (the nearest to it
    /// among the shortest), as Java's `Double.toString` and Swift's `description` choose it; nil
    /// when the integer arithmetic cannot decide (exponents far from zero, a power of two).
    ///
    /// No shorter decimal reads as `value` when neither decimal one digit shorter beside the text
    /// does (the values that read as `value` form an interval holding the text). Then the shortest
    /// has the text's length, and it is the text when the text is the nearest decimal of that
    /// length to `value`: `value` lies between the midpoints to its two neighbours.
    @usableFromInline
    static func isShortest(mantissa m: UInt64, exponent e: Int, value: Double) -> Bool? {
        // At a power of two the interval is lopsided: the nearest decimal may lie outside it.
        guard value.significandBitPattern != 0 else { return nil }
        // The values reading as `value` lie strictly between the midpoints to its neighbours (or on
        // one, when its significand is even); the text is inside, so the shorter decimal below it
        // reads as `value` when it is above the lower midpoint, the one above when below the upper.
        let significand = value.significandBitPattern | (1 << 52)
        let k = Int(value.exponent) - 52
        let evenValue = significand % 2 == 0
        let shorter = m / 10
        guard let below = compare(shorter, power: e + 1, withBinary: 2 * significand - 1, exponent: k - 1),
              let above = compare(shorter + 1, power: e + 1, withBinary: 2 * significand + 1, exponent: k - 1) else { return nil }
        if below > 0 || (below == 0 && evenValue) || above < 0 || (above == 0 && evenValue) { return false }
        // Ties (value exactly at a midpoint) go to the even last digit.
        guard let low = compare(m * 10 - 5, power: e - 1, with: value),
              let high = compare(m * 10 + 5, power: e - 1, with: value) else { return nil }
        if low > 0 || high < 0 { return false }
        if (low == 0 || high == 0) && m % 2 == 1 { return false }
        return true
    }

    /// The sign of `decimal × 10^power − value` (a positive normal double), computed exactly in
    /// 128-bit integers; nil when `|power|` is beyond 27 (5^power no longer fits 64 bits).
    @usableFromInline
    static func compare(_ decimal: UInt64, power f: Int, with value: Double) -> Int? {
        compare(decimal, power: f, withBinary: value.significandBitPattern | (1 << 52), exponent: Int(value.exponent) - 52)
    }

    /// The sign of `decimal × 10^power − binary × 2^exponent`, exactly; nil when `|power| > 27`.
    @usableFromInline
    static func compare(_ decimal: UInt64, power f: Int, withBinary binary: UInt64, exponent k: Int) -> Int? {
        guard f >= -27 && f <= 27 else { return nil }
        if f >= 0 {
            // decimal × 5^f × 2^f against binary × 2^k.
            let a = decimal.multipliedFullWidth(by: powerOfFive(f))
            return compareShifted(a.high, a.low, shift: f - k, 0, binary)
        }
        // Both times 10^-f: decimal against binary × 5^-f × 2^(k - f).
        let b = binary.multipliedFullWidth(by: powerOfFive(-f))
        return -compareShifted(b.high, b.low, shift: k - f, 0, decimal)
    }

    /// 5^n for n ≤ 27, by squaring (a table would cost a lazy-initialisation check per call).
    @usableFromInline @inline(__always)
    static func powerOfFive(_ n: Int) -> UInt64 {
        var result: UInt64 = 1, base: UInt64 = 5, n = n
        while n > 0 {
            if n & 1 == 1 { result &*= base }
            base &*= base
            n >>= 1
        }
        return result
    }

    /// The sign of `(aHigh:aLow) × 2^shift − (bHigh:bLow)`.
    @usableFromInline
    static func compareShifted(_ aHigh: UInt64, _ aLow: UInt64, shift: Int, _ bHigh: UInt64, _ bLow: UInt64) -> Int {
        func bits(_ high: UInt64, _ low: UInt64) -> Int { high != 0 ? 128 - high.leadingZeroBitCount : 64 - low.leadingZeroBitCount }
        func shifted(_ high: UInt64, _ low: UInt64, by s: Int) -> (UInt64, UInt64) {
            if s == 0 { return (high, low) }
            if s >= 64 { return (low << UInt64(s - 64), 0) }
            return ((high << UInt64(s)) | (low >> UInt64(64 - s)), low << UInt64(s))
        }
        var a = (aHigh, aLow), b = (bHigh, bLow)
        if shift >= 0 {
            if bits(aHigh, aLow) + shift > 128 { return 1 }
            a = shifted(aHigh, aLow, by: shift)
        } else {
            if bits(bHigh, bLow) - shift > 128 { return -1 }
            b = shifted(bHigh, bLow, by: -shift)
        }
        if a.0 != b.0 { return a.0 < b.0 ? -1 : 1 }
        if a.1 != b.1 { return a.1 < b.1 ? -1 : 1 }
        return 0
    }

    /// ``isExact`` by formatting the double's shortest text and comparing decimal values: for the
    /// cases the integer test leaves (subnormal values, exponents far from zero).
    ///
    /// Java renders a double whose shortest text has one digit with two (the nearest two-digit
    /// decimal), which differs in value only for subnormal numbers: `5e-324` reads as the double Java
    /// writes `4.9E-324`, so it is not exact there.
    static func formattedIsExact(_ text: UnsafeBufferPointer<UInt8>, value: Double) -> Bool {
        guard let written = decimal(text), var shortest = decimal(Array(value.magnitude.description.utf8)) else { return false }
        if shortest.digits.count == 1, let twoDigits = decimal(twoDigitText(value.magnitude)) {
            shortest = twoDigits
        }
        return written.digits == shortest.digits && written.exponent == shortest.exponent
    }

    /// `value` correctly rounded to two significant digits (`%.1e`).
    static func twoDigitText(_ value: Double) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: 32)
        let count = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%.1e", $0) }
        return buffer.prefix(max(0, min(Int(count), buffer.count - 1))).map { UInt8(bitPattern: $0) }
    }

    /// A decimal text (`-12.50e3`, `1.25e+4`) as its significant digits, without leading or trailing
    /// zeros, and the power of ten of the first of them; nil for text that is not a decimal number.
    static func decimal<C: Collection>(_ text: C) -> (digits: [UInt8], exponent: Int)? where C.Element == UInt8 {
        var digits: [UInt8] = []
        var pointAt: Int? = nil
        var bytes = text[...]
        if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        var sawDigit = false
        while let c = bytes.first, c != UInt8(ascii: "e"), c != UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if c == UInt8(ascii: ".") {
                guard pointAt == nil else { return nil }
                pointAt = digits.count
            } else if c >= 48 && c <= 57 {
                digits.append(c)
                sawDigit = true
            } else {
                return nil
            }
        }
        guard sawDigit else { return nil }
        var exponent = 0
        if !bytes.isEmpty {
            guard let e = Int(String(decoding: bytes.dropFirst(), as: UTF8.self)) else { return nil }
            exponent = e
        }
        // Value = 0.d1d2… × 10^(point + exponent); the first digit's power is point + exponent - 1.
        var power = (pointAt ?? digits.count) + exponent - 1
        while let first = digits.first, first == UInt8(ascii: "0") { digits.removeFirst(); power -= 1 }
        while let last = digits.last, last == UInt8(ascii: "0") { digits.removeLast() }
        return (digits, digits.isEmpty ? 0 : power)
    }

    /// Builds a number from a validated JSON number text.
    public init(text: String) {
        self.text = text
        var utf8 = text
        self.value = utf8.withUTF8 { JSONNumber.parseDouble(buffer: $0) }
    }

    public init(_ value: Double) {
        self.value = value
        if value == value.rounded(), abs(value) < 1e15 {
            self.text = String(Int64(value))
        } else {
            self.text = "\(value)"
        }
    }

    public init(_ value: Int) {
        self.value = Double(value)
        self.text = String(value)
    }

    public var description: String { text }

    /// True when the text has a fraction or exponent part.
    public var isIntegerLiteral: Bool { !text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) }

    public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool { lhs.value == rhs.value }
    public func hash(into hasher: inout Hasher) { hasher.combine(value) }

    /// Correctly rounded conversion of a validated JSON number.
    ///
    /// Up to 19 significant digits with a decimal exponent within ±19 (nearly every number in real
    /// events) are converted exactly with 64×64→128-bit integer arithmetic; anything else goes
    /// through `strtod`.
    @inlinable
    public static func parseDouble<C: Collection>(_ utf8: C) -> Double where C.Element == UInt8 {
        if let fast = utf8.withContiguousStorageIfAvailable({ parseDouble(buffer: $0) }) { return fast }
        return Array(utf8).withUnsafeBufferPointer { parseDouble(buffer: $0) }
    }

    @inlinable
    public static func parseDouble(buffer text: UnsafeBufferPointer<UInt8>) -> Double {
        double(of: scan(text), text: text)
    }

    /// A number text's decimal parts: its first 19 significant digits as an integer, how many digits
    /// there are from the first nonzero one (trailing zeros included), the power of ten of the last
    /// digit kept, and whether a nonzero digit beyond the 19th was dropped.
    @usableFromInline
    struct DecimalParts {
        @usableFromInline var mantissa: UInt64 = 0
        @usableFromInline var significant = 0
        @usableFromInline var exponent = 0
        @usableFromInline var truncated = false
        @usableFromInline var negative = false
        @inlinable init() {}
    }

    @inlinable
    static func scan(_ text: UnsafeBufferPointer<UInt8>) -> DecimalParts {
        let n = text.count
        var i = 0
        var parts = DecimalParts()
        if i < n && text[i] == UInt8(ascii: "-") { parts.negative = true; i += 1 }
        var mantissa: UInt64 = 0
        var significant = 0
        var exponent = 0
        var truncated = false
        while i < n {
            let d = text[i] &- UInt8(ascii: "0")
            guard d < 10 else { break }
            if mantissa == 0 && d == 0 {
                // leading zero
            } else if significant < 19 {
                mantissa = mantissa &* 10 &+ UInt64(d)
                significant += 1
            } else {
                exponent += 1
                significant += 1
                if d != 0 { truncated = true }
            }
            i += 1
        }
        if i < n && text[i] == UInt8(ascii: ".") {
            i += 1
            while i < n {
                let d = text[i] &- UInt8(ascii: "0")
                guard d < 10 else { break }
                if mantissa == 0 && d == 0 {
                    exponent -= 1
                } else if significant < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(d)
                    significant += 1
                    exponent -= 1
                } else {
                    significant += 1
                    if d != 0 { truncated = true }
                }
                i += 1
            }
        }
        if i < n && (text[i] == UInt8(ascii: "e") || text[i] == UInt8(ascii: "E")) {
            i += 1
            var expNegative = false
            if i < n && (text[i] == UInt8(ascii: "-") || text[i] == UInt8(ascii: "+")) { expNegative = text[i] == UInt8(ascii: "-"); i += 1 }
            var value = 0
            while i < n {
                let d = text[i] &- UInt8(ascii: "0")
                guard d < 10 else { break }
                if value < 100_000 { value = value * 10 + Int(d) }
                i += 1
            }
            exponent += expNegative ? -value : value
        }
        parts.mantissa = mantissa
        parts.significant = significant
        parts.exponent = exponent
        parts.truncated = truncated
        return parts
    }

    /// The correctly rounded double of a scanned number text.
    @inlinable
    static func double(of parts: DecimalParts, text: UnsafeBufferPointer<UInt8>) -> Double {
        if parts.mantissa == 0 && !parts.truncated { return parts.negative ? -0.0 : 0.0 }
        if !parts.truncated, let exact = exactDouble(mantissa: parts.mantissa, exponent: parts.exponent) {
            return parts.negative ? -exact : exact
        }
        return slowParse(text)
    }

    /// `mantissa × 10^exponent`, correctly rounded, when that can be done exactly in integers.
    @inlinable
    static func exactDouble(mantissa m: UInt64, exponent e: Int) -> Double? {
        if m < (1 << 53) && e >= -22 && e <= 22 {
            // Clinger's fast path: both operands are exact doubles, one rounding.
            let value = Double(m)
            return e < 0 ? value / powersOfTen[-e] : value * powersOfTen[e]
        }
        if e >= 0 && e <= 19 {
            let product = m.multipliedFullWidth(by: integerPowersOfTen[e])
            return roundToDouble(high: product.high, low: product.low, sticky: false, binaryExponent: 0)
        }
        if e < 0 && e >= -19 {
            let divisor = integerPowersOfTen[-e]
            let mantissaBits = 64 - m.leadingZeroBitCount
            let divisorBits = 64 - divisor.leadingZeroBitCount
            let shift = 63 + divisorBits - mantissaBits
            let high: UInt64, low: UInt64
            if shift >= 64 {
                high = m << UInt64(shift - 64)
                low = 0
            } else if shift > 0 {
                high = m >> UInt64(64 - shift)
                low = m << UInt64(shift)
            } else {
                return nil
            }
            let (quotient, remainder) = divisor.dividingFullWidth((high: high, low: low))
            return roundToDouble(high: 0, low: quotient, sticky: remainder != 0, binaryExponent: -shift)
        }
        return nil
    }

    /// Rounds `(high:low) × 2^binaryExponent`, plus a nonzero fraction below it when `sticky`, to
    /// the nearest double (ties to even). The result must be a normal double.
    @inlinable
    static func roundToDouble(high: UInt64, low: UInt64, sticky: Bool, binaryExponent: Int) -> Double {
        var top = low
        var k = binaryExponent
        var sticky = sticky
        if high != 0 {
            let lz = high.leadingZeroBitCount
            top = lz == 0 ? high : (high << UInt64(lz)) | (low >> UInt64(64 - lz))
            if lz == 0 { sticky = sticky || low != 0 } else { sticky = sticky || (low << UInt64(lz)) != 0 }
            k += 64 - lz
        }
        let lz = top.leadingZeroBitCount
        top <<= UInt64(lz)
        k -= lz
        var significand = top >> 11
        let rest = top & 0x7FF
        if rest > 0x400 || (rest == 0x400 && (sticky || significand & 1 == 1)) {
            significand += 1
            if significand == 1 << 53 {
                significand >>= 1
                k += 1
            }
        }
        return Double(sign: .plus, exponent: k + 11, significand: Double(significand))
    }

    @usableFromInline
    static let integerPowersOfTen: [UInt64] = {
        var out: [UInt64] = [1]
        for _ in 1...19 { out.append(out[out.count - 1] * 10) }
        return out
    }()

    @usableFromInline
    static let powersOfTen: [Double] = (0...22).map { pow(10.0, Double($0)) }

    @usableFromInline
    static func slowParse(_ bytes: UnsafeBufferPointer<UInt8>) -> Double {
        var buffer = Array(bytes)
        buffer.append(0)
        return buffer.withUnsafeBufferPointer { pointer in
            pointer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: pointer.count) { strtod($0, nil) }
        }
    }
}
