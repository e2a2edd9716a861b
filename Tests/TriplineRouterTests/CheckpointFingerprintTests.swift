#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TriplineState
@testable import TriplineRouter

@Suite("Checkpoints: fingerprints tell a replaced file from a grown one")
struct CheckpointFingerprintTests {
    /// `count` bytes of a repeating pattern starting at `seed`.
    private func bytes(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    }

    @Test("a fingerprint read from a file equals the one of its bytes, and covers only the extent asked for",
          arguments: [0, 1, 1_000, FileFingerprint.sampleBytes, FileFingerprint.sampleBytes + 1, 3 * FileFingerprint.sampleBytes + 17])
    func fingerprintOfAFileAndOfItsBytesAgree(size: Int) throws {
        try withRouterTempDirectory { dir in
            let content = bytes(size)
            let path = try writeFile(content + bytes(500, seed: 7), "f.bin", in: dir)
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            let read = try #require(FileFingerprint.of(descriptor: fd, extent: Int64(size)))
            #expect(read == FileFingerprint.of(bytes: content))
            #expect(read.hex.count == 64)
            #expect(lseek(fd, 0, SEEK_CUR) == 0, "the file offset is left alone")
            #expect(FileFingerprint.of(descriptor: fd, extent: Int64(size + 501)) == nil, "an extent past the end cannot be fingerprinted")
        }
    }

    @Test("a change in the first or the last 64 KiB of the extent, or another length, changes the fingerprint")
    func changesThatAreSeen() {
        let base = bytes(200_000)
        var first = base, last = base
        first[10] ^= 1
        last[199_990] ^= 1
        let fingerprints = [base, first, last, Array(base.dropLast())].map(FileFingerprint.of(bytes:))
        #expect(Set(fingerprints).count == 4)
        // Between the samples nothing is read: the documented price of checking big files cheaply.
        var middle = base
        middle[100_000] ^= 1
        #expect(FileFingerprint.of(bytes: middle) == FileFingerprint.of(bytes: base))
    }

    private func saved(size: Int64, items: Int, complete: Bool, of content: [UInt8]? = nil) -> Checkpoint {
        Checkpoint(source: "/in/latest.json", size: size, modificationTime: 100,
                   fingerprint: content.map { FileFingerprint.of(bytes: Array($0.prefix(Int(size)))).hex } ?? "",
                   items: items, complete: complete, updatedAt: 100)
    }

    @Test func judgingACheckpoint() {
        let read = bytes(1_000)
        let grown = read + bytes(300, seed: 3)
        var other = bytes(1_300)
        other[0] ^= 0xFF
        func judge(_ checkpoint: Checkpoint, _ now: [UInt8], modified: Double = 200) -> SourceResumption {
            SourceResumption.judging(checkpoint, size: Int64(now.count), modificationTime: modified) { extent in
                extent <= now.count ? FileFingerprint.of(bytes: Array(now.prefix(Int(extent)))) : nil
            }
        }
        let complete = saved(size: 1_000, items: 3, complete: true, of: read)
        let partial = saved(size: 1_000, items: 2, complete: false, of: read)
        #expect(judge(complete, read) == .skip, "same bytes, new time (touched, copied again): already read")
        #expect(judge(partial, read) == .resume(afterItems: 2))
        #expect(judge(complete, grown) == .resume(afterItems: 3), "appended to")
        #expect(judge(saved(size: 1_000, items: 0, complete: false, of: read), grown) == .read)
        #expect(judge(complete, other) == .replaced(reason: "its first 1000 bytes differ from the ones read before"))
        #expect(judge(complete, Array(read.prefix(900))) == .replaced(reason: "it is 900 bytes long, shorter than the 1000 bytes read before"))
        // A checkpoint written before fingerprints is judged by size and time, as it was written to be.
        let legacy = saved(size: 1_000, items: 3, complete: true)
        #expect(judge(legacy, other.prefix(1_000).map { $0 }, modified: 100) == .skip)
        #expect(judge(legacy, read, modified: 200) == .read)
        #expect(judge(legacy, grown) == .resume(afterItems: 3))
    }

    @Test("an open input file keeps describing the bytes it opened after its path is replaced")
    func sourceFileDescribesTheOpenFile() throws {
        try withRouterTempDirectory { dir in
            let first = Array("{\"n\":1}\n{\"n\":2}\n".utf8)
            let path = try writeFile(first, "events.ndjson", in: dir)
            let inputs = EventInputs(arguments: [path])
            #expect(try inputs.next()?.get().origin.description == "\(path):1")
            let file = try #require(inputs.currentFile)
            let replacement = try writeFile(Array("{\"n\":3}\n".utf8), "staging", in: dir)
            #expect(rename(replacement, path) == 0)
            #expect(try inputs.next()?.get().bytes == Array("{\"n\":2}".utf8))
            #expect(file.status()?.size == Int64(first.count))
            #expect(file.bytesRead == Int64(first.count))
            #expect(file.fingerprint(extent: Int64(first.count)) == FileFingerprint.of(bytes: first))
            #expect(file.isCheckpointable)
        }
    }

    @Test("a file rewritten in place while it is read: the fingerprint is of the bytes that were read, not of the new content",
          arguments: [100, 200_000, 400_000])
    func fingerprintIsOfTheBytesRead(lines: Int) throws {
        try withRouterTempDirectory { dir in
            let line = { (n: Int) in Array("{\"n\":\(n),\"pad\":\"\(String(repeating: "x", count: 20))\"}\n".utf8) }
            let first = (0..<lines).flatMap(line)
            let path = try writeFile(first, "events.ndjson", in: dir)
            let inputs = EventInputs(arguments: [path])
            #expect(try inputs.next()?.get().bytes == Array(line(0).dropLast()))
            let file = try #require(inputs.currentFile)
            let read = file.bytesRead
            #expect(read > 0)
            // `cp other events.ndjson`: the same inode, truncated and written again with other lines.
            let other = (lines..<(2 * lines + 7)).flatMap(line)
            let handle = try #require(FileHandle(forWritingAtPath: path))
            try handle.truncate(atOffset: 0)
            try handle.write(contentsOf: Data(other))
            try handle.close()
            let fingerprint = try #require(file.fingerprint(extent: read))
            #expect(fingerprint == FileFingerprint.of(bytes: Array(first.prefix(Int(read)))), "the bytes that were parsed")
            #expect(fingerprint != FileFingerprint.of(bytes: Array(other.prefix(Int(read)))), "not what the path holds now")
        }
    }
}
