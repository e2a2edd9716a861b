import TriplineJSON
import TriplineTargets

/// Turns the other forms a principal comes in into a ``BlockPrincipal``: the JSON the blocklist
/// stored, and an ARN typed by hand (`tripline blocklist add --arn`).
public enum BlockPrincipalCoding {
    /// The principal a blocklist entry stored (`BlockPrincipal.json`); nil when `json` lacks a known
    /// `kind` or a `key`.
    public static func principal(json: JSONValue) -> BlockPrincipal? {
        guard let object = json.objectValue, let kindText = object["kind"]?.stringValue, let kind = BlockPrincipal.Kind(rawValue: kindText),
              let key = object["key"]?.stringValue, !key.isEmpty else { return nil }
        func text(_ name: String) -> String? { object[name]?.stringValue }
        return BlockPrincipal(kind: kind, arn: text("arn"), accountId: text("accountId"), userName: text("userName"), roleName: text("roleName"),
                              roleArn: text("roleArn"), sessionName: text("sessionName"), federatedUserArn: text("federatedUserArn"),
                              accessKeyId: text("accessKeyId"), key: key)
    }

    /// The principal an ARN names, resolved as the same principal in a CloudTrail record would be.
    ///
    /// `arn:…:iam::ACCOUNT:user/NAME`, `arn:…:iam::ACCOUNT:role/NAME` (all its sessions),
    /// `arn:…:sts::ACCOUNT:assumed-role/ROLE/SESSION` and `arn:…:sts::ACCOUNT:federated-user/NAME`
    /// resolve (or are refused, e.g. service-linked roles); the root user's ARN is refused as root.
    /// Nil when `arn` is none of these.
    public static func principal(arn: String) -> Result<BlockPrincipal, BlockRefusal>? {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 6, parts[0] == "arn", !parts[1].isEmpty, !parts[4].isEmpty else { return nil }
        let service = parts[2], account = parts[4], resource = parts[5]
        let identity: JSONValue
        switch service {
        case "iam" where resource == "root":
            identity = ["type": "Root", "arn": .string(arn), "accountId": .string(account)]
        case "iam" where resource.hasPrefix("user/"):
            identity = ["type": "IAMUser", "arn": .string(arn), "accountId": .string(account)]
        case "iam" where resource.hasPrefix("role/"):
            identity = ["type": "AssumedRole", "accountId": .string(account),
                        "sessionContext": ["sessionIssuer": ["type": "Role", "arn": .string(arn)]]]
        case "sts" where resource.hasPrefix("assumed-role/"):
            identity = ["type": "AssumedRole", "arn": .string(arn), "accountId": .string(account)]
        case "sts" where resource.hasPrefix("federated-user/"):
            identity = ["type": "FederatedUser", "arn": .string(arn), "accountId": .string(account)]
        default:
            return nil
        }
        return PrincipalResolver.resolve(userIdentity: identity)
    }
}
