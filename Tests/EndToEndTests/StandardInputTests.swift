import Foundation
import Testing
import TriplineJSON

extension TriplineBinary {
    /// Runs with `arguments`, writing `stdin` into a pipe (as `zcat x | tripline …` does, not a file).
    func runPiped(_ arguments: [String], stdin: [UInt8], in directory: URL) throws -> Result {
        let output = directory.appendingPathComponent("piped-\(UUID().uuidString).out")
        let errors = directory.appendingPathComponent("piped-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        try input.fileHandleForWriting.write(contentsOf: Data(stdin))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: try String(contentsOf: output, encoding: .utf8),
                      stderr: try String(contentsOf: errors, encoding: .utf8))
    }
}

@Suite("Standard input is read like a file: gzip, CloudTrail logs, NDJSON (end to end)")
struct StandardInputTests {
    @Test("zcat x.json.gz | tripline normalize, and the gzip itself piped in, print every record's envelope")
    func normalizePipedLog() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let ids = ["p-1", "p-2", "p-3"]
            let log = cloudTrailLog(ids)
            for stdin in [Array(log.utf8), try systemGzipped(log, in: dir)] {
                let result = try tripline.runPiped(["normalize"], stdin: stdin, in: dir)
                #expect(result.status == 0 && result.stderr.isEmpty, "\(result)")
                let envelopes = try result.stdoutLines.map { try JSONParser.parse($0) }
                #expect(envelopes.map { $0["detail"]?["eventID"]?.stringValue ?? "?" } == ids)
                #expect(envelopes.allSatisfy { $0["detail-type"] == "AWS API Call via CloudTrail" })
            }
        }
    }

    @Test("jq '.Records[]' without -c (pretty-printed records one after another) piped into normalize and run: every record, each at its line")
    func prettyPrintedRecordsPiped() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let ids = ["j-1", "j-2", "j-3"]
            // As jq writes them: two-space indentation, each object from a line that is only `{`.
            let objects = try ids.map { MixedInputEndToEndTests.indent(try JSONParser.parse(cloudTrailRecord($0)), level: 0) }
            let pretty = objects.joined(separator: "\n") + "\n"
            let normalized = try tripline.runPiped(["normalize"], stdin: Array(pretty.utf8), in: dir)
            #expect(normalized.status == 0 && normalized.stderr.isEmpty, "\(normalized)")
            #expect(try normalized.stdoutLines.map { try JSONParser.parse($0)["detail"]?["eventID"]?.stringValue } == ids)

            let project = try CatchAllProject(root: dir)
            let run = try tripline.runPiped(["run", "--rules", "rules", "--state-dir", "s"], stdin: Array(pretty.utf8), in: dir)
            #expect(run.status == 0, "\(run)")
            #expect(run.stdout.contains("normalized: 3, bad records: 0"), "\(run.stdout)")
            #expect(project.delivered() == ids)

            // The second record cut short of its closing brace: reported once, at the line it starts
            // on and the line the damage shows on; the records around it are still read.
            let lines = objects.map { $0.split(separator: "\n", omittingEmptySubsequences: false).count }
            let broken = objects[0] + "\n" + objects[1].dropLast() + "\n" + objects[2] + "\n"
            let damaged = try tripline.runPiped(["normalize"], stdin: Array(broken.utf8), in: dir)
            #expect(damaged.status == 1, "\(damaged)")
            #expect(try damaged.stdoutLines.map { try JSONParser.parse($0)["detail"]?["eventID"]?.stringValue } == ["j-1", "j-3"])
            #expect(damaged.stderr == "stdin:\(lines[0] + 1): invalid JSON at line \(lines[0] + lines[1] + 1): expected ',' or '}' in the "
                    + "top-level object, found '{' (reading goes on at the next line that starts with '{'); skipped\n", "\(damaged.stderr)")
        }
    }

    @Test("cat x.json.gz | tripline run delivers every record")
    func runPipedGzip() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            let ids = (1...6).map { "g-\($0)" }
            let result = try tripline.runPiped(["run", "--rules", "rules", "--state-dir", "s1"], stdin: try systemGzipped(cloudTrailLog(ids), in: dir), in: dir)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("normalized: 6, bad records: 0"), "\(result.stdout)")
            #expect(project.delivered() == ids)
        }
    }
}
