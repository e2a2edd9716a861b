#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import TriplineRouter

/// How many descriptors of this process are open on `path` (or on the file that was at `path`
/// and has been deleted); other tests running meanwhile open and close their own.
private func descriptors(on path: String) -> Int {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return entries.filter { entry in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + entry) else { return false }
        return target == path || target == path + " (deleted)"
    }.count
}

private func lines(_ path: String) -> [String] {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
}

@Suite("File subscriptions: one descriptor kept open across messages, reopened when the file is rotated or removed")
struct AppendFilesTests {
    @Test("many lines, one open: the descriptor stays open between messages and is closed by closeAll")
    func keepsTheFileOpenAcrossMessages() throws {
        try withRouterTempDirectory { dir in
            let files = AppendFiles()
            let path = dir.appendingPathComponent("sub/dir/out.ndjson").path
            for index in 0..<100 { try files.append(Array("{\"n\":\(index)}\n".utf8), to: path, pathAsWritten: "out.ndjson") }
            #expect(files.openCount == 1)
            #expect(descriptors(on: path) == 1, "one descriptor for 100 lines")
            #expect(lines(path) == (0..<100).map { "{\"n\":\($0)}" }, "the missing directory was created; every line in order")
            files.closeAll()
            #expect(files.openCount == 0 && descriptors(on: path) == 0)
            // A later message opens it again.
            try files.append(Array("{\"n\":100}\n".utf8), to: path, pathAsWritten: "out.ndjson")
            #expect(lines(path).count == 101)
        }
    }

    @Test("a file renamed away (log rotation) gets no more lines: the next message creates a new file at the path")
    func followsRotation() throws {
        try withRouterTempDirectory { dir in
            let files = AppendFiles()
            let path = dir.appendingPathComponent("out.ndjson").path
            let rotated = dir.appendingPathComponent("out.ndjson.1").path
            try files.append(Array("1\n".utf8), to: path, pathAsWritten: "out.ndjson")
            try FileManager.default.moveItem(atPath: path, toPath: rotated)
            try files.append(Array("2\n".utf8), to: path, pathAsWritten: "out.ndjson")
            #expect(lines(rotated) == ["1"])
            #expect(lines(path) == ["2"])
            // Rotated onto a file someone else created at the path: written there too.
            try FileManager.default.moveItem(atPath: path, toPath: rotated + "2")
            _ = FileManager.default.createFile(atPath: path, contents: Data("0\n".utf8))
            try files.append(Array("3\n".utf8), to: path, pathAsWritten: "out.ndjson")
            #expect(lines(path) == ["0", "3"])
            #expect(files.openCount == 1, "the rotated files' descriptors were closed")
        }
    }

    @Test("a removed file (and its directory) is created again by the next message")
    func recreatesARemovedFile() throws {
        try withRouterTempDirectory { dir in
            let files = AppendFiles()
            let path = dir.appendingPathComponent("logs/out.ndjson").path
            try files.append(Array("1\n".utf8), to: path, pathAsWritten: "logs/out.ndjson")
            try FileManager.default.removeItem(atPath: dir.appendingPathComponent("logs").path)
            try files.append(Array("2\n".utf8), to: path, pathAsWritten: "logs/out.ndjson")
            #expect(lines(path) == ["2"])
            #expect(descriptors(on: path) == 1 && files.openCount == 1, "the removed file's descriptor was closed")
            files.closeAll()
        }
    }

    @Test("a failed write is an error naming the path, and the next message opens the file afresh")
    func failedWritesAreReported() throws {
        let files = AppendFiles()
        #expect(throws: FileAppendError.cannotWrite(path: "full", reason: String(cString: strerror(ENOSPC)))) {
            try files.append(Array("x\n".utf8), to: "/dev/full", pathAsWritten: "full")
        }
        #expect(files.openCount == 0)
        #expect(throws: FileAppendError.self) {
            try files.append(Array("x\n".utf8), to: "/proc/no/such/dir/out", pathAsWritten: "out")
        }
    }

    @Test("concurrent messages to one file: every line whole, none lost")
    func concurrentAppendsStayWhole() throws {
        try withRouterTempDirectory { dir in
            let files = AppendFiles()
            let path = dir.appendingPathComponent("out.ndjson").path
            DispatchQueue.concurrentPerform(iterations: 8) { worker in
                for index in 0..<200 {
                    try? files.append(Array("{\"w\":\(worker),\"n\":\(index),\"pad\":\"\(String(repeating: "x", count: 500))\"}\n".utf8),
                                      to: path, pathAsWritten: "out.ndjson")
                }
            }
            let written = lines(path)
            #expect(written.count == 1_600)
            #expect(written.allSatisfy { $0.hasPrefix("{\"w\":") && $0.hasSuffix("\"}") })
        }
    }

    @Test("a file that ends in the middle of a line (a write cut short) gets its newline before the next line")
    func aTornLineIsEndedBeforeTheNext() throws {
        try withRouterTempDirectory { dir in
            let path = dir.appendingPathComponent("out.ndjson").path
            try Data("{\"n\":1}\n{\"n\":2,\"cut".utf8).write(to: URL(fileURLWithPath: path))
            let files = AppendFiles()
            try files.append(Array("{\"n\":3}\n".utf8), to: path, pathAsWritten: "out.ndjson")
            try files.append(Array("{\"n\":4}\n".utf8), to: path, pathAsWritten: "out.ndjson")
            #expect(lines(path) == [#"{"n":1}"#, #"{"n":2,"cut"#, #"{"n":3}"#, #"{"n":4}"#])
            files.closeAll()
        }
    }

    @Test("a FIFO without a reader fails the append at once (retried later) instead of blocking the worker")
    func aFIFOWithoutReaderFailsAtOnce() throws {
        try withRouterTempDirectory { dir in
            let path = dir.appendingPathComponent("pipe.ndjson").path
            #expect(mkfifo(path, 0o644) == 0)
            let files = AppendFiles()
            let finished = DispatchSemaphore(value: 0)
            let outcome = OutcomeBox()
            Thread.detachNewThread {
                do { try files.append(Array("x\n".utf8), to: path, pathAsWritten: "pipe.ndjson") } catch { outcome.error = error }
                finished.signal()
            }
            let returned = finished.wait(timeout: .now() + 5) == .success
            #expect(returned, "the append blocked on a FIFO with no reader")
            if !returned {
                // Unblock the writer so the test process can go on.
                let reader = open(path, O_RDONLY | O_NONBLOCK)
                _ = finished.wait(timeout: .now() + 5)
                close(reader)
            }
            #expect(outcome.error.map { "\($0)".hasPrefix("cannot open pipe.ndjson: a FIFO with no reader (") } == true, "\(String(describing: outcome.error))")
        }
    }

    @Test("a FIFO whose reader stopped reading fails the append after its timeout; the next line starts on a line of its own")
    func aStuckFIFOTimesOut() throws {
        try withRouterTempDirectory { dir in
            let path = dir.appendingPathComponent("pipe.ndjson").path
            #expect(mkfifo(path, 0o644) == 0)
            let reader = open(path, O_RDONLY | O_NONBLOCK)
            try #require(reader >= 0)
            defer { close(reader) }
            let files = AppendFiles()
            defer { files.closeAll() }
            // More than the pipe holds (64 KiB): part goes out, then nobody reads.
            let line: [UInt8] = Array(repeating: UInt8(ascii: "a"), count: 256 * 1024) + [0x0A]
            let started = Date()
            var failure: FileAppendError?
            do throws(FileAppendError) { try files.append(line, to: path, pathAsWritten: "pipe.ndjson", timeoutSeconds: 0.3) } catch { failure = error }
            let waited = Date().timeIntervalSince(started)
            guard case .timedOut(let shown, let seconds, let written)? = failure else {
                Issue.record("expected a timeout, got \(String(describing: failure))"); return
            }
            #expect(shown == "pipe.ndjson" && seconds == 0.3 && written > 0 && written < line.count)
            #expect(waited >= 0.3 && waited < 5, "waited \(waited)s")
            #expect(failure?.description.hasPrefix("timed out after 0.3s appending to pipe.ndjson (its reader is not reading; ") == true,
                    "\(String(describing: failure))")
            var drained = 0
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = read(reader, &buffer, buffer.count)
                if n <= 0 { break }
                drained += n
            }
            #expect(drained == written)
            // The reader reads again: the next line goes through, after a newline ending the cut one.
            try files.append(Array("{\"n\":2}\n".utf8), to: path, pathAsWritten: "pipe.ndjson", timeoutSeconds: 1)
            let n = read(reader, &buffer, buffer.count)
            #expect(n > 0 && Array(buffer[0..<max(n, 0)]) == Array("\n{\"n\":2}\n".utf8))
        }
    }

    @Test("closeAll returns while an append is stuck (a FIFO whose reader stopped reading)")
    func closeAllDoesNotWaitForAStuckAppend() throws {
        try withRouterTempDirectory { dir in
            let path = dir.appendingPathComponent("pipe.ndjson").path
            #expect(mkfifo(path, 0o644) == 0)
            let reader = open(path, O_RDONLY | O_NONBLOCK)
            #expect(reader >= 0)
            defer { close(reader) }
            let files = AppendFiles()
            let finished = DispatchSemaphore(value: 0)
            // More than the pipe holds (64 KiB): the write blocks until the reader reads.
            let line = Array(repeating: UInt8(ascii: "a"), count: 256 * 1024) + [0x0A]
            Thread.detachNewThread {
                try? files.append(line, to: path, pathAsWritten: "pipe.ndjson")
                finished.signal()
            }
            usleep(200_000)
            let closed = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                files.closeAll()
                closed.signal()
            }
            #expect(closed.wait(timeout: .now() + 5) == .success, "closeAll waited for the stuck append")
            // Let the writer finish: read everything it wrote.
            var buffer = [UInt8](repeating: 0, count: 65_536)
            var total = 0
            let deadline = Date().addingTimeInterval(10)
            while total < line.count && Date() < deadline {
                let n = read(reader, &buffer, buffer.count)
                if n > 0 { total += n } else { usleep(1_000) }
            }
            #expect(finished.wait(timeout: .now() + 5) == .success)
            #expect(total == line.count)
        }
    }
}

/// The error a background append threw, read after it signalled.
private final class OutcomeBox: @unchecked Sendable {
    var error: (any Error)?
}
