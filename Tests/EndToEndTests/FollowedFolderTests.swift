#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TriplineJSON

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

    /// prune.md F7, the other ways the folder goes: moved away and back, deleted. Each departure is one
    /// JSON note (`--log-format json`), the folder back at its path is followed again without reading
    /// what its checkpoints say was read, and a stop while it is missing ends the run at once.
    @Test("the followed folder moved away and back, then deleted: one JSON note each time, only unread files read, SIGTERM while it is missing stops at once")
    func followedFolderGoneAndBack() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            try project.write(cloudTrailLog(["r0"]), "in/r0.json")
            let follow = try BackgroundRun(tripline, ["run", "--rules", "rules", "--state-dir", "s1", "--log-format", "json", "--follow", "in"],
                                           in: dir)
            defer { follow.signal(SIGKILL) }
            /// The messages of the run's JSON notes about the followed folder so far.
            func folderNotes() -> [String] {
                let text = (try? String(contentsOf: follow.stderr, encoding: .utf8)) ?? ""
                return text.split(separator: "\n").compactMap { line in
                    guard let note = try? JSONParser.parse(Array(line.utf8)), note["type"]?.stringValue == "note",
                          let message = note["message"]?.stringValue, message.contains("the followed folder") else { return nil }
                    return message
                }
            }
            func waitForNotes(_ count: Int) -> Bool {
                let deadline = Date().addingTimeInterval(10)
                while Date() < deadline, folderNotes().count < count { usleep(20_000) }
                return folderNotes().count >= count
            }
            #expect(project.waitForDeliveries(1), "\(project.delivered())")
            // r0's checkpoint is committed before the folder goes.
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline, try tripline.run(["status", "--json", "--state-dir", "s1"], in: dir).stdout.contains(#""filesRead":0"#) {
                usleep(50_000)
            }
            #expect(rename(project.path("in"), project.path("in.away")) == 0)
            #expect(waitForNotes(1), "\(folderNotes())")
            try project.write(cloudTrailLog(["new1"]), "in.away/new1.json")
            #expect(rename(project.path("in.away"), project.path("in")) == 0)
            #expect(project.waitForDeliveries(2), "\(project.delivered())")
            #expect(waitForNotes(2), "\(folderNotes())")
            try FileManager.default.removeItem(atPath: project.path("in"))
            #expect(waitForNotes(3), "\(folderNotes())")

            let stopped = Date()
            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(Date().timeIntervalSince(stopped) < 5, "stopped while the folder is missing")
            #expect(result.status == 0, "\(result)")
            #expect(folderNotes() == [
                "tripline run: the followed folder in was moved or deleted; waiting for it to reappear",
                "tripline run: the followed folder in is there again; following it and reading its files",
                "tripline run: the followed folder in was moved or deleted; waiting for it to reappear",
            ])
            #expect(project.delivered() == ["new1", "r0"], "r0 is not read again when the folder is back")
        }
    }
}
