import TriplineJSON

/// Turns raw CloudTrail records into the events EventBridge delivers for them.
///
/// CloudTrail log files hold bare records (`{"eventVersion": …, "eventName": …}`); EventBridge
/// rules see each one wrapped in an envelope whose `detail` is the record
/// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html).
/// Patterns written for AWS (`"detail-type": ["AWS API Call via CloudTrail"]`,
/// `"detail": {"eventName": …}`) therefore only match after this wrapping. Pure: no clock, no I/O;
/// the ingestion time is passed in.
public enum CloudTrailNormalizer {
    /// What a JSON value read from input is.
    public enum Kind: Sendable, Equatable {
        /// A bare CloudTrail record, to be wrapped with ``envelope(for:ingestionTime:)``.
        case cloudTrailRecord
        /// Already an EventBridge event (`detail-type`, `source`, `detail`).
        case envelope
        /// Neither.
        case unknown
    }

    /// `detail-type` for each CloudTrail `eventType` EventBridge documents.
    ///
    /// The EventBridge guide spells the sign-in type "AWS Console Signin via CloudTrail", but
    /// events arrive as "AWS Console Sign In via CloudTrail", the spelling rules use in practice.
    public static let detailTypes: [String: String] = [
        "AwsApiCall": "AWS API Call via CloudTrail",
        "AwsConsoleSignIn": "AWS Console Sign In via CloudTrail",
        "AwsConsoleAction": "AWS Console Action via CloudTrail",
        "AwsServiceEvent": "AWS Service Event via CloudTrail",
        "AwsCloudTrailInsight": "AWS Insight via CloudTrail",
    ]

    /// `detail-type` for records whose `eventType` is missing or undocumented for EventBridge
    /// (old records, `AwsVpceEvent` network activity events): they are API calls, so detections
    /// written like CloudWatch Logs metric filters (which see every record of a trail) see them too.
    public static let defaultDetailType = "AWS API Call via CloudTrail"

    /// What every CloudTrail-delivered `detail-type` ends with.
    public static let detailTypeSuffix = " via CloudTrail"

    /// Classifies a parsed input value.
    ///
    /// An envelope has string `detail-type` and `source` and an object `detail`. A record has a
    /// string `eventSource` or `eventName`, or a string `eventVersion` with a `userIdentity`
    /// object or an `eventType` string (Insights records have no top-level `eventSource`).
    public static func classify(_ value: JSONValue) -> Kind {
        guard let object = value.objectValue else { return .unknown }
        if object["detail-type"]?.stringValue != nil, object["source"]?.stringValue != nil, object["detail"]?.objectValue != nil {
            return .envelope
        }
        if object["eventSource"]?.stringValue != nil || object["eventName"]?.stringValue != nil { return .cloudTrailRecord }
        if object["eventVersion"]?.stringValue != nil,
           object["userIdentity"]?.objectValue != nil || object["eventType"]?.stringValue != nil {
            return .cloudTrailRecord
        }
        return .unknown
    }

    /// True for the content of a CloudTrail digest file (`…_CloudTrail-Digest_….json.gz`), which
    /// lists the hashes of log files and holds no events: an object with `digestStartTime`,
    /// `digestEndTime` and `logFiles` or `digestS3Bucket`.
    ///
    /// Directory walks skip digest files by name; this recognises one given explicitly, whatever
    /// its name, so it is skipped with a note instead of reported as a bad record.
    public static func isDigest(_ value: JSONValue) -> Bool {
        guard let object = value.objectValue, object["digestStartTime"] != nil, object["digestEndTime"] != nil else { return false }
        return object["logFiles"]?.arrayValue != nil || object["digestS3Bucket"] != nil
    }

    /// The event EventBridge delivers for `record`, with the record unchanged as `detail`.
    ///
    /// - `id`: a name-based (version 5) UUID of the record's content (see ``eventID(for:)``), so
    ///   the same record always gets the same id.
    /// - `detail-type`: from `eventType` (see ``detailTypes``).
    /// - `source`: `aws.` + `eventSource` without `.amazonaws.com` (`iam.amazonaws.com` → `aws.iam`).
    /// - `account`: `recipientAccountId`, else `userIdentity.accountId`, else empty.
    /// - `time`: `eventTime` in EventBridge's form (``time(forEventTime:)``), else `ingestionTime`.
    ///   `region`: `awsRegion`, else empty.
    /// - `resources`: the `ARN` of each entry of the record's `resources`, else empty.
    public static func envelope(for record: JSONValue, ingestionTime: String) -> JSONValue {
        let fields = record.objectValue ?? JSONObject()
        var resources: [JSONValue] = []
        for entry in fields["resources"]?.arrayValue ?? [] {
            if let arn = entry["ARN"]?.stringValue { resources.append(.string(arn)) }
        }
        let account = fields["recipientAccountId"]?.stringValue ?? fields["userIdentity"]?["accountId"]?.stringValue ?? ""
        return .object(JSONObject(header(id: eventID(for: record), detailType: detailType(forEventType: fields["eventType"]?.stringValue),
                                         source: source(forEventSource: fields["eventSource"]?.stringValue), account: account,
                                         time: time(forEventTime: fields["eventTime"]?.stringValue) ?? ingestionTime,
                                         region: fields["awsRegion"]?.stringValue ?? "", resources: resources)
                                  + [JSONMember(key: "detail", value: record)]))
    }

    /// The envelope's members before `detail`, in EventBridge's order.
    static func header(id: String, detailType: String, source: String, account: String, time: String, region: String,
                       resources: [JSONValue]) -> [JSONMember] {
        [
            JSONMember(key: "version", value: "0"),
            JSONMember(key: "id", value: .string(id)),
            JSONMember(key: "detail-type", value: .string(detailType)),
            JSONMember(key: "source", value: .string(source)),
            JSONMember(key: "account", value: .string(account)),
            JSONMember(key: "time", value: .string(time)),
            JSONMember(key: "region", value: .string(region)),
            JSONMember(key: "resources", value: .array(resources)),
        ]
    }

    /// The envelope `time` for a record's `eventTime`: UTC, whole seconds, `YYYY-MM-DDTHH:MM:SSZ` as
    /// EventBridge writes it (CloudTrail's own form passes unchanged; an offset is converted, a
    /// fraction dropped); nil when it is not a date-time.
    public static func time(forEventTime eventTime: String?) -> String? {
        // Whole seconds read exactly: a 7-digit fraction added as a Double can round up to the next
        // second (`23:59:59.9999999Z` would become the next day, even the next year).
        guard let eventTime, let seconds = UTCTime.parseWholeSeconds(eventTime) else { return nil }
        return UTCTime.iso8601(Double(seconds))
    }

    /// An envelope for a record, the value itself for an envelope, nil for anything else.
    public static func normalize(_ value: JSONValue, ingestionTime: String) -> JSONValue? {
        switch classify(value) {
        case .envelope: return value
        case .cloudTrailRecord: return envelope(for: value, ingestionTime: ingestionTime)
        case .unknown: return nil
        }
    }

    /// The `detail-type` for a CloudTrail `eventType`.
    public static func detailType(forEventType eventType: String?) -> String {
        eventType.flatMap { detailTypes[$0] } ?? defaultDetailType
    }

    /// The `source` for a CloudTrail `eventSource`: `aws.` + the service prefix; `aws.cloudtrail`
    /// when there is none (Insights records).
    public static func source(forEventSource eventSource: String?) -> String {
        guard let eventSource, !eventSource.isEmpty else { return "aws.cloudtrail" }
        let suffix = ".amazonaws.com"
        if eventSource.hasSuffix(suffix), eventSource.count > suffix.count {
            return "aws." + eventSource.dropLast(suffix.count)
        }
        return "aws." + eventSource
    }

    /// The deterministic envelope `id` for a record: the version 5 UUID (URL namespace) of
    /// `tripline:cloudtrail:` followed by the record's compact JSON.
    ///
    /// The whole record is hashed, not just its `eventID`: a re-read or re-delivered record gets
    /// the same id (so de-duplication works), while distinct records never share one even when
    /// their `eventID`s are placeholders (test corpora reuse `"1"` or `"1111"` for many records).
    public static func eventID(for record: JSONValue) -> String {
        var name = Array("tripline:cloudtrail:".utf8)
        JSONWriter.write(record, into: &name)
        return NameBasedUUID.v5(namespace: NameBasedUUID.urlNamespace, name: name)
    }

    /// True for a read-only management event delivered by CloudTrail, which a rule in state
    /// `ENABLED` does not receive.
    ///
    /// That is an envelope whose `detail-type` ends in " via CloudTrail" and whose `detail` has
    /// `readOnly: true`, an `eventCategory` of `Management` or none (older records), and no
    /// `managementEvent: false`
    /// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail-management.html),
    /// except the STS calls that page names as change events although CloudTrail logs them as
    /// read-only (``stsChangeEvents``).
    public static func isReadOnlyManagementEvent(_ envelope: JSONValue) -> Bool {
        guard let detailType = envelope["detail-type"]?.stringValue, detailType.hasSuffix(detailTypeSuffix),
              let detail = envelope["detail"]?.objectValue else { return false }
        return isReadOnlyManagementRecord(readOnly: detail["readOnly"] == .bool(true),
                                          otherCategory: detail["eventCategory"].map { $0 != .string("Management") } ?? false,
                                          notManagementEvent: detail["managementEvent"] == .bool(false),
                                          eventSource: detail["eventSource"]?.stringValue, eventName: detail["eventName"]?.stringValue)
    }

    /// ``isReadOnlyManagementEvent(_:)`` for a record CloudTrail delivered, from its fields: `readOnly: true`,
    /// an `eventCategory` that is not `Management` (`otherCategory`), `managementEvent: false`.
    static func isReadOnlyManagementRecord(readOnly: Bool, otherCategory: Bool, notManagementEvent: Bool,
                                           eventSource: String?, eventName: String?) -> Bool {
        guard readOnly, !otherCategory, !notManagementEvent else { return false }
        return !(eventSource == "sts.amazonaws.com" && eventName.map(stsChangeEvents.contains) == true)
    }

    /// STS calls EventBridge delivers to `ENABLED` rules as change events, "even though they
    /// start with the verb Get" (the read-only management events page above).
    public static let stsChangeEvents: Set<String> = ["GetFederationToken", "GetSessionToken"]
}
