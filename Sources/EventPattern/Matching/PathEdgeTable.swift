/// The path trie's edges, (parent node, one field-name segment) → child node, in one small
/// open-addressing table read straight from an event's bytes.
///
/// Every key of every object the walker enters is looked up here, most of them to learn that no
/// pattern names them, so a lookup must cost about as little as skipping the key. A slot holds the
/// name's first eight bytes as one word next to its length: a name of up to eight bytes is
/// compared in one instruction, a longer one adds its tail from `tails`, and a key is placed by one
/// multiply. Rule sets name a few hundred fields at most, so the table stays within a few cache
/// lines. Owned by ``FlatTables``, which frees it.
struct PathEdgeTable {
    struct Slot {
        var head: UInt64
        /// The parent node; -1 marks an empty slot.
        var node: Int32
        var length: Int32
        var child: Int32
        /// Bytes 8 and on of the name, in `tails`.
        var tailStart: Int32
    }

    private let slots: UnsafeMutableBufferPointer<Slot>
    private let tails: UnsafeMutableBufferPointer<UInt8>
    private let shift: UInt64
    private let mask: Int
    /// Nodes with grandchildren: only below those can a key holding a `.` (`"a.b"`, which names
    /// the same field as `"a": {"b"}`) reach a node.
    private let reachesDeeper: UnsafeMutableBufferPointer<Bool>
    /// Per node, its number of children when they are all leaves, else -1: once a walker has seen
    /// that many of its keys (each named child, keys being unique), nothing else in the object can
    /// matter.
    private let leafChildren: UnsafeMutableBufferPointer<Int32>

    init(edges: [(node: Int32, name: [UInt8], child: Int32)], nodeCount: Int) {
        var bits: UInt64 = 4
        while (1 << bits) < edges.count * 3 { bits += 1 }
        let size = 1 << Int(bits)
        shift = 64 - bits
        mask = size - 1
        slots = .allocate(capacity: size)
        slots.initialize(repeating: Slot(head: 0, node: -1, length: 0, child: -1, tailStart: 0))
        var tailBytes: [UInt8] = []
        var childCount = Array(repeating: Int32(0), count: nodeCount)
        for edge in edges { childCount[Int(edge.node)] += 1 }
        var deeper = Array(repeating: false, count: nodeCount)
        for edge in edges where childCount[Int(edge.child)] > 0 { deeper[Int(edge.node)] = true }
        for edge in edges {
            let head = edge.name.withUnsafeBufferPointer { name in
                PathEdgeTable.head(name.baseAddress ?? UnsafePointer(bitPattern: 1)!, 0, name.count, name.count)
            }
            var i = PathEdgeTable.slot(node: edge.node, head: head, length: edge.name.count, shift: shift)
            while slots[i].node >= 0 { i = (i &+ 1) & mask }
            slots[i] = Slot(head: head, node: edge.node, length: Int32(edge.name.count), child: edge.child, tailStart: Int32(tailBytes.count))
            if edge.name.count > 8 { tailBytes.append(contentsOf: edge.name[8...]) }
        }
        tails = .allocate(capacity: max(tailBytes.count, 1))
        _ = tails.initialize(from: tailBytes)
        reachesDeeper = .allocate(capacity: max(nodeCount, 1))
        _ = reachesDeeper.initialize(from: deeper)
        leafChildren = .allocate(capacity: max(nodeCount, 1))
        _ = leafChildren.initialize(from: (0..<nodeCount).map { deeper[$0] ? -1 : childCount[$0] })
    }

    /// The number of children of `node` when all are leaves, else -1 (see `leafChildren`).
    @inline(__always)
    func leafChildCount(of node: Int32) -> Int32 { leafChildren[Int(node)] }

    func deallocate() {
        slots.deallocate()
        tails.deallocate()
        reachesDeeper.deallocate()
        leafChildren.deallocate()
    }

    /// The first eight bytes of `base[start..<start + length]` as a little-endian word, zero-padded;
    /// `count` bytes of `base` are readable.
    @inline(__always)
    static func head(_ base: UnsafePointer<UInt8>, _ start: Int, _ length: Int, _ count: Int) -> UInt64 {
        if start &+ 8 <= count {
            let word = UnsafeRawPointer(base + start).loadUnaligned(as: UInt64.self)
            return length >= 8 ? word : word & ((1 << UInt64(truncatingIfNeeded: length &* 8)) &- 1)
        }
        var word: UInt64 = 0
        var i = 0
        while i < length && i < 8 {
            word |= UInt64(base[start &+ i]) << UInt64(truncatingIfNeeded: 8 &* i)
            i &+= 1
        }
        return word
    }

    @inline(__always)
    private static func slot(node: Int32, head: UInt64, length: Int, shift: UInt64) -> Int {
        let key = head &+ (UInt64(UInt32(bitPattern: node)) << 32 | UInt64(truncatingIfNeeded: length)) &* 0xC2B2_AE3D_27D4_EB4F
        return Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The child of `node` named by the segment `base[start..<start + length]` (`count` bytes of
    /// `base` readable), or -1. The segment is compared whole: a `.` in it is just a byte. Takes
    /// the table's parts, so that no caller copies the table.
    @inline(__always)
    private static func segmentChild(_ slots: UnsafeMutablePointer<Slot>, _ tails: UnsafeMutablePointer<UInt8>, _ shift: UInt64, _ mask: Int,
                                     _ node: Int32, _ base: UnsafePointer<UInt8>, _ start: Int, _ length: Int, _ count: Int) -> Int32 {
        let head = PathEdgeTable.head(base, start, length, count)
        var i = PathEdgeTable.slot(node: node, head: head, length: length, shift: shift)
        while true {
            let slot = slots[i]
            if slot.node < 0 { return -1 }
            if slot.head == head && slot.node == node && Int(slot.length) == length
                && (length <= 8 || tailMatches(tails + Int(slot.tailStart), base + start + 8, length &- 8)) {
                return slot.child
            }
            i = (i &+ 1) & mask
        }
    }

    @inline(__always)
    private static func tailMatches(_ tail: UnsafePointer<UInt8>, _ bytes: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var k = 0
        while k < n {
            if tail[k] != bytes[k] { return false }
            k &+= 1
        }
        return true
    }

    /// The node an event key at `node` leads to, or -1: the key whole, or, when it holds dots,
    /// dot-separated segment by segment (`"a.b"` reaches what `"a": {"b"}` does).
    @inline(__always)
    func child(of node: Int32, _ base: UnsafePointer<UInt8>, _ start: Int, _ length: Int, _ count: Int) -> Int32 {
        let slots = self.slots.baseAddress!, tails = self.tails.baseAddress!
        let direct = PathEdgeTable.segmentChild(slots, tails, shift, mask, node, base, start, length, count)
        if direct >= 0 || !reachesDeeper[Int(node)] || !PathEdgeTable.containsDot(base + start, length) { return direct }
        return PathEdgeTable.dottedChild(slots, tails, shift, mask, node, base, start, length, count)
    }

    /// Whether `length` bytes from `bytes` hold a `.`, eight at a time.
    @inline(__always)
    static func containsDot(_ bytes: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        var i = 0
        let ones: UInt64 = 0x0101_0101_0101_0101
        while i &+ 8 <= length {
            let word = UnsafeRawPointer(bytes + i).loadUnaligned(as: UInt64.self) ^ (ones &* 0x2E)
            if (word &- ones) & ~word & (ones &* 0x80) != 0 { return true }
            i &+= 8
        }
        while i < length {
            if bytes[i] == UInt8(ascii: ".") { return true }
            i &+= 1
        }
        return false
    }

    /// The segment-by-segment walk for keys holding dots (rare; out of line).
    @inline(never)
    private static func dottedChild(_ slots: UnsafeMutablePointer<Slot>, _ tails: UnsafeMutablePointer<UInt8>, _ shift: UInt64, _ mask: Int,
                                    _ node: Int32, _ base: UnsafePointer<UInt8>, _ start: Int, _ length: Int, _ count: Int) -> Int32 {
        var current = node
        var segmentStart = start
        var i = start
        let end = start + length
        while i < end {
            if base[i] == UInt8(ascii: ".") {
                current = segmentChild(slots, tails, shift, mask, current, base, segmentStart, i - segmentStart, count)
                if current < 0 { return -1 }
                segmentStart = i + 1
            }
            i += 1
        }
        return segmentChild(slots, tails, shift, mask, current, base, segmentStart, end - segmentStart, count)
    }
}
