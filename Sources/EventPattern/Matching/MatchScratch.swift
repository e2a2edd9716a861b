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
    /// This walk's stamp (from `tables`, shared with copies of this state).
    var epoch: UInt32 = 0

    // Occurrences: leaf values that matched something or that absence checks must see.
    var occurrences: [Occurrence] = []
    var memberArena: [Int32] = []

    // (predicate, occurrence) pairs, linked per predicate.
    var pairs: [PredicatePair] = []
    /// The occurrence whose IP address was parsed last (-1: none this event), and that address.
    var addressOccurrence = -1
    var address: IPAddress? = nil

    /// The per-predicate, per-field and per-pattern tables below, owned here and addressed
    /// through the buffers: a write through a buffer is a store, where a write into an array
    /// reached through the walker's pointer first calls the runtime to check it is not shared.
    let tables = WalkTables()
    /// The `generation` of `tables` the buffers below were read at (-1: never).
    var tablesGeneration = -1
    /// `predStamp[p] == epoch`: predicate `p` has at least one satisfying occurrence, listed from `predHead[p]`.
    var predStamp = UnsafeMutableBufferPointer<UInt32>(start: nil, count: 0)
    var predHead = UnsafeMutableBufferPointer<Int32>(start: nil, count: 0)
    /// `evalStamp[p] == epoch`: lazy predicate `p` has been tested against this event's values.
    var evalStamp = UnsafeMutableBufferPointer<UInt32>(start: nil, count: 0)
    var touched: [Int32] = []

    var fieldStamp = UnsafeMutableBufferPointer<UInt32>(start: nil, count: 0)
    /// `fieldArrayStamp[f] == epoch`: some value recorded for field `f` sits inside an array.
    var fieldArrayStamp = UnsafeMutableBufferPointer<UInt32>(start: nil, count: 0)
    var fieldOccHead = UnsafeMutableBufferPointer<Int32>(start: nil, count: 0)

    var patternStamp = UnsafeMutableBufferPointer<UInt32>(start: nil, count: 0)
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
    /// Where the decision's early reads of candidate records go (kept, so they are not optimized away).
    var sink: Int32 = 0
    var failedStates: Set<[Int32]> = []

    mutating func prepare(for reference: CompiledMachineReference) {
        if automataOwner !== reference {
            // Another machine (or a recompiled one): its automata differ, start their caches afresh.
            automataOwner = reference
            automata = Array(repeating: LazyDFA(), count: reference.tables.fields.count)
            predAutomata = Array(repeating: LazyDFA(), count: reference.tables.predField.count)
        }
        let machine = reference.tables
        let storage = tables.storage
        storage.pointee.reserve(predicates: machine.predField.count, fields: machine.fields.count, patterns: machine.subRulePattern.count)
        if tablesGeneration != storage.pointee.generation {
            // Grown, here or through a copy of this state: reload their addresses.
            tablesGeneration = storage.pointee.generation
            predStamp = storage.pointee.predStamp
            predHead = storage.pointee.predHead
            evalStamp = storage.pointee.evalStamp
            fieldStamp = storage.pointee.fieldStamp
            fieldArrayStamp = storage.pointee.fieldArrayStamp
            fieldOccHead = storage.pointee.fieldOccHead
            patternStamp = storage.pointee.patternStamp
        }
        epoch = storage.pointee.nextEpoch()
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

/// The fixed-size tables of a walk (sized to the largest machine matched so far), cleared by
/// epoch stamps rather than by writes. Shared by the copies of the ``WalkState`` that owns it, as
/// the key stack is by copies of a ``MatchScratch`` (one scratch per thread); the epoch is shared
/// with them, so a copy never takes another's stamps for its own.
final class WalkTables {
    /// Addressed through a pointer: the class's own stored properties would be checked for
    /// exclusive access on every use.
    let storage: UnsafeMutablePointer<WalkTableStorage>

    init() {
        storage = .allocate(capacity: 1)
        storage.initialize(to: WalkTableStorage())
    }

    deinit {
        storage.pointee.deallocate()
        storage.deinitialize(count: 1)
        storage.deallocate()
    }
}

struct WalkTableStorage {
    var epoch: UInt32 = 0
    /// Bumped whenever the tables are reallocated, so holders of their addresses reload them.
    var generation = 0
    var predStamp = UnsafeMutableBufferPointer<UInt32>(start: nil, count: 0)
    var predHead = UnsafeMutableBufferPointer<Int32>(start: nil, count: 0)
    var evalStamp = UnsafeMutableBufferPointer<UInt32>(start: nil, count: 0)
    var fieldStamp = UnsafeMutableBufferPointer<UInt32>(start: nil, count: 0)
    var fieldArrayStamp = UnsafeMutableBufferPointer<UInt32>(start: nil, count: 0)
    var fieldOccHead = UnsafeMutableBufferPointer<Int32>(start: nil, count: 0)
    var patternStamp = UnsafeMutableBufferPointer<UInt32>(start: nil, count: 0)

    /// Grows the tables to hold at least these counts; new entries are stamped 0 (never current)
    /// and head -1.
    mutating func reserve(predicates: Int, fields: Int, patterns: Int) {
        if predStamp.count < predicates {
            WalkTableStorage.replace(&predStamp, count: predicates, with: 0)
            WalkTableStorage.replace(&predHead, count: predicates, with: -1)
            WalkTableStorage.replace(&evalStamp, count: predicates, with: 0)
            generation += 1
        }
        if fieldStamp.count < fields {
            WalkTableStorage.replace(&fieldStamp, count: fields, with: 0)
            WalkTableStorage.replace(&fieldArrayStamp, count: fields, with: 0)
            WalkTableStorage.replace(&fieldOccHead, count: fields, with: -1)
            generation += 1
        }
        if patternStamp.count < patterns {
            WalkTableStorage.replace(&patternStamp, count: patterns, with: 0)
            generation += 1
        }
    }

    /// The next epoch; when the counter wraps, every stamp is cleared so stale ones cannot collide.
    mutating func nextEpoch() -> UInt32 {
        epoch &+= 1
        if epoch == 0 {
            for table in [predStamp, evalStamp, fieldStamp, fieldArrayStamp, patternStamp] { table.update(repeating: 0) }
            epoch = 1
        }
        return epoch
    }

    private static func replace<T>(_ table: inout UnsafeMutableBufferPointer<T>, count: Int, with value: T) {
        table.deallocate()
        table = .allocate(capacity: count)
        table.initialize(repeating: value)
    }

    func deallocate() {
        predStamp.deallocate(); predHead.deallocate(); evalStamp.deallocate()
        fieldStamp.deallocate(); fieldArrayStamp.deallocate(); fieldOccHead.deallocate()
        patternStamp.deallocate()
    }
}
