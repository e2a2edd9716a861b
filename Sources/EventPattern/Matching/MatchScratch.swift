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
    var occurrences: [Occurrence] = []
    var memberArena: [Int32] = []

    // (predicate, occurrence) pairs, linked per predicate.
    var pairs: [PredicatePair] = []
    /// The occurrence whose IP address was parsed last (-1: none this event), and that address.
    var addressOccurrence = -1
    var address: IPAddress? = nil

    /// `predStamp[p] == epoch`: predicate `p` has at least one satisfying occurrence, listed from `predHead[p]`.
    var predStamp: [UInt32] = []
    var predHead: [Int32] = []
    /// `evalStamp[p] == epoch`: lazy predicate `p` has been tested against this event's values.
    var evalStamp: [UInt32] = []
    var touched: [Int32] = []

    var fieldStamp: [UInt32] = []
    /// `fieldArrayStamp[f] == epoch`: some value recorded for field `f` sits inside an array.
    var fieldArrayStamp: [UInt32] = []
    var fieldOccHead: [Int32] = []

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
            fieldArrayStamp = Array(repeating: 0, count: fields)
            fieldOccHead = Array(repeating: -1, count: fields)
        }
        let subRules = machine.subRulePattern.count
        if patternStamp.count < subRules { patternStamp = Array(repeating: 0, count: subRules) }
        epoch &+= 1
        if epoch == 0 {
            // Wrapped: clear the stamps so stale ones cannot collide.
            for i in predStamp.indices { predStamp[i] = 0; evalStamp[i] = 0 }
            for i in fieldStamp.indices { fieldStamp[i] = 0; fieldArrayStamp[i] = 0 }
            for i in patternStamp.indices { patternStamp[i] = 0 }
            epoch = 1
        }
        // Most events record nothing: clear only what the last walk wrote.
        if !occurrences.isEmpty {
            occurrences.removeAll(keepingCapacity: true)
            memberArena.removeAll(keepingCapacity: true)
            pairs.removeAll(keepingCapacity: true)
            touched.removeAll(keepingCapacity: true)
        }
        addressOccurrence = -1
        if !matched.isEmpty { matched.removeAll(keepingCapacity: true) }
        if !arrayStack.isEmpty { arrayStack.removeAll(keepingCapacity: true) }
        nextArrayID = 0
    }
}

/// A leaf value recorded during a walk: because it satisfied a trigger, or because lazy predicates
/// on its field may need to test it.
struct Occurrence {
    /// Its array memberships: `memberCount` (array id, index) pairs from `memberStart` in the arena.
    var memberStart: Int32
    var memberCount: Int32
    /// The previous recorded value of the same field (-1: none), for tracked fields.
    var nextInField: Int32
    var kind: ValueKind
    /// The value's bytes in the event (between the quotes for strings).
    var start: Int32
    var end: Int32
    /// A number's value (NaN for other kinds, and for numbers no predicate needs).
    var number: Double
}

/// One value satisfying one predicate, linked to the predicate's previous one.
struct PredicatePair {
    var occurrence: Int32
    var next: Int32
}

/// The JSON type of a leaf value, as lazy predicates need it to test the value again.
enum ValueKind: UInt8 {
    case string, escapedString, number, `true`, `false`, null
}

extension Array {
    /// Empties a scratch buffer, keeping its storage; free when it is already empty (the common
    /// case for per-value buffers), where `removeAll(keepingCapacity:)` still makes a call.
    @inline(__always)
    mutating func clear() {
        if !isEmpty { removeAll(keepingCapacity: true) }
    }
}
