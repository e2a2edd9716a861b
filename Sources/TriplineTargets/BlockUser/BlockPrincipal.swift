import TriplineJSON

/// Who a block is aimed at, as worked out from a CloudTrail `userIdentity` by ``PrincipalResolver``.
///
/// ``key`` is the stable blocklist identity: the IAM user's ARN, the role's ARN for an assumed role
/// (blocking revokes the role's sessions, not one session), the issuing IAM user's ARN for a federated
/// session an IAM user created (a deny on that user also denies its federation sessions, whose
/// permissions are the intersection; `sessionName` and `federatedUserArn` keep the session), the
/// federated user's ARN when the issuer is unknown, or the Identity Center user's identity-store user. ``json`` is the form the enforcement handler receives.
public struct BlockPrincipal: Sendable, Hashable, CustomStringConvertible {
    /// The kind of principal, which decides how a block is enforced.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// An IAM user: deny-all inline user policy, access keys deactivated.
        case iamUser
        /// A session of an IAM role: deny-all role policy for sessions issued before the block.
        case assumedRole
        /// A federated user session (`sts:GetFederationToken`).
        case federatedUser
        /// An IAM Identity Center user (`userIdentity.type` `IdentityCenterUser`).
        case identityCenterUser
    }

    public var kind: Kind
    /// The acting principal's ARN (`…:user/alice`, `…:assumed-role/Role/session`, `…:federated-user/bob`);
    /// for an Identity Center user, the identity store's ARN when known.
    public var arn: String?
    /// The AWS account the principal belongs to.
    public var accountId: String?
    /// IAM user name, federated user name, or Identity Center user id.
    public var userName: String?
    /// For an assumed role: the role's name (the last part of its ARN, without its path).
    public var roleName: String?
    /// For an assumed role: the role's ARN (from `sessionContext.sessionIssuer`).
    public var roleArn: String?
    /// For an assumed role: the session name; for an IAM user acting through `sts:GetFederationToken`,
    /// the federated session's name (its caller chose it).
    public var sessionName: String?
    /// For an IAM user acting through `sts:GetFederationToken`: the federated session's ARN
    /// (`…:federated-user/NAME`), for context.
    public var federatedUserArn: String?
    /// The access key the call was signed with, when the record has one.
    public var accessKeyId: String?
    /// The stable blocklist key (see the type's documentation).
    public var key: String

    public init(kind: Kind, arn: String? = nil, accountId: String? = nil, userName: String? = nil, roleName: String? = nil,
                roleArn: String? = nil, sessionName: String? = nil, federatedUserArn: String? = nil, accessKeyId: String? = nil, key: String) {
        self.kind = kind
        self.arn = arn
        self.accountId = accountId
        self.userName = userName
        self.roleName = roleName
        self.roleArn = roleArn
        self.sessionName = sessionName
        self.federatedUserArn = federatedUserArn
        self.accessKeyId = accessKeyId
        self.key = key
    }

    /// The ARNs protection rules are checked against: the principal's own, and the role's for a
    /// session; then, for an IAM role or user with a path (`…:role/emergency/BreakGlassOps`), the
    /// same ARN without its path (`…:role/BreakGlassOps`), so a pattern written for the name
    /// (`arn:aws:iam::*:role/BreakGlass*`) protects it wherever it sits.
    public var protectableARNs: [String] {
        var arns: [String] = []
        for candidate in [arn, roleArn, federatedUserArn, key] {
            if let candidate, !candidate.isEmpty, !arns.contains(candidate) { arns.append(candidate) }
        }
        for candidate in arns {
            if let short = Self.withoutPath(candidate), !arns.contains(short) { arns.append(short) }
        }
        return arns
    }

    /// `arn:P:iam::A:role/NAME` for `arn:P:iam::A:role/PATH/…/NAME` (likewise `user/`); nil for an
    /// ARN that is not an IAM role or user, or has no path. IAM names hold no `/`, so the last part is the name.
    public static func withoutPath(_ arn: String) -> String? {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "iam" else { return nil }
        let resource = parts[5]
        for type in ["role/", "user/"] where resource.hasPrefix(type) {
            let rest = resource.dropFirst(type.count)
            guard let slash = rest.lastIndex(of: "/") else { return nil }
            let name = rest[rest.index(after: slash)...]
            guard !name.isEmpty else { return nil }
            return parts[..<5].joined(separator: ":") + ":" + type + name
        }
        return nil
    }

    /// `{"kind", "key", "arn", "accountId", …}`: members that are known, in a fixed order.
    public var json: JSONValue {
        var object = JSONObject()
        object["kind"] = .string(kind.rawValue)
        object["key"] = .string(key)
        let optional: [(String, String?)] = [("arn", arn), ("accountId", accountId), ("userName", userName), ("roleName", roleName),
                                             ("roleArn", roleArn), ("sessionName", sessionName), ("federatedUserArn", federatedUserArn),
                                             ("accessKeyId", accessKeyId)]
        for (name, value) in optional {
            if let value { object[name] = .string(value) }
        }
        return .object(object)
    }

    public var description: String {
        switch kind {
        case .iamUser: return "IAM user " + (userName ?? key) + (federatedUserArn != nil ? sessionName.map { " (federated session " + $0 + ")" } ?? "" : "")
        case .assumedRole: return "role " + (roleName ?? key) + (sessionName.map { " (session " + $0 + ")" } ?? "")
        case .federatedUser: return "federated user " + (userName ?? key)
        case .identityCenterUser: return "Identity Center user " + (userName ?? key)
        }
    }
}
