import TriplineJSON

/// Reads one event's bytes once, visiting only the fields some pattern names, and decides which
/// patterns match.
///
/// Keys are looked up in the machine's path trie as they are read; a subtree no pattern reaches is
/// validated and skipped without being built. Each interesting leaf runs through its field's tests,
/// and the predicates it satisfies count towards their sub-rules; sub-rules whose required
/// predicates are all satisfied are then confirmed for array consistency (values inside one array
/// of objects must come from the same element) and for `exists: false`.
struct EventWalker {
    let reference: CompiledMachineReference
    /// The reference's flat tables, addressed in place (a copy is hundreds of bytes).
    private let flatPointer: UnsafePointer<FlatTables>
    var flat: FlatTables { unsafeAddress { flatPointer } }
    var cursor: JSONCursor
    /// The caller's scratch state, addressed in place: building, swapping and destroying a
    /// `WalkState` per event cost a tenth of skipping a whole event.
    private let statePointer: UnsafeMutablePointer<WalkState>

    var state: WalkState {
        unsafeAddress { UnsafePointer(statePointer) }
        nonmutating unsafeMutableAddress { statePointer }
    }

    /// A walker over `cursor` using `state`, which must stay valid while the walker is used.
    init(machine: CompiledMachineReference, cursor: JSONCursor, state: UnsafeMutablePointer<WalkState>) {
        self.reference = machine
        self.flatPointer = UnsafePointer(machine.flatPointer)
        self.cursor = cursor
        self.statePointer = state
    }


    // MARK: Reading

    mutating func walkEvent() throws(JSONError) {
        // A UTF-8 byte order mark before the event (a file saved by some editors) is skipped, as
        // `JSONParser` and the input readers skip it.
        let bytes = cursor.bytes
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { cursor.index = 3 }
        cursor.skipWhitespace()
        guard cursor.index < cursor.bytes.count, cursor.bytes[cursor.index] == UInt8(ascii: "{") else {
            throw cursor.unexpected(expected: "a JSON object (an event)")
        }
        try walkObject(node: 0, depth: 0)
        try cursor.expectEnd()
    }

    private mutating func walkObject(node: Int32, depth: Int) throws(JSONError) {
        guard depth < cursor.maxDepth else { throw .tooDeep(limit: cursor.maxDepth, at: cursor.location(cursor.index)) }
        cursor.index += 1
        if cursor.peekToken() == UInt8(ascii: "}") { cursor.index += 1; return }
        let mark = cursor.keyMark
        // The named children still to find; at 0 the rest is only validated, unless a key in it
        // may name a field below a child through dots (`"a.b"`): the skip then stops there.
        var unseen = flat.edges.childCount(of: node)
        let heads = flat.edges.dottedHeads(of: node)
        repeat {
            let child: Int32
            if let key = cursor.readKey(since: mark) {
                child = flat.edges.child(of: node, fingerprint: key.fingerprint, cursor.bytes.baseAddress!, key.start, key.end &- key.start, cursor.bytes.count)
            } else {
                // Escapes, a large object, or an error to report.
                cursor.skipWhitespace()
                let key = try cursor.scanString()
                try cursor.checkDuplicate(key, since: mark)
                try cursor.expect(UInt8(ascii: ":"), "':' after an object key")
                child = lookup(node: node, key: key)
            }
            if child < 0 {
                if !cursor.skipStringValue() { try cursor.skipValue(depth: depth + 1) }
            } else {
                try walkValue(node: child, depth: depth + 1)
                // (A dotted key reaches a grandchild: it is not one of the children counted.)
                if heads == 0 || flat.nodeParent[Int(child)] == node { unseen &-= 1 }
                if unseen == 0 && cursor.skipRestOfObject(since: mark, depth: depth, dottedHeads: heads) { return }
            }
        } while try cursor.nextMember(close: UInt8(ascii: "}"))
        cursor.releaseKeys(to: mark)
    }

    /// The child of `node` named by a key the careful reader read (escapes decoded first).
    private mutating func lookup(node: Int32, key: JSONStringToken) -> Int32 {
        let base = cursor.bytes.baseAddress!
        if !key.hasEscapes {
            let length = key.end &- key.start
            return flat.edges.child(of: node, fingerprint: JSONCursor.fingerprint(base, cursor.bytes.count, start: key.start, length: length),
                                    base, key.start, length, cursor.bytes.count)
        }
        state.decodeBuffer.clear()
        cursor.decode(key, into: &state.decodeBuffer)
        state.decodeBuffer.append(0)   // a readable byte even for an empty key
        let edges = flat.edges
        return state.decodeBuffer.withUnsafeBufferPointer { decoded in
            let length = decoded.count - 1
            return edges.child(of: node, fingerprint: JSONCursor.fingerprint(decoded.baseAddress!, length, start: 0, length: length),
                               decoded.baseAddress!, 0, length, length)
        }
    }

    private mutating func walkArray(node: Int32, depth: Int) throws(JSONError) {
        guard depth < cursor.maxDepth else { throw .tooDeep(limit: cursor.maxDepth, at: cursor.location(cursor.index)) }
        cursor.index += 1
        if cursor.peekToken() == UInt8(ascii: "]") { cursor.index += 1; return }
        let arrayID = state.nextArrayID
        state.nextArrayID += 1
        state.arrayStack.append(arrayID)
        state.arrayStack.append(0)
        var index: Int32 = 0
        repeat {
            state.arrayStack[state.arrayStack.count - 1] = index
            try walkValue(node: node, depth: depth + 1)
            index += 1
        } while try cursor.nextMember(close: UInt8(ascii: "]"))
        state.arrayStack.removeLast()
        state.arrayStack.removeLast()
    }

    private mutating func walkValue(node: Int32, depth: Int) throws(JSONError) {
        cursor.skipWhitespace()
        guard cursor.index < cursor.bytes.count else { throw cursor.unexpected(expected: "a JSON value") }
        let field = flat.nodeField[Int(node)]
        switch cursor.bytes[cursor.index] {
        case UInt8(ascii: "{"):
            if flat.nodeDeferrable[Int(node)] && state.deferral[Int(node)].shouldDefer() {
                try deferSubtree(node: node, depth: depth)
            } else if flat.nodeHasChildren[Int(node)] {
                try walkObject(node: node, depth: depth)
            } else {
                try cursor.skipValue(depth: depth)
            }
        case UInt8(ascii: "["):
            if flat.nodeDeferrable[Int(node)] && state.deferral[Int(node)].shouldDefer() {
                try deferSubtree(node: node, depth: depth)
            } else {
                try walkArray(node: node, depth: depth)
            }
        case UInt8(ascii: "\""):
            let token = try cursor.scanString()
            guard field >= 0 else { return }
            state.predBuffer.clear()
            if !flat.fieldEvaluates[Int(field)] {
                // Only lazy predicates name the field: the value is recorded for them.
            } else if token.hasEscapes {
                state.decodeBuffer.clear()
                cursor.decode(token, into: &state.decodeBuffer)
                let decoded = state.decodeBuffer
                let s = statePointer   // the closures capture the pointer, not a copy of the walker
                decoded.withUnsafeBufferPointer { buffer in
                    flat.fieldMatchers[Int(field)]._withUnsafeGuaranteedRef {
                        $0.evaluateString(buffer, cache: &s.pointee.automata[Int(field)], scratch: &s.pointee.field, into: &s.pointee.predBuffer)
                    }
                }
            } else {
                let value = UnsafeBufferPointer(rebasing: cursor.bytes[token.start..<token.end])
                let s = statePointer
                flat.fieldMatchers[Int(field)]._withUnsafeGuaranteedRef {
                    $0.evaluateString(value, cache: &s.pointee.automata[Int(field)], scratch: &s.pointee.field, into: &s.pointee.predBuffer)
                }
            }
            record(field: field, kind: token.hasEscapes ? .escapedString : .string, start: token.start, end: token.end)
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            let start = cursor.index
            let literal: ValueKind
            switch cursor.bytes[cursor.index] {
            case UInt8(ascii: "t"): try cursor.scanLiteral("true"); literal = .true
            case UInt8(ascii: "f"): try cursor.scanLiteral("false"); literal = .false
            default: try cursor.scanLiteral("null"); literal = .null
            }
            guard field >= 0 else { return }
            state.predBuffer.clear()
            if flat.fieldEvaluates[Int(field)] {
                let s = statePointer
                flat.fieldMatchers[Int(field)]._withUnsafeGuaranteedRef { $0.evaluateLiteral(literal, into: &s.pointee.predBuffer) }
            }
            record(field: field, kind: literal, start: start, end: cursor.index)
        default:
            let range = try cursor.scanNumber()
            guard field >= 0 else { return }
            state.predBuffer.clear()
            let needed = flat.fieldMatchers[Int(field)]._withUnsafeGuaranteedRef { $0.needsNumberValue }
            let value = needed || flat.fieldTracksOccurrences[Int(field)]
                ? JSONNumber.comparableValue(buffer: UnsafeBufferPointer(rebasing: cursor.bytes[range])) : .nan
            if needed {
                let s = statePointer
                let text = UnsafeBufferPointer(rebasing: cursor.bytes[range])
                flat.fieldMatchers[Int(field)]._withUnsafeGuaranteedRef {
                    $0.evaluateNumber(value, text: text, scratch: &s.pointee.field, into: &s.pointee.predBuffer)
                }
            }
            record(field: field, kind: .number, start: range.lowerBound, end: range.upperBound, number: value)
        }
    }

    /// Validates and skips the container at the cursor (at a deferrable node), noting where it is
    /// so that ``expandDeferred(forField:)`` can walk it if a candidate needs a field below it.
    private mutating func deferSubtree(node: Int32, depth: Int) throws(JSONError) {
        let start = cursor.index
        try cursor.skipValue(depth: depth)
        state.deferred.append(DeferredSubtree(node: node, start: Int32(truncatingIfNeeded: start), depth: Int32(truncatingIfNeeded: depth),
                                              stackStart: Int32(truncatingIfNeeded: state.deferredStacks.count),
                                              stackCount: Int32(truncatingIfNeeded: state.arrayStack.count), walked: false))
        state.deferredStacks.append(contentsOf: state.arrayStack)
        state.deferredPending &+= 1
    }

    /// Walks the skipped subtrees that may hold values of lazy field `f`, so that its values are
    /// all recorded before anything reads them. Deciding only (the walk is over).
    @inline(__always)
    private mutating func expandDeferred(forField f: Int) {
        guard state.deferredPending > 0 else { return }
        let fieldNode = flat.fieldDeferredNode[f]
        if fieldNode >= 0 { expandDeferred(above: fieldNode) }
    }

    /// Walks every skipped subtree at `fieldNode` or one of its ancestors.
    private mutating func expandDeferred(above fieldNode: Int32) {
        var i = 0
        while i < state.deferred.count {
            let subtree = state.deferred[i]
            if !subtree.walked && isAncestorOrSelf(subtree.node, of: fieldNode) {
                state.deferred[i].walked = true
                state.deferredPending &-= 1
                walk(subtree)
            }
            i &+= 1
        }
    }

    private func isAncestorOrSelf(_ ancestor: Int32, of node: Int32) -> Bool {
        var n = node
        while n >= 0 {
            if n == ancestor { return true }
            n = flat.nodeParent[Int(n)]
        }
        return false
    }

    /// Walks a skipped subtree as reading would have, inside the same arrays.
    private mutating func walk(_ subtree: DeferredSubtree) {
        let resume = cursor.index
        cursor.index = Int(subtree.start)
        state.arrayStack.removeAll()
        for k in 0..<Int(subtree.stackCount) { state.arrayStack.append(state.deferredStacks[Int(subtree.stackStart) &+ k]) }
        do {
            // (Not through `walkValue`, which would skip it again; subtrees below it that can
            // wait are skipped and noted, and walked by the caller's loop if they are needed.)
            if cursor.bytes[cursor.index] == UInt8(ascii: "[") {
                try walkArray(node: subtree.node, depth: Int(subtree.depth))
            } else if flat.nodeHasChildren[Int(subtree.node)] {
                try walkObject(node: subtree.node, depth: Int(subtree.depth))
            }
        } catch {
            // Unreachable: the subtree was validated by the same rules when it was skipped.
            assertionFailure("a validated subtree failed to walk: \(error)")
        }
        state.arrayStack.removeAll()
        cursor.index = resume
    }

    /// Notes a leaf at `field`: the trigger predicates it satisfied (`state.predBuffer`) and, for
    /// fields some lazy predicate names, the value itself (kind and bytes) for testing later.
    @inline(__always)
    private mutating func record(field: Int32, kind: ValueKind, start: Int, end: Int, number: Double = .nan) {
        let tracks = flat.fieldTracksOccurrences[Int(field)]
        if state.predBuffer.isEmpty && !tracks { return }
        let occ = Int32(state.occurrences.count)
        let memberCount = Int32(state.arrayStack.count / 2)
        let memberStart = Int32(state.memberArena.count)
        if memberCount > 0 {
            state.memberArena.append(contentsOf: state.arrayStack)
            state.fieldArrayStamp[Int(field)] = state.epoch
        }
        var next: Int32 = -1
        let epoch = state.epoch
        if tracks {
            let f = Int(field)
            if state.fieldStamp[f] != epoch {
                state.fieldStamp[f] = epoch
                state.fieldOccHead[f] = -1
                if flat.fieldPresenceStart[f] != flat.fieldPresenceStart[f &+ 1] { state.presentFields.append(field) }
            }
            next = state.fieldOccHead[f]
            state.fieldOccHead[f] = occ
        }
        state.occurrences.append(Occurrence(memberStart: memberStart, memberCount: memberCount, nextInField: next, kind: kind,
                                            start: Int32(truncatingIfNeeded: start), end: Int32(truncatingIfNeeded: end), number: number))
        for p in state.predBuffer { addPair(pred: Int(p), occurrence: occ) }
    }

    /// Lists `occurrence` among the values satisfying predicate `p`.
    @inline(__always)
    private mutating func addPair(pred p: Int, occurrence occ: Int32) {
        if state.pairs.count >= state.maxPairs { return pairsExhausted() }
        if state.preds[p].stamp != state.epoch {
            state.preds[p].stamp = state.epoch
            state.preds[p].head = -1
            state.touched.append(Int32(p))
        }
        state.pairs.append(PredicatePair(occurrence: occ, next: state.preds[p].head))
        state.preds[p].head = Int32(state.pairs.count - 1)
    }

    /// Past the memory an event may take: nothing more is recorded, and the event is refused.
    /// Out of line, so the walk's hot loop carries only the comparison.
    @inline(never)
    private func pairsExhausted() {
        state.field.work = state.field.workLimit &+ 1
    }

    // MARK: Deciding

    /// Leaves the ids of the matched patterns in `state.matched` (unsorted).
    mutating func decide() {
        // Only trigger predicates are touched while reading; their candidates are read in place
        // (flat tables outlive the walk), then those of the fields that got a value, then the
        // rules examined for every event.
        // (Lazy predicates tested meanwhile are appended to `touched` too; they trigger nothing.)
        let triggered = state.touched.count
        let candidates = flat.candidates
        if triggered > 1 {
            // Every trigger's first record, and the line after it, requested before any is read:
            // at 10,000 rules each is a cache miss, and misses issued together overlap.
            var sink: Int32 = 0
            for t in 0..<triggered {
                let slot = Int(flat.triggerStart[Int(state.touched[t])])
                sink &+= candidates.touch(slot) &+ candidates.touch(min(slot &+ 2, candidates.slotCount &- 1))
            }
            state.sink = sink
        }
        var t = 0
        while t < triggered {
            let p = Int(state.touched[t])
            t &+= 1
            var slot = Int(flat.triggerStart[p])
            let end = Int(flat.triggerStart[p &+ 1])
            while slot < end { slot = consider(at: slot) }
        }
        for k in 0..<state.presentFields.count {
            let f = Int(state.presentFields[k])
            var slot = Int(flat.fieldPresenceStart[f])
            let end = Int(flat.fieldPresenceStart[f &+ 1])
            while slot < end { slot = consider(at: slot) }
        }
        var slot = Int(flat.fieldPresenceStart[flat.fieldPresenceStart.count &- 1])
        while slot < candidates.slotCount { slot = consider(at: slot) }
        for k in 0..<state.deferred.count {
            let subtree = state.deferred[k]
            state.deferral[Int(subtree.node)].observe(wasNeeded: subtree.walked)
        }
    }

    /// Confirms the candidate whose record starts at `slot` unless its pattern already matched;
    /// records a match. Returns where the next record starts.
    @inline(__always)
    private mutating func consider(at slot: Int) -> Int {
        let rule = flat.candidates.header(at: slot)
        let next = slot &+ 1 &+ Int(rule.conditionCount)
        if state.field.work > state.field.workLimit { return next }
        let pattern = Int(rule.pattern)
        if !rule.onlyBranch && state.patternStamp[pattern] == state.epoch { return next }
        if confirm(rule, conditions: slot &+ 1) {
            if !rule.onlyBranch { state.patternStamp[pattern] = state.epoch }
            state.matched.append(rule.id)
        }
        return next
    }

    /// Whether a candidate sub-rule really matches: every condition, with array consistency.
    ///
    /// Decided from the rule's condition records (from slot `first`) alone when at most one
    /// condition has values inside arrays (then every choice of values is consistent and each
    /// condition stands alone); otherwise by ``confirmAcrossArrays(_:)``.
    private mutating func confirm(_ rule: SubRuleInfo, conditions first: Int) -> Bool {
        let epoch = state.epoch
        var conditionsOnArrays = 0
        if rule.triggerField >= 0 && state.fieldArrayStamp[Int(rule.triggerField)] == epoch { conditionsOnArrays = 1 }
        var eachAloneHolds = true
        var k = first
        let end = first &+ Int(rule.conditionCount)
        while k < end {
            let condition = flat.candidates.condition(at: k)
            k &+= 1
            let f = Int(condition.field)
            if condition.mode != .eager { expandDeferred(forField: f) }
            if state.fieldArrayStamp[f] == epoch { conditionsOnArrays &+= 1 }
            let p = Int(condition.pred)
            let positive: Bool
            switch condition.mode {
            case .eager: positive = state.preds[p].stamp == epoch
            case .compact: positive = someValue(ofField: f, satisfies: condition.compact)
            case .memoized:
                evaluate(pred: p)
                positive = state.preds[p].stamp == epoch
            }
            if !positive {
                // Only an absence condition can hold without a satisfying value: when the field has none.
                if !condition.hasAbsence { return false }
                if state.fieldStamp[f] == epoch { eachAloneHolds = false }
            }
        }
        if conditionsOnArrays <= 1 { return eachAloneHolds }
        return confirmAcrossArrays(rule)
    }

    /// Matching work (``MatchScratch/maxMatchWork`` steps) one test of a value against a lazy
    /// condition counts for: a string comparison, some times a simple step.
    static let valueTestWork = 4

    /// Whether some recorded value of field `f` passes `test`.
    @inline(__always)
    private mutating func someValue(ofField f: Int, satisfies test: CompactTest) -> Bool {
        guard state.fieldStamp[f] == state.epoch else { return false }
        var occ = state.fieldOccHead[f]
        while occ >= 0 {
            state.field.work &+= EventWalker.valueTestWork
            if compactSatisfies(test, occurrence: Int(occ)) { return true }
            occ = state.occurrences[Int(occ)].nextInField
        }
        return false
    }

    /// The full decision for a candidate with several conditions on values inside arrays: every
    /// lazy predicate's satisfying values listed, then a search for one consistent choice.
    private mutating func confirmAcrossArrays(_ rule: SubRuleInfo) -> Bool {
        let start = Int(rule.predStart)
        let end = Int(rule.predEnd)
        // Cheap rejection first: every condition must have a satisfying value (or be an absence).
        var conditionsOnArrays = 0
        for k in start..<end {
            let p = Int(flat.subRulePreds[k])
            if flat.pred[p].isLazy { evaluate(pred: p) }
            if state.preds[p].stamp != state.epoch && !flat.pred[p].hasAbsence { return false }
            if state.fieldArrayStamp[Int(flat.pred[p].field)] == state.epoch { conditionsOnArrays &+= 1 }
        }
        // Consistency can only fail between conditions whose values sit in arrays: the others
        // hold or fail alone, whatever is chosen for the rest.
        var onArrays: [Int32] = []
        for k in start..<end {
            let p = Int(flat.subRulePreds[k])
            if conditionsOnArrays > 1 && state.fieldArrayStamp[Int(flat.pred[p].field)] == state.epoch {
                onArrays.append(Int32(p))
            } else if !satisfiedWithoutArrays(pred: p) {
                return false
            }
        }
        if onArrays.isEmpty { return true }
        // Rules (and `$or` branches) that share the conditions on arrays share the outcome.
        if let known = state.consistencyOutcomes[onArrays] { return known }
        state.searchPreds = onArrays
        state.chosen.clear()
        state.searchSteps = 0
        if !state.failedStates.isEmpty { state.failedStates.removeAll(keepingCapacity: true) }
        state.arraysAhead.removeAll(keepingCapacity: true)   // noted when the memo is first needed
        let outcome = search(from: 0, end: onArrays.count)
        state.consistencyOutcomes[onArrays] = outcome
        // Thousands of rules each searching its own values (per-tenant conditions on a long array):
        // the indexes go once they hold many values, so memory stays bounded; building them again is counted work.
        if state.indexedValues > OccurrenceIndex.cachedValuesLimit {
            state.occurrenceIndexes.removeAll()
            state.indexedValues = 0
        }
        return outcome
    }

    private func satisfiedWithoutArrays(pred p: Int) -> Bool {
        if state.preds[p].stamp == state.epoch { return true }
        // An absence condition: satisfied when the field has no value at all.
        return flat.pred[p].hasAbsence && state.fieldStamp[Int(flat.pred[p].field)] != state.epoch
    }

    /// Tests lazy predicate `p` against every recorded value of its field, once per event.
    private mutating func evaluate(pred p: Int) {
        let epoch = state.epoch
        if state.preds[p].evalStamp == epoch { return }
        state.preds[p].evalStamp = epoch
        let f = Int(flat.pred[p].field)
        expandDeferred(forField: f)
        guard state.fieldStamp[f] == epoch else { return }
        guard flat.pred[p].test != .none || flat.pred[p].broadStart != flat.pred[p].broadEnd else { return }
        var occ = state.fieldOccHead[f]
        while occ >= 0 {
            state.field.work &+= EventWalker.valueTestWork
            if satisfies(pred: p, occurrence: Int(occ)) { addPair(pred: p, occurrence: occ) }
            occ = state.occurrences[Int(occ)].nextInField
        }
    }

    /// Whether the value at `occurrence` satisfies one of lazy predicate `p`'s matchers.
    private mutating func satisfies(pred p: Int, occurrence occ: Int) -> Bool {
        let kind = state.occurrences[occ].kind
        switch flat.pred[p].test {
        case .none: break
        case .general:
            if generalSatisfies(pred: p, occurrence: occ, kind: kind) { return true }
        default:
            // Compact tests never carry broad matchers.
            return compactSatisfies(CompactTest(flat.pred[p]), occurrence: occ)
        }
        // Broad matchers: `exists: true` (any value), or anything-but, whose exclusions the general
        // test above left in `state.field.exclusions` (compact tests never carry broad matchers).
        for k in Int(flat.pred[p].broadStart)..<Int(flat.pred[p].broadEnd) {
            let group = flat.predBroad[k]
            if group < 0 { return true }   // exists: true
            let sameType = flat.predTesters[p]!._withUnsafeGuaranteedRef { $0.groupIsNumeric[Int(group)] }
                ? kind == .number : (kind == .string || kind == .escapedString)
            if !sameType { return true }   // anything-but never excludes a value of another type
            if !state.field.exclusions.contains(group) { return true }
        }
        return false
    }

    /// Whether the value at `occurrence` passes a lazy predicate's compact test (`info.test` is
    /// neither `.none` nor `.general`).
    private mutating func compactSatisfies(_ info: CompactTest, occurrence occ: Int) -> Bool {
        let x = state.occurrences[occ].number
        switch info.test {
        case .closedRange: return x >= info.lower && x <= info.upper
        case .rangeClosedOpen: return x >= info.lower && x < info.upper
        case .rangeOpenClosed: return x > info.lower && x <= info.upper
        case .openRange: return x > info.lower && x < info.upper
        case .exactString, .prefix, .suffix, .wildcard, .cidr, .oneOfStrings:
            let kind = state.occurrences[occ].kind
            return (kind == .string || kind == .escapedString)
                && withString(occurrence: occ, { walker, value in walker.compactStringTest(info, value: value, occurrence: occ) })
        case .noneOfStrings:
            // anything-but never excludes a value of another type.
            let kind = state.occurrences[occ].kind
            return !(kind == .string || kind == .escapedString)
                || !withString(occurrence: occ, { walker, value in walker.compactStringTest(info, value: value, occurrence: occ) })
        case .none, .general: return false
        }
    }

    /// Runs predicate `p`'s own matcher on the value; true when a positive test matched. Leaves
    /// the anything-but groups the value is excluded from in `state.field.exclusions`.
    private mutating func generalSatisfies(pred p: Int, occurrence occ: Int, kind: ValueKind) -> Bool {
        state.predBuffer.clear()
        state.field.exclusions.clear()
        guard let unmanaged = flat.predTesters[p] else { return false }
        // The closures capture the state pointer and the bytes, never the walker (that would copy it).
        let s = statePointer
        let o = state.occurrences[occ]
        switch kind {
        case .string:
            let value = UnsafeBufferPointer(rebasing: cursor.bytes[Int(o.start)..<Int(o.end)])
            unmanaged._withUnsafeGuaranteedRef {
                $0.evaluateString(value, cache: &s.pointee.predAutomata[p], scratch: &s.pointee.field, into: &s.pointee.predBuffer)
            }
        case .escapedString:
            state.decodeBuffer.clear()
            cursor.decode(JSONStringToken(start: Int(o.start), end: Int(o.end), hasEscapes: true), into: &state.decodeBuffer)
            let decoded = state.decodeBuffer
            decoded.withUnsafeBufferPointer { value in
                unmanaged._withUnsafeGuaranteedRef {
                    $0.evaluateString(value, cache: &s.pointee.predAutomata[p], scratch: &s.pointee.field, into: &s.pointee.predBuffer)
                }
            }
        case .number:
            let text = UnsafeBufferPointer(rebasing: cursor.bytes[Int(o.start)..<Int(o.end)])
            unmanaged._withUnsafeGuaranteedRef { $0.evaluateNumber(o.number, text: text, scratch: &s.pointee.field, into: &s.pointee.predBuffer) }
        case .true, .false, .null:
            unmanaged._withUnsafeGuaranteedRef { $0.evaluateLiteral(kind, into: &s.pointee.predBuffer) }
        }
        return !state.predBuffer.isEmpty
    }

    /// Calls `body` with the unescaped bytes of string occurrence `occ`: in place in the event,
    /// or decoded into the scratch buffer when the string has escapes.
    @inline(__always)
    private mutating func withString<R>(occurrence occ: Int, _ body: (inout EventWalker, UnsafeBufferPointer<UInt8>) -> R) -> R {
        let o = state.occurrences[occ]
        if o.kind == .string { return body(&self, UnsafeBufferPointer(rebasing: cursor.bytes[Int(o.start)..<Int(o.end)])) }
        state.decodeBuffer.clear()
        cursor.decode(JSONStringToken(start: Int(o.start), end: Int(o.end), hasEscapes: true), into: &state.decodeBuffer)
        let decoded = state.decodeBuffer
        return decoded.withUnsafeBufferPointer { body(&self, $0) }
    }

    /// A compact string test on a (decoded) string value of string occurrence `occ`.
    private mutating func compactStringTest(_ info: CompactTest, value: UnsafeBufferPointer<UInt8>, occurrence occ: Int) -> Bool {
        let text = UnsafeBufferPointer(rebasing: flat.predText[info.textStart..<info.textEnd])
        switch info.test {
        case .exactString: return value.count == text.count && EventWalker.equal(value, at: 0, text)
        case .prefix: return value.count >= text.count && EventWalker.equal(value, at: 0, text)
        case .suffix: return value.count >= text.count && EventWalker.equal(value, at: value.count - text.count, text)
        case .wildcard:
            return EventWalker.wildcard(value, text: text,
                                        pieces: UnsafeBufferPointer(rebasing: flat.pieceLength[info.pieceStart..<info.pieceEnd]))
        case .oneOfStrings, .noneOfStrings:
            // Whether the value is one of the strings.
            var offset = 0
            for length in UnsafeBufferPointer(rebasing: flat.pieceLength[info.pieceStart..<info.pieceEnd]) {
                let n = Int(length)
                if n == value.count && EventWalker.equal(value, at: 0, UnsafeBufferPointer(rebasing: text[offset..<(offset + n)])) { return true }
                offset += n
            }
            return false
        case .cidr:
            if state.addressOccurrence != occ {
                state.addressOccurrence = occ
                state.address = IPAddress.parse(value)
            }
            // The text holds the network bytes: 4 for IPv4, 16 for IPv6, as the address's own.
            guard let address = state.address, address.byteCount == text.count else { return false }
            return CIDRBlock.prefix(of: address, matches: text, length: info.prefixLength)
        default: return false
        }
    }

    /// Whether `value` holds `text` at `offset` (the caller checked that it fits).
    @inline(__always)
    static func equal(_ value: UnsafeBufferPointer<UInt8>, at offset: Int, _ text: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < text.count {
            if value[offset &+ i] != text[i] { return false }
            i &+= 1
        }
        return true
    }

    /// Glob matching of `value` against pieces (their bytes concatenated in `text`) separated by `*`:
    /// the first piece is a prefix, the last a suffix, the middle ones found leftmost in order.
    static func wildcard(_ value: UnsafeBufferPointer<UInt8>, text: UnsafeBufferPointer<UInt8>, pieces: UnsafeBufferPointer<Int32>) -> Bool {
        let first = Int(pieces[0])
        if pieces.count == 1 { return value.count == first && equal(value, at: 0, text) }
        let last = Int(pieces[pieces.count - 1])
        guard value.count >= first + last, equal(value, at: 0, UnsafeBufferPointer(rebasing: text[0..<first])),
              equal(value, at: value.count - last, UnsafeBufferPointer(rebasing: text[(text.count - last)...])) else { return false }
        var position = first
        let end = value.count - last
        var textOffset = first
        for k in 1..<(pieces.count - 1) {
            let length = Int(pieces[k])
            let piece = UnsafeBufferPointer(rebasing: text[textOffset..<(textOffset + length)])
            textOffset += length
            let found = PieceSearch.firstOccurrence(of: piece, in: value, from: position, end: end)
            if found < 0 { return false }
            position = found + length
        }
        return position <= end
    }

    /// Fills `state.arraysAhead` for the conditions searched (`state.searchPreds[0..<end]`): for
    /// each, the arrays holding a value that it or a later condition may choose or must check.
    private mutating func noteArraysAhead(end: Int) {
        var ahead = Set<Int32>()
        var lists = Array(repeating: [Int32](), count: end)
        var k = end - 1
        while k >= 0 {
            let p = Int(state.searchPreds[k])
            if state.preds[p].stamp == state.epoch {
                var pair = state.preds[p].head
                while pair >= 0 {
                    insertArrays(of: Int(state.pairs[Int(pair)].occurrence), into: &ahead)
                    pair = state.pairs[Int(pair)].next
                }
            }
            let f = Int(flat.pred[p].field)
            if flat.pred[p].hasAbsence && state.fieldStamp[f] == state.epoch {
                // An absence is checked against every value of its field.
                var occ = state.fieldOccHead[f]
                while occ >= 0 {
                    insertArrays(of: Int(occ), into: &ahead)
                    occ = state.occurrences[Int(occ)].nextInField
                }
            }
            lists[k] = ahead.sorted()
            k -= 1
        }
        state.arraysAhead = lists
    }

    private func insertArrays(of occ: Int, into arrays: inout Set<Int32>) {
        let start = Int(state.occurrences[occ].memberStart)
        for m in 0..<Int(state.occurrences[occ].memberCount) { arrays.insert(state.memberArena[start + 2 * m]) }
    }

    /// Depth-first choice of one value per condition, in path order, keeping array memberships consistent.
    ///
    /// Past a few hundred steps, states known to fail are remembered by the condition reached and
    /// the positions chosen in the arrays still ahead (`state.arraysAhead`): positions in arrays no
    /// remaining value sits in cannot change the outcome, and leaving them out is what lets the
    /// memo hit. Keyed on every chosen position, sibling arrays of one array of objects made it
    /// exponential (fuzz.md F1: a 5 KB event took 15 s and 0.9 GB).
    private mutating func search(from k: Int, end: Int) -> Bool {
        if k == end { return true }
        // Past the work an event may take (the event is refused): no more choices.
        if state.field.work > state.field.workLimit { return false }
        state.searchSteps += 1
        let memoize = state.searchSteps > 512
        var memoKey: [Int32] = []
        if memoize {
            if state.arraysAhead.isEmpty { noteArraysAhead(end: end) }
            memoKey = memoKeyFor(condition: k)
            if state.failedStates.contains(memoKey) { return false }
        }
        let p = Int(state.searchPreds[k])
        let f = Int(flat.pred[p].field)
        let epoch = state.epoch
        if flat.pred[p].hasAbsence {
            var consistentValue = false
            if state.fieldStamp[f] == epoch {
                if let index = occurrenceIndex(key: -1 - Int32(f), fieldValuesOf: f) {
                    consistentValue = firstConsistent(in: index) { _, _ in true }
                } else {
                    var occ = state.fieldOccHead[f]
                    while occ >= 0 {
                        if consistent(occurrence: Int(occ)) { consistentValue = true; break }
                        occ = state.occurrences[Int(occ)].nextInField
                    }
                }
            }
            if !consistentValue && search(from: k + 1, end: end) { return true }
        }
        if state.preds[p].stamp == epoch {
            if let index = occurrenceIndex(key: Int32(p), valuesOfPred: p) {
                if firstConsistent(in: index, { walker, occ in walker.tryChoosing(occurrence: occ, next: k + 1, end: end) }) { return true }
            } else {
                var pair = state.preds[p].head
                while pair >= 0 {
                    let occ = Int(state.pairs[Int(pair)].occurrence)
                    if consistent(occurrence: occ) && tryChoosing(occurrence: occ, next: k + 1, end: end) { return true }
                    pair = state.pairs[Int(pair)].next
                }
            }
        }
        if memoize { state.failedStates.insert(memoKey) }
        return false
    }

    /// The grouped values satisfying predicate `p` this event, when they are many (nil: scan them).
    private mutating func occurrenceIndex(key: Int32, valuesOfPred p: Int) -> OccurrenceIndex? {
        // Counted first, without allocating: most searches choose among a few values.
        var pair = state.preds[p].head
        var count = 0
        while pair >= 0 && count < OccurrenceIndex.minimumLength { count += 1; pair = state.pairs[Int(pair)].next }
        guard count == OccurrenceIndex.minimumLength else { return nil }
        return cachedIndex(key: key) { walker in
            var values: [Int32] = []
            var pair = walker.state.preds[p].head
            while pair >= 0 {
                values.append(walker.state.pairs[Int(pair)].occurrence)
                pair = walker.state.pairs[Int(pair)].next
            }
            return values
        }
    }

    /// The grouped values of field `f` this event, when they are many (nil: scan them).
    private mutating func occurrenceIndex(key: Int32, fieldValuesOf f: Int) -> OccurrenceIndex? {
        var occ = state.fieldOccHead[f]
        var count = 0
        while occ >= 0 && count < OccurrenceIndex.minimumLength { count += 1; occ = state.occurrences[Int(occ)].nextInField }
        guard count == OccurrenceIndex.minimumLength else { return nil }
        return cachedIndex(key: key) { walker in
            var values: [Int32] = []
            var occ = walker.state.fieldOccHead[f]
            while occ >= 0 {
                values.append(occ)
                occ = walker.state.occurrences[Int(occ)].nextInField
            }
            return values
        }
    }

    /// The index under `key` this event, grouped from the values `list` gives the first time.
    private mutating func cachedIndex(key: Int32, _ list: (inout EventWalker) -> [Int32]) -> OccurrenceIndex {
        if let index = state.occurrenceIndexes[key] { return index }
        let values = list(&self)
        // Kept while it fits (``OccurrenceIndex/cachedValuesLimit``), some hundred bytes a value.
        state.indexedValues &+= values.count
        state.field.work &+= OccurrenceIndex.valueWork &* values.count
        let index = OccurrenceIndex(values, state: state)
        state.occurrenceIndexes[key] = index
        return index
    }

    /// Whether `body` holds for some value of `index` consistent with the choices made so far,
    /// trying only the values at the position already chosen in their outermost array.
    private mutating func firstConsistent(in index: OccurrenceIndex, _ body: (inout EventWalker, Int) -> Bool) -> Bool {
        for occ in index.free where body(&self, Int(occ)) { return true }
        for array in index.arrays {
            let values: [Int32]
            if let position = chosenIndex(in: array) {
                values = index.byPosition[OccurrenceIndex.key(array, position)] ?? []
            } else {
                values = index.byArray[array] ?? []
            }
            for occ in values where consistent(occurrence: Int(occ)) && body(&self, Int(occ)) { return true }
        }
        return false
    }

    /// The index chosen so far in `array`, if any.
    private func chosenIndex(in array: Int32) -> Int32? {
        var c = 0
        while c < state.chosen.count {
            if state.chosen[c] == array { return state.chosen[c + 1] }
            c += 2
        }
        return nil
    }

    /// `[k]` then the (array, index) pairs chosen in arrays still ahead of condition `k`, by array.
    private func memoKeyFor(condition k: Int) -> [Int32] {
        let ahead = state.arraysAhead[k]
        state.field.work &+= (state.chosen.count / 2) &* (ahead.count &+ 1)
        var pairs: [(Int32, Int32)] = []
        var c = 0
        while c < state.chosen.count {
            let array = state.chosen[c]
            if ahead.contains(array) { pairs.append((array, state.chosen[c + 1])) }
            c += 2
        }
        pairs.sort { $0.0 < $1.0 }
        var key: [Int32] = [Int32(k)]
        for (array, index) in pairs { key.append(array); key.append(index) }
        return key
    }

    private mutating func tryChoosing(occurrence occ: Int, next: Int, end: Int) -> Bool {
        let mark = state.chosen.count
        choose(occurrence: occ)
        if search(from: next, end: end) { return true }
        state.chosen.removeLast(state.chosen.count - mark)
        return false
    }

    /// True when the occurrence's array memberships agree with those chosen so far.
    @inline(__always)
    private func consistent(occurrence occ: Int) -> Bool {
        let start = Int(state.occurrences[occ].memberStart)
        let count = Int(state.occurrences[occ].memberCount)
        state.field.work &+= 1
        if count == 0 || state.chosen.isEmpty { return true }
        // Each membership is looked for among the chosen ones, found after about half as many as its depth.
        state.field.work &+= (count &* min(count, state.chosen.count / 2) &+ 1) / 2
        for m in 0..<count {
            let array = state.memberArena[start + 2 * m]
            let index = state.memberArena[start + 2 * m + 1]
            var c = 0
            while c < state.chosen.count {
                if state.chosen[c] == array {
                    if state.chosen[c + 1] != index { return false }
                    break
                }
                c += 2
            }
        }
        return true
    }

    private mutating func choose(occurrence occ: Int) {
        let start = Int(state.occurrences[occ].memberStart)
        let count = Int(state.occurrences[occ].memberCount)
        for m in 0..<count {
            let array = state.memberArena[start + 2 * m]
            var known = false
            var c = 0
            while c < state.chosen.count {
                if state.chosen[c] == array { known = true; break }
                c += 2
            }
            if !known {
                state.chosen.append(array)
                state.chosen.append(state.memberArena[start + 2 * m + 1])
            }
        }
    }
}
