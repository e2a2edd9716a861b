/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`).
public struct CIDRBlock: Sendable, Hashable, CustomStringConvertible {
    public let text: String
    public let isIPv6: Bool
    /// The network address with host bits cleared: 4 bytes for IPv4, 16 for IPv6.
    public let network: [UInt8]
    public let prefixLength: Int

    public var description: String { text }

    public static func == (a: CIDRBlock, b: CIDRBlock) -> Bool {
        a.isIPv6 == b.isIPv6 && a.network == b.network && a.prefixLength == b.prefixLength
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(network)
        hasher.combine(prefixLength)
    }

    /// Parses `address/length`; the error text says what is wrong.
    public static func parse(_ text: String) -> Result<CIDRBlock, CIDRProblem> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .failure(.missingSlash) }
        guard let address = IPAddress.parse(Array(parts[0].utf8)) else { return .failure(.invalidAddress(String(parts[0]))) }
        let lengthText = parts[1]
        guard !lengthText.isEmpty, lengthText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) || lengthText.first == "-" else {
            return .failure(.invalidPrefixLength(String(lengthText)))
        }
        guard let length = Int(lengthText) else { return .failure(.invalidPrefixLength(String(lengthText))) }
        let maxLength = address.isIPv6 ? 128 : 32
        guard length >= 0, length <= maxLength else {
            return .failure(.prefixLengthOutOfRange(length, max: maxLength))
        }
        var network = address.bytes
        for bit in length..<(network.count * 8) { network[bit / 8] &= ~(UInt8(0x80) >> UInt8(bit % 8)) }
        return .success(CIDRBlock(text: text, isIPv6: address.isIPv6, network: network, prefixLength: length))
    }

    public func contains(_ address: IPAddress) -> Bool {
        guard address.isIPv6 == isIPv6 else { return false }
        return network.withUnsafeBufferPointer { CIDRBlock.prefix(of: address, matches: $0, length: prefixLength) }
    }

    /// Whether the first `length` bits of `address` equal those of `network` (same family).
    static func prefix(of address: IPAddress, matches network: UnsafeBufferPointer<UInt8>, length: Int) -> Bool {
        var bit = 0
        while bit < length {
            let mask = UInt8(0x80) >> UInt8(bit % 8)
            if address.byte(bit / 8) & mask != network[bit / 8] & mask { return false }
            bit += 1
        }
        return true
    }

    private init(text: String, isIPv6: Bool, network: [UInt8], prefixLength: Int) {
        self.text = text
        self.isIPv6 = isIPv6
        self.network = network
        self.prefixLength = prefixLength
    }
}

public enum CIDRProblem: Error, Sendable, Equatable, CustomStringConvertible {
    case missingSlash
    case invalidAddress(String)
    case invalidPrefixLength(String)
    case prefixLengthOutOfRange(Int, max: Int)

    public var description: String {
        switch self {
        case .missingSlash: return "one '/' separating address and prefix length"
        case .invalidAddress(let a): return "a valid IPv4 or IPv6 address before '/', not \"\(a)\""
        case .invalidPrefixLength(let l): return "a decimal prefix length after '/', not \"\(l)\""
        case .prefixLengthOutOfRange(let l, let max): return "a prefix length from 0 to \(max), not \(l)"
        }
    }
}

/// An IP address parsed from text: dotted-quad IPv4 or RFC 4291 IPv6 (with `::` and a trailing IPv4).
public struct IPAddress: Sendable, Hashable {
    public let isIPv6: Bool
    /// The address's bytes in network order, packed: the first eight in `high` (byte 0 in its top
    /// bits), the rest in `low`; an IPv4 address uses the top four bytes of `high`. Inline, so
    /// parsing the address of every event allocates nothing.
    private let high: UInt64
    private let low: UInt64

    /// 4 for IPv4, 16 for IPv6.
    public var byteCount: Int { isIPv6 ? 16 : 4 }

    /// Byte `i` (below `byteCount`) in network order.
    @inline(__always)
    public func byte(_ i: Int) -> UInt8 {
        let word = i < 8 ? high : low
        return UInt8(truncatingIfNeeded: word >> UInt64(56 - 8 * (i & 7)))
    }

    public var bytes: [UInt8] { (0..<byteCount).map { byte($0) } }

    init(isIPv6: Bool, bytes: [UInt8]) {
        self.isIPv6 = isIPv6
        var high: UInt64 = 0, low: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { high |= UInt64(b) << UInt64(56 - 8 * i) } else { low |= UInt64(b) << UInt64(56 - 8 * (i - 8)) }
        }
        self.high = high
        self.low = low
    }

    private init(ipv4: UInt32) {
        isIPv6 = false
        high = UInt64(ipv4) << 32
        low = 0
    }

    public static func parse<C: Collection>(_ text: C) -> IPAddress? where C.Element == UInt8 {
        if text.contains(UInt8(ascii: ":")) {
            guard let bytes = parseIPv6(Array(text)) else { return nil }
            return IPAddress(isIPv6: true, bytes: bytes)
        }
        guard let address = parseIPv4(text) else { return nil }
        return IPAddress(ipv4: address)
    }

    /// A dotted quad as one number (first byte in the top bits), or nil.
    static func parseIPv4<C: Collection>(_ t: C) -> UInt32? where C.Element == UInt8 {
        var out: UInt32 = 0
        var parts = 0
        var value: UInt32 = 0
        var digits = 0
        for c in t {
            if c == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                out = out << 8 | value
                parts += 1
                value = 0
                digits = 0
            } else if c >= 48 && c <= 57 {
                value = value * 10 + UInt32(c - 48)
                digits += 1
                guard digits <= 3, value <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, parts == 3 else { return nil }
        return out << 8 | value
    }

    static func parseIPv6(_ t: [UInt8]) -> [UInt8]? {
        guard t.count >= 2, t.count <= 45 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawDoubleColon = false
        var i = 0
        if t[0] == UInt8(ascii: ":") {
            guard t[1] == UInt8(ascii: ":") else { return nil }
            sawDoubleColon = true
            i = 2
        }
        var ipv4Tail: [UInt8]? = nil
        while i < t.count {
            var j = i
            var value: UInt32 = 0
            while j < t.count, j - i < 5, let h = hex(t[j]) { value = value << 4 | UInt32(h); j += 1 }
            if j < t.count, t[j] == UInt8(ascii: ".") {
                guard let v4 = parseIPv4(t[i...]) else { return nil }
                ipv4Tail = [UInt8(v4 >> 24), UInt8(v4 >> 16 & 0xFF), UInt8(v4 >> 8 & 0xFF), UInt8(v4 & 0xFF)]
                i = t.count
                break
            }
            guard j > i, j - i <= 4 else { return nil }
            if sawDoubleColon { tail.append(UInt16(value)) } else { head.append(UInt16(value)) }
            i = j
            if i == t.count { break }
            guard t[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            if i < t.count, t[i] == UInt8(ascii: ":") {
                guard !sawDoubleColon else { return nil }
                sawDoubleColon = true
                i += 1
                if i == t.count { break }
            } else if i == t.count {
                return nil
            }
        }
        var groups = head.count + tail.count + (ipv4Tail == nil ? 0 : 2)
        if sawDoubleColon {
            guard groups < 8 else { return nil }
            groups = 8
        }
        guard groups == 8 else { return nil }
        var words = head
        if sawDoubleColon {
            let fill = 8 - head.count - tail.count - (ipv4Tail == nil ? 0 : 2)
            words.append(contentsOf: repeatElement(0, count: fill))
        }
        words.append(contentsOf: tail)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for w in words { bytes.append(UInt8(w >> 8)); bytes.append(UInt8(w & 0xFF)) }
        if let ipv4Tail { bytes.append(contentsOf: ipv4Tail) }
        return bytes.count == 16 ? bytes : nil
    }

    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}
