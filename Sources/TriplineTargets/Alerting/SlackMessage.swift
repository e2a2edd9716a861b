import TriplineJSON

/// Turns a matched event into a Slack message (`text` + `blocks`) without a template: the
/// `Format: "slack"` option of a webhook target.
///
/// For CloudTrail events (an envelope whose `detail` is a record, or a bare record) the message says
/// who (principal, type, account), did what (`eventName` on `eventSource`), where (region, source
/// IP, user agent), when, whether it failed (`errorCode`, `errorMessage`) and whether MFA was used,
/// under the rule's name, severity and description. Any other event gets a generic message with its
/// `source`, `detail-type` and a compact excerpt of its `detail`.
///
/// Contract: the result is always an object with a non-empty `text` and a `blocks` array of at most
/// 50 `header`, `section`, `context` and `divider` blocks, within Slack's length limits; every
/// value taken from the event or the rule is escaped for mrkdwn (see ``SlackText``). Never fails.
public enum SlackMessage {
    /// Longest excerpt of a non-CloudTrail event's `detail`, in scalars.
    public static let detailExcerptLimit = 1500

    /// The Slack payload for `event` matched by the rule described by `alert`.
    public static func render(event: JSONValue, alert: AlertContext) -> JSONValue {
        let summary = CloudTrailSummary(event: event)
        var blocks: [JSONValue] = [header(alert: alert, summary: summary)]
        if let description = alert.description.flatMap(trimmedNonEmpty) {
            blocks.append(section(SlackText.escaped(description, limit: SlackText.maxSectionText)))
        }
        let text: String
        if let summary {
            blocks.append(contentsOf: cloudTrailBlocks(summary))
            text = fallbackText(summary: summary, alert: alert)
        } else {
            blocks.append(contentsOf: genericBlocks(event))
            text = genericText(event: event, alert: alert)
        }
        var context: [JSONValue] = []
        if let note = alert.suppressionNote {
            context.append(mrkdwn(":mute: " + SlackText.escaped(note, limit: 300)))
        }
        var origin: [String] = []
        if let detailType = summary?.detailType ?? CloudTrailSummary.text(event["detail-type"]) {
            origin.append(SlackText.escaped(detailType, limit: 200))
        }
        if let id = summary?.eventId ?? CloudTrailSummary.text(event["id"]) {
            origin.append("event " + SlackText.code(id, limit: 200))
        }
        origin.append("rule " + SlackText.code(alert.ruleName, limit: 300))
        context.append(mrkdwn(origin.joined(separator: " · ")))
        blocks.append(.object(JSONObject(["type": "context", "elements": .array(Array(context.prefix(SlackText.maxContextElements)))])))
        return .object(JSONObject([
            "text": .string(text),
            "blocks": .array(Array(blocks.prefix(SlackText.maxBlocks))),
        ]))
    }

    // MARK: - CloudTrail events

    static func cloudTrailBlocks(_ s: CloudTrailSummary) -> [JSONValue] {
        var blocks: [JSONValue] = []
        // The sentence: who did what, and how it ended.
        let who = s.principal.map { "*" + SlackText.escaped($0, limit: 300) + "*" } ?? "*an unknown principal*"
        var sentence = (s.isRoot ? ":warning: " : "") + who + " called " + SlackText.code(s.eventName, limit: 300)
            + " on " + SlackText.code(s.eventSource, limit: 300)
        if s.failed {
            sentence += " and it *failed*" + (s.errorCode.map { ": " + SlackText.code($0, limit: 300) } ?? "")
        }
        blocks.append(section(sentence))

        var fields: [String] = []
        func field(_ label: String, _ value: String?) {
            guard let value else { return }
            fields.append("*" + label + "*\n" + value)
        }
        let type = s.principalType.map { SlackText.escaped($0, limit: 200) + (s.isRoot ? " (root user)" : "") }
        field("Principal", s.principalARN.map { SlackText.code($0, limit: 1000) } ?? s.principal.map { SlackText.escaped($0, limit: 1000) })
        field("Type", type)
        field("Account", s.accountId.map { SlackText.code($0, limit: 200) })
        field("Action", SlackText.code(s.action, limit: 500))
        field("Region", s.region.map { SlackText.escaped($0, limit: 200) })
        field("Source IP", s.sourceIPAddress.map { SlackText.code($0, limit: 300) })
        field("When", s.eventTime.map { SlackText.escaped($0, limit: 200) })
        field("MFA", s.mfaUsed.map { $0 ? "Yes" : "No" } ?? "not recorded")
        field("Result", s.failed ? ":x: Failed" + (s.errorCode.map { " (" + SlackText.escaped($0, limit: 300) + ")" } ?? "") : ":white_check_mark: Succeeded")
        blocks.append(.object(JSONObject([
            "type": "section",
            "fields": .array(fields.prefix(SlackText.maxFields).map { mrkdwn(SlackText.truncated($0, limit: SlackText.maxFieldText)) }),
        ])))

        if let message = s.errorMessage {
            blocks.append(section("*Error*\n" + SlackText.escaped(message, limit: SlackText.maxSectionText - 20)))
        }
        if let agent = s.userAgent {
            blocks.append(.object(JSONObject(["type": "context", "elements": [mrkdwn("User agent: " + SlackText.code(agent, limit: 1000))]])))
        }
        return blocks
    }

    /// The notification text: `[HIGH] rule: alice called iam:DeleteUser in us-east-1 (failed: AccessDenied)`.
    static func fallbackText(summary s: CloudTrailSummary, alert: AlertContext) -> String {
        var text = alert.severity.map { "[" + $0.label + "] " } ?? ""
        text += alert.ruleName + ": " + (s.principal ?? "an unknown principal") + " called " + s.action
        if let region = s.region { text += " in " + region }
        if s.failed { text += " (failed" + (s.errorCode.map { ": " + $0 } ?? "") + ")" }
        if let note = alert.suppressionNote { text += ", " + note }
        return SlackText.escaped(text, limit: SlackText.maxSectionText)
    }

    // MARK: - Other events

    static func genericBlocks(_ event: JSONValue) -> [JSONValue] {
        var fields: [String] = []
        for (label, key) in [("Source", "source"), ("Detail type", "detail-type"), ("Account", "account"), ("Region", "region"), ("Time", "time")] {
            if let value = CloudTrailSummary.text(event[key]) {
                fields.append("*" + label + "*\n" + SlackText.escaped(value, limit: 500))
            }
        }
        var blocks: [JSONValue] = []
        if !fields.isEmpty {
            blocks.append(.object(JSONObject(["type": "section", "fields": .array(fields.map { mrkdwn($0) })])))
        }
        let excerptSource = event.objectValue == nil ? event : (event["detail"] ?? event)
        blocks.append(section("*Detail*\n" + codeBlock(JSONWriter.string(excerptSource), limit: detailExcerptLimit)))
        return blocks
    }

    static func genericText(event: JSONValue, alert: AlertContext) -> String {
        var text = alert.severity.map { "[" + $0.label + "] " } ?? ""
        text += alert.ruleName + ": "
        let detailType = CloudTrailSummary.text(event["detail-type"])
        let source = CloudTrailSummary.text(event["source"])
        switch (detailType, source) {
        case let (d?, s?): text += d + " from " + s
        case let (d?, nil): text += d
        case let (nil, s?): text += "an event from " + s
        case (nil, nil): text += "a matching event"
        }
        if let note = alert.suppressionNote { text += ", " + note }
        return SlackText.escaped(text, limit: SlackText.maxSectionText)
    }

    // MARK: - Blocks

    static func header(alert: AlertContext, summary: CloudTrailSummary?) -> JSONValue {
        var title = ""
        if let severity = alert.severity { title += severity.emoji + " " + severity.label + ": " }
        title += trimmedNonEmpty(alert.ruleName) ?? "Tripline alert"
        return .object(JSONObject([
            "type": "header",
            "text": ["type": "plain_text", "text": .string(SlackText.truncated(title, limit: SlackText.maxHeaderText)), "emoji": true],
        ]))
    }

    static func section(_ mrkdwnText: String) -> JSONValue {
        .object(JSONObject(["type": "section", "text": mrkdwn(SlackText.truncated(mrkdwnText, limit: SlackText.maxSectionText))]))
    }

    static func mrkdwn(_ text: String) -> JSONValue {
        ["type": "mrkdwn", "text": .string(text.isEmpty ? " " : text)]
    }

    /// A fenced code block with `text` escaped and cut to `limit`; fences inside are broken up.
    static func codeBlock(_ text: String, limit: Int) -> String {
        // A zero-width space after every backtick keeps "```" from ever appearing inside.
        var broken = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            broken.append(scalar)
            if scalar == "`" { broken.append("\u{200B}") }
        }
        let body = SlackText.escaped(String(broken), limit: limit)
        return "```" + body + "```"
    }

    /// `text` without surrounding whitespace, or nil when nothing is left.
    static func trimmedNonEmpty(_ text: String) -> String? {
        let trimmed = text.drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed()
        return trimmed.isEmpty ? nil : String(trimmed)
    }
}
