/// RFC 4122 name-based UUIDs (version 5, SHA-1), so the same name always yields the same id.
///
/// Used for envelope ids: a CloudTrail record normalised twice (a re-run, a duplicate delivery)
/// gets the same EventBridge `id`, so downstream de-duplication works. SHA-1 serves here only as a
/// stable hash, as RFC 4122 specifies, not for security.
enum NameBasedUUID {
    /// The RFC 4122 URL namespace, `6ba7b811-9dad-11d1-80b4-00c04fd430c8`.
    static let urlNamespace: [UInt8] = [0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
                                        0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8]

    /// The version 5 UUID of `name` in `namespace` (16 bytes), in lowercase canonical form.
    static func v5(namespace: [UInt8], name: String) -> String {
        v5(namespace: namespace, name: Array(name.utf8))
    }

    /// The version 5 UUID of the UTF-8 bytes `name` in `namespace`.
    static func v5(namespace: [UInt8], name: [UInt8]) -> String {
        var sha = SHA1()
        sha.update(namespace)
        sha.update(name)
        var bytes = Array(sha.finalize().prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return format(bytes)
    }

    /// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` for 16 bytes.
    static func format(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (i, byte) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// SHA-1 (FIPS 180-4), incremental. Only for name-based UUIDs; not for anything security-related.
struct SHA1 {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0)
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0

    init() { buffer.reserveCapacity(64) }

    mutating func update(_ bytes: [UInt8]) {
        length &+= UInt64(bytes.count)
        var i = 0
        if !buffer.isEmpty {
            let take = min(64 - buffer.count, bytes.count)
            buffer.append(contentsOf: bytes[0..<take])
            i = take
            if buffer.count == 64 {
                processBlock(buffer[...])
                buffer.removeAll(keepingCapacity: true)
            }
        }
        while bytes.count - i >= 64 {
            processBlock(bytes[i..<(i + 64)])
            i += 64
        }
        if i < bytes.count { buffer.append(contentsOf: bytes[i...]) }
    }

    /// The 20-byte digest. The hasher must not be used afterwards.
    mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        var tail = buffer
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        var i = 0
        while i < tail.count {
            processBlock(tail[i..<(i + 64)])
            i += 64
        }
        var digest: [UInt8] = []
        for word in [state.0, state.1, state.2, state.3, state.4] {
            digest.append(UInt8(truncatingIfNeeded: word >> 24))
            digest.append(UInt8(truncatingIfNeeded: word >> 16))
            digest.append(UInt8(truncatingIfNeeded: word >> 8))
            digest.append(UInt8(truncatingIfNeeded: word))
        }
        return digest
    }

    private mutating func processBlock(_ block: ArraySlice<UInt8>) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { w in
            compress(block, w)
        }
    }

    private mutating func compress(_ block: ArraySlice<UInt8>, _ w: UnsafeMutableBufferPointer<UInt32>) {
        block.withUnsafeBufferPointer { bytes in
            for t in 0..<16 {
                let j = t &* 4
                w[t] = UInt32(bytes[j]) << 24 | UInt32(bytes[j &+ 1]) << 16 | UInt32(bytes[j &+ 2]) << 8 | UInt32(bytes[j &+ 3])
            }
        }
        for t in 16..<80 {
            let x = w[t &- 3] ^ w[t &- 8] ^ w[t &- 14] ^ w[t &- 16]
            w[t] = (x << 1) | (x >> 31)
        }
        var (a, b, c, d, e) = state
        // The four rounds as separate loops: no per-step branch on the round.
        @inline(__always) func step(_ f: UInt32, _ k: UInt32, _ word: UInt32) {
            let temp = ((a << 5) | (a >> 27)) &+ f &+ e &+ k &+ word
            e = d
            d = c
            c = (b << 30) | (b >> 2)
            b = a
            a = temp
        }
        for t in 0..<20 { step((b & c) | (~b & d), 0x5A827999, w[t]) }
        for t in 20..<40 { step(b ^ c ^ d, 0x6ED9EBA1, w[t]) }
        for t in 40..<60 { step((b & c) | (b & d) | (c & d), 0x8F1BBCDC, w[t]) }
        for t in 60..<80 { step(b ^ c ^ d, 0xCA62C1D6, w[t]) }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d, state.4 &+ e)
    }
}
