import TriplineJSON

/// Per-thread working memory for matching, reused across events so matching does not allocate.
///
/// Holds the event limits too: events over `maxEventBytes` or nested deeper than `maxDepth` are
/// rejected with an error.
public struct MatchScratch {
    /// Largest event accepted, in bytes (EventBridge: 256 KB).
    public var maxEventBytes: Int
    /// Deepest nesting accepted in an event.
    public var maxDepth: Int
    var state = WalkState()
    let keyStack = JSONKeyStack()

    public init(maxEventBytes: Int = JSONLimits.defaultMaxEventBytes, maxDepth: Int = JSONLimits.defaultMaxDepth) {
        self.maxEventBytes = maxEventBytes
        self.maxDepth = maxDepth
    }

}

/// The buffers of one event walk; sized to the machine, cleared by epoch stamps rather than by writes.
struct WalkState {
    var epoch: UInt32 = 0

    // Occurrences: leaf values that matched something or that absence checks must see.
    var occMemberStart: [Int32] = []
    var occMemberCount: [Int32] = []
    var occNextInField: [Int32] = []
    var occKind: [ValueKind] = []
    /// The value's bytes in the event (between the quotes for strings), for lazy predicates.
    var occStart: [Int32] = []
    var occEnd: [Int32] = []
    /// Numbers' values (NaN for other kinds, and for numbers no predicate needs).
    var occNumber: [Double] = []
    /// Array memberships, flattened as (array id, element index) pairs.
    var memberArena: [Int32] = []
    var hasMembership = false

    // (predicate, occurrence) pairs, linked per predicate.
    var pairOcc: [Int32] = []
    var pairNext: [Int32] = []

    /// `predStamp[p] == epoch`: predicate `p` has at least one satisfying occurrence, listed from `predHead[p]`.
    var predStamp: [UInt32] = []
    var predHead: [Int32] = []
    /// `evalStamp[p] == epoch`: lazy predicate `p` has been tested against this event's values.
    var evalStamp: [UInt32] = []
    var touched: [Int32] = []

    var fieldStamp: [UInt32] = []
    var fieldOccHead: [Int32] = []

    var candidates: [Int32] = []
    var patternStamp: [UInt32] = []
    var matched: [Int32] = []

    var arrayStack: [Int32] = []      // (array id, index) pairs
    var nextArrayID: Int32 = 0
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
    var failedStates: Set<[Int32]> = []

    mutating func prepare(for reference: CompiledMachineReference) {
        if automataOwner !== reference {
            // Another machine (or a recompiled one): its automata differ, start their caches afresh.
            automataOwner = reference
            automata = Array(repeating: LazyDFA(), count: reference.tables.fields.count)
            predAutomata = Array(repeating: LazyDFA(), count: reference.tables.predField.count)
        }
        let machine = reference.tables
        let preds = machine.predField.count
        if predStamp.count < preds {
            predStamp = Array(repeating: 0, count: preds)
            evalStamp = Array(repeating: 0, count: preds)
            predHead = Array(repeating: -1, count: preds)
        }
        let fields = machine.fields.count
        if fieldStamp.count < fields {
            fieldStamp = Array(repeating: 0, count: fields)
            fieldOccHead = Array(repeating: -1, count: fields)
        }
        let subRules = machine.subRulePattern.count
        if patternStamp.count < subRules { patternStamp = Array(repeating: 0, count: subRules) }
        epoch &+= 1
        if epoch == 0 {
            // Wrapped: clear the stamps so stale ones cannot collide.
            for i in predStamp.indices { predStamp[i] = 0; evalStamp[i] = 0 }
            for i in fieldStamp.indices { fieldStamp[i] = 0 }
            for i in patternStamp.indices { patternStamp[i] = 0 }
            epoch = 1
        }
        // Most events record nothing: clear only what the last walk wrote.
        if !occMemberStart.isEmpty {
            occMemberStart.removeAll(keepingCapacity: true)
            occMemberCount.removeAll(keepingCapacity: true)
            occNextInField.removeAll(keepingCapacity: true)
            occKind.removeAll(keepingCapacity: true)
            occStart.removeAll(keepingCapacity: true)
            occEnd.removeAll(keepingCapacity: true)
            occNumber.removeAll(keepingCapacity: true)
            memberArena.removeAll(keepingCapacity: true)
            pairOcc.removeAll(keepingCapacity: true)
            pairNext.removeAll(keepingCapacity: true)
            touched.removeAll(keepingCapacity: true)
        }
        hasMembership = false
        if !candidates.isEmpty { candidates.removeAll(keepingCapacity: true) }
        if !matched.isEmpty { matched.removeAll(keepingCapacity: true) }
        if !arrayStack.isEmpty { arrayStack.removeAll(keepingCapacity: true) }
        nextArrayID = 0
    }
}

/// The JSON type of a leaf value, as lazy predicates need it to test the value again.
enum ValueKind: UInt8 {
    case string, escapedString, number, `true`, `false`, null
}
