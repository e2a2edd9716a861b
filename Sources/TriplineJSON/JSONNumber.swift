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

    /// The value to compare with: the double, or NaN (equal to nothing, inside no range) when the
    /// text is beyond what a double holds: it overflows (`1e400`) or a nonzero text underflows to
    /// zero (`1e-400`). event-ruler does not compare those either.
    public var comparableValue: Double {
        var utf8 = text
        return utf8.withUTF8 { JSONNumber.comparable(value, text: $0) }
    }

    /// ``comparableValue`` of a number token read in place.
    @inlinable
    public static func comparableValue(buffer text: UnsafeBufferPointer<UInt8>) -> Double {
        comparable(parseDouble(buffer: text), text: text)
    }

    @inlinable
    static func comparable(_ value: Double, text: UnsafeBufferPointer<UInt8>) -> Double {
        if value.isNormal { return value }
        if value == 0 {
            // Zero only when every digit before the exponent is.
            for byte in text {
                if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { break }
                if byte >= UInt8(ascii: "1") && byte <= UInt8(ascii: "9") { return .nan }
            }
            return value
        }
        return value.isFinite ? value : .nan
    }

    /// ``isExact`` for the text `text` whose double is `value`.
    public static func isExact(_ text: UnsafeBufferPointer<UInt8>, value: Double) -> Bool {
        guard value.isFinite else { return false }
        guard let written = decimal(text) else { return false }
        if value == 0 { return written.digits.isEmpty }   // not exact when a nonzero text underflowed
        if written.digits.count <= 15 && value.isNormal { return true }
        guard let shortest = decimal(Array(value.magnitude.description.utf8)) else { return false }
        return written.digits == shortest.digits && written.exponent == shortest.exponent
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
        let n = text.count
        var i = 0
        var negative = false
        if i < n && text[i] == UInt8(ascii: "-") { negative = true; i += 1 }
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
                } else if d != 0 {
                    truncated = true
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
        if mantissa == 0 && !truncated { return negative ? -0.0 : 0.0 }
        if !truncated, let exact = exactDouble(mantissa: mantissa, exponent: exponent) {
            return negative ? -exact : exact
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
