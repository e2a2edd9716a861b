/// The buffers of one event walk; sized to the machine, cleared by epoch stamps rather than by writes.
struct WalkState {
    /// This walk's stamp: an entry of the tables below is current when it carries it.
    var epoch: UInt32 = 0

    // Occurrences: leaf values that matched something or that absence checks must see.
    var occurrences = GrowableBuffer<Occurrence>()
    var memberArena = GrowableBuffer<Int32>()

    // (predicate, occurrence) pairs, linked per predicate.
    var pairs = GrowableBuffer<PredicatePair>()
    /// The occurrence whose IP address was parsed last (-1: none this event), and that address.
    var addressOccurrence = -1
    var address: IPAddress? = nil

    // The per-predicate, per-field and per-pattern tables, sized to the largest machine matched so
    // far: a write through a buffer is a store, where a write into an array reached through the
    // walker's pointer first calls the runtime to check it is not shared.
    /// Per predicate, its ``PredicateState``.
    var preds = UnsafeMutableBufferPointer<PredicateState>(start: nil, count: 0)
    var touched = GrowableBuffer<Int32>()
    /// Fields with presence-triggered sub-rules that got a value, in the order they got it.
    var presentFields = GrowableBuffer<Int32>()

    var fieldStamp = UnsafeMutableBufferPointer<UInt32>(start: nil, count: 0)
    /// `fieldArrayStamp[f] == epoch`: some value recorded for field `f` sits inside an array.
    var fieldArrayStamp = UnsafeMutableBufferPointer<UInt32>(start: nil, count: 0)
    var fieldOccHead = UnsafeMutableBufferPointer<Int32>(start: nil, count: 0)

    var patternStamp = UnsafeMutableBufferPointer<UInt32>(start: nil, count: 0)
    /// The ids of the patterns matched (as the machine's caller numbered them).
    var matched = GrowableBuffer<Int>()

    var arrayStack = GrowableBuffer<Int32>()      // (array id, index) pairs
    /// Subtrees skipped while reading, to walk if a candidate needs a field below them; their
    /// array memberships (`arrayStack` at the time) in `deferredStacks`.
    var deferred = GrowableBuffer<DeferredSubtree>()
    var deferredStacks = GrowableBuffer<Int32>()
    /// How many of `deferred` are still unwalked.
    var deferredPending = 0
    /// Per trie node of the machine last matched: whether its subtrees are deferred or read at once.
    var deferral = UnsafeMutableBufferPointer<DeferralStats>(start: nil, count: 0)
    var nextArrayID: Int32 = 0
    /// Most (predicate, value) pairs this walk records (``MatchScratch/maxMatchPairs``).
    var maxPairs = Int.max
    /// Values in `occurrenceIndexes`, for ``OccurrenceIndex/cachedValuesLimit``.
    var indexedValues = 0
    var predBuffer: [Int32] = []
    var decodeBuffer: [UInt8] = []
    var field = FieldScratch()
    /// Lazily built string automata, one per field, for the machine last matched.
    var automata: [LazyDFA] = []
    /// The same for the testers of lazy predicates, one per predicate.
    var predAutomata: [LazyDFA] = []
    /// The machine the automata belong to (held, so its identity cannot be reused by another).
    var automataOwner: CompiledMachineReference? = nil

    // Consistency search.
    var chosen: [Int32] = []          // (array id, index) pairs
    var searchSteps = 0
    /// Where the decision's early reads of candidate records go (kept, so they are not optimized away).
    var sink: Int32 = 0
    var failedStates: Set<[Int32]> = []
    /// This event's grouped candidate lists for long search steps, by predicate (`p`) or, for an
    /// absence's field values, `-1 - field`.
    var occurrenceIndexes: [Int32: OccurrenceIndex] = [:]
    /// Per condition searched (in `searchPreds`), the arrays that values of it or
    /// of a later condition sit in, sorted: the only chosen positions that can still matter there.
    var arraysAhead: [[Int32]] = []
    /// The conditions on arrays of the rule being searched, in path order.
    var searchPreds: [Int32] = []
    /// This event's search outcomes, by the conditions on arrays searched.
    var consistencyOutcomes: [[Int32]: Bool] = [:]

    mutating func prepare(for reference: CompiledMachineReference) {
        if automataOwner !== reference {
            // Another machine (or a recompiled one): its automata differ, start their caches afresh.
            automataOwner = reference
            automata = Array(repeating: LazyDFA(), count: reference.tables.fields.count)
            predAutomata = Array(repeating: LazyDFA(), count: reference.tables.predField.count)
            deferral.deallocate()
            deferral = .allocate(capacity: reference.tables.nodeField.count)
            deferral.initialize(repeating: DeferralStats())
        }
        let machine = reference.tables
        reserve(predicates: machine.predField.count, fields: machine.fields.count, patterns: machine.subRulePattern.count)
        epoch &+= 1
        if epoch == 0 {
            // The counter wrapped: clear every stamp so stale ones cannot collide.
            for table in [fieldStamp, fieldArrayStamp, patternStamp] { table.update(repeating: 0) }
            preds.update(repeating: .unset)
            epoch = 1
        }
        // Most events record nothing: clear only what the last walk wrote.
        occurrences.removeAll()
        memberArena.removeAll()
        pairs.removeAll()
        touched.removeAll()
        presentFields.removeAll()
        addressOccurrence = -1
        matched.removeAll()
        arrayStack.removeAll()
        nextArrayID = 0
        deferred.removeAll()
        deferredStacks.removeAll()
        deferredPending = 0
        if !occurrenceIndexes.isEmpty { occurrenceIndexes.removeAll() }
        indexedValues = 0
        if !consistencyOutcomes.isEmpty { consistencyOutcomes.removeAll() }
    }

    /// Grows the tables to hold at least these counts; new entries are stamped 0 (never current)
    /// and head -1.
    private mutating func reserve(predicates: Int, fields: Int, patterns: Int) {
        if preds.count < predicates {
            WalkState.replace(&preds, count: predicates, with: .unset)
        }
        if fieldStamp.count < fields {
            WalkState.replace(&fieldStamp, count: fields, with: 0)
            WalkState.replace(&fieldArrayStamp, count: fields, with: 0)
            WalkState.replace(&fieldOccHead, count: fields, with: -1)
        }
        if patternStamp.count < patterns {
            WalkState.replace(&patternStamp, count: patterns, with: 0)
        }
    }

    private static func replace<T>(_ table: inout UnsafeMutableBufferPointer<T>, count: Int, with value: T) {
        table.deallocate()
        table = .allocate(capacity: count)
        table.initialize(repeating: value)
    }

    func deallocateBuffers() {
        occurrences.deallocate()
        memberArena.deallocate()
        pairs.deallocate()
        touched.deallocate()
        presentFields.deallocate()
        matched.deallocate()
        arrayStack.deallocate()
        deferred.deallocate()
        deferredStacks.deallocate()
        deferral.deallocate()
        preds.deallocate()
        fieldStamp.deallocate(); fieldArrayStamp.deallocate(); fieldOccHead.deallocate()
        patternStamp.deallocate()
    }
}
