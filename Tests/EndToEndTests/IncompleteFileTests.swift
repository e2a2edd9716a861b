#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

@Suite("Files read while incomplete are read again from the cut when they grow (end to end)")
struct IncompleteFileTests {
    private let run = ["run", "--rules", "rules", "--state-dir", "s1", "in"]

    @Test("a file cut short (NDJSON mid-line, a log mid-record, a gzip stream) is reported; once complete, every record is delivered once",
          arguments: ["ndjson", "log", "gzip"])
    func cutThenCompleted(kind: String) throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            let ids = (1...(kind == "gzip" ? 300 : 3)).map { "\(kind)-\($0)-\(UUID().uuidString)" }
            let full: [UInt8]
            switch kind {
            case "ndjson": full = Array(ids.map(cloudTrailRecord).joined(separator: "\n").utf8)  // the last line has no newline
            case "log": full = Array(cloudTrailLog(ids).utf8)
            default: full = try systemGzipped(cloudTrailLog(ids), in: dir)
            }
            let name = kind == "gzip" ? "in/log.json.gz" : "in/events.json"
            try project.write(Array(full.prefix(kind == "gzip" ? full.count / 2 : full.count - 40)), name)
            let first = try tripline.run(run, in: dir)
            #expect(first.status == 1, "\(first)")
            #expect(first.stderr.contains(": incomplete at end of file ("), "\(first.stderr)")
            #expect(first.stderr.contains("it is read again from here if the file grows"), "\(first.stderr)")
            #expect(!first.stderr.contains("invalid JSON") && !first.stderr.contains("malformed"), "one clear line, no bad record: \(first.stderr)")
            #expect(first.stdout.contains("incomplete at the end: 1"), "\(first.stdout)")
            let delivered = project.delivered()
            #expect(!delivered.isEmpty && delivered.count < ids.count, "\(delivered.count)")

            try project.write(full, name)
            let second = try tripline.run(run, in: dir)
            #expect(second.status == 0, "\(second)")
            #expect(project.delivered() == ids.sorted(), "the record at the cut is read once the file is complete; nothing twice")
            #expect(second.stdout.contains("files resumed part-way"), "\(second.stdout)")
        }
    }

    @Test("--follow: a file written in several appends is read whole without errors; one left unfinished is reported once, at the end")
    func followWrittenInAppends() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("in"), withIntermediateDirectories: true)
            let follow = try BackgroundRun(tripline, ["run", "--rules", "rules", "--state-dir", "s1", "--follow", "in"], in: dir)
            defer { follow.signal(SIGKILL) }
            usleep(500_000)
            let ids = (1...5).map { "append-\($0)" }
            let text = Array(cloudTrailLog(ids).utf8)
            let piece = (text.count + 4) / 5
            try project.write("", "in/written.json")
            for start in stride(from: 0, to: text.count, by: piece) {
                try project.append(String(decoding: text[start..<min(text.count, start + piece)], as: UTF8.self), "in/written.json")
                usleep(300_000)
            }
            #expect(project.waitForDeliveries(5), "\(project.delivered())")
            try project.write(#"{"Records":["# + String(cloudTrailRecord("never").prefix(40)), "in/unfinished.json")
            usleep(1_000_000)
            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(project.delivered() == ids, "all five records of the file written in appends")
            let errors = result.stderr.split(separator: "\n").filter { !$0.hasPrefix("tripline run: ") }
            #expect(errors == ["in/unfinished.json Records[0]: incomplete at end of file (the file ends inside the Records array); "
                               + "it is read again from here if the file grows"], "\(result.stderr)")
            #expect(result.stdout.contains("bad records: 0, files with errors: 0, incomplete at the end: 1"), "\(result.stdout)")
        }
    }
}
