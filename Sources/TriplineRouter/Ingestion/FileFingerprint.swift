#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A digest of a file's first bytes, kept in its checkpoint: tells a file that grew from one replaced.
///
/// SHA-256 (libcrypto) of the extent's length and of two samples of the raw file (compressed bytes
/// for gzip): its first 64 KiB and the last 64 KiB of the extent. At most 128 KiB are read whatever
/// the file's size, so checking a checkpoint stays cheap for big files, yet a replacement is caught
/// wherever CloudTrail files differ (their first record and their end). Same-size files that differ
/// only between the samples are not told apart. SHA-256 rather than a fast non-cryptographic hash:
/// the value is stored and compared across versions, so it must be stable, and someone who can write
/// into a watched folder must not be able to craft a replacement that matches and so hide its records;
/// its cost (well under a millisecond for 128 KiB) is paid once per file per second at most.
public struct FileFingerprint: Sendable, Hashable, CustomStringConvertible {
    /// The size of each of the two samples.
    public static let sampleBytes = 64 * 1024

    /// The SHA-256 digest as 64 lowercase hex digits (what checkpoints store).
    public let hex: String

    public var description: String { hex }

    /// The fingerprint of the first `extent` bytes of the open file `descriptor`, read with `pread`
    /// (its file offset is left alone); nil when they cannot all be read (the file is shorter now, or
    /// not a regular file).
    public static func of(descriptor: Int32, extent: Int64) -> FileFingerprint? {
        guard extent >= 0 else { return nil }
        let sample = Int64(sampleBytes)
        var ranges = [0..<min(extent, sample)]
        if extent > sample { ranges.append(max(sample, extent - sample)..<extent) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ranges.reduce(0) { $0 + Int($1.count) })
        var buffer = [UInt8](repeating: 0, count: sampleBytes)
        for range in ranges {
            var offset = range.lowerBound
            while offset < range.upperBound {
                let wanted = Int(range.upperBound - offset)
                let count = buffer.withUnsafeMutableBytes { raw -> Int in
                    while true {
                        let n = pread(descriptor, raw.baseAddress!, wanted, off_t(offset))
                        if n < 0 && errno == EINTR { continue }
                        return n
                    }
                }
                guard count > 0 else { return nil }
                bytes.append(contentsOf: buffer[0..<count])
                offset += Int64(count)
            }
        }
        return digest(extent: extent, samples: bytes)
    }

    /// The fingerprint of a whole file's bytes held in memory (the same value ``of(descriptor:extent:)``
    /// gives for a file with exactly these bytes).
    public static func of(bytes: [UInt8]) -> FileFingerprint {
        let extent = bytes.count
        var samples = Array(bytes.prefix(sampleBytes))
        if extent > sampleBytes { samples += bytes[max(sampleBytes, extent - sampleBytes)...] }
        return digest(extent: Int64(extent), samples: samples)
    }

    /// The fingerprint of an extent whose samples are at hand: `head` holds the extent's first
    /// bytes (at least `min(extent, sampleBytes)`), `tail` the bytes that end at `extent` (at least
    /// those from `max(sampleBytes, extent - sampleBytes)`); nil when they do not cover that much.
    /// The same value ``of(descriptor:extent:)`` gives for a file holding those bytes.
    static func of(extent: Int64, head: [UInt8], tail: [UInt8]) -> FileFingerprint? {
        let sample = Int64(sampleBytes)
        guard extent >= 0, Int64(head.count) >= min(extent, sample) else { return nil }
        var samples = Array(head.prefix(Int(min(extent, sample))))
        if extent > sample {
            let wanted = Int(extent - max(sample, extent - sample))
            guard tail.count >= wanted else { return nil }
            samples += tail.suffix(wanted)
        }
        return digest(extent: extent, samples: samples)
    }

    private static func digest(extent: Int64, samples: [UInt8]) -> FileFingerprint {
        let input = withUnsafeBytes(of: UInt64(extent).littleEndian) { Array($0) } + samples
        return FileFingerprint(hex: Digest.hex(Digest.sha256(input)))
    }

    private init(hex: String) {
        self.hex = hex
    }
}
