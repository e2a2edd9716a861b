/// A growable buffer of trivial values for the walk's per-event lists: appends and reads without
/// the uniqueness and bounds checks an `Array` reached through a pointer pays on each.
///
/// Not a value type: it owns its memory without reference counting, so it lives in one place (a
/// ``WalkState`` inside its ``WalkStateBox``), is never copied, and is freed with `deallocate()`.
struct GrowableBuffer<Element: BitwiseCopyable> {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 64) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    mutating func append(_ element: Element) {
        if count == capacity { grow(to: count &+ 1) }
        (base + count).initialize(to: element)
        count &+= 1
    }

    @inline(__always)
    mutating func append(contentsOf other: GrowableBuffer<Element>) {
        if count &+ other.count > capacity { grow(to: count &+ other.count) }
        (base + count).initialize(from: other.base, count: other.count)
        count &+= other.count
    }

    /// Element `i`, which must be below `count`.
    @inline(__always)
    subscript(i: Int) -> Element {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }

    @inline(__always)
    mutating func removeLast(_ n: Int = 1) { count &-= n }

    @inline(__always)
    mutating func removeAll() { count = 0 }

    private mutating func grow(to needed: Int) {
        var bigger = capacity * 2
        while bigger < needed { bigger *= 2 }
        let fresh = UnsafeMutablePointer<Element>.allocate(capacity: bigger)
        fresh.initialize(from: base, count: count)
        base.deallocate()
        base = fresh
        capacity = bigger
    }

    func deallocate() { base.deallocate() }
}
