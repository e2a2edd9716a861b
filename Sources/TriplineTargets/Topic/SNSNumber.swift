/// SNS's number domain: decimals from -10^9 to 10^9 with five digits after the decimal point.
///
/// A number is read from its decimal text (never through a binary double, so `0.1` is exactly
/// 10000 hundred-thousandths) and kept as `floor(x × 10^5)`. Two numbers are equal for SNS when
/// these agree; ranges compare them. Texts outside ±10^9 have no SNS value (`nil`).
/// Source: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
enum SNSNumber {
    static let scale: Int64 = 100_000
    static let maxScaled: Int64 = 1_000_000_000 * scale

    /// `floor(x × 10^5)` for the JSON number text `text`, or nil when it is not a JSON number or
    /// lies outside ±10^9.
    static func scaled<S: StringProtocol>(_ text: S) -> Int64? {
        var digits: [UInt8] = []
        var negative = false
        var fractionDigits = 0
        var exponent = 0
        var i = text.utf8.startIndex
        let utf8 = text.utf8
        func peek() -> UInt8? { i < utf8.endIndex ? utf8[i] : nil }
        if peek() == UInt8(ascii: "-") { negative = true; i = utf8.index(after: i) }
        // Integer part: "0" or [1-9][0-9]*.
        guard let first = peek(), first >= 48, first <= 57 else { return nil }
        if first == 48 {
            i = utf8.index(after: i)
            if let c = peek(), c >= 48, c <= 57 { return nil }
        } else {
            while let c = peek(), c >= 48, c <= 57 { if !(digits.isEmpty && c == 48) { digits.append(c - 48) }; i = utf8.index(after: i) }
        }
        if peek() == UInt8(ascii: ".") {
            i = utf8.index(after: i)
            var any = false
            while let c = peek(), c >= 48, c <= 57 {
                any = true
                if !(digits.isEmpty && c == 48) { digits.append(c - 48) }
                fractionDigits += 1
                i = utf8.index(after: i)
            }
            guard any else { return nil }
        }
        if let c = peek(), c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            i = utf8.index(after: i)
            var expNegative = false
            if let s = peek(), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { expNegative = s == UInt8(ascii: "-"); i = utf8.index(after: i) }
            var any = false
            while let c = peek(), c >= 48, c <= 57 {
                any = true
                if exponent < 100_000 { exponent = exponent * 10 + Int(c - 48) }
                i = utf8.index(after: i)
            }
            guard any else { return nil }
            if expNegative { exponent = -exponent }
        }
        guard i == utf8.endIndex else { return nil }
        // Drop trailing zeros of the significant digits into the exponent.
        var power = exponent - fractionDigits + 5   // value × 10^5 = D × 10^power
        while let last = digits.last, last == 0 { digits.removeLast(); power += 1 }
        if digits.isEmpty { return 0 }
        var magnitude: Int64 = 0
        var remainder = false
        if power >= 0 {
            guard digits.count + power <= 16 else { return nil }
            for d in digits { magnitude = magnitude * 10 + Int64(d) }
            for _ in 0..<power { magnitude *= 10 }
        } else {
            let keep = digits.count + power   // digits before the scaled decimal point
            if keep <= 0 {
                remainder = true
            } else {
                guard keep <= 16 else { return nil }
                for d in digits[0..<keep] { magnitude = magnitude * 10 + Int64(d) }
                remainder = digits[keep...].contains { $0 != 0 }
            }
        }
        guard magnitude < maxScaled || (magnitude == maxScaled && !remainder) else { return nil }
        if negative { return -(magnitude + (remainder ? 1 : 0)) }
        return magnitude
    }

    /// The scaled value back as decimal text, for messages (`30150000` → `301.5`).
    static func text(_ scaled: Int64) -> String {
        let negative = scaled < 0
        let magnitude = scaled.magnitude
        let whole = magnitude / UInt64(scale)
        var fraction = String(magnitude % UInt64(scale))
        fraction = String(repeating: "0", count: 5 - fraction.count) + fraction
        while fraction.last == "0" { fraction.removeLast() }
        return (negative ? "-" : "") + String(whole) + (fraction.isEmpty ? "" : "." + fraction)
    }
}
