#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TriplineJSON

@Suite("Checkpoints of files gone from the input directories are forgotten; renamed files keep theirs (end to end)")
struct CheckpointPruningTests {
    /// `filesRead` (or another count) of `tripline status --json` for the state directory `s1`.
    private func filesRead(_ tripline: TriplineBinary, in dir: URL, key: String = "filesRead") throws -> Int? {
        let status = try tripline.run(["status", "--json", "--state-dir", "s1"], in: dir)
        return try JSONParser.parse(Array(status.stdout.utf8))[key]?.numberValue.map { Int($0.comparableValue) }
    }

    @Test("a walked directory: a deleted file's checkpoint goes once found gone twice --forget-missing apart; a missing root forgets nothing")
    func walkedDirectory() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            try project.write(cloudTrailLog(["w-1"]), "in/2024/01/a.json")
            try project.write(cloudTrailLog(["w-2"]), "in/2024/02/b.json")
            let run = ["run", "--rules", "rules", "--state-dir", "s1"]
            #expect(try tripline.run(run + ["in"], in: dir).status == 0)
            #expect(try filesRead(tripline, in: dir) == 2)

            // Retention removed January: with the default grace the checkpoint is only marked.
            try FileManager.default.removeItem(atPath: project.path("in/2024/01"))
            #expect(try tripline.run(run + ["in"], in: dir).status == 0)
            #expect(try filesRead(tripline, in: dir) == 2, "kept for --forget-missing (a day)")
            #expect(try filesRead(tripline, in: dir, key: "filesGone") == 1, "but reported as gone")
            #expect(try tripline.run(["status", "--state-dir", "s1"], in: dir).stdout.contains("1 of them found gone"))
            // The input directory unavailable (unmounted, renamed): nothing is forgotten.
            #expect(rename(project.path("in"), project.path("in.away")) == 0)
            #expect(try tripline.run(run + ["--forget-missing", "0", "in"], in: dir).status != 0)
            #expect(try filesRead(tripline, in: dir) == 2)
            #expect(rename(project.path("in.away"), project.path("in")) == 0)
            let pruned = try tripline.run(run + ["--forget-missing", "0", "in"], in: dir)
            #expect(pruned.status == 0 && pruned.stdout.contains("files already read (checkpoints; --from-start to read them again): 1"), "\(pruned)")
            #expect(try filesRead(tripline, in: dir) == 1)
            #expect(try filesRead(tripline, in: dir, key: "filesGone") == 0)
            #expect(project.delivered() == ["w-1", "w-2"])
            #expect(try tripline.run(run + ["--forget-missing", "soon", "in"], in: dir).status == 64)
        }
    }

    @Test("--follow: deleted files' checkpoints are forgotten while it runs; a file renamed within the folder is not read again")
    func followedFolder() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            let follow = try BackgroundRun(tripline, ["run", "--rules", "rules", "--state-dir", "s1", "--forget-missing", "0", "--follow", "in"], in: dir)
            defer { follow.signal(SIGKILL) }
            try FileManager.default.createDirectory(atPath: project.path("in/sub"), withIntermediateDirectories: true)
            for id in ["f-1", "f-2", "f-3"] { try project.write(cloudTrailLog([id]), "in/\(id).json") }
            #expect(project.waitForDeliveries(3), "\(project.delivered())")
            usleep(300_000)  // the batch holding the checkpoints commits
            try FileManager.default.removeItem(atPath: project.path("in/f-1.json"))
            try FileManager.default.removeItem(atPath: project.path("in/f-2.json"))
            #expect(rename(project.path("in/f-3.json"), project.path("in/sub/f-3-renamed.json")) == 0)
            // A check runs at most every 5 seconds with --forget-missing 0.
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline, (try? filesRead(tripline, in: dir)) != 1 { usleep(200_000) }
            #expect(try filesRead(tripline, in: dir) == 1, "only the renamed file's checkpoint is left")
            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("3 events read from 3 sources"), "the renamed file is not read again: \(result.stdout)")
            #expect(project.delivered() == ["f-1", "f-2", "f-3"])
        }
    }
}
