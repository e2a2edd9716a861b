import TriplineJSON

/// The facts an alert shows about one CloudTrail event: who did what, where, when, and whether it worked.
///
/// Read from an EventBridge envelope whose `detail` is a CloudTrail record, or from a bare record.
/// Every field is optional and taken only when it has the expected JSON type, so hostile or partial
/// events give a partial summary, never a crash. Values are raw (not escaped).
public struct CloudTrailSummary: Sendable, Equatable {
    /// A readable name for the caller: the user name, `role/session`, `root`, the AWS service…
    public var principal: String?
    /// `userIdentity.type` (`IAMUser`, `AssumedRole`, `Root`, `AWSService`…).
    public var principalType: String?
    /// `userIdentity.arn`, or the session issuer's ARN when only that is known.
    public var principalARN: String?
    /// `userIdentity.accountId`, else `recipientAccountId`, else the envelope's `account`.
    public var accountId: String?
    /// `eventName`.
    public var eventName: String
    /// `eventSource` (`iam.amazonaws.com`).
    public var eventSource: String
    /// `awsRegion`, else the envelope's `region`.
    public var region: String?
    /// `sourceIPAddress` (may be a service name such as `lambda.amazonaws.com`).
    public var sourceIPAddress: String?
    /// `userAgent`.
    public var userAgent: String?
    /// `eventTime`, else the envelope's `time`.
    public var eventTime: String?
    /// `errorCode`; for a failed console sign-in with none, `Failure`.
    public var errorCode: String?
    /// `errorMessage`.
    public var errorMessage: String?
    /// Whether MFA was used: `additionalEventData.MFAUsed` for sign-ins, else the session's
    /// `mfaAuthenticated` attribute; nil when the record does not say.
    public var mfaUsed: Bool?
    /// `eventID`, else the envelope's `id`.
    public var eventId: String?
    /// The envelope's `detail-type`, when the event is an envelope.
    public var detailType: String?

    /// True when the call failed (an `errorCode`, or a console sign-in answered `Failure`).
    public var failed: Bool { errorCode != nil }
    /// True for the account's root user.
    public var isRoot: Bool { principalType == "Root" }
    /// `iam:DeleteUser`-style action name: the service prefix of `eventSource` and `eventName`.
    public var action: String {
        let service = eventSource.split(separator: ".", maxSplits: 1).first.map(String.init) ?? eventSource
        return service.isEmpty ? eventName : service + ":" + eventName
    }

    public init(eventName: String, eventSource: String) {
        self.eventName = eventName
        self.eventSource = eventSource
    }

    /// The summary of `event`, or nil when it is neither a CloudTrail record nor an envelope holding
    /// one (there must be string `eventName` and `eventSource`).
    public init?(event: JSONValue) {
        let envelope: JSONObject?
        let record: JSONObject
        if let detail = event["detail"]?.objectValue, detail["eventName"]?.stringValue != nil {
            envelope = event.objectValue
            record = detail
        } else if let object = event.objectValue {
            envelope = nil
            record = object
        } else {
            return nil
        }
        guard let name = record["eventName"]?.stringValue, let source = record["eventSource"]?.stringValue else { return nil }
        self.init(eventName: name, eventSource: source)
        let identity = record["userIdentity"]?.objectValue
        principalType = CloudTrailSummary.text(identity?["type"])
        principal = CloudTrailSummary.principalName(identity)
        principalARN = CloudTrailSummary.text(identity?["arn"])
            ?? CloudTrailSummary.text(identity?["sessionContext"]?["sessionIssuer"]?["arn"])
        accountId = CloudTrailSummary.text(identity?["accountId"]) ?? CloudTrailSummary.text(record["recipientAccountId"])
            ?? CloudTrailSummary.text(envelope?["account"])
        region = CloudTrailSummary.text(record["awsRegion"]) ?? CloudTrailSummary.text(envelope?["region"])
        sourceIPAddress = CloudTrailSummary.text(record["sourceIPAddress"])
        userAgent = CloudTrailSummary.text(record["userAgent"])
        eventTime = CloudTrailSummary.text(record["eventTime"]) ?? CloudTrailSummary.text(envelope?["time"])
        errorCode = CloudTrailSummary.text(record["errorCode"])
        errorMessage = CloudTrailSummary.text(record["errorMessage"])
        if errorCode == nil, let outcome = record["responseElements"]?[name]?.stringValue, outcome == "Failure" {
            errorCode = "Failure"
        }
        if let used = record["additionalEventData"]?["MFAUsed"]?.stringValue {
            mfaUsed = CloudTrailSummary.flag(used)
        } else if let attribute = identity?["sessionContext"]?["attributes"]?["mfaAuthenticated"] {
            mfaUsed = attribute.boolValue ?? attribute.stringValue.flatMap(CloudTrailSummary.flag)
        }
        eventId = CloudTrailSummary.text(record["eventID"]) ?? CloudTrailSummary.text(envelope?["id"])
        detailType = CloudTrailSummary.text(envelope?["detail-type"])
    }

    /// A non-empty string value, else nil.
    static func text(_ value: JSONValue?) -> String? {
        guard let s = value?.stringValue, !s.isEmpty else { return nil }
        return s
    }

    static func flag(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "yes", "true": return true
        case "no", "false": return false
        default: return nil
        }
    }

    /// The last `/`-separated part of an ARN-like text (`…:assumed-role/Role/session` → `session`).
    static func lastPathPart(_ arn: String) -> String? {
        guard let slash = arn.lastIndex(of: "/") else { return nil }
        let tail = arn[arn.index(after: slash)...]
        return tail.isEmpty ? nil : String(tail)
    }

    static func principalName(_ identity: JSONObject?) -> String? {
        guard let identity else { return nil }
        let arn = text(identity["arn"])
        switch text(identity["type"]) {
        case "Root":
            return "root"
        case "AssumedRole":
            let issuer = identity["sessionContext"]?["sessionIssuer"]
            let role = text(issuer?["userName"]) ?? text(issuer?["arn"]).flatMap(lastPathPart)
            let session = arn.flatMap(lastPathPart)
            switch (role, session) {
            case let (role?, session?): return role + "/" + session
            case let (role?, nil): return role
            case let (nil, session?): return arn.map { String($0.split(separator: ":").last ?? "") } ?? session
            case (nil, nil): return text(identity["userName"]) ?? text(identity["principalId"])
            }
        case "AWSService":
            return text(identity["invokedBy"]) ?? "an AWS service"
        case "IdentityCenterUser":
            return text(identity["onBehalfOf"]?["userId"]) ?? text(identity["userName"])
        case "AWSAccount":
            return text(identity["accountId"]).map { "account " + $0 } ?? text(identity["principalId"])
        default:
            return text(identity["userName"]) ?? arn.flatMap(lastPathPart) ?? text(identity["principalId"])
                ?? text(identity["invokedBy"])
        }
    }
}
