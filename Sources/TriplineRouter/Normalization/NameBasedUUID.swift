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
        var bytes = Array(Digest.sha1(namespace + name).prefix(16))
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
