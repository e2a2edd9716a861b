import TriplineJSON

/// The path trie's edges, (parent node, one field-name segment) → child node, in one small
/// open-addressing table read straight from an event's bytes.
///
/// Every key of every object the walker enters is looked up here, most of them to learn that no
/// pattern names them, so a lookup must cost about as little as skipping the key. A slot holds the
/// name's fingerprint (`JSONCursor.fingerprint`: its first seven bytes and its length in one word,
/// which the key reader has already taken for the duplicate check): a name of up to seven bytes is
/// compared in one instruction, a longer one adds its tail from `tails`, and a key is placed by one
/// multiply. Rule sets name a few hundred fields at most, so the table stays within a few cache
/// lines. Owned by ``FlatTables``, which frees it.
struct PathEdgeTable {
    struct Slot {
        var fingerprint: UInt64
        /// The parent node; -1 marks an empty slot.
        var node: Int32
        var length: Int32
        var child: Int32
        /// Bytes 7 and on of the name, in `tails`.
        var tailStart: Int32
    }

    private let slots: UnsafeMutableBufferPointer<Slot>
    private let tails: UnsafeMutableBufferPointer<UInt8>
    private let shift: UInt64
    private let mask: Int
    /// Per node, the lengths of its children's names that have children of their own, as bits
    /// (bit `n`: such a name of `n` bytes; bit 63 also stands for every length of 63 and more).
    /// A key holding a `.` (`"a.b"` names what `"a": {"b"}` does) can only lead somewhere when its
    /// first segment is such a name, so its `.` sits at one of these lengths: a key is looked at
    /// there, not scanned for dots. Zero for nodes without grandchildren.
    private let dottedHeads: UnsafeMutableBufferPointer<UInt64>
    /// Per node, its number of children: once a walker has seen that many of its keys (each a named
    /// child, keys being unique), only a key with a dot (see `dottedHeads`) can matter in the rest.
    private let childCounts: UnsafeMutableBufferPointer<Int32>

    init(edges: [(node: Int32, name: [UInt8], child: Int32)], nodeCount: Int) {
        var bits: UInt64 = 4
        while (1 << bits) < edges.count * 3 { bits += 1 }
        let size = 1 << Int(bits)
        shift = 64 - bits
        mask = size - 1
        slots = .allocate(capacity: size)
        slots.initialize(repeating: Slot(fingerprint: 0, node: -1, length: 0, child: -1, tailStart: 0))
        var tailBytes: [UInt8] = []
        var childCount = Array(repeating: Int32(0), count: nodeCount)
        for edge in edges { childCount[Int(edge.node)] += 1 }
        var heads = Array(repeating: UInt64(0), count: nodeCount)
        for edge in edges where childCount[Int(edge.child)] > 0 {
            heads[Int(edge.node)] |= 1 << UInt64(min(edge.name.count, 63))
        }
        for edge in edges {
            let fingerprint = edge.name.withUnsafeBufferPointer { name in
                JSONCursor.fingerprint(name.baseAddress ?? UnsafePointer(bitPattern: 1)!, name.count, start: 0, length: name.count)
            }
            var i = PathEdgeTable.slot(node: edge.node, fingerprint: fingerprint, shift: shift)
            while slots[i].node >= 0 { i = (i &+ 1) & mask }
            slots[i] = Slot(fingerprint: fingerprint, node: edge.node, length: Int32(edge.name.count), child: edge.child, tailStart: Int32(tailBytes.count))
            if edge.name.count > PathEdgeTable.headLength { tailBytes.append(contentsOf: edge.name[PathEdgeTable.headLength...]) }
        }
        tails = .allocate(capacity: max(tailBytes.count, 1))
        _ = tails.initialize(from: tailBytes)
        dottedHeads = .allocate(capacity: max(nodeCount, 1))
        _ = dottedHeads.initialize(from: heads)
        childCounts = .allocate(capacity: max(nodeCount, 1))
        _ = childCounts.initialize(from: childCount)
    }

    /// The number of children of `node` (see `childCounts`).
    @inline(__always)
    func childCount(of node: Int32) -> Int32 { childCounts[Int(node)] }

    /// The lengths of `node`'s children's names that have children of their own, as bits (see
    /// `dottedHeads`); zero when all its children are leaves.
    @inline(__always)
    func dottedHeads(of node: Int32) -> UInt64 { dottedHeads[Int(node)] }

    func deallocate() {
        slots.deallocate()
        tails.deallocate()
        dottedHeads.deallocate()
        childCounts.deallocate()
    }

    /// How many of a name's first bytes its fingerprint holds; the rest is compared from `tails`.
    static let headLength = 7

    @inline(__always)
    private static func slot(node: Int32, fingerprint: UInt64, shift: UInt64) -> Int {
        let key = fingerprint &+ UInt64(UInt32(bitPattern: node)) &* 0xC2B2_AE3D_27D4_EB4F
        return Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The child of `node` named by the segment `base[start..<start + length]` whose fingerprint is
    /// `fingerprint`, or -1. The segment is compared whole: a `.` in it is just a byte. Takes the
    /// table's parts, so that no caller copies the table.
    @inline(__always)
    private static func segmentChild(_ slots: UnsafeMutablePointer<Slot>, _ tails: UnsafeMutablePointer<UInt8>, _ shift: UInt64, _ mask: Int,
                                     _ node: Int32, _ fingerprint: UInt64, _ base: UnsafePointer<UInt8>, _ start: Int, _ length: Int) -> Int32 {
        var i = PathEdgeTable.slot(node: node, fingerprint: fingerprint, shift: shift)
        while true {
            let slot = slots[i]
            if slot.node < 0 { return -1 }
            if slot.fingerprint == fingerprint && slot.node == node && Int(slot.length) == length
                && (length <= headLength || tailMatches(tails + Int(slot.tailStart), base + start + headLength, length &- headLength)) {
                return slot.child
            }
            i = (i &+ 1) & mask
        }
    }

    @inline(__always)
    private static func tailMatches(_ tail: UnsafePointer<UInt8>, _ bytes: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var k = 0
        while k &+ 8 <= n {
            if UnsafeRawPointer(tail + k).loadUnaligned(as: UInt64.self) != UnsafeRawPointer(bytes + k).loadUnaligned(as: UInt64.self) { return false }
            k &+= 8
        }
        while k < n {
            if tail[k] != bytes[k] { return false }
            k &+= 1
        }
        return true
    }

    /// The node an event key at `node` leads to, or -1: the key whole, or, when it holds dots,
    /// dot-separated segment by segment (`"a.b"` reaches what `"a": {"b"}` does). The key is
    /// `base[start..<start + length]` (`count` bytes of `base` readable) and `fingerprint` its
    /// `JSONCursor.fingerprint`.
    @inline(__always)
    func child(of node: Int32, fingerprint: UInt64, _ base: UnsafePointer<UInt8>, _ start: Int, _ length: Int, _ count: Int) -> Int32 {
        let slots = self.slots.baseAddress!, tails = self.tails.baseAddress!
        let direct = PathEdgeTable.segmentChild(slots, tails, shift, mask, node, fingerprint, base, start, length)
        if direct >= 0 || !JSONCursor.keyMayLeadDeeper(base + start, length, heads: dottedHeads[Int(node)]) { return direct }
        return PathEdgeTable.dottedChild(slots, tails, shift, mask, node, base, start, length, count)
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
                current = segment(current, segmentStart, i - segmentStart)
                if current < 0 { return -1 }
                segmentStart = i + 1
            }
            i += 1
        }
        return segment(current, segmentStart, end - segmentStart)

        func segment(_ node: Int32, _ start: Int, _ length: Int) -> Int32 {
            segmentChild(slots, tails, shift, mask, node, JSONCursor.fingerprint(base, count, start: start, length: length), base, start, length)
        }
    }
}
