/// Parses an HTTP `Retry-After` value: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
public enum RetryAfter {
    /// Seconds to wait, or nil when the value is neither form.
    ///
    /// Delay-seconds is a run of digits (surrounding spaces allowed). Dates are accepted in the three
    /// HTTP-date forms (IMF-fixdate, RFC 850, asctime) and measured from `now` (Unix seconds); a date
    /// in the past gives 0. The result is clamped to `maxSeconds`.
    public static func seconds(from value: String, now: Double, maxSeconds: Double) -> Double? {
        let trimmed = value.trimmingSpaces
        guard !trimmed.isEmpty, trimmed.utf8.count <= 64 else { return nil }
        if trimmed.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            // Many digits: certainly above any sane maximum.
            guard trimmed.utf8.count <= 12, let n = Double(trimmed) else { return maxSeconds }
            return min(n, maxSeconds)
        }
        guard let date = httpDate(trimmed) else { return nil }
        return min(max(0, date - now), maxSeconds)
    }

    /// Unix seconds of an HTTP-date, or nil.
    public static func httpDate(_ text: String) -> Double? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT   -> [Sun, 06, Nov, 1994, 08:49:37, GMT]
        // RFC 850:     Sunday, 06-Nov-94 08:49:37 GMT  -> [Sunday, 06-Nov-94, 08:49:37, GMT]
        // asctime:     Sun Nov  6 08:49:37 1994        -> [Sun, Nov, 6, 08:49:37, 1994]
        var day: Int?, month: Int?, year: Int?, time: String?
        if parts.count == 6, parts[5] == "GMT" {
            day = Int(parts[1]); month = monthNumber(parts[2]); year = Int(parts[3]); time = parts[4]
        } else if parts.count == 4, parts[3] == "GMT" {
            let dmy = parts[1].split(separator: "-").map(String.init)
            guard dmy.count == 3, dmy[2].count == 2, let yy = Int(dmy[2]) else { return nil }
            day = Int(dmy[0]); month = monthNumber(dmy[1]); time = parts[2]
            // RFC 9110: a two-digit year more than 50 years in the future means the past century; keep it simple.
            year = yy < 70 ? 2000 + yy : 1900 + yy
        } else if parts.count == 5 {
            month = monthNumber(parts[1]); day = Int(parts[2]); time = parts[3]; year = Int(parts[4])
        } else {
            return nil
        }
        guard let d = day, let m = month, let y = year, let t = time, (1...31).contains(d), (1...9999).contains(y) else { return nil }
        let hms = t.split(separator: ":").map { Int($0) }
        guard hms.count == 3, let h = hms[0], let mi = hms[1], let s = hms[2],
              (0...23).contains(h), (0...59).contains(mi), (0...60).contains(s) else { return nil }
        let days = daysFromCivil(year: y, month: m, day: d)
        return Double(days * 86_400 + h * 3_600 + mi * 60 + s)
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    private static func monthNumber(_ name: String) -> Int? {
        months.firstIndex(of: name.lowercased()).map { $0 + 1 }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
