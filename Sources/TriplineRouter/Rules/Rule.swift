import EventPattern
import TriplineJSON

/// One loaded rule: an event pattern and the targets that receive the events it matches.
///
/// Field names follow CloudFormation's `AWS::Events::Rule`, so a rule reads the same here as in a
/// template. Built by ``RuleFile`` from a rule file, already validated.
public struct Rule: Sendable, Equatable {
    /// Unique among all loaded rules; `[.\-_A-Za-z0-9]+`, at most 64 characters.
    public var name: String
    /// `Description`, as written.
    public var description: String?
    /// `State`; `ENABLED` when omitted.
    public var state: RuleState
    /// `EventPattern`, validated.
    public var pattern: EventPattern
    /// At most ``Rule/maxTargets``, each with an `Id` unique within the rule.
    public var targets: [Target]
    /// The file the rule was read from, as given to the loader.
    public var file: String
    /// Where the rule's object starts in ``file``.
    public var location: JSONLocation?
    /// Optional `Severity`: one of ``Rule/severities``.
    public var severity: String?
    /// `Tests`, kept as written; reserved for rule tests.
    public var tests: [JSONValue]
    /// The fields of ``RuleFile/ignoredRuleFields`` the rule has, which have no effect here.
    public var ignoredFields: [String]
    /// Where the rule object is when the file is a CloudFormation resource or template: the path
    /// of the `AWS::Events::Rule` resource's `Properties` (`Properties`, `Resources.MyRule.Properties`);
    /// nil for a plain rule object.
    public var cloudFormationPath: JSONPath?

    /// EventBridge's limit of targets per rule.
    public static let maxTargets = 5
    /// Longest rule name (EventBridge: 64).
    public static let maxNameLength = 64
    /// Longest description (EventBridge: 512).
    public static let maxDescriptionLength = 512
    /// The accepted `Severity` values, lowest first.
    public static let severities = ["informational", "low", "medium", "high", "critical"]

    public init(name: String, description: String? = nil, state: RuleState = .enabled, pattern: EventPattern,
                targets: [Target] = [], file: String, location: JSONLocation? = nil, severity: String? = nil, tests: [JSONValue] = [],
                ignoredFields: [String] = [], cloudFormationPath: JSONPath? = nil) {
        self.name = name
        self.description = description
        self.state = state
        self.pattern = pattern
        self.targets = targets
        self.file = file
        self.location = location
        self.severity = severity
        self.tests = tests
        self.ignoredFields = ignoredFields
        self.cloudFormationPath = cloudFormationPath
    }
}

extension Rule {
    /// Whether the rule's state lets it see `event` at all (its pattern is matched separately).
    ///
    /// `DISABLED` receives nothing; `ENABLED` receives everything except read-only management
    /// events delivered by CloudTrail (see ``CloudTrailNormalizer/isReadOnlyManagementEvent(_:)``);
    /// `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` receives everything.
    public func receives(_ event: JSONValue) -> Bool {
        receives(readOnlyManagementEvent: CloudTrailNormalizer.isReadOnlyManagementEvent(event))
    }

    /// ``receives(_:)`` for an event already judged (``NormalizedEvent/isReadOnlyManagementEvent``).
    public func receives(readOnlyManagementEvent: Bool) -> Bool {
        switch state {
        case .disabled: return false
        case .enabledWithAllCloudTrailManagementEvents: return true
        case .enabled: return !readOnlyManagementEvent
        }
    }

    /// The local ARN Tripline gives a rule, rendered for `<aws.events.rule-arn>`:
    /// `arn:tripline:events:local:000000000000:rule/<name>`, shaped like AWS's
    /// `arn:aws:events:<region>:<account>:rule/<name>` and like the topics' local ARNs
    /// (`SNSNotification.topicArn(name:)`), a partition no AWS ARN uses.
    public static func localArn(name: String) -> String { "arn:tripline:events:local:000000000000:rule/" + name }

    /// This rule's local ARN, ``localArn(name:)``.
    public var arn: String { Rule.localArn(name: name) }

    /// True when the rule's name is valid: 1 to 64 of `.`, `-`, `_`, letters and digits.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= maxNameLength && name.utf8.allSatisfy(Rule.isNameByte)
    }

    static func isNameByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }
}
