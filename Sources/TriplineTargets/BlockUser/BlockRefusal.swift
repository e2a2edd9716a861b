/// Why a principal will not be blocked automatically.
public enum BlockRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// The account's root user: blocking it needs a person (and cannot be done with IAM policies).
    case root(accountId: String?)
    /// An AWS service or a service-linked role acting for one.
    case awsService(String)
    /// Another AWS account (cross-account access); only that account can block its principals.
    case awsAccount(accountId: String?)
    /// A `userIdentity.type` Tripline does not know how to block (`Unknown`, `SAMLUser`, …).
    case unknownType(String?)
    /// The identity lacks what is needed to name the principal.
    case missingFields([String], type: String)
    /// A field has a value no AWS name can have (control characters, absurd length).
    case invalidField(String, reason: String)
    /// An IAM Identity Center permission-set role (`role/aws-reserved/sso.amazonaws.com/…`,
    /// `AWSReservedSSO_…`): only AWS may change it, so the user must be blocked in Identity Center.
    case identityCenterRole(roleName: String, sessionName: String?)
    /// CloudTrail's placeholder for a user name it hides (`HIDDEN_DUE_TO_SECURITY_REASONS`, a failed
    /// sign-in with a wrong user name): no such user exists.
    case hiddenUserName(String)
    /// The principal matches a protected-principal pattern.
    case protected(arn: String, pattern: String)
    /// The circuit breaker is open: too many blocks in its window.
    case circuitOpen(blocksInWindow: Int, limit: Int, windowSeconds: Double)

    public var description: String {
        switch self {
        case .root(let account):
            return "the root user" + (account.map { " of account " + $0 } ?? "") + " is never blocked automatically; secure it by hand (rotate the password, check MFA)"
        case .awsService(let service):
            return "\(service) is an AWS service principal; AWS services are never blocked automatically"
        case .awsAccount(let account):
            return "the caller is another AWS account" + (account.map { " (" + $0 + ")" } ?? "") + "; only that account can block its principals"
        case .unknownType(let type):
            return "userIdentity type \(type.map { "\"" + $0 + "\"" } ?? "(missing)") cannot be blocked automatically"
        case .missingFields(let fields, let type):
            return "the \(type) identity lacks \(fields.joined(separator: ", ")), needed to name the principal to block"
        case .invalidField(let field, let reason):
            return "userIdentity.\(field) \(reason); refusing to block on a malformed identity"
        case .identityCenterRole(let role, let session):
            return "\(role) is an IAM Identity Center permission-set role, which only AWS can change; block the user"
                + (session.map { " (" + $0 + ")" } ?? "") + " in IAM Identity Center instead (disable the user or remove the assignment)"
        case .hiddenUserName(let name):
            return "the user name \(name) is CloudTrail's placeholder for a name it hides (a sign-in with a user name that does not exist); there is no such user to block"
        case .protected(let arn, let pattern):
            return "\(arn) is protected (matches \(pattern)) and is never blocked"
        case .circuitOpen(let count, let limit, let window):
            return "circuit breaker open: \(count) blocks in the last \(AlertContext.durationPhrase(seconds: window)) reached the limit of \(limit); blocking is stopped until the window passes"
        }
    }
}
