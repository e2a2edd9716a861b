/// An open-addressing hash table from (context, byte string) to an integer, without per-lookup allocation.
///
/// Used for the path trie's edges (context = parent node, key = field name) and for exact-value
/// lookups; keys live in one byte arena so a lookup hashes and compares bytes in place.
struct ByteStringTable: Sendable {
    private var slots: [Int32]          // entry index + 1, 0 = empty
    private var entryContext: [Int32] = []
    private var entryStart: [Int32] = []
    private var entryLength: [Int32] = []
    private var entryHash: [UInt64] = []
    private(set) var values: [Int32] = []
    private var arena: [UInt8] = []
    private var mask: Int

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: 0, count: size)
        mask = size - 1
    }

    var count: Int { values.count }

    /// Eight bytes at a time, multiply-and-rotate mixing; the tail byte by byte (keys are short).
    @inline(__always)
    static func hash(context: Int32, _ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ (UInt64(UInt32(bitPattern: context)) &* 0xC2B2_AE3D_27D4_EB4F) ^ UInt64(bytes.count)
        var i = 0
        let n = bytes.count
        if let base = bytes.baseAddress {
            while i &+ 8 <= n {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                h = (h ^ word) &* 0xFF51_AFD7_ED55_8CCD
                h = (h << 29) | (h >> 35)
                i &+= 8
            }
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                tail |= UInt64(base[i]) << shift
                shift &+= 8
                i &+= 1
            }
            h = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
        }
        return h ^ (h >> 32)
    }

    /// The value stored for `bytes` under `context`, or nil.
    @inline(__always)
    func lookup(context: Int32, _ bytes: UnsafeBufferPointer<UInt8>) -> Int32? {
        let h = ByteStringTable.hash(context: context, bytes)
        var i = Int(truncatingIfNeeded: h) & mask
        return slots.withUnsafeBufferPointer { slotsPointer -> Int32? in
            while true {
                let slot = slotsPointer[i]
                if slot == 0 { return nil }
                let e = Int(slot - 1)
                if entryHash[e] == h && entryContext[e] == context && Int(entryLength[e]) == bytes.count {
                    let start = Int(entryStart[e])
                    let equal = arena.withUnsafeBufferPointer { a -> Bool in
                        var k = 0
                        while k < bytes.count {
                            if a[start + k] != bytes[k] { return false }
                            k += 1
                        }
                        return true
                    }
                    if equal { return values[e] }
                }
                i = (i + 1) & mask
            }
        }
    }

    func lookup(context: Int32, _ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBufferPointer { lookup(context: context, $0) }
    }

    /// Inserts or replaces the value for `bytes` under `context`.
    mutating func insert(context: Int32, _ bytes: [UInt8], value: Int32) {
        if let existing = indexOf(context: context, bytes) {
            values[existing] = value
            return
        }
        if (values.count + 1) * 2 > slots.count { grow() }
        let h = bytes.withUnsafeBufferPointer { ByteStringTable.hash(context: context, $0) }
        entryContext.append(context)
        entryStart.append(Int32(arena.count))
        entryLength.append(Int32(bytes.count))
        entryHash.append(h)
        values.append(value)
        arena.append(contentsOf: bytes)
        place(entry: values.count - 1, hash: h)
    }

    private func indexOf(context: Int32, _ bytes: [UInt8]) -> Int? {
        let h = bytes.withUnsafeBufferPointer { ByteStringTable.hash(context: context, $0) }
        var i = Int(truncatingIfNeeded: h) & mask
        while slots[i] != 0 {
            let e = Int(slots[i] - 1)
            if entryHash[e] == h && entryContext[e] == context && Int(entryLength[e]) == bytes.count {
                let start = Int(entryStart[e])
                if arena[start..<(start + bytes.count)].elementsEqual(bytes) { return e }
            }
            i = (i + 1) & mask
        }
        return nil
    }

    private mutating func place(entry: Int, hash: UInt64) {
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i] != 0 { i = (i + 1) & mask }
        slots[i] = Int32(entry + 1)
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = Array(repeating: 0, count: size)
        mask = size - 1
        for e in 0..<values.count { place(entry: e, hash: entryHash[e]) }
    }
}
