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
            // `::ffff:0:0/96` is written as IPv6 but reads as the IPv4 address it maps.
            if !address.isIPv6 && parts[0].contains(":") { return .failure(.ipv4MappedPrefixLength(length, address: String(parts[0]))) }
            return .failure(.prefixLengthOutOfRange(length, max: maxLength))
        }
        var network = address.bytes
        for bit in length..<(network.count * 8) { network[bit / 8] &= ~(UInt8(0x80) >> UInt8(bit % 8)) }
        return .success(CIDRBlock(text: text, isIPv6: address.isIPv6, network: network, prefixLength: length))
    }

    /// A pattern's exact string that reads as an IP address: the one-address block that matches
    /// every spelling of it (`"10.0.0.1"` matches `"010.0.0.1"`, `"2001:db8::ff"` matches
    /// `"2001:DB8:0::FF"`), as event-ruler compiles such strings; nil for any other text.
    public static func address(_ text: String) -> CIDRBlock? {
        guard let address = IPAddress.parse(Array(text.utf8)) else { return nil }
        return CIDRBlock(text: text, isIPv6: address.isIPv6, network: address.bytes, prefixLength: address.byteCount * 8)
    }

    /// Whether this block came from an exact IP address string rather than CIDR notation.
    public var isAddress: Bool { !text.contains("/") }

    public func contains(_ address: IPAddress) -> Bool {
        guard address.isIPv6 == isIPv6 else { return false }
        return network.withUnsafeBufferPointer { CIDRBlock.prefix(of: address, matches: $0, length: prefixLength) }
    }

    /// Whether the first `length` bits of `address` equal those of `network` (same family).
    static func prefix(of address: IPAddress, matches network: UnsafeBufferPointer<UInt8>, length: Int) -> Bool {
        // Whole bytes first, then the leading bits of the byte the prefix ends in.
        let whole = length / 8
        var i = 0
        while i < whole {
            if address.byte(i) != network[i] { return false }
            i += 1
        }
        let rest = length % 8
        if rest == 0 { return true }
        let mask = UInt8(0xFF) << UInt8(8 - rest)
        return address.byte(whole) & mask == network[whole] & mask
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
    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d` in hex groups), which is read as IPv4, with an IPv6 prefix length.
    case ipv4MappedPrefixLength(Int, address: String)

    public var description: String {
        switch self {
        case .missingSlash: return "one '/' separating address and prefix length"
        case .invalidAddress(let a): return "a valid IPv4 or IPv6 address before '/', not \"\(a)\""
        case .invalidPrefixLength(let l): return "a decimal prefix length after '/', not \"\(l)\""
        case .prefixLengthOutOfRange(let l, let max): return "a prefix length from 0 to \(max), not \(l)"
        case .ipv4MappedPrefixLength(let l, let address):
            return "a prefix length from 0 to 32, not \(l): \"\(address)\" is an IPv4-mapped IPv6 address, which is matched as the IPv4 address it maps "
                + "(as IPv4 events are), so its block is written in IPv4 form (e.g. \"0.0.0.0/0\" for all of ::ffff:0:0/96)"
        }
    }
}

/// An IP address parsed from text, read the way EventBridge's matcher (event-ruler) reads one: a
/// dotted quad (`10.0.0.1`; octets may have leading zeros, at most 15 characters in all) or IPv6 in
/// hex groups and colons (`2001:db8::1`). IPv6 text with a dotted IPv4 tail is not an address, and an
/// IPv4-mapped address (`::ffff:a00:1`) is the IPv4 address (`10.0.0.1`), as Java's `InetAddress`
/// returns it.
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

    private init(high: UInt64, low: UInt64) {
        isIPv6 = true
        self.high = high
        self.low = low
    }

    private init(ipv4: UInt32) {
        isIPv6 = false
        high = UInt64(ipv4) << 32
        low = 0
    }

    public static func parse<C: Collection>(_ text: C) -> IPAddress? where C.Element == UInt8 {
        // A dotted quad first: it is the common case, and text with a ':' never reads as one.
        if let address = parseIPv4(text) { return IPAddress(ipv4: address) }
        guard text.contains(UInt8(ascii: ":")), let (high, low) = parseIPv6(text) else { return nil }
        // IPv4-mapped (::ffff:a.b.c.d, in hex groups): the IPv4 address.
        if high == 0, low >> 32 == 0xFFFF { return IPAddress(ipv4: UInt32(truncatingIfNeeded: low)) }
        return IPAddress(high: high, low: low)
    }

    /// A dotted quad as one number (first byte in the top bits), or nil: four decimal octets of
    /// any length up to 255 each, 15 characters at most.
    static func parseIPv4<C: Collection>(_ t: C) -> UInt32? where C.Element == UInt8 {
        var out: UInt32 = 0
        var parts = 0
        var value: UInt32 = 0
        var digits = 0
        var length = 0
        for c in t {
            length += 1
            guard length <= 15 else { return nil }
            if c == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                out = out << 8 | value
                parts += 1
                value = 0
                digits = 0
            } else if c >= 48 && c <= 57 {
                value = value * 10 + UInt32(c - 48)
                digits += 1
                guard value <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, parts == 3 else { return nil }
        return out << 8 | value
    }

    /// IPv6 in hex groups and colons (RFC 4291 text form without a dotted tail) as two words, or nil.
    /// A group may have leading zeros as long as its value fits 16 bits; `::` stands for one or more
    /// zero groups and may appear once.
    static func parseIPv6<C: Collection>(_ t: C) -> (high: UInt64, low: UInt64)? where C.Element == UInt8 {
        var groups: (UInt64, UInt64) = (0, 0)   // up to 8 groups, packed as they come
        var count = 0                           // groups seen
        var gapAt = -1                          // group index where `::` stands
        var value: UInt32 = 0
        var sawDigit = false
        var previous: UInt8 = 0
        var index = 0
        let total = t.count
        guard total >= 2 else { return nil }
        func push(_ v: UInt32) -> Bool {
            guard count < 8 else { return false }
            if count < 4 { groups.0 |= UInt64(v) << UInt64(48 - 16 * count) } else { groups.1 |= UInt64(v) << UInt64(48 - 16 * (count - 4)) }
            count += 1
            return true
        }
        let leadingColon = t.first == UInt8(ascii: ":")
        for c in t {
            index += 1
            // A leading colon must start `::`.
            if leadingColon, index == 2, c != UInt8(ascii: ":") { return nil }
            if let h = hex(c) {
                value = value << 4 | UInt32(h)
                guard value <= 0xFFFF else { return nil }
                sawDigit = true
            } else if c == UInt8(ascii: ":") {
                if index == 1 {
                    previous = c
                    continue
                }
                if sawDigit {
                    guard index < total, push(value) else { return nil }   // no single trailing colon
                    value = 0
                    sawDigit = false
                } else {
                    // An empty group: `::` (once), including the leading one.
                    guard gapAt < 0, previous == UInt8(ascii: ":") else { return nil }
                    gapAt = count
                }
            } else {
                return nil
            }
            previous = c
        }
        if sawDigit { guard push(value) else { return nil } }
        if gapAt >= 0 {
            guard count < 8 else { return nil }
            // The groups after the gap move to the end; the gap's groups are zero.
            let shift = 8 - count
            var high: UInt64 = 0, low: UInt64 = 0
            for g in 0..<count {
                let word = g < 4 ? groups.0 >> UInt64(48 - 16 * g) & 0xFFFF : groups.1 >> UInt64(48 - 16 * (g - 4)) & 0xFFFF
                let target = g < gapAt ? g : g + shift
                if target < 4 { high |= word << UInt64(48 - 16 * target) } else { low |= word << UInt64(48 - 16 * (target - 4)) }
            }
            return (high, low)
        }
        guard count == 8 else { return nil }
        return groups
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
