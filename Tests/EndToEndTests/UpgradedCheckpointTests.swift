#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TriplineJSON

@Suite("Checkpoints written before directory devices were recorded (schema v6) are not forgotten on no proof (end to end)")
struct UpgradedCheckpointTests {
    /// `filesRead` (or another count) of `tripline status --json` for the state directory `s1`.
    private func filesRead(_ tripline: TriplineBinary, in dir: URL, key: String = "filesRead") throws -> Int? {
        let status = try tripline.run(["status", "--json", "--state-dir", "s1"], in: dir)
        return try JSONParser.parse(Array(status.stdout.utf8))[key]?.numberValue.map { Int($0.comparableValue) }
    }

    @Test("a checkpoint of no recorded device (from the v6 schema) is kept while its file is missing, until a run sees the file again")
    func unknownDeviceKeptUntilSeen() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            try project.write(cloudTrailLog(["v6-a"]), "in/a.json")
            try project.write(cloudTrailLog(["v6-b"]), "in/b.json")
            let run = ["run", "--rules", "rules", "--state-dir", "s1", "--dedupe-window", "0", "--forget-missing", "0", "in"]
            #expect(try tripline.run(run, in: dir).status == 0)
            // As the upgrade from schema v6 leaves them: no directory device recorded.
            try forgetCheckpointDevices(in: dir.appendingPathComponent("s1/tripline.db").path)

            // a.json away (its mount not back yet): two runs with no grace forget nothing.
            #expect(rename(project.path("in/a.json"), project.path("a.json.away")) == 0)
            #expect(try tripline.run(run, in: dir).status == 0)
            #expect(try tripline.run(run, in: dir).status == 0)
            #expect(try filesRead(tripline, in: dir) == 2)
            #expect(try filesRead(tripline, in: dir, key: "filesGone") == 0)

            // Back: skipped by its checkpoint (not delivered again), and its device is recorded now.
            #expect(rename(project.path("a.json.away"), project.path("in/a.json")) == 0)
            let back = try tripline.run(run, in: dir)
            #expect(back.stdout.contains("files already read (checkpoints; --from-start to read them again): 2"), "\(back)")
            #expect(project.delivered() == ["v6-a", "v6-b"])
            // Deleted for good now: forgotten like any other.
            try FileManager.default.removeItem(atPath: project.path("in/a.json"))
            #expect(try tripline.run(run, in: dir).status == 0)
            #expect(try filesRead(tripline, in: dir) == 1)
        }
    }
}

/// Sets every checkpoint's directory device to 0 in the state database at `database`, as the
/// upgrade from schema v6 leaves them (through python3's sqlite3, so the binary under test is not involved).
private func forgetCheckpointDevices(in database: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                         + "c.execute('UPDATE checkpoints SET directory_device = 0'); c.commit()", database]
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "python3 could not update \(database)", sourceLocation: sourceLocation)
}
