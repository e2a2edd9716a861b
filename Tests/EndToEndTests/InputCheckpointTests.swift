#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

@Suite("Checkpoints tell a replaced file from a grown or untouched one (end to end)")
struct InputCheckpointTests {
    private let run = ["run", "--rules", "rules", "--state-dir", "s1", "in"]

    @Test("a file replaced by a larger one is read from its start, and the log says so")
    func replacedByALargerFile() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            let batch1 = ["b1-1", "b1-2", "b1-3"], batch2 = (1...6).map { "b2-\($0)" }
            try project.write(cloudTrailLog(batch1), "in/latest.json")
            let first = try tripline.run(run, in: dir)
            #expect(first.status == 0 && project.delivered() == batch1, "\(first)")
            // cp batch2.json in/latest.json: same path, same inode, other content, larger.
            try project.write(cloudTrailLog(batch2), "in/latest.json")
            let second = try tripline.run(run, in: dir)
            #expect(second.status == 0, "\(second)")
            #expect(project.delivered() == (batch1 + batch2).sorted(), "every record of the new content is delivered once")
            #expect(second.stderr.contains("in/latest.json: new content (its first "), "\(second.stderr)")
            #expect(second.stdout.contains("6 events read from 1 source"), "\(second.stdout)")
        }
    }

    @Test("an already-read file touched, copied again or moved in again with the same content delivers nothing")
    func sameContentIsNotReadAgain() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            let batch = ["t-1", "t-2", "t-3"]
            try project.write(cloudTrailLog(batch), "in/latest.json")
            #expect(try tripline.run(run, in: dir).status == 0 && project.delivered() == batch)

            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(120)], ofItemAtPath: project.path("in/latest.json"))
            let touched = try tripline.run(run, in: dir)
            #expect(touched.status == 0 && touched.stdout.contains("0 events read"), "touch: \(touched)")
            #expect(touched.stdout.contains("files already read (checkpoints; --from-start to read them again): 1"), "\(touched.stdout)")

            try project.write(cloudTrailLog(batch), "in/latest.json")
            let copied = try tripline.run(run, in: dir)
            #expect(copied.status == 0 && copied.stdout.contains("0 events read"), "copied again: \(copied)")

            try project.write(cloudTrailLog(batch), "staging.json")
            #expect(rename(project.path("staging.json"), project.path("in/latest.json")) == 0)
            let moved = try tripline.run(run, in: dir)
            #expect(moved.status == 0 && moved.stdout.contains("0 events read"), "moved in again: \(moved)")
            #expect(project.delivered() == batch, "nothing delivered twice")
        }
    }

    @Test("--follow: a file moved in over one already read is read from its start")
    func followReplacedByMove() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            let batch1 = ["m1-1", "m1-2", "m1-3"], batch2 = (1...6).map { "m2-\($0)" }
            try project.write(cloudTrailLog(batch1), "in/latest.json")
            let follow = try BackgroundRun(tripline, ["run", "--rules", "rules", "--state-dir", "s1", "--follow", "in"], in: dir)
            defer { follow.signal(SIGKILL) }
            #expect(project.waitForDeliveries(3), "the file already there is read")
            try project.write(cloudTrailLog(batch2), "staging.json")
            #expect(rename(project.path("staging.json"), project.path("in/latest.json")) == 0)
            #expect(project.waitForDeliveries(9), "all six records of the moved-in file: \(project.delivered())")
            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(result.status == 0, "\(result)")
            #expect(project.delivered() == (batch1 + batch2).sorted())
            #expect(result.stderr.contains("in/latest.json: new content ("), "\(result.stderr)")
        }
    }
}
