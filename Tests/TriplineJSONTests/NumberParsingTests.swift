import SeededRandom
import Testing
import Foundation
import TriplineJSON

/// `JSONNumber.parseDouble` must round exactly like `strtod` (correct rounding) on every input.
@Suite struct NumberParsingTests {
    static func strtodValue(_ text: String) -> Double {
        text.withCString { strtod($0, nil) }
    }

    @Test(arguments: [
        "0", "-0", "1", "-1", "300", "3e2", "3.00E+2", "300.0000", "0.1", "0.3", "1e-7", "2.2250738585072014e-308",
        "1.7976931348623157e308", "1e400", "-1e400", "4.9e-324", "123456789012345678901234567890", "9007199254740993",
        "9007199254740992", "-122.42916360922355", "37.729900216217324", "1234567890.1234561", "0.000000000000000000001",
        "18446744073709551615", "18446744073709551616", "99999999999999999999", "1.00000000000000011102230246251565404236316680908203125",
        "1.0000000000000001110223024625156540423631668090820312", "5e-324", "2.4703282292062327e-324", "7.2057594037927933e16",
    ])
    func edgeCases(_ text: String) {
        let ours = JSONNumber.parseDouble(text.utf8)
        let reference = Self.strtodValue(text)
        #expect(ours.bitPattern == reference.bitPattern, "\(text): \(ours) vs \(reference)")
    }

    @Test func randomNumbersAgreeWithStrtod() {
        var rng = SplitMix64(seed: 0x5EED)
        var mismatches: [String] = []
        for _ in 0..<200_000 {
            let digits = Int(rng.next() % 21) + 1
            var text = rng.next() % 2 == 0 ? "-" : ""
            var mantissa = String(rng.next() % 9 + 1)
            for _ in 1..<digits { mantissa += String(rng.next() % 10) }
            let dot = Int(rng.next() % UInt64(digits + 1))
            if dot > 0 && dot < digits {
                let index = mantissa.index(mantissa.startIndex, offsetBy: dot)
                mantissa.insert(".", at: index)
            }
            text += mantissa
            if rng.next() % 3 == 0 { text += "e" + String(Int(rng.next() % 61) - 30) }
            let ours = JSONNumber.parseDouble(text.utf8)
            let reference = Self.strtodValue(text)
            if ours.bitPattern != reference.bitPattern { mismatches.append(text) }
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5))")
    }
}
