/// An open-addressing hash table from (context, byte string) to an integer, without per-lookup allocation.
///
/// Used for the path trie's edges (context = parent node, key = field name). Keys live in one byte
/// arena; each slot holds the whole entry (hash, context, key position, value), so a lookup reads
/// one slot and the key's bytes.
struct ByteStringTable: Sendable {
    struct Entry: Sendable {
        var hash: UInt64
        var context: Int32
        var start: Int32
        var length: Int32
        var value: Int32
    }

    /// `length < 0` marks an empty slot.
    private var slots: [Entry]
    private var arena: [UInt8] = []
    private var mask: Int
    private(set) var count = 0

    private static let empty = Entry(hash: 0, context: 0, start: 0, length: -1, value: 0)

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: ByteStringTable.empty, count: size)
        mask = size - 1
    }

    /// Eight bytes at a time, multiply-and-rotate mixing; the tail in one partial word (keys are short).
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
        lookup(context: context, bytes, hash: ByteStringTable.hash(context: context, bytes))
    }

    /// One word of the slot where a lookup of `hash` starts and of the key bytes it holds, read
    /// only so that both lines are on their way: touching the slots of two lookups before doing
    /// either overlaps their cache misses.
    @inline(__always)
    func touch(hash h: UInt64) -> Int32 {
        slots.withUnsafeBufferPointer { slots in
            arena.withUnsafeBufferPointer { arena in
                let entry = slots[Int(truncatingIfNeeded: h) & mask]
                return entry.length > 0 ? entry.start &+ Int32(arena[Int(entry.start)]) : entry.length
            }
        }
    }

    /// ``lookup(context:_:)`` with the key's `hash(context:_:)` already taken.
    @inline(__always)
    func lookup(context: Int32, _ bytes: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> Int32? {
        slots.withUnsafeBufferPointer { slots -> Int32? in
            arena.withUnsafeBufferPointer { arena -> Int32? in
                var i = Int(truncatingIfNeeded: h) & mask
                while true {
                    let entry = slots[i]
                    if entry.length < 0 { return nil }
                    if entry.hash == h && entry.context == context && Int(entry.length) == bytes.count
                        && ByteStringTable.equal(arena, Int(entry.start), bytes) {
                        return entry.value
                    }
                    i = (i &+ 1) & mask
                }
            }
        }
    }

    @inline(__always)
    private static func equal(_ arena: UnsafeBufferPointer<UInt8>, _ start: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var k = 0
        while k < bytes.count {
            if arena[start &+ k] != bytes[k] { return false }
            k &+= 1
        }
        return true
    }

    func lookup(context: Int32, _ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBufferPointer { lookup(context: context, $0) }
    }

    /// Inserts or replaces the value for `bytes` under `context`.
    mutating func insert(context: Int32, _ bytes: [UInt8], value: Int32) {
        let h = bytes.withUnsafeBufferPointer { ByteStringTable.hash(context: context, $0) }
        var i = Int(truncatingIfNeeded: h) & mask
        while slots[i].length >= 0 {
            let entry = slots[i]
            if entry.hash == h && entry.context == context && Int(entry.length) == bytes.count
                && arena[Int(entry.start)..<(Int(entry.start) + bytes.count)].elementsEqual(bytes) {
                slots[i].value = value
                return
            }
            i = (i + 1) & mask
        }
        if (count + 1) * 2 > slots.count {
            grow()
            return insert(context: context, bytes, value: value)
        }
        slots[i] = Entry(hash: h, context: context, start: Int32(arena.count), length: Int32(bytes.count), value: value)
        arena.append(contentsOf: bytes)
        count += 1
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: ByteStringTable.empty, count: old.count * 2)
        mask = slots.count - 1
        for entry in old where entry.length >= 0 {
            var i = Int(truncatingIfNeeded: entry.hash) & mask
            while slots[i].length >= 0 { i = (i + 1) & mask }
            slots[i] = entry
        }
    }
}
