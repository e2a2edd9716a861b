import Foundation
import Testing
@testable import TriplineRouter

@Suite("Compressed file reading and line splitting")
struct CompressedFileReaderTests {
    // MARK: - Helpers

    /// A fresh directory per test, removed when `body` returns.
    private func withTempDirectory<T>(_ body: (URL) throws -> T) throws -> T {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("tripline-ingestion-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        return try body(dir)
    }

    private func write(_ bytes: [UInt8], to url: URL) throws {
        try Data(bytes).write(to: url)
    }

    /// Gzips `bytes` with the system gzip (one member).
    private func gzip(_ bytes: [UInt8], in dir: URL, level: Int = 6) throws -> [UInt8] {
        let plain = dir.appendingPathComponent("gzip-input-\(UUID().uuidString)")
        let packed = dir.appendingPathComponent("gzip-output-\(UUID().uuidString)")
        try write(bytes, to: plain)
        defer {
            try? FileManager.default.removeItem(at: plain)
            try? FileManager.default.removeItem(at: packed)
        }
        _ = FileManager.default.createFile(atPath: packed.path, contents: nil)
        let output = try FileHandle(forWritingTo: packed)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip")
                                    ? "/usr/bin/gzip" : "/bin/gzip")
        process.arguments = ["-\(level)", "-c", plain.path]
        process.standardOutput = output
        try process.run()
        process.waitUntilExit()
        try output.close()
        #expect(process.terminationStatus == 0)
        return [UInt8](try Data(contentsOf: packed))
    }

    /// Reads every chunk, checking each respects the reader's chunk size.
    private func drain(_ path: String, chunkSize: Int = CompressedFileReader.defaultChunkSize) throws -> [UInt8] {
        let reader = try CompressedFileReader(path: path, chunkSize: chunkSize)
        defer { reader.close() }
        var bytes: [UInt8] = []
        while let chunk = try reader.nextChunk() {
            #expect(!chunk.isEmpty && chunk.count <= chunkSize)
            bytes += chunk
        }
        return bytes
    }

    /// Feeds `input` to a splitter in pieces of `pieceSize` bytes and collects everything it reports.
    private func split(_ input: [UInt8], maxLineLength: Int, pieceSize: Int) -> [Result<LineSplitter.Line, IngestionError>] {
        var splitter = LineSplitter(path: "mem", maxLineLength: maxLineLength)
        var results: [Result<LineSplitter.Line, IngestionError>] = []
        var start = 0
        while start < input.count {
            let end = min(start + pieceSize, input.count)
            splitter.append(Array(input[start..<end]))
            while let line = splitter.nextLine() { results.append(line) }
            start = end
        }
        splitter.finish()
        while let line = splitter.nextLine() { results.append(line) }
        return results
    }

    private func sampleText(lines: Int) -> [UInt8] {
        Array((1...lines).map { "{\"id\": \($0), \"detail\": \"line number \($0 * 7919 % 10007)\"}\n" }.joined().utf8)
    }

    // MARK: - Reader

    @Test func readsPlainFile() throws {
        try withTempDirectory { dir in
            let url = dir.appendingPathComponent("events.json")
            let content = sampleText(lines: 100)
            try write(content, to: url)
            let reader = try CompressedFileReader(path: url.path)
            #expect(!reader.isCompressed)
            reader.close()
            #expect(try drain(url.path) == content)
            #expect(try drain(url.path, chunkSize: 7) == content)
        }
    }

    @Test func readsEmptyAndTinyFiles() throws {
        try withTempDirectory { dir in
            let empty = dir.appendingPathComponent("empty")
            try write([], to: empty)
            #expect(try drain(empty.path).isEmpty)
            let oneByte = dir.appendingPathComponent("one")
            try write([0x1f], to: oneByte)
            #expect(try drain(oneByte.path) == [0x1f])
        }
    }

    @Test func detectsGzipByContentNotName() throws {
        try withTempDirectory { dir in
            let content = sampleText(lines: 5_000)
            let url = dir.appendingPathComponent("events.json")  // no .gz suffix on purpose
            try write(try gzip(content, in: dir), to: url)
            let reader = try CompressedFileReader(path: url.path)
            #expect(reader.isCompressed)
            reader.close()
            #expect(try drain(url.path) == content)
            #expect(try drain(url.path, chunkSize: 13) == content)
        }
    }

    @Test func readsConcatenatedGzipMembers() throws {
        try withTempDirectory { dir in
            let first = sampleText(lines: 300)
            let second = Array("second member\n".utf8)
            let third = sampleText(lines: 2)
            let url = dir.appendingPathComponent("multi.json.gz")
            try write(try gzip(first, in: dir) + gzip(second, in: dir) + gzip(third, in: dir), to: url)
            #expect(try drain(url.path) == first + second + third)
            #expect(try drain(url.path, chunkSize: 5) == first + second + third)

            let padded = dir.appendingPathComponent("padded.gz")
            try write(try gzip(first, in: dir) + Array(repeating: 0, count: 1_000), to: padded)
            #expect(try drain(padded.path, chunkSize: 64) == first)
        }
    }

    @Test func truncatedGzipIsAnError() throws {
        try withTempDirectory { dir in
            let packed = try gzip(sampleText(lines: 2_000), in: dir)
            for cut in [packed.count / 2, packed.count - 4, 12] {
                let url = dir.appendingPathComponent("cut-\(cut).gz")
                try write(Array(packed.prefix(cut)), to: url)
                #expect(throws: IngestionError.truncated(path: url.path)) { try drain(url.path) }
            }
        }
    }

    @Test func corruptGzipIsAnErrorWithOffset() throws {
        try withTempDirectory { dir in
            let packed = try gzip(sampleText(lines: 2_000), in: dir)

            var badMethod = packed
            badMethod[2] = 0x07  // compression method other than deflate
            let methodURL = dir.appendingPathComponent("method.gz")
            try write(badMethod, to: methodURL)
            let methodError = #expect(throws: IngestionError.self) { try drain(methodURL.path) }
            guard case .corruptCompressedData(let path, _, let detail)? = methodError else {
                Issue.record("expected corruptCompressedData, got \(String(describing: methodError))")
                return
            }
            #expect(path == methodURL.path)
            #expect(detail.contains("compression method"))

            var badChecksum = packed
            badChecksum[packed.count - 8] ^= 0xFF  // first byte of the CRC32 trailer
            let crcURL = dir.appendingPathComponent("crc.gz")
            try write(badChecksum, to: crcURL)
            let crcError = #expect(throws: IngestionError.self) { try drain(crcURL.path) }
            guard case .corruptCompressedData(_, let offset, _)? = crcError else {
                Issue.record("expected corruptCompressedData, got \(String(describing: crcError))")
                return
            }
            #expect(offset > 0 && offset <= Int64(packed.count))
            #expect(crcError?.description.hasPrefix("\(crcURL.path): corrupt gzip data at byte \(offset): ") == true)

            let garbageURL = dir.appendingPathComponent("garbage.gz")
            try write([0x1f, 0x8b] + Array(repeating: 0x42, count: 64), to: garbageURL)
            #expect(throws: IngestionError.self) { try drain(garbageURL.path) }

            let trailingURL = dir.appendingPathComponent("trailing.gz")
            try write(packed + [0, 0, 0, 0x41], to: trailingURL)
            #expect(throws: IngestionError.corruptCompressedData(
                path: trailingURL.path, offset: Int64(packed.count + 3),
                detail: "unexpected data after trailing zero padding")) { try drain(trailingURL.path) }
        }
    }

    @Test func missingFileAndDirectoryCannotBeOpened() throws {
        try withTempDirectory { dir in
            let missing = dir.appendingPathComponent("nope.json").path
            #expect(throws: IngestionError.self) { try CompressedFileReader(path: missing) }
            #expect(throws: IngestionError.cannotOpen(path: dir.path, reason: "is a directory")) {
                try CompressedFileReader(path: dir.path)
            }
        }
    }

    @Test func readWholeFileHonoursLimit() throws {
        try withTempDirectory { dir in
            let content = sampleText(lines: 1_000)
            let url = dir.appendingPathComponent("rules.json.gz")
            try write(try gzip(content, in: dir), to: url)
            #expect(try readWholeFile(path: url.path, limit: content.count) == content)
            #expect(throws: IngestionError.tooLarge(path: url.path, limit: content.count - 1)) {
                try readWholeFile(path: url.path, limit: content.count - 1)
            }
        }
    }

    // MARK: - Line splitting

    @Test func splitsLinesAndToleratesCRLF() throws {
        let input = Array("alpha\r\nbeta\ngamma\r\n\r\n\nlast\r".utf8)
        let expected = ["alpha", "beta", "gamma", "", "", "last"].enumerated().map {
            LineSplitter.Line(number: $0.offset + 1, bytes: Array($0.element.utf8))
        }
        for pieceSize in [1, 2, 3, 7, input.count] {
            let lines = split(input, maxLineLength: 100, pieceSize: pieceSize).compactMap { try? $0.get() }
            #expect(lines == expected, "piece size \(pieceSize)")
        }
    }

    @Test("a UTF-8 byte-order mark is dropped from the first line only, however the input is cut")
    func byteOrderMarkOnTheFirstLine() throws {
        let mark: [UInt8] = [0xEF, 0xBB, 0xBF]
        let input = mark + Array(#"{"a":1}"#.utf8) + [0x0A] + mark + Array(#"{"b":2}"#.utf8)
        for pieceSize in [1, 2, 4, input.count] {
            let lines = split(input, maxLineLength: 100, pieceSize: pieceSize).compactMap { try? $0.get() }
            #expect(lines == [.init(number: 1, bytes: Array(#"{"a":1}"#.utf8)),
                              .init(number: 2, bytes: mark + Array(#"{"b":2}"#.utf8))], "piece size \(pieceSize)")
        }
    }

    @Test func overLongLineIsReportedAndSkipped() throws {
        let long = String(repeating: "x", count: 5_000)
        let input = Array("short\n\(long)\nafter\r\n\(String(repeating: "y", count: 11))\r\n\(String(repeating: "z", count: 10))\r\n\(long)".utf8)
        for pieceSize in [1, 3, 64, 4_096, input.count] {
            let results = split(input, maxLineLength: 10, pieceSize: pieceSize)
            #expect(results.count == 6, "piece size \(pieceSize)")
            guard results.count == 6 else { continue }
            #expect(try results[0].get() == .init(number: 1, bytes: Array("short".utf8)))
            #expect(throws: IngestionError.lineTooLong(path: "mem", line: 2, limit: 10)) { try results[1].get() }
            #expect(try results[2].get() == .init(number: 3, bytes: Array("after".utf8)))
            #expect(throws: IngestionError.lineTooLong(path: "mem", line: 4, limit: 10)) { try results[3].get() }
            #expect(try results[4].get() == .init(number: 5, bytes: Array(String(repeating: "z", count: 10).utf8)))
            #expect(throws: IngestionError.lineTooLong(path: "mem", line: 6, limit: 10)) { try results[5].get() }
        }
    }

    @Test func fileLineReaderOverGzipWithLongLine() throws {
        try withTempDirectory { dir in
            let content = Array("{\"a\":1}\n\(String(repeating: "q", count: 300_000))\n{\"a\":2}\n".utf8)
            let url = dir.appendingPathComponent("lines.gz")
            try write(try gzip(content, in: dir), to: url)
            let reader = try FileLineReader(path: url.path, maxLineLength: 1_024, chunkSize: 4_096)
            defer { reader.close() }
            var results: [Result<LineSplitter.Line, IngestionError>] = []
            while let line = try reader.nextLine() { results.append(line) }
            #expect(results.count == 3)
            guard results.count == 3 else { return }
            #expect(try results[0].get().bytes == Array("{\"a\":1}".utf8))
            #expect(throws: IngestionError.lineTooLong(path: url.path, line: 2, limit: 1_024)) { try results[1].get() }
            #expect(try results[2].get() == .init(number: 3, bytes: Array("{\"a\":2}".utf8)))
        }
    }

    /// About 50 MB of decompressed lines, read chunk by chunk; every chunk stays within the chunk size.
    @Test func largeGzipIsStreamedInBoundedChunks() throws {
        try withTempDirectory { dir in
            var content: [UInt8] = []
            content.reserveCapacity(50 * 1024 * 1024 + 128)
            var lineCount = 0
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            while content.count < 50 * 1024 * 1024 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                content += Array("{\"seq\":\(lineCount),\"r\":\"\(String(state, radix: 16))\"}\n".utf8)
                lineCount += 1
            }
            let url = dir.appendingPathComponent("big.json.gz")
            try write(try gzip(content, in: dir, level: 1), to: url)
            content = []

            let chunkSize = CompressedFileReader.defaultChunkSize
            let reader = try CompressedFileReader(path: url.path, chunkSize: chunkSize)
            defer { reader.close() }
            #expect(reader.isCompressed)
            var splitter = LineSplitter(path: url.path, maxLineLength: 4_096)
            var largestChunk = 0
            var seen = 0
            var misnumbered = 0
            func drainLines() {
                while let line = splitter.nextLine() {
                    seen += 1
                    if (try? line.get().number) != seen { misnumbered += 1 }
                }
            }
            while let chunk = try reader.nextChunk() {
                largestChunk = max(largestChunk, chunk.count)
                splitter.append(chunk)
                drainLines()
            }
            splitter.finish()
            drainLines()
            #expect(largestChunk <= chunkSize)
            #expect(seen == lineCount)
            #expect(misnumbered == 0)
        }
    }
}
