import EventPattern
import TriplineJSON

/// Advice on a valid rule that would load and run but probably not do what its author meant.
///
/// `tripline validate` prints each as a note (`note: FILE: rule NAME: …`); none is an error, since
/// each can be intended. Found on the pattern's flattened branches (``EventPattern/branches``), so
/// `$or` and repeated fields count as they match.
public enum RuleNote: Sendable, Equatable, CustomStringConvertible {
    /// `detail-type` names the EventBridge guide's "AWS Console Signin via CloudTrail" (as written),
    /// which no event carries: sign-in events arrive as ``CloudTrailNormalizer/detailTypes``'s spelling.
    case consoleSignInSpelling(written: String)
    /// A rule in state `ENABLED` whose `detail.eventName` values are, in every branch, exact names
    /// CloudTrail records as read-only management events: it fires only on records without `readOnly: true`.
    case readOnlyEventNamesOnly([String])

    /// The spelling in the EventBridge user guide's list of CloudTrail detail types.
    public static let guideConsoleSignInDetailType = "AWS Console Signin via CloudTrail"
    /// The spelling sign-in events arrive with (and Tripline emits).
    public static let consoleSignInDetailType = CloudTrailNormalizer.detailTypes["AwsConsoleSignIn"] ?? "AWS Console Sign In via CloudTrail"

    /// Read-only calls not named Get/List/Describe/Head that CloudTrail logs with `readOnly: true`.
    public static let readOnlyCalls: Set<String> = ["AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetCallerIdentity",
                                                    "Decrypt", "GenerateDataKey"]
    /// Verbs of read-only calls: a name is this verb followed by an upper-case letter (`GetObject`, not `Getaway`).
    public static let readOnlyVerbs = ["Get", "List", "Describe", "Head"]

    /// Every note for `rule`, in a stable order.
    public static func notes(for rule: Rule) -> [RuleNote] {
        let branches = rule.pattern.branches
        var notes: [RuleNote] = []
        if let written = consoleSignInGuideSpelling(in: branches) { notes.append(.consoleSignInSpelling(written: written)) }
        if rule.state == .enabled, let names = readOnlyEventNames(in: branches) { notes.append(.readOnlyEventNamesOnly(names)) }
        return notes
    }

    /// True for an event name CloudTrail records as a read-only management call (conservatively:
    /// the verbs above and ``readOnlyCalls``), except the STS calls EventBridge treats as changes.
    public static func isReadOnlyEventName(_ name: String) -> Bool {
        if CloudTrailNormalizer.stsChangeEvents.contains(name) { return false }
        if readOnlyCalls.contains(name) { return true }
        for verb in readOnlyVerbs where name.hasPrefix(verb) {
            if let next = name.unicodeScalars.dropFirst(verb.unicodeScalars.count).first, ("A"..."Z").contains(next) { return true }
        }
        return false
    }

    /// The guide's sign-in spelling as written in a `detail-type` condition, if any.
    static func consoleSignInGuideSpelling(in branches: [[FieldCondition]]) -> String? {
        let wrong = guideConsoleSignInDetailType.lowercased(), right = consoleSignInDetailType.lowercased()
        for condition in branches.joined() where condition.path == "detail-type" {
            for matcher in condition.matchers {
                switch matcher {
                case .exactString(let s), .equalsIgnoreCase(let s):
                    if s.lowercased() == wrong { return s }
                case .prefix(let s, _):
                    let p = s.lowercased()
                    if wrong.hasPrefix(p) && !right.hasPrefix(p) { return s }
                default:
                    break
                }
            }
        }
        return nil
    }

    /// The `detail.eventName` values when every branch names only exact read-only names; nil otherwise.
    static func readOnlyEventNames(in branches: [[FieldCondition]]) -> [String]? {
        var names: [String] = []
        for branch in branches {
            guard let condition = branch.first(where: { $0.path == "detail.eventName" }), !condition.matchers.isEmpty else { return nil }
            for matcher in condition.matchers {
                guard case .exactString(let name) = matcher, isReadOnlyEventName(name) else { return nil }
                if !names.contains(name) { names.append(name) }
            }
        }
        return names.isEmpty ? nil : names
    }

    public var description: String {
        switch self {
        case .consoleSignInSpelling(let written):
            return "detail-type \(JSONWriter.quoted(written)) is the EventBridge guide's spelling, but console sign-in events arrive as "
                + "\(JSONWriter.quoted(RuleNote.consoleSignInDetailType)), so this never matches them; write that instead"
        case .readOnlyEventNamesOnly(let names):
            let shown = names.prefix(5).map { JSONWriter.quoted($0) }.joined(separator: ", ") + (names.count > 5 ? ", …" : "")
            return "in State ENABLED a rule receives no read-only management events, and every detail.eventName it names (\(shown)) "
                + "is one CloudTrail records as read-only, so it fires only on records without readOnly: true; to receive them, "
                + "use \"State\": \"ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS\" (data events, such as S3 GetObject, reach ENABLED rules anyway)"
        }
    }
}
