#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

@Suite("--follow reads links dropped into the folder (end to end)")
struct FollowLinkTests {
    @Test("a symbolic link to a file and a hard link appearing in the folder are read like dropped files; a dangling link is reported")
    func linksAreRead() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("in"), withIntermediateDirectories: true)
            try project.write(cloudTrailLog(["sym-1", "sym-2"]), "elsewhere/a.json")
            try project.write(cloudTrailLog(["hard-1"]), "elsewhere/b.json")
            let follow = try BackgroundRun(tripline, ["run", "--rules", "rules", "--state-dir", "s1", "--follow", "in"], in: dir)
            defer { follow.signal(SIGKILL) }
            usleep(500_000)
            #expect(symlink(project.path("elsewhere/a.json"), project.path("in/a.json")) == 0)
            #expect(project.waitForDeliveries(2), "the symbolic link is read: \(project.delivered())")
            #expect(link(project.path("elsewhere/b.json"), project.path("in/b.json")) == 0)
            #expect(project.waitForDeliveries(3), "the hard link is read: \(project.delivered())")
            #expect(symlink(project.path("elsewhere/missing.json.gz"), project.path("in/c.json.gz")) == 0)
            usleep(500_000)
            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(project.delivered() == ["hard-1", "sym-1", "sym-2"])
            #expect(result.stderr.contains("in/c.json.gz: dangling symbolic link to '\(project.path("elsewhere/missing.json.gz"))' (No such file or directory); skipped"),
                    "\(result.stderr)")
            #expect(result.stdout.contains("files with errors: 1"), "\(result.stdout)")
        }
    }
}
