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

    /// Builds a number from a validated JSON number text.
    public init(text: String) {
        self.text = text
        self.value = JSONNumber.parseDouble(text.utf8)
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

    /// Correctly rounded conversion of a validated JSON number; exact fast path for short mantissas.
    @inlinable
    public static func parseDouble<C: Collection>(_ utf8: C) -> Double where C.Element == UInt8 {
        // Fast path (Clinger): up to 15 significant digits and a small power of ten are exact in a double.
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        var negative = false
        var sawDot = false
        var iterator = utf8.makeIterator()
        var pending: UInt8? = iterator.next()
        if pending == UInt8(ascii: "-") { negative = true; pending = iterator.next() }
        var fastPathOK = true
        loop: while let c = pending {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if mantissa == 0 && c == UInt8(ascii: "0") {
                    if sawDot { exponent -= 1 }
                } else {
                    if digits >= 15 { fastPathOK = false; break loop }
                    mantissa = mantissa &* 10 &+ UInt64(c &- UInt8(ascii: "0"))
                    digits += 1
                    if sawDot { exponent -= 1 }
                }
            case UInt8(ascii: "."):
                sawDot = true
            case UInt8(ascii: "e"), UInt8(ascii: "E"):
                var expNegative = false
                var expValue = 0
                pending = iterator.next()
                if pending == UInt8(ascii: "-") { expNegative = true; pending = iterator.next() } else if pending == UInt8(ascii: "+") { pending = iterator.next() }
                while let d = pending {
                    expValue = expValue * 10 + Int(d &- UInt8(ascii: "0"))
                    if expValue > 10_000 { fastPathOK = false; break loop }
                    pending = iterator.next()
                }
                exponent += expNegative ? -expValue : expValue
                break loop
            default:
                fastPathOK = false
                break loop
            }
            pending = iterator.next()
        }
        if fastPathOK {
            if mantissa == 0 { return negative ? -0.0 : 0.0 }
            if exponent >= -22 && exponent <= 22 {
                var result = Double(mantissa)
                if exponent < 0 { result /= powersOfTen[-exponent] } else { result *= powersOfTen[exponent] }
                return negative ? -result : result
            }
        }
        return slowParse(Array(utf8))
    }

    @usableFromInline
    static let powersOfTen: [Double] = (0...22).map { pow(10.0, Double($0)) }

    @usableFromInline
    static func slowParse(_ bytes: [UInt8]) -> Double {
        var buffer = bytes
        buffer.append(0)
        return buffer.withUnsafeBufferPointer { pointer in
            pointer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: pointer.count) { strtod($0, nil) }
        }
    }
}
