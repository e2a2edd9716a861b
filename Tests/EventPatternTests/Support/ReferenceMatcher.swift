import EventPattern
import TriplineJSON

/// A deliberately simple, obviously-correct pattern interpreter, used only as a test oracle.
///
/// It follows aws/event-ruler's array-consistent `rulesForJSONEvent` (what EventBridge uses) as
/// literally as possible, with no attempt at speed: the event is flattened into leaf fields, each
/// remembering which element of every enclosing array it came from, and each `$or` branch is
/// searched exhaustively with backtracking. `PatternMachine` must agree with it on every input.
enum ReferenceMatcher {
    /// One leaf of a flattened event.
    struct Field {
        /// Object keys from the root joined with "." (array levels add nothing).
        var path: String
        /// A string, number, boolean or null.
        var value: JSONValue
        /// For every enclosing array (outermost first): that array's unique id and the element index.
        var membership: [ArrayPosition]
    }

    /// The element `index` of the array numbered `array` (numbered in document order).
    struct ArrayPosition: Equatable {
        var array: Int
        var index: Int
    }

    /// An event flattened once, for matching against many patterns.
    struct FlatEvent {
        var fields: [Field]
        /// Fields grouped by path, each group in document order.
        /// Keyed by the path's bytes: String equality would merge canonically equivalent keys.
        var byPath: [[UInt8]: [Field]]

        init(_ event: JSONValue) {
            var fields: [Field] = []
            var nextArrayID = 0
            ReferenceMatcher.flatten(event, path: nil, membership: [], into: &fields, nextArrayID: &nextArrayID)
            self.fields = fields
            self.byPath = Dictionary(grouping: fields, by: { Array($0.path.utf8) })
        }
    }

    /// Whether `pattern` matches `event`.
    static func matches(_ pattern: EventPattern, _ event: JSONValue) -> Bool {
        matches(pattern, FlatEvent(event))
    }

    /// Whether `pattern` matches an already flattened event.
    static func matches(_ pattern: EventPattern, _ event: FlatEvent) -> Bool {
        matches(Prepared(pattern), event)
    }

    /// A pattern's branches, each with its conditions already in matching order.
    struct Prepared {
        var branches: [[FieldCondition]]

        init(_ pattern: EventPattern) {
            branches = pattern.branches.map(ReferenceMatcher.sortedByPath)
        }
    }

    /// Whether a prepared pattern matches an already flattened event.
    static func matches(_ pattern: Prepared, _ event: FlatEvent) -> Bool {
        pattern.branches.contains { search($0[...], event, accumulated: []) }
    }

    // MARK: Flattening

    /// `path` is nil at the root, so an empty key still adds a segment (`{"": {"b": 1}}` is `.b`).
    static func flatten(_ value: JSONValue, path: String?, membership: [ArrayPosition],
                        into fields: inout [Field], nextArrayID: inout Int) {
        switch value {
        case .object(let object):
            for member in object.members {
                let childPath = path.map { $0 + "." + member.key } ?? member.key
                flatten(member.value, path: childPath, membership: membership, into: &fields, nextArrayID: &nextArrayID)
            }
        case .array(let elements):
            let id = nextArrayID
            nextArrayID += 1
            for (index, element) in elements.enumerated() {
                flatten(element, path: path, membership: membership + [ArrayPosition(array: id, index: index)],
                        into: &fields, nextArrayID: &nextArrayID)
            }
        case .string, .number, .bool, .null:
            // A leaf at the root is not a field: events are objects.
            if let path { fields.append(Field(path: path, value: value, membership: membership)) }
        }
    }

    // MARK: Branch search

    /// Java `String.compareTo` order: UTF-16 code units, lexicographically.
    static func javaOrder(_ a: String, _ b: String) -> Bool {
        a.utf16.lexicographicallyPrecedes(b.utf16)
    }

    /// Conditions in event-ruler's order: by path (Java order), stable for equal paths.
    static func sortedByPath(_ branch: [FieldCondition]) -> [FieldCondition] {
        branch.enumerated().sorted { lhs, rhs in
            if lhs.element.path != rhs.element.path { return javaOrder(lhs.element.path, rhs.element.path) }
            return lhs.offset < rhs.offset
        }.map(\.element)
    }

    /// Depth-first search over the choice of event field for each remaining condition.
    static func search(_ conditions: ArraySlice<FieldCondition>, _ event: FlatEvent, accumulated: [ArrayPosition]) -> Bool {
        guard let condition = conditions.first else { return true }
        let rest = conditions.dropFirst()
        let candidates = (event.byPath[Array(condition.path.utf8)] ?? []).filter { consistent($0.membership, accumulated) }
        if condition.matchers.contains(.exists(false)), candidates.isEmpty {
            if search(rest, event, accumulated: accumulated) { return true }
        }
        let positive = condition.matchers.filter { $0 != .exists(false) }
        for field in candidates where positive.contains(where: { valueMatches($0, field.value) }) {
            if search(rest, event, accumulated: union(accumulated, field.membership)) { return true }
        }
        return false
    }

    /// Two memberships are consistent when every array present in both is at the same index.
    static func consistent(_ a: [ArrayPosition], _ b: [ArrayPosition]) -> Bool {
        for x in a {
            for y in b where x.array == y.array && x.index != y.index { return false }
        }
        return true
    }

    static func union(_ a: [ArrayPosition], _ b: [ArrayPosition]) -> [ArrayPosition] {
        var out = a
        for y in b where !out.contains(where: { $0.array == y.array }) { out.append(y) }
        return out
    }

    // MARK: Values

    /// Whether one leaf value satisfies one matcher.
    static func valueMatches(_ matcher: ValueMatcher, _ value: JSONValue) -> Bool {
        switch matcher {
        case .exactString(let s):
            guard case .string(let v) = value else { return false }
            return Array(v.utf8) == Array(s.utf8)
        case .exactNumber(let x):
            guard case .number(let n) = value else { return false }
            return n.comparableValue == x
        case .exactNumberText(let t):
            guard case .number(let n) = value else { return false }
            return Array(n.text.utf8) == Array(t.utf8)
        case .exactBool(let b):
            return value == .bool(b)
        case .exactNull:
            return value == .null
        case .prefix(let p, let ignoreCase):
            guard case .string(let v) = value else { return false }
            return ignoreCase ? CaseFolding.hasPrefix(Array(v.utf8), p) : Array(v.utf8).starts(with: Array(p.utf8))
        case .suffix(let p, let ignoreCase):
            guard case .string(let v) = value else { return false }
            return ignoreCase ? CaseFolding.hasSuffix(Array(v.utf8), p) : Array(v.utf8).reversed().starts(with: Array(p.utf8).reversed())
        case .equalsIgnoreCase(let s):
            guard case .string(let v) = value else { return false }
            return CaseFolding.equals(Array(v.utf8), s)
        case .wildcard(let w):
            guard case .string(let v) = value else { return false }
            return w.matches(Array(v.utf8))
        case .numeric(let range):
            guard case .number(let n) = value else { return false }
            return range.contains(n.comparableValue)
        case .exists(let present):
            // A leaf exists; `exists: false` is handled by the search, not per value.
            return present
        case .cidr(let block):
            guard case .string(let v) = value, let address = IPAddress.parse(Array(v.utf8)) else { return false }
            return block.contains(address)
        case .anythingBut(let exclusion):
            return !isExcluded(value, by: exclusion)
        }
    }

    /// Values of another type than the exclusion list (and null) are never excluded.
    static func isExcluded(_ value: JSONValue, by exclusion: AnythingBut) -> Bool {
        if case .number(let n) = value {
            if case .numbers(let list) = exclusion { return list.contains(n.comparableValue) }
            return false
        }
        guard case .string(let v) = value else { return false }
        let bytes = Array(v.utf8)
        switch exclusion {
        case .strings(let list): return list.contains { Array($0.utf8) == bytes }
        case .numbers: return false
        case .prefixes(let list): return list.contains { bytes.starts(with: Array($0.utf8)) }
        case .suffixes(let list): return list.contains { bytes.reversed().starts(with: Array($0.utf8).reversed()) }
        case .equalsIgnoreCase(let list): return list.contains { CaseFolding.equals(bytes, $0) }
        case .wildcards(let list): return list.contains { $0.matches(bytes) }
        }
    }
}

/// Runs one pattern/event pair through the reference interpreter and a one-pattern `PatternMachine`.
///
/// Shared by the table-driven, conformance and differential tests so each compares the same way.
struct DualVerdict: CustomStringConvertible {
    /// The reference verdict, or nil when the event is not valid JSON.
    var reference: Bool?
    /// The machine verdict, or the error it threw.
    var machine: Result<Bool, JSONError>

    init(pattern: EventPattern, eventText: String) {
        let bytes = Array(eventText.utf8)
        reference = (try? JSONParser.parse(bytes)).map { ReferenceMatcher.matches(pattern, $0) }
        var machine = PatternMachine()
        machine.add(pattern, id: 7)
        do throws(JSONError) {
            let ids = try machine.matches(event: bytes)
            self.machine = .success(ids == [7])
        } catch {
            self.machine = .failure(error)
        }
    }

    var machineVerdict: Bool? { if case .success(let b) = machine { return b }; return nil }

    var description: String {
        let ref = reference.map { $0 ? "match" : "no match" } ?? "event rejected"
        let mac: String
        switch machine {
        case .success(let b): mac = b ? "match" : "no match"
        case .failure(let e): mac = "error: \(e)"
        }
        return "reference: \(ref), machine: \(mac)"
    }
}
