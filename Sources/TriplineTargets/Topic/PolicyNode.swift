/// A policy object: properties that must all match, and `$or` groups of which one alternative must.
struct PolicyNode: Sendable, Hashable {
    struct Field: Sendable, Hashable {
        enum Content: Sendable, Hashable {
            case conditions([FilterCondition])
            case object(PolicyNode)
        }
        var key: String
        var content: Content
    }

    var fields: [Field] = []
    var orGroups: [[PolicyNode]] = []

    var isEmpty: Bool { fields.isEmpty && orGroups.isEmpty }
}
