/// Numeric intervals on one field, indexed so a value finds every containing interval in O(log n + hits).
///
/// Interval endpoints cut the number line into elementary regions (open gaps and the endpoints
/// themselves); each interval is stored at the O(log n) segment-tree nodes covering its regions.
struct NumericIndex: Sendable {
    private var bounds: [Double] = []
    private var leafBase = 1
    private var nodeStart: [Int32] = []
    private var nodeItems: [Int32] = []

    init(_ entries: [(range: NumericRange, item: Int32)]) {
        // Empty (most fields have no ranges): nothing allocated, and `lookup` returns at once.
        guard !entries.isEmpty else { return }
        nodeStart = [0]
        var points = Set<Double>()
        for (range, _) in entries {
            if let l = range.lower { points.insert(l) }
            if let u = range.upper { points.insert(u) }
        }
        bounds = points.sorted()
        let regions = 2 * bounds.count + 1
        while leafBase < regions { leafBase <<= 1 }
        var nodes = [[Int32]](repeating: [], count: 2 * leafBase)
        for (range, item) in entries {
            let lo: Int
            if let l = range.lower {
                let i = bounds.firstIndex(of: l)!
                lo = range.lowerInclusive ? 2 * i + 1 : 2 * i + 2
            } else {
                lo = 0
            }
            let hi: Int
            if let u = range.upper {
                let i = bounds.firstIndex(of: u)!
                hi = range.upperInclusive ? 2 * i + 1 : 2 * i
            } else {
                hi = regions - 1
            }
            guard lo <= hi else { continue }
            var l = lo + leafBase, r = hi + leafBase + 1
            while l < r {
                if l & 1 == 1 { nodes[l].append(item); l += 1 }
                if r & 1 == 1 { r -= 1; nodes[r].append(item) }
                l >>= 1; r >>= 1
            }
        }
        for list in nodes {
            nodeItems.append(contentsOf: list)
            nodeStart.append(Int32(nodeItems.count))
        }
    }

    var isEmpty: Bool { bounds.isEmpty }

    /// Appends the items of every interval containing `x`.
    @inline(__always)
    func lookup(_ x: Double, into out: inout [Int32]) {
        guard !bounds.isEmpty, !x.isNaN else { return }
        // Binary search for the first bound >= x.
        var lo = 0, hi = bounds.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if bounds[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        let region = lo < bounds.count && bounds[lo] == x ? 2 * lo + 1 : 2 * lo
        var node = region + leafBase
        while node >= 1 {
            var k = Int(nodeStart[node])
            let end = Int(nodeStart[node + 1])
            while k < end { out.append(nodeItems[k]); k += 1 }
            node >>= 1
        }
    }
}

/// CIDR blocks on one field as a binary trie over address bits: lookup walks at most 32 or 128 bits.
struct CIDRIndex: Sendable {
    private var children: [(Int32, Int32)] = []   // node 0: IPv4 root, node 1: IPv6 root
    private var items: [[Int32]] = []

    init(_ entries: [(block: CIDRBlock, item: Int32)]) {
        isEmpty = entries.isEmpty
        // Empty (most fields have no blocks): nothing allocated, and `lookup` returns at once.
        if isEmpty { return }
        children = [(-1, -1), (-1, -1)]
        items = [[], []]
        for (block, item) in entries {
            var node = block.isIPv6 ? 1 : 0
            for bit in 0..<block.prefixLength {
                let one = block.network[bit / 8] & (UInt8(0x80) >> UInt8(bit % 8)) != 0
                let next = one ? children[node].1 : children[node].0
                if next >= 0 {
                    node = Int(next)
                } else {
                    children.append((-1, -1)); items.append([])
                    let created = Int32(children.count - 1)
                    if one { children[node].1 = created } else { children[node].0 = created }
                    node = Int(created)
                }
            }
            items[node].append(item)
        }
    }

    let isEmpty: Bool

    func lookup(_ address: IPAddress, into out: inout [Int32]) {
        guard !isEmpty else { return }
        var node = address.isIPv6 ? 1 : 0
        let bits = address.byteCount * 8
        var bit = 0
        while true {
            out.append(contentsOf: items[node])
            guard bit < bits else { return }
            let one = address.byte(bit / 8) & (UInt8(0x80) >> UInt8(bit % 8)) != 0
            let next = one ? children[node].1 : children[node].0
            guard next >= 0 else { return }
            node = Int(next)
            bit += 1
        }
    }
}
