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
