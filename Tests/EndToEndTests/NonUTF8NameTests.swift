#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TriplineJSON

/// Writes `text` at the raw path `relative` (bytes, as a Latin-1 tool names files) under `project`.
private func writeRaw(_ text: String, _ relative: [UInt8], in project: CatchAllProject) throws {
    try FileManager.default.createDirectory(atPath: project.path("in"), withIntermediateDirectories: true)
    let path = Array(project.root.path.utf8) + [0x2F] + relative
    let fd = (path.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer {
        open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    }
    try #require(fd >= 0, "cannot create \(String(decoding: path, as: UTF8.self))")
    defer { _ = close(fd) }
    let bytes = Array(text.utf8)
    try #require(bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) } == bytes.count)
}

private func mkdirRaw(_ relative: [UInt8], in project: CatchAllProject) throws {
    let path = Array(project.root.path.utf8) + [0x2F] + relative
    try #require((path.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { mkdir($0.baseAddress!, 0o755) } == 0)
}

/// `relative`'s bytes with each `%` followed by two hex digits replaced by that byte (`in/caf%E9.json`).
private func raw(_ relative: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var rest = Substring(relative)
    while let first = rest.first {
        if first == "%", let byte = UInt8(rest.dropFirst().prefix(2), radix: 16) {
            bytes.append(byte)
            rest = rest.dropFirst(3)
        } else {
            bytes += Array(String(first).utf8)
            rest = rest.dropFirst()
        }
    }
    return bytes
}

@Suite("Input files whose names are not valid UTF-8 are read, once, and named with \\xNN (end to end)")
struct NonUTF8NameEndToEndTests {
    private let run = ["run", "--rules", "rules", "--state-dir", "s1", "--dedupe-window", "0"]

    /// `filesRead` of `tripline status --json` for the state directory `s1`.
    private func filesRead(_ tripline: TriplineBinary, in dir: URL) throws -> Int? {
        let status = try tripline.run(["status", "--json", "--state-dir", "s1"], in: dir)
        return try JSONParser.parse(Array(status.stdout.utf8))["filesRead"]?.numberValue.map { Int($0.comparableValue) }
    }

    @Test("a walked directory and an AWSLogs tree: Latin-1 file and directory names are read, and not again on the next run")
    func walkedNames() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            try project.write(cloudTrailLog(["ok"]), "in/ok.json")
            try writeRaw(cloudTrailLog(["latin1"]), raw("in/caf%E9.json"), in: project)
            try mkdirRaw(raw("in/d%FF"), in: project)
            try writeRaw(cloudTrailLog(["in-dir"]), raw("in/d%FF/x.json"), in: project)
            let day = "in/AWSLogs/111122223333/CloudTrail/eu-west-1/2024/03/01"
            try project.write(cloudTrailLog(["tree"]), day + "/111122223333_CloudTrail_eu-west-1_20240301T1000Z_a.json")
            try writeRaw(cloudTrailLog(["tree-latin1"]), raw(day + "/r%E9sum%E9.json"), in: project)

            let first = try tripline.run(run + ["in"], in: dir)
            #expect(first.status == 0 && first.stdout.contains("5 events read from 5 sources"), "\(first)")
            #expect(first.stdout.contains("files with errors: 0"), "\(first.stdout)")
            #expect(!first.stderr.contains("UTF-8"), "\(first.stderr)")
            #expect(project.delivered() == ["in-dir", "latin1", "ok", "tree", "tree-latin1"])
            #expect(try filesRead(tripline, in: dir) == 5)

            let second = try tripline.run(run + ["in"], in: dir)
            #expect(second.status == 0, "\(second)")
            #expect(second.stdout.contains("files already read (checkpoints; --from-start to read them again): 5"), "\(second.stdout)")
            #expect(project.delivered() == ["in-dir", "latin1", "ok", "tree", "tree-latin1"], "nothing read twice")
            #expect(try filesRead(tripline, in: dir) == 5)

            // A problem in such a file names it, escaped, and counts as usual.
            try writeRaw("not json\n", raw("in/worse%E9.json"), in: project)
            let bad = try tripline.run(run + ["--linger", "0", "in"], in: dir)
            #expect(bad.stderr.contains(#"in/worse\xE9.json:1"#), "\(bad.stderr)")
            #expect(bad.status == 1 && bad.stdout.contains("bad records: 1"), "\(bad)")
        }
    }

    @Test("a name that is not valid UTF-8 given on the command line is read, and not again on the next run; a missing one is named")
    func commandLineName() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            try writeRaw(cloudTrailLog(["arg"]), raw("in/caf%E9.json"), in: project)
            // Process takes Strings; the shell makes the argument's bytes (printf's \351 is E9).
            let shell = TriplineBinary(url: URL(fileURLWithPath: "/bin/sh"))
            func runWith(_ name: String) throws -> TriplineBinary.Result {
                let script = #"exec "$0" "$@" "$(printf '\#(name)')""#
                return try shell.run(["-c", script, tripline.url.path] + run, in: dir)
            }
            let first = try runWith(#"in/caf\351.json"#)
            #expect(first.status == 0 && first.stdout.contains("1 event read from 1 source"), "\(first)")
            #expect(project.delivered() == ["arg"])
            let second = try runWith(#"in/caf\351.json"#)
            #expect(second.status == 0 && second.stdout.contains("files already read (checkpoints; --from-start to read them again): 1"), "\(second)")
            #expect(project.delivered() == ["arg"])
            let missing = try runWith(#"in/nope\351.json"#)
            #expect(missing.status != 0 && missing.stderr.contains(#"in/nope\xE9.json: No such file or directory"#), "\(missing)")
        }
    }

    @Test("--follow: names that are not valid UTF-8, there at the start, written later and renamed, are each read once")
    func followedNames() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try CatchAllProject(root: dir)
            try writeRaw(cloudTrailLog(["start"]), raw("in/caf%E9.json"), in: project)
            let follow = try BackgroundRun(tripline, run + ["--follow", "in"], in: dir)
            defer { follow.signal(SIGKILL) }
            #expect(project.waitForDeliveries(1), "\(project.delivered())")
            try writeRaw(cloudTrailLog(["later"]), raw("in/na%EFve.json"), in: project)
            #expect(project.waitForDeliveries(2), "\(project.delivered())")
            usleep(300_000)  // the batch holding the checkpoints commits
            let from = (Array(project.path("in").utf8) + raw("/na%EFve.json") + [0]).map { CChar(bitPattern: $0) }
            let to = (Array(project.path("in").utf8) + raw("/na%EFve-2.json") + [0]).map { CChar(bitPattern: $0) }
            #expect(rename(from, to) == 0)
            usleep(1_000_000)
            follow.signal(SIGTERM)
            let result = follow.wait()
            #expect(result.status == 0, "\(result)")
            #expect(!result.stderr.contains("UTF-8"), "\(result.stderr)")
            #expect(project.delivered() == ["later", "start"], "the renamed file is not read again")

            let again = try tripline.run(run + ["in"], in: dir)
            #expect(again.status == 0 && again.stdout.contains("files already read (checkpoints; --from-start to read them again): 2"), "\(again)")
            #expect(project.delivered() == ["later", "start"])
        }
    }
}
