import COpenSSL

/// Digests through libcrypto: SHA-1 for name-based UUIDs, SHA-256 for checkpoint fingerprints.
enum Digest {
    /// SHA-1 of `bytes` (20 bytes).
    static func sha1(_ bytes: [UInt8]) -> [UInt8] { digest(bytes, EVP_sha1(), length: 20) }

    /// SHA-256 of `bytes` (32 bytes).
    static func sha256(_ bytes: [UInt8]) -> [UInt8] { digest(bytes, EVP_sha256(), length: 32) }

    /// `bytes` as lowercase hex digits.
    static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func digest(_ bytes: [UInt8], _ type: OpaquePointer?, length expected: Int) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // An empty input still needs a valid pointer; the length passed is the real one.
        let input = bytes.isEmpty ? [UInt8(0)] : bytes
        let ok = EVP_Digest(input, bytes.count, &digest, &length, type, nil) == 1
        precondition(ok && Int(length) == expected, "digest failed in libcrypto")
        return Array(digest.prefix(expected))
    }
}
