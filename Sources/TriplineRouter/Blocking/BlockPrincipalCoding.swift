import TriplineJSON
import TriplineState
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

    /// Where `key` (a principal's key, as ``principal(arn:)`` gives it) is on `blocklist`.
    public enum Lookup: Sendable, Equatable {
        /// The entry's key: `key` itself, or the key of the same IAM role or user under a path.
        case found(String)
        /// Several entries name the same role or user under different paths: their keys.
        case ambiguous([String])
        case notFound
    }

    /// Finds the entry of `key` on `blocklist`: the entry of that key, else, for an IAM role or user,
    /// the entry of the same account and name whatever its path. A session ARN gives the role's key
    /// without its path (`…:role/BreakGlassOps`), while a block from a CloudTrail record with a
    /// session issuer has it (`…:role/emergency/BreakGlassOps`); IAM names are unique in an account
    /// whatever the path (and regardless of case), so both name one role.
    public static func lookup(key: String, in blocklist: Blocklist) throws(StateError) -> Lookup {
        if try blocklist.entry(key) != nil { return .found(key) }
        let parts = key.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "iam" else { return .notFound }
        for type in ["role/", "user/"] where parts[5].hasPrefix(type) {
            let name = parts[5].split(separator: "/").last.map(String.init) ?? ""
            let prefix = parts[..<5].joined(separator: ":") + ":" + type
            let keys = try blocklist.entries(keyPrefix: prefix).map(\.key).filter {
                $0.split(separator: "/").last.map { $0.lowercased() == name.lowercased() } ?? false
            }
            switch keys.count {
            case 0: return .notFound
            case 1: return .found(keys[0])
            default: return .ambiguous(keys)
            }
        }
        return .notFound
    }
}
