import TriplineJSON

/// Per-thread working memory for matching, reused across events so matching does not allocate.
///
/// Copies share the memory (a copy is the same scratch, which is why it is not `Sendable`):
/// create one per thread. Holds the event limits too: events over `maxEventBytes` or nested deeper than `maxDepth` are
/// rejected with an error.
public struct MatchScratch {
    /// Largest event accepted, in bytes (EventBridge: 256 KB).
    public var maxEventBytes: Int
    /// Deepest nesting accepted in an event.
    public var maxDepth: Int
    /// The walk's buffers, shared by copies of this scratch as the key stack is.
    let walk = WalkStateBox()
    let keyStack = JSONKeyStack()

    public init(maxEventBytes: Int = JSONLimits.defaultMaxEventBytes, maxDepth: Int = JSONLimits.defaultMaxDepth) {
        self.maxEventBytes = maxEventBytes
        self.maxDepth = maxDepth
    }

}

/// Owns the ``WalkState`` a scratch's walks use, in one place that walkers address through a
/// pointer (never copied, so its buffers need no reference counting).
final class WalkStateBox {
    let pointer: UnsafeMutablePointer<WalkState>

    init() {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: WalkState())
    }

    deinit {
        pointer.pointee.deallocateBuffers()
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }
}

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
    /// Per condition of the rule being searched (from its first), the arrays that values of it or
    /// of a later condition sit in, sorted: the only chosen positions that can still matter there.
    var arraysAhead: [[Int32]] = []
    /// The first condition (in `subRulePreds`) of the rule being searched.
    var searchStart = 0

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
        addressOccurrence = -1
        matched.removeAll()
        arrayStack.removeAll()
        nextArrayID = 0
        deferred.removeAll()
        deferredStacks.removeAll()
        deferredPending = 0
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

/// One predicate's state in a walk, its stamps and list head side by side: deciding a candidate
/// reads one line per predicate instead of one per table (read at random, the tables outgrow the
/// first-level cache long before 10,000 rules).
struct PredicateState {
    /// `stamp == epoch`: the predicate has at least one satisfying occurrence, listed from `head`.
    var stamp: UInt32
    var head: Int32
    /// `evalStamp == epoch`: the (lazy) predicate has been tested against this event's values.
    var evalStamp: UInt32
    /// Pads the state to 16 bytes, so that none straddles two cache lines.
    var unused: UInt32 = 0

    /// Never current (epochs start at 1), no list.
    static let unset = PredicateState(stamp: 0, head: -1, evalStamp: 0)
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

/// An object or array at a deferrable trie node, validated and skipped while reading.
struct DeferredSubtree {
    var node: Int32
    /// Where the value starts in the event, and its depth there.
    var start: Int32
    var depth: Int32
    /// Its array memberships: `stackCount` entries of `deferredStacks` from `stackStart`.
    var stackStart: Int32
    var stackCount: Int32
    var walked: Bool
}

/// Whether the subtrees at one deferrable trie node are worth deferring, learnt from the events.
///
/// Deferring pays when few events need the subtree: skipping it costs nearly as much as reading
/// it, and an event that needs it pays both. Which events need it depends on the rules and on the
/// events (10,000 rules pinned to API calls make a candidate that tests `requestParameters` likely
/// for every event; ten make it rare), so the walker measures: of every ``sampleSize`` deferred
/// subtrees, how many a candidate needed; when at least ``eagerShare`` of them were, the next
/// ``eagerRun`` subtrees are read at once, then it samples again. Only speed depends on it: a
/// subtree read at once gives the same decision as one deferred and walked later.
struct DeferralStats {
    var eagerLeft: Int32 = 0
    var samples: UInt16 = 0
    var needed: UInt16 = 0

    static let sampleSize: UInt16 = 16
    /// Needed in at least this many of a sample: read at once.
    static let eagerShare: UInt16 = 4
    static let eagerRun: Int32 = 240

    /// Whether to defer the subtree met now (counting it against an eager run).
    @inline(__always)
    mutating func shouldDefer() -> Bool {
        if eagerLeft > 0 { eagerLeft &-= 1; return false }
        return true
    }

    /// Counts one deferred subtree once the event is decided.
    @inline(__always)
    mutating func observe(wasNeeded: Bool) {
        samples &+= 1
        if wasNeeded { needed &+= 1 }
        if samples == DeferralStats.sampleSize {
            if needed >= DeferralStats.eagerShare { eagerLeft = DeferralStats.eagerRun }
            samples = 0
            needed = 0
        }
    }
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
