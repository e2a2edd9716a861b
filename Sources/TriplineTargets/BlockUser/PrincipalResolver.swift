import TriplineJSON

/// Works out whom to block from a CloudTrail `userIdentity`, or why not to.
///
/// - `IAMUser`: the user (ARN, name, account, access key). Needs the ARN, or the name and account.
/// - `AssumedRole`: the role from `sessionContext.sessionIssuer` (else from the session ARN) and the
///   session name; keyed by the role's ARN. Service-linked roles (`role/aws-service-role/…`) are refused.
/// - `FederatedUser`: a session an IAM user created with `sts:GetFederationToken` is that IAM user
///   (`sessionContext.sessionIssuer`; a deny on it also denies its sessions), keeping the session's
///   name and ARN, so one user minting many session names is one principal; one the root user
///   created is refused as root; without an issuer, the federated user's ARN and name.
/// - `IdentityCenterUser`: `onBehalfOf.userId` in `onBehalfOf.identityStoreArn`.
/// - `Root`, `AWSService`, `AWSAccount` and any other type are refused, with a readable reason; so
///   are IAM Identity Center permission-set roles (only AWS may change them) and CloudTrail's
///   placeholder user name ``hiddenUserName``.
///
/// Pure; never fails on hostile input: values that are not strings are ignored, and strings with
/// control characters or longer than ``maxFieldLength`` are refused as ``BlockRefusal/invalidField(_:reason:)``.
public enum PrincipalResolver {
    /// Longest identity field accepted (ARNs are at most 2048 characters).
    public static let maxFieldLength = 2048
    /// The user name CloudTrail writes for a sign-in whose user name does not exist.
    public static let hiddenUserName = "HIDDEN_DUE_TO_SECURITY_REASONS"

    /// Whether `roleArn` / `roleName` is an IAM Identity Center permission-set role, which AWS
    /// forbids changing: `role/aws-reserved/sso.amazonaws.com/…` or a name starting `AWSReservedSSO_`.
    public static func isIdentityCenterRole(roleArn: String?, roleName: String?) -> Bool {
        (roleArn?.contains(":role/aws-reserved/sso.amazonaws.com/") ?? false) || (roleName?.hasPrefix("AWSReservedSSO_") ?? false)
    }

    /// The principal to block for `userIdentity`, or why there is none.
    public static func resolve(userIdentity: JSONValue) -> Result<BlockPrincipal, BlockRefusal> {
        guard let identity = userIdentity.objectValue else { return .failure(.missingFields(["userIdentity"], type: "event")) }
        do {
            return .success(try resolve(identity))
        } catch {
            return .failure(error)
        }
    }

    private static func resolve(_ identity: JSONObject) throws(BlockRefusal) -> BlockPrincipal {
        func field(_ value: JSONValue?, _ name: String) throws(BlockRefusal) -> String? {
            guard let s = value?.stringValue, !s.isEmpty else { return nil }
            guard s.utf8.count <= maxFieldLength else { throw .invalidField(name, reason: "is longer than \(maxFieldLength) bytes") }
            guard !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw .invalidField(name, reason: "contains control characters")
            }
            return s
        }
        let type = try field(identity["type"], "type")
        let arn = try field(identity["arn"], "arn")
        let accountId = try field(identity["accountId"], "accountId") ?? arn.flatMap { arnAccount($0) }
        let accessKeyId = try field(identity["accessKeyId"], "accessKeyId")
        switch type {
        case "IAMUser":
            let userName = try field(identity["userName"], "userName") ?? arn.flatMap { lastPathPart($0) }
            guard let userName, arn != nil || accountId != nil else {
                throw .missingFields(arn == nil && identity["userName"] == nil ? ["arn", "userName"] : ["arn", "accountId"], type: "IAMUser")
            }
            if userName == hiddenUserName { throw .hiddenUserName(userName) }
            let key = arn ?? "arn:aws:iam::\(accountId ?? ""):user/\(userName)"
            return BlockPrincipal(kind: .iamUser, arn: arn, accountId: accountId, userName: userName, accessKeyId: accessKeyId, key: key)

        case "AssumedRole":
            let issuer = identity["sessionContext"]?["sessionIssuer"]
            var roleArn = try field(issuer?["arn"], "sessionContext.sessionIssuer.arn")
            let issuerName = try field(issuer?["userName"], "sessionContext.sessionIssuer.userName")
            var roleName = roleArn.flatMap { lastPathPart($0) } ?? issuerName
            var sessionName: String?
            if let arn, let parts = assumedRoleParts(arn) {
                sessionName = parts.session
                if roleName == nil { roleName = parts.role }
            }
            if sessionName == nil, let principalId = try field(identity["principalId"], "principalId"), let colon = principalId.firstIndex(of: ":") {
                let tail = principalId[principalId.index(after: colon)...]
                if !tail.isEmpty { sessionName = String(tail) }
            }
            if roleArn == nil, let roleName, let accountId {
                let partition = arn.flatMap { arnPartition($0) } ?? "aws"
                roleArn = "arn:\(partition):iam::\(accountId):role/\(roleName)"
            }
            guard let roleName, let roleArn else {
                throw .missingFields(["sessionContext.sessionIssuer.arn", "arn"], type: "AssumedRole")
            }
            if roleArn.contains(":role/aws-service-role/") {
                let service = try field(identity["invokedBy"], "invokedBy")
                throw .awsService("the service-linked role \(roleName)" + (service.map { " (used by " + $0 + ")" } ?? ""))
            }
            if isIdentityCenterRole(roleArn: roleArn, roleName: roleName) {
                throw .identityCenterRole(roleName: roleName, sessionName: sessionName)
            }
            return BlockPrincipal(kind: .assumedRole, arn: arn, accountId: accountId ?? arnAccount(roleArn), roleName: roleName,
                                  roleArn: roleArn, sessionName: sessionName, accessKeyId: accessKeyId, key: roleArn)

        case "FederatedUser":
            let issuer = identity["sessionContext"]?["sessionIssuer"]
            let issuerType = try field(issuer?["type"], "sessionContext.sessionIssuer.type")
            let issuerArn = try field(issuer?["arn"], "sessionContext.sessionIssuer.arn")
            let issuerAccount = try field(issuer?["accountId"], "sessionContext.sessionIssuer.accountId") ?? issuerArn.flatMap { arnAccount($0) }
            if issuerType == "Root" || issuerArn?.hasSuffix(":root") == true {
                throw .root(accountId: issuerAccount ?? accountId)
            }
            if issuerType == "IAMUser" || issuerArn?.contains(":user/") == true {
                let issuerName = try field(issuer?["userName"], "sessionContext.sessionIssuer.userName") ?? issuerArn.flatMap { lastPathPart($0) }
                if let issuerName, let account = issuerAccount ?? accountId {
                    if issuerName == hiddenUserName { throw .hiddenUserName(issuerName) }
                    let session = arn.flatMap { lastPathPart($0) }
                    let userArn = issuerArn ?? "arn:\(arn.flatMap { arnPartition($0) } ?? "aws"):iam::\(account):user/\(issuerName)"
                    // The session's temporary access key is not one of the user's keys: left out.
                    return BlockPrincipal(kind: .iamUser, arn: userArn, accountId: account, userName: issuerName, sessionName: session,
                                          federatedUserArn: arn, key: userArn)
                }
            }
            var userName = arn.flatMap { lastPathPart($0) }
            if userName == nil, let principalId = try field(identity["principalId"], "principalId"), let colon = principalId.firstIndex(of: ":") {
                let tail = principalId[principalId.index(after: colon)...]
                if !tail.isEmpty { userName = String(tail) }
            }
            guard let userName, let accountId else { throw .missingFields(["arn"], type: "FederatedUser") }
            let key = arn ?? "arn:aws:sts::\(accountId):federated-user/\(userName)"
            return BlockPrincipal(kind: .federatedUser, arn: arn, accountId: accountId, userName: userName, accessKeyId: accessKeyId, key: key)

        case "IdentityCenterUser":
            let onBehalfOf = identity["onBehalfOf"]
            guard let userId = try field(onBehalfOf?["userId"], "onBehalfOf.userId") else {
                throw .missingFields(["onBehalfOf.userId"], type: "IdentityCenterUser")
            }
            let store = try field(onBehalfOf?["identityStoreArn"], "onBehalfOf.identityStoreArn")
            let key = (store ?? "identitystore") + "/user/" + userId
            return BlockPrincipal(kind: .identityCenterUser, arn: store, accountId: accountId, userName: userId, accessKeyId: accessKeyId, key: key)

        case "Root":
            throw .root(accountId: accountId)
        case "AWSService":
            throw .awsService(try field(identity["invokedBy"], "invokedBy") ?? "the caller")
        case "AWSAccount":
            throw .awsAccount(accountId: accountId)
        default:
            throw .unknownType(type)
        }
    }

    /// `role` and `session` of `arn:aws:sts::123:assumed-role/Role/session`.
    static func assumedRoleParts(_ arn: String) -> (role: String, session: String)? {
        guard let resource = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).last,
              resource.hasPrefix("assumed-role/") else { return nil }
        let parts = resource.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 3, !parts[1].isEmpty, !parts[parts.count - 1].isEmpty else { return nil }
        return (String(parts[1]), String(parts[parts.count - 1]))
    }

    /// The account field of an ARN (`arn:partition:service:region:account:resource`), when non-empty.
    static func arnAccount(_ arn: String) -> String? {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", !parts[4].isEmpty else { return nil }
        return String(parts[4])
    }

    static func arnPartition(_ arn: String) -> String? {
        let parts = arn.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "arn", !parts[1].isEmpty else { return nil }
        return String(parts[1])
    }

    /// The text after the last `/`, when non-empty.
    static func lastPathPart(_ text: String) -> String? {
        guard let slash = text.lastIndex(of: "/") else { return nil }
        let tail = text[text.index(after: slash)...]
        return tail.isEmpty ? nil : String(tail)
    }
}
