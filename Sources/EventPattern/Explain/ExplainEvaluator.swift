import TriplineJSON

/// The backtracking search over branches, with the per-value checks, and the explanation builder.
struct ExplainEvaluator {
    let event: FlattenedEvent
    /// (branch key, condition index, chosen positions) states known to fail, so searches that
    /// revisit a state do not explode on events with large arrays.
    private var failed: Set<SearchState> = []
    /// Outcomes of the searches over conditions on arrays, by those conditions (sorted by path).
    private var arraySearches: [[FieldCondition]: [MatchedCondition]?] = [:]
    /// Per path with many values, its values grouped by their outermost array position.
    private var leafIndexes: [[UInt8]: LeafIndex] = [:]

    /// A path's values (indices into `event.byPath`) grouped by outermost array position, so that a
    /// search step takes only those that can sit in the element already chosen there.
    struct LeafIndex {
        var free: [Int] = []
        var arrays: [Int] = []
        var byArray: [Int: [Int]] = [:]
        var byPosition: [FlattenedEvent.ArrayPosition: [Int]] = [:]

        /// Paths with fewer values are filtered whole.
        static let minimumLength = 32

        init(_ leaves: [FlattenedEvent.Leaf]) {
            for (i, leaf) in leaves.enumerated() {
                guard let outermost = leaf.membership.first else {
                    free.append(i)
                    continue
                }
                if byArray[outermost.array] == nil { arrays.append(outermost.array) }
                byArray[outermost.array, default: []].append(i)
                byPosition[outermost, default: []].append(i)
            }
        }
    }
    /// Per branch key, per condition index: the arrays that values at that condition's path or a
    /// later one's sit in (the only chosen positions that can still matter from there).
    private var arraysAhead: [Int: [Set<Int>]] = [:]

    struct SearchState: Hashable {
        var branch: Int
        var index: Int
        var accumulated: [FlattenedEvent.ArrayPosition]
    }

    init(event: FlattenedEvent) { self.event = event }

    /// One consistent way `branch` matches, or nil.
    ///
    /// Conditions on paths with no value inside an array hold or fail alone, whatever the others
    /// choose: each takes its first value (as the search would), and only the conditions on
    /// arrays are searched, once per event for every branch that has the same ones (the `$or`
    /// combinations of one pattern usually do; searched per branch, 900 combinations over 2,000
    /// array elements took 17 s, fuzz2.md N1).
    mutating func firstMatch(of branch: [FieldCondition]) -> [MatchedCondition]? {
        let sorted = Self.sortedByPath(branch)
        var onArrays: [FieldCondition] = []
        var alone: [MatchedCondition?] = []
        for condition in sorted {
            let leaves = event.byPath[Array(condition.path.utf8)] ?? []
            if leaves.contains(where: { !$0.membership.isEmpty }) {
                onArrays.append(condition)
                alone.append(nil)
            } else if leaves.isEmpty {
                guard condition.matchers.contains(.exists(false)) else { return nil }
                alone.append(MatchedCondition(path: condition.path, value: nil, matcher: .exists(false)))
            } else {
                guard let (leaf, matcher) = leaves.lazy.compactMap({ leaf in Self.firstMatcher(condition.matchers, leaf.value).map { (leaf, $0) } }).first
                else { return nil }
                alone.append(MatchedCondition(path: condition.path, value: leaf.value, matcher: matcher))
            }
        }
        var fromArrays: [MatchedCondition] = []
        if !onArrays.isEmpty {
            if let known = arraySearches[onArrays] {
                guard let known else { return nil }
                fromArrays = known
            } else {
                let key = arraySearches.count   // a new list of conditions on arrays: its own key
                var chosen: [MatchedCondition] = []
                let found = search(onArrays, branch: key, from: 0, accumulated: [], chosen: &chosen)
                arraySearches[onArrays] = .some(found ? chosen : nil)
                guard found else { return nil }
                fromArrays = chosen
            }
        }
        var next = fromArrays.makeIterator()
        return alone.map { $0 ?? next.next()! }
    }

    /// Depth-first search over the choice of event value for each remaining condition.
    private mutating func search(_ conditions: [FieldCondition], branch: Int, from index: Int,
                                 accumulated: [FlattenedEvent.ArrayPosition], chosen: inout [MatchedCondition]) -> Bool {
        guard index < conditions.count else { return true }
        // Positions in arrays no remaining value sits in cannot change the outcome: leaving them out
        // of the state lets searches over sibling arrays meet again (kept, they made it exponential).
        let ahead = arraysAhead(conditions, branch: branch)[index]
        let state = SearchState(branch: branch, index: index, accumulated: accumulated.filter { ahead.contains($0.array) })
        if failed.contains(state) { return false }
        let condition = conditions[index]
        let candidates = consistentLeaves(at: condition.path, with: accumulated)
        if condition.matchers.contains(.exists(false)), candidates.isEmpty {
            chosen.append(MatchedCondition(path: condition.path, value: nil, matcher: .exists(false)))
            if search(conditions, branch: branch, from: index + 1, accumulated: accumulated, chosen: &chosen) { return true }
            chosen.removeLast()
        }
        for leaf in candidates {
            guard let matcher = Self.firstMatcher(condition.matchers, leaf.value) else { continue }
            chosen.append(MatchedCondition(path: condition.path, value: leaf.value, matcher: matcher))
            if search(conditions, branch: branch, from: index + 1, accumulated: Self.union(accumulated, leaf.membership), chosen: &chosen) {
                return true
            }
            chosen.removeLast()
        }
        failed.insert(state)
        return false
    }

    /// The values at `path` consistent with the positions chosen so far, in document order.
    private mutating func consistentLeaves(at path: String, with accumulated: [FlattenedEvent.ArrayPosition]) -> [FlattenedEvent.Leaf] {
        let bytes = Array(path.utf8)
        let leaves = event.byPath[bytes] ?? []
        guard leaves.count >= LeafIndex.minimumLength, !accumulated.isEmpty else {
            return leaves.filter { Self.consistent($0.membership, accumulated) }
        }
        let index: LeafIndex
        if let known = leafIndexes[bytes] { index = known } else {
            index = LeafIndex(leaves)
            leafIndexes[bytes] = index
        }
        var picked = index.free
        for array in index.arrays {
            if let position = accumulated.first(where: { $0.array == array }) {
                picked += index.byPosition[position] ?? []
            } else {
                picked += index.byArray[array] ?? []
            }
        }
        picked.sort()
        return picked.map { leaves[$0] }.filter { Self.consistent($0.membership, accumulated) }
    }

    /// The arrays ahead of each condition of `conditions` (see `arraysAhead`), computed once per branch.
    private mutating func arraysAhead(_ conditions: [FieldCondition], branch: Int) -> [Set<Int>] {
        if let known = arraysAhead[branch] { return known }
        var lists = Array(repeating: Set<Int>(), count: conditions.count)
        var ahead = Set<Int>()
        for index in conditions.indices.reversed() {
            for leaf in event.byPath[Array(conditions[index].path.utf8)] ?? [] {
                for position in leaf.membership { ahead.insert(position.array) }
            }
            lists[index] = ahead
        }
        arraysAhead[branch] = lists
        return lists
    }

    /// Explains a pattern object (the top level or one `$or` alternative) at `prefix`.
    mutating func explainGroup(_ object: PatternObject, prefix: String?) -> GroupExplanation {
        var items: [ConditionExplanation] = []
        collect(object, prefix: prefix, into: &items)
        let branches = object.expand(prefix: prefix)
        var matches = false
        for branch in branches where firstMatch(of: branch) != nil {
            matches = true
            break
        }
        var conflict: ArrayConflict?
        if !matches, items.allSatisfy(\.matches) { conflict = findConflict(in: branches) }
        return GroupExplanation(items: items, matches: matches, conflict: conflict)
    }

    /// Adds `object`'s conditions to `items`: leaves with full paths, nested objects flattened in
    /// place, `$or` groups with each alternative explained.
    private mutating func collect(_ object: PatternObject, prefix: String?, into items: inout [ConditionExplanation]) {
        for field in object.fields {
            let path = prefix.map { $0 + "." + field.key } ?? field.key
            switch field.content {
            case .values(let matchers):
                items.append(.field(explainField(FieldCondition(path: path, matchers: matchers))))
            case .object(let inner):
                collect(inner, prefix: path, into: &items)
            }
        }
        for group in object.orGroups {
            var alternatives: [GroupExplanation] = []
            for alternative in group { alternatives.append(explainGroup(alternative, prefix: prefix)) }
            items.append(.anyOf(AnyOfExplanation(alternatives: alternatives)))
        }
    }

    private mutating func explainField(_ condition: FieldCondition) -> FieldExplanation {
        let leaves = event.byPath[Array(condition.path.utf8)] ?? []
        let values = leaves.map { leaf in
            ValueCheck(value: leaf.value, matchedBy: Self.firstMatcher(condition.matchers, leaf.value), element: event.elementName(leaf))
        }
        return FieldExplanation(path: condition.path, matchers: condition.matchers, values: values,
                                matches: firstMatch(of: [condition]) != nil)
    }

    /// For a group whose items each hold but not together: the smallest set of conditions (a
    /// pair when one suffices) of a branch whose conditions each hold alone.
    private mutating func findConflict(in branches: [[FieldCondition]]) -> ArrayConflict? {
        for branch in branches {
            var eachHolds = true
            for condition in branch where firstMatch(of: [condition]) == nil {
                eachHolds = false
                break
            }
            guard eachHolds else { continue }
            for i in branch.indices {
                for j in branch.indices where j > i && firstMatch(of: [branch[i], branch[j]]) == nil {
                    return ArrayConflict(sides: [side(for: branch[i]), side(for: branch[j])])
                }
            }
            return ArrayConflict(sides: branch.map(side(for:)))
        }
        return nil
    }

    private func side(for condition: FieldCondition) -> ArrayConflict.Side {
        let leaves = event.byPath[Array(condition.path.utf8)] ?? []
        let positive = condition.matchers.filter { $0 != .exists(false) }
        var elements: [String] = []
        for leaf in leaves where positive.isEmpty || Self.firstMatcher(positive, leaf.value) != nil {
            if let name = event.elementName(leaf), !elements.contains(name) { elements.append(name) }
        }
        return ArrayConflict.Side(path: condition.path, elements: elements)
    }

    // MARK: Semantics

    /// Java `String.compareTo` order (UTF-16 code units), stable for equal paths: event-ruler's
    /// order, which `exists: false` inside arrays depends on.
    static func sortedByPath(_ branch: [FieldCondition]) -> [FieldCondition] {
        branch.enumerated().sorted { lhs, rhs in
            if lhs.element.path != rhs.element.path { return lhs.element.path.utf16.lexicographicallyPrecedes(rhs.element.path.utf16) }
            return lhs.offset < rhs.offset
        }.map(\.element)
    }

    /// Two memberships are consistent when every array present in both is at the same index.
    static func consistent(_ a: [FlattenedEvent.ArrayPosition], _ b: [FlattenedEvent.ArrayPosition]) -> Bool {
        for x in a {
            for y in b where x.array == y.array && x.index != y.index { return false }
        }
        return true
    }

    static func union(_ a: [FlattenedEvent.ArrayPosition], _ b: [FlattenedEvent.ArrayPosition]) -> [FlattenedEvent.ArrayPosition] {
        var out = a
        for y in b where !out.contains(where: { $0.array == y.array }) { out.append(y) }
        return out
    }

    /// The first matcher other than `exists: false` that `value` satisfies.
    static func firstMatcher(_ matchers: [ValueMatcher], _ value: JSONValue) -> ValueMatcher? {
        matchers.first { $0 != .exists(false) && valueMatches($0, value) }
    }

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
            // A leaf exists; `exists: false` is judged by the search, not per value.
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
