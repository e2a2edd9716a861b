/// Text helpers for Slack's `mrkdwn`: escaping untrusted values and keeping within Slack's limits.
///
/// Slack treats `&`, `<` and `>` as control characters (`<@U123>`, `<!channel>`, `<url|label>`);
/// a value from an event must have them escaped, or an attacker who controls, say, a user agent
/// could ping a whole channel or plant a link. Lengths are counted in Unicode scalars, which is
/// never fewer than what Slack counts, and truncation never splits an escape such as `&amp;`.
public enum SlackText {
    /// Slack's limit for a section's `text`.
    public static let maxSectionText = 3000
    /// Slack's limit for a `header` block's text.
    public static let maxHeaderText = 150
    /// Slack's limit for each of a section's `fields`.
    public static let maxFieldText = 2000
    /// Slack's limit on a section's number of `fields`.
    public static let maxFields = 10
    /// Slack's limit on a context block's number of elements.
    public static let maxContextElements = 10
    /// Slack's limit on blocks per message.
    public static let maxBlocks = 50
    /// What a truncated value ends with.
    public static let ellipsis = "…"

    /// `text` with `&`, `<` and `>` escaped, cut to at most `limit` scalars (ending in "…" when cut).
    public static func escaped(_ text: String, limit: Int = maxSectionText) -> String {
        fit(text, limit: limit, escape: true)
    }

    /// `text` cut to at most `limit` scalars (ending in "…" when cut), not escaped: for plain_text.
    public static func truncated(_ text: String, limit: Int) -> String {
        fit(text, limit: limit, escape: false)
    }

    /// `text` as inline code: escaped, with backticks (which would end the code span) replaced by `ˋ`.
    public static func code(_ text: String, limit: Int = maxFieldText) -> String {
        var cleaned = String.UnicodeScalarView()
        var count = 0
        for scalar in text.unicodeScalars {
            // One scalar past the limit is enough for `escaped` to see that it must cut.
            if count > limit { break }
            switch scalar {
            case "`": cleaned.append("\u{02CB}")
            case "\n", "\r", "\t": cleaned.append(" ")
            default: cleaned.append(scalar)
            }
            count += 1
        }
        if cleaned.isEmpty { return "" }
        return "`" + escaped(String(cleaned), limit: max(1, limit - 2)) + "`"
    }

    /// The number of scalars Slack's limits are checked against.
    public static func length(_ text: String) -> Int { text.unicodeScalars.count }

    private static func fit(_ text: String, limit: Int, escape: Bool) -> String {
        let limit = max(1, limit)
        var out = String.UnicodeScalarView()
        var count = 0
        let scalars = text.unicodeScalars
        var index = scalars.startIndex
        while index != scalars.endIndex {
            let scalar = scalars[index]
            scalars.formIndex(after: &index)
            let piece: String
            switch scalar {
            case "&" where escape: piece = "&amp;"
            case "<" where escape: piece = "&lt;"
            case ">" where escape: piece = "&gt;"
            default: piece = String(scalar)
            }
            let pieceCount = piece.unicodeScalars.count
            // Room must remain for the ellipsis unless this is the last scalar.
            let reserve = index == scalars.endIndex ? 0 : 1
            if count + pieceCount + reserve > limit {
                // Does everything left fit exactly? Only when this is the last piece (handled above).
                out.append(contentsOf: ellipsis.unicodeScalars)
                return String(out)
            }
            out.append(contentsOf: piece.unicodeScalars)
            count += pieceCount
        }
        return String(out)
    }
}
