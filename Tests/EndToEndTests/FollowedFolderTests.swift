#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

@Suite("--follow when the followed folder is replaced (end to end)")
struct FollowedFolderTests {
    @Test("the followed folder moved away and made again: noted, and the new folder's files are read; the moved-away folder's are not")
    func followedFolderReplaced() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            try project.write(cloudTrailLog(["r0"]), "in/r0.json")
            let follow = try BackgroundRun(tripline, ["run", "--rules", "rules", "--state-dir", "s1", "--follow", "in"], in: dir)
            defer { follow.signal(SIGKILL) }
            #expect(project.waitForDeliveries(1), "\(project.delivered())")
            #expect(rename(project.path("in"), project.path("in.old")) == 0)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("in"), withIntermediateDirectories: true)
            try project.write(cloudTrailLog(["new1"]), "in/new1.json")
            try project.write(cloudTrailLog(["old1"]), "in.old/old1.json")
            #expect(project.waitForDeliveries(2), "the file in the new folder is read: \(project.delivered())")
            usleep(1_500_000)
            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(project.delivered() == ["new1", "r0"])
            #expect(result.stderr.contains("tripline run: the followed folder in was"), "\(result.stderr)")
            #expect(!result.stderr.contains("old1"), "\(result.stderr)")
            #expect(result.status == 0, "\(result)")
        }
    }
}
