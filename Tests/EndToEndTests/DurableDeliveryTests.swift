#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TriplineJSON

/// A `tripline` process started in the background, to be signalled or killed.
final class BackgroundRun {
    let process = Process()
    let stdout: URL
    let stderr: URL

    init(_ binary: TriplineBinary, _ arguments: [String], in directory: URL, environment: [String: String]? = nil) throws {
        stdout = directory.appendingPathComponent("bg-\(UUID().uuidString).out")
        stderr = directory.appendingPathComponent("bg-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: stdout.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process.executableURL = binary.url
        process.arguments = arguments
        process.currentDirectoryURL = directory
        if let environment { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        try process.run()
    }

    /// Signals the process while Foundation has not reaped it: a reaped pid may already be another
    /// process's (tests running side by side start many), which a late `defer` must not hit.
    func signal(_ number: Int32) { if process.isRunning { kill(process.processIdentifier, number) } }

    /// Waits for the exit (at most `timeout` seconds, then SIGKILL); returns the status and output.
    func wait(timeout: Double = 60) -> TriplineBinary.Result {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { signal(SIGKILL) }
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return TriplineBinary.Result(status: status, stdout: (try? String(contentsOf: stdout, encoding: .utf8)) ?? "",
                                     stderr: (try? String(contentsOf: stderr, encoding: .utf8)) ?? "")
    }

    /// Starts `arguments`, waits until its handler has written two pids (its own and its child's) to
    /// `pidsFile`, then kills the run (SIGKILL); returns the pids read (fewer when the handler never wrote them).
    static func killWhileHandlerRuns(_ binary: TriplineBinary, _ arguments: [String], in directory: URL, pidsFile: String) throws -> [Int32] {
        func pids() -> [Int32] {
            ((try? String(contentsOfFile: pidsFile, encoding: .utf8)) ?? "").split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
        }
        let run = try BackgroundRun(binary, arguments, in: directory)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && pids().count < 2 { usleep(20_000) }
        run.signal(SIGKILL)
        _ = run.wait()
        return pids()
    }

    /// Starts `arguments` again and again, killing each run (SIGKILL) after a seeded random
    /// `pause` unless it ended first, until one run ends by itself or `maxRuns` were started.
    /// Returns how many runs were killed and the one that finished (nil: none did).
    static func killRepeatedly(_ binary: TriplineBinary, _ arguments: [String], in directory: URL, seed: UInt64, maxRuns: Int,
                               pause: ClosedRange<UInt32>) throws -> (kills: Int, finished: TriplineBinary.Result?) {
        var random = SplitMix(seed: seed)
        var kills = 0
        for _ in 0..<maxRuns {
            let run = try BackgroundRun(binary, arguments, in: directory)
            let spread: UInt32 = pause.upperBound - pause.lowerBound + 1
            let wait: UInt32 = pause.lowerBound + random.next() % spread
            usleep(wait)
            if run.process.isRunning {
                run.signal(SIGKILL)
                kills += 1
                _ = run.wait()
                continue
            }
            return (kills, run.wait())
        }
        return (kills, nil)
    }
}

/// Whether process `pid` runs (a zombie, exited but not yet reaped, does not).
/// A process named by its pid and start time, so that a cleanup never signals a later process that
/// reused the pid (the test process runs many tests side by side, and pids wrap).
struct StartedProcess {
    let pid: Int32
    let startTicks: String?

    init(_ pid: Int32) {
        self.pid = pid
        startTicks = Self.startTicks(of: pid)
    }

    /// SIGKILL, unless the pid is gone or now another process's.
    func killIfStillRunning() {
        if let startTicks, Self.startTicks(of: pid) == startTicks { kill(pid, SIGKILL) }
    }

    /// Field 22 of `/proc/PID/stat`.
    private static func startTicks(of pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }
}

func isRunning(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(after: close)...].split(separator: " ").first
    return state != "Z" && state != "X"
}

/// A project whose handler appends each delivery's idempotency key to `out/deliveries.log`.
private struct DeliveryProject {
    let root: URL
    var log: URL { root.appendingPathComponent("out/deliveries.log") }

    init(root: URL, handler: String = "sleep 0.05", targets: Int = 2, maxConcurrency: Int = 2, retries: Int = 185) throws {
        self.root = root
        try FileManager.default.createDirectory(at: root.appendingPathComponent("out"), withIntermediateDirectories: true)
        try write("""
            #!/bin/sh
            cat > /dev/null
            \(handler)
            printf '%s %s\\n' "$TRIPLINE_IDEMPOTENCY_KEY" "$TRIPLINE_ATTEMPT" >> "\(log.path)"
            """, "handlers/record.sh")
        chmod(root.appendingPathComponent("handlers/record.sh").path, 0o755)
        let targetList = (0..<targets).map {
            #"{"Id": "t\#($0)", "Function": {"Handler": "handlers/record.sh", "MaxConcurrency": \#(maxConcurrency)}, "RetryPolicy": {"MaximumRetryAttempts": \#(retries)}}"#
        }.joined(separator: ", ")
        try write(#"{"Name": "all", "EventPattern": {"source": ["test"]}, "Targets": [\#(targetList)]}"#, "Rules/all.json")
    }

    func write(_ text: String, _ relative: String) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// `files` NDJSON files of `perFile` events each, under `logs/`; returns the event ids.
    func writeEvents(files: Int, perFile: Int) throws -> [String] {
        var ids: [String] = []
        for file in 0..<files {
            var lines: [String] = []
            for index in 0..<perFile {
                let id = "evt-\(file)-\(index)"
                ids.append(id)
                lines.append(#"{"id": "\#(id)", "source": "test", "detail-type": "t", "account": "1", "region": "r", "time": "2024-01-01T00:00:00Z", "detail": {"n": \#(index)}}"#)
            }
            try write(lines.joined(separator: "\n") + "\n", String(format: "logs/part-%03d.ndjson", file))
        }
        return ids
    }

    /// Each delivered idempotency key with how many times it was delivered.
    func delivered() -> [String: Int] {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        var counts: [String: Int] = [:]
        for line in text.split(separator: "\n") { counts[String(line.split(separator: " ")[0]), default: 0] += 1 }
        return counts
    }

    func expectedKeys(_ ids: [String], targets: Int = 2) -> Set<String> {
        Set(ids.flatMap { id in (0..<targets).map { "\(id):all:t\($0)" } })
    }
}

@Suite("Durable delivery: retries, checkpoints, signals, crashes, a full disk (end to end)", .serialized)
struct DurableDeliveryTests {
    @Test("a failing handler is retried with backoff until it succeeds; TRIPLINE_ATTEMPT counts up")
    func retriesUntilSuccess() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try DeliveryProject(root: dir, handler: #"[ "$TRIPLINE_ATTEMPT" -ge 3 ] || { echo "not yet" >&2; exit 1; }"#, targets: 1)
            let ids = try project.writeEvents(files: 1, perFile: 2)
            let result = try tripline.run(["run", "--retry-delay", "0.05,0.1", "logs"], in: dir)
            #expect(result.status == 0, "\(result)")
            let log = try String(contentsOf: project.log, encoding: .utf8)
            #expect(Set(log.split(separator: "\n").map(String.init)) == Set(ids.map { "\($0):all:t0 3" }))
            #expect(result.stdout.contains("delivery failed (attempt 2): exit status 1"), "\(result.stdout)")
            #expect(result.stdout.contains("deliveries: 2 ok, 0 failed; 4 failed attempts"), "\(result.stdout)")
        }
    }

    @Test("checkpoints: the same files read again deliver nothing; --from-start reads them again; new files are read")
    func checkpointsPreventRedelivery() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try DeliveryProject(root: dir, handler: "true")
            let ids = try project.writeEvents(files: 3, perFile: 4)
            let first = try tripline.run(["run", "logs"], in: dir)
            #expect(first.status == 0 && project.delivered().count == 24, "\(first)")
            let again = try tripline.run(["run", "logs"], in: dir)
            #expect(again.status == 0 && again.stdout.contains("0 events read"), "\(again)")
            #expect(again.stdout.contains("files already read (checkpoints; --from-start to read them again): 3"), "\(again.stdout)")
            #expect(project.delivered().values.allSatisfy { $0 == 1 }, "nothing delivered twice")
            // An appended line is read on its own; a new file is read whole.
            let handle = try FileHandle(forWritingTo: dir.appendingPathComponent("logs/part-000.ndjson"))
            handle.seekToEndOfFile()
            handle.write(Data(#"{"id": "late", "source": "test", "detail-type": "t", "account": "1", "region": "r", "time": "2024-01-01T00:00:00Z", "detail": {}}"#.utf8 + [0x0A]))
            try handle.close()
            let grown = try tripline.run(["run", "logs"], in: dir)
            #expect(grown.status == 0 && grown.stdout.contains("1 event read"), "\(grown)")
            // The grown file was read again (its first items skipped): counted apart from those skipped whole.
            #expect(grown.stdout.contains("files already read (checkpoints; --from-start to read them again): 2"), "\(grown.stdout)")
            #expect(grown.stdout.contains("files resumed part-way (checkpoints: items handled before were skipped): 1"), "\(grown.stdout)")
            let grownJSON = try tripline.run(["run", "--log-format", "json", "logs"], in: dir)
            let summary = try JSONParser.parse(try #require(grownJSON.stdoutLines.last))
            #expect(summary["filesSkipped"] == 3 && summary["filesResumed"] == 0, "\(summary)")
            #expect(project.delivered().keys.contains("late:all:t0"))
            // --from-start reads everything again, but what was delivered within the
            // de-duplication window is not delivered again, unless the window is 0.
            let reread = try tripline.run(["run", "--from-start", "logs"], in: dir)
            #expect(reread.status == 0 && reread.stdout.contains("13 events read"), "\(reread)")
            #expect(reread.stdout.contains("deliveries: 0 ok, 0 failed; 26 duplicates skipped"), "\(reread.stdout)")
            #expect(project.delivered().values.allSatisfy { $0 == 1 }, "nothing delivered twice")
            let all = try tripline.run(["run", "--from-start", "--dedupe-window", "0", "logs"], in: dir)
            #expect(all.status == 0 && all.stdout.contains("13 events read"), "\(all)")
            #expect(project.delivered().filter { ids.contains(String($0.key.split(separator: ":")[0])) }.values.allSatisfy { $0 == 2 })
        }
    }

    @Test("the same records in several files are delivered once per target, every time, and the summary counts the rest")
    func duplicateRecordsAreDeliveredOnce() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            // A slow handler and a fast one: copies arrive both while the first is queued and after it is done.
            let project = try DeliveryProject(root: dir, handler: #"[ "$TRIPLINE_TARGET" = t0 ] && sleep 0.2; true"#, maxConcurrency: 1)
            let line = { (id: String) in #"{"id": "\#(id)", "source": "test", "detail-type": "t", "account": "1", "region": "r", "time": "2024-01-01T00:00:00Z", "detail": {}}"# }
            for file in 0..<6 { try project.write(["a", "b", "c"].map(line).joined(separator: "\n") + "\n", "logs/copy-\(file).ndjson") }
            let result = try tripline.run(["run", "--log-format", "json", "logs"], in: dir)
            #expect(result.status == 0, "\(result)")
            #expect(project.delivered() == Dictionary(uniqueKeysWithValues: project.expectedKeys(["a", "b", "c"]).map { ($0, 1) }))
            let summary = try #require(result.stdout.split(separator: "\n").last.map { try JSONParser.parse(Array($0.utf8)) })
            #expect(summary["deliveriesSucceeded"]?.numberValue?.value == 6, "\(result.stdout)")
            #expect(summary["duplicatesSkipped"]?.numberValue?.value == 30, "\(result.stdout)")
        }
    }

    @Test("dead letters: exhausted deliveries are listed, shown, redriven once the handler is fixed, and purged")
    func deadLettersAndRedrive() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try DeliveryProject(root: dir, handler: #"[ -f "$HOME/fixed" ] || { echo "broken" >&2; exit 4; }"#, targets: 1, retries: 1)
            _ = try project.writeEvents(files: 1, perFile: 3)
            var environment = ProcessInfo.processInfo.environment
            environment["HOME"] = dir.path
            let run = try BackgroundRun(tripline, ["run", "--retry-delay", "0.01", "logs"], in: dir, environment: environment).wait()
            #expect(run.status == 1 && run.stdout.contains("deliveries: 0 ok, 3 failed (dead-lettered); 6 failed attempts"), "\(run)")
            let list = try tripline.run(["dlq", "list", "--json"], in: dir)
            let letters = try list.stdoutLines.map { try JSONParser.parse($0) }
            #expect(letters.count == 3, "\(list)")
            #expect(letters.allSatisfy { $0["attempts"]?.arrayValue?.count == 2 && $0["reason"]?.stringValue?.contains("retries exhausted") == true })
            #expect(letters.first?["attempts"]?.arrayValue?.first?["error"]?.stringValue?.hasPrefix("exit status 4") == true)
            let file = dir.appendingPathComponent(".tripline/dead-letters/all.t0.ndjson")
            #expect(try String(contentsOf: file, encoding: .utf8).split(separator: "\n").count == 3)
            let show = try tripline.run(["dlq", "show", "1"], in: dir)
            #expect(show.status == 0 && show.stdout.contains("reason:          retries exhausted") && show.stdout.contains("#2 at "), "\(show)")
            // An id that does not exist is reported, and the ones that do are still shown.
            let partly = try tripline.run(["dlq", "show", "1", "99", "2"], in: dir)
            #expect(partly.status == 1, "\(partly)")
            #expect(partly.stdout.contains("Dead letter 1\n") && partly.stdout.contains("Dead letter 2\n"), "\(partly.stdout)")
            #expect(partly.stderr == "tripline dlq: no dead letter 99 in ./.tripline\n", "\(partly.stderr)")
            let status = try JSONParser.parse(try tripline.run(["status", "--json"], in: dir).stdout)
            #expect(status["deadLetters"] == 3 && status["pending"] == 0)

            _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("fixed").path, contents: nil)
            let redrive = try BackgroundRun(tripline, ["dlq", "redrive", "1", "2"], in: dir, environment: environment).wait()
            #expect(redrive.status == 0 && redrive.stdout.contains("redrove 2 dead letters"), "\(redrive)")
            #expect(project.delivered().count == 2)
            let purge = try tripline.run(["dlq", "purge", "--all"], in: dir)
            #expect(purge.stdout == "purged 1 dead letter\n", "\(purge)")
            #expect(try JSONParser.parse(try tripline.run(["status", "--json"], in: dir).stdout)["deadLetters"] == 0)
        }
    }

    @Test("a dead-letter file that cannot be appended to is reported once per file and counted; validate warns about it")
    func unwritableDeadLetterFile() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try DeliveryProject(root: dir, handler: "exit 65", targets: 1)
            _ = try project.writeEvents(files: 1, perFile: 3)
            // Path names a directory: open(2) fails with EISDIR.
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("letters"), withIntermediateDirectories: true)
            try project.write(#"{"Name": "all", "EventPattern": {"source": ["test"]}, "Targets": [{"Id": "t0", "Function": {"Handler": "handlers/record.sh"}, "# +
                              #""DeadLetterConfig": {"Path": "letters"}}]}"#, "Rules/all.json")
            let validate = try tripline.run(["validate", "Rules"], in: dir)
            #expect(validate.status == 0, "a warning, not an error: \(validate)")
            #expect(validate.stdout.contains(#"warning: Rules/all.json: rule all, target t0: DeadLetterConfig.Path "letters" cannot be appended to: it is a directory"#),
                    "\(validate.stdout)")
            let run = try tripline.run(["run", "logs"], in: dir)
            #expect(run.status == 1, "\(run)")
            let notes = run.stderr.split(separator: "\n").filter { $0.contains("cannot open dead-letter file") }
            #expect(notes.count == 1, "once per file: \(run.stderr)")
            #expect(notes.first?.contains("\(dir.path)/letters") == true && notes.first?.contains("Is a directory") == true, "\(notes)")
            #expect(run.stdout.contains("not appended: Is a directory"), "\(run.stdout)")
            #expect(run.stdout.contains("dead letters not appended to their dead-letter file: 3"), "\(run.stdout)")
            // The letters are in the database all the same.
            #expect(try JSONParser.parse(try tripline.run(["status", "--json"], in: dir).stdout)["deadLetters"] == 3)
        }
    }

    @Test("SIGINT stops reading, lets running deliveries finish, exits 0; the next run resumes what was left")
    func interruptDrainsAndResumes() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try DeliveryProject(root: dir, handler: "sleep 0.3", targets: 1, maxConcurrency: 1)
            let ids = try project.writeEvents(files: 1, perFile: 12)
            let run = try BackgroundRun(tripline, ["run", "logs"], in: dir)
            // Wait for the first delivery, then interrupt.
            let deadline = Date().addingTimeInterval(20)
            while project.delivered().isEmpty && Date() < deadline { usleep(20_000) }
            run.signal(SIGINT)
            let stopped = run.wait()
            #expect(stopped.status == 0, "\(stopped)")
            #expect(stopped.stdout.contains("Summary (stopped early)") && stopped.stdout.contains("left queued for the next run"), "\(stopped)")
            let firstRound = project.delivered().count
            #expect(firstRound >= 1 && firstRound < 12, "\(firstRound)")
            let status = try JSONParser.parse(try tripline.run(["status", "--json"], in: dir).stdout)
            #expect(status["pending"] == .number(JSONNumber(12 - firstRound)), "\(status)")
            let resumed = try tripline.run(["run", "logs"], in: dir)
            #expect(resumed.status == 0 && resumed.stdout.contains("\(12 - firstRound) resumed from an earlier run"), "\(resumed)")
            #expect(Set(project.delivered().keys) == project.expectedKeys(ids, targets: 1))
            #expect(project.delivered().values.allSatisfy { $0 == 1 }, "a clean stop delivers nothing twice")
        }
    }

    @Test("a run of only some rule files dead-letters the other rules' queued deliveries saying how to get them back, and redrive with all rules delivers them")
    func subsetOfRulesSaysHowToRedrive() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try DeliveryProject(root: dir, handler: "sleep 0.3", targets: 1, maxConcurrency: 1)
            try project.write(#"{"Name": "other", "EventPattern": {"source": ["other"]}, "Targets": [{"Id": "o", "Function": {"Handler": "/bin/true"}}]}"#,
                              "Rules/other.json")
            let ids = try project.writeEvents(files: 1, perFile: 6)
            let run = try BackgroundRun(tripline, ["run", "logs"], in: dir)
            let deadline = Date().addingTimeInterval(20)
            while project.delivered().isEmpty && Date() < deadline { usleep(20_000) }
            run.signal(SIGINT)
            #expect(run.wait().status == 0)
            let left = 6 - project.delivered().count
            #expect(left > 0)
            try project.write("", "none.ndjson")
            let subset = try tripline.run(["run", "--rules", "Rules/other.json", "none.ndjson"], in: dir)
            #expect(subset.stdout.contains("the rule 'all' is not among the rules this run loaded") && subset.stdout.contains("tripline dlq redrive --rules DIR"),
                    "\(subset)")
            #expect(!subset.stdout.contains("has no target"), "\(subset)")
            let redrive = try tripline.run(["dlq", "redrive", "--rules", "Rules"], in: dir)
            #expect(redrive.status == 0, "\(redrive)")
            #expect(Set(project.delivered().keys) == project.expectedKeys(ids, targets: 1), "nothing is lost: \(redrive)")
        }
    }

    @Test("handlers still running when the shutdown timeout ends are stopped with the run, and the next run retries them as attempt 2")
    func shutdownStopsHandlersThatOutliveTheTimeout() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try DeliveryProject(root: dir, handler: "true", targets: 1)
            // Records each start with its pid, then hangs on the first attempt only.
            try project.write("""
                #!/bin/sh
                cat > /dev/null
                printf '%s %s %s\\n' "$TRIPLINE_IDEMPOTENCY_KEY" "$TRIPLINE_ATTEMPT" "$$" >> "\(dir.path)/out/starts.log"
                [ "$TRIPLINE_ATTEMPT" = 1 ] && exec sleep 60
                printf '%s %s\\n' "$TRIPLINE_IDEMPOTENCY_KEY" "$TRIPLINE_ATTEMPT" >> "\(project.log.path)"
                """, "handlers/record.sh")
            let ids = try project.writeEvents(files: 1, perFile: 2)
            let starts = dir.appendingPathComponent("out/starts.log")
            let startLines = { ((try? String(contentsOf: starts, encoding: .utf8)) ?? "").split(separator: "\n").map { $0.split(separator: " ") } }
            let run = try BackgroundRun(tripline, ["run", "--shutdown-timeout", "0.5", "logs"], in: dir)
            let deadline = Date().addingTimeInterval(20)
            while startLines().count < 2 && Date() < deadline { usleep(20_000) }
            run.signal(SIGTERM)
            let stopped = run.wait()
            #expect(stopped.status == 0, "\(stopped)")
            #expect(stopped.stdout.contains("interrupted (tripline was stopping)"), "\(stopped.stdout)")
            #expect(stopped.stdout.contains("2 left queued for the next run"), "\(stopped.stdout)")
            // The hung handlers are gone: their process groups were signalled before the run exited.
            let pids = startLines().compactMap { pid_t(String($0[2])) }
            #expect(pids.count == 2)
            for pid in pids { #expect(kill(pid, 0) != 0, "handler \(pid) outlived the run") }
            let resumed = try tripline.run(["run", "logs"], in: dir)
            #expect(resumed.status == 0, "\(resumed)")
            #expect(project.delivered() == Dictionary(uniqueKeysWithValues: project.expectedKeys(ids, targets: 1).map { ($0, 1) }))
            #expect(Set(startLines().filter { $0[1] == "2" }.map { String($0[0]) }) == project.expectedKeys(ids, targets: 1))
        }
    }

    @Test("status shows the whole next-attempt time of a delivery waiting to retry; --json running is null when no run is")
    func statusShowsTheWholeNextAttempt() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try DeliveryProject(root: dir, handler: "exit 1", targets: 1, retries: 3)
            _ = try project.writeEvents(files: 1, perFile: 1)
            let run = try tripline.run(["run", "--linger", "0", "--retry-delay", "100,100", "logs"], in: dir)
            #expect(run.status != 2, "\(run)")
            let status = try tripline.run(["status"], in: dir)
            let json = try JSONParser.parse(try tripline.run(["status", "--json"], in: dir).stdout)
            let next = try #require(json["targets"]?.arrayValue?.first?["nextAttemptAt"]?.stringValue, "\(json)")
            #expect(next.hasSuffix("Z") && next.count == 24, "\(next)")
            #expect(status.stdout.contains(" \(next) "), "\(status.stdout)")
            #expect(json["running"] == .null)
        }
    }

    @Test("a second signal exits at once with status 128 + the signal (130 for SIGINT), leaving the deliveries queued")
    func secondSignalExits130() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let started = dir.appendingPathComponent("out/started")
            let project = try DeliveryProject(root: dir, handler: "touch '\(started.path)'; exec sleep 60", targets: 1)
            _ = try project.writeEvents(files: 1, perFile: 1)
            let run = try BackgroundRun(tripline, ["run", "--shutdown-timeout", "30", "logs"], in: dir)
            let deadline = Date().addingTimeInterval(20)
            // Signal only once the handler runs, so the first signal starts the graceful 30 s stop.
            while Date() < deadline, !FileManager.default.fileExists(atPath: started.path) { usleep(20_000) }
            run.signal(SIGINT)
            usleep(300_000)
            run.signal(SIGINT)
            let stopped = run.wait(timeout: 10)
            #expect(stopped.status == 130, "\(stopped)")
            let status = try tripline.run(["status", "--json"], in: dir)
            #expect(status.stdout.contains("\"pending\":1"), "\(status.stdout)")
        }
    }

    @Test("a second run on the same state directory is refused with a clear message")
    func secondProcessRefused() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            _ = try DeliveryProject(root: dir, handler: "true")
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("incoming"), withIntermediateDirectories: true)
            let first = try BackgroundRun(tripline, ["run", "--follow", "incoming"], in: dir)
            let lock = dir.appendingPathComponent(".tripline/lock")
            let deadline = Date().addingTimeInterval(20)
            while ((try? String(contentsOf: lock, encoding: .utf8)) ?? "").isEmpty && Date() < deadline { usleep(20_000) }
            let second = try tripline.run(["run", "logs"], in: dir)
            #expect(second.status == 2, "\(second)")
            #expect(second.stderr.contains("is in use by another tripline process (pid \(first.process.processIdentifier))"), "\(second.stderr)")
            let status = try tripline.run(["status"], in: dir)
            #expect(status.status == 0 && status.stdout.contains("in use by a tripline run, pid \(first.process.processIdentifier)"), "\(status)")
            let statusJSON = try JSONParser.parse(try tripline.run(["status", "--json"], in: dir).stdout)
            #expect(statusJSON["running"] == .number(JSONNumber(Int(first.process.processIdentifier))), "\(statusJSON)")
            first.signal(SIGTERM)
            #expect(first.wait().status == 0)
            // A directory nothing has run with: the error names the command that was asked.
            let missing = try tripline.run(["status", "--state-dir", "never-used"], in: dir)
            #expect(missing.status == 2 && missing.stderr.hasPrefix("tripline status: state directory never-used cannot be used"), "\(missing)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("never-used").path), "status must not create it")
        }
    }

    @Test("kill -9 at random points, then restart until done: every delivery arrives, duplicates stay bounded by what was in flight")
    func crashAndRestart() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try DeliveryProject(root: dir, handler: "sleep 0.05")
            let ids = try project.writeEvents(files: 6, perFile: 10)
            let (kills, finished) = try BackgroundRun.killRepeatedly(tripline, ["run", "--synchronous", "normal", "logs"], in: dir,
                                                                     seed: 20_261_125, maxRuns: 40, pause: 100_000...599_999)
            #expect(finished?.status == 0, "the runs never finished: \(String(describing: finished))")
            #expect(kills >= 2, "the test should have crashed the run a few times (\(kills))")
            let delivered = project.delivered()
            let expected = project.expectedKeys(ids)
            #expect(Set(delivered.keys) == expected, "missing: \(expected.subtracting(delivered.keys).sorted().prefix(5))")
            let duplicates = delivered.values.reduce(0) { $0 + $1 - 1 }
            // In flight at a kill: at most 4 running (2 targets × MaxConcurrency 2) plus successes not yet
            // written (written within 50 ms): a handful per kill.
            #expect(duplicates <= kills * 8, "\(duplicates) duplicates after \(kills) kills")
            let status = try JSONParser.parse(try tripline.run(["status", "--json"], in: dir).stdout)
            #expect(status["pending"] == 0 && status["deadLetters"] == 0)
            print("crash test: \(kills) kills, \(expected.count) deliveries, \(duplicates) duplicates")
        }
    }

    @Test("a handler left running by a kill -9 (and what it started) is stopped by the next run, which then retries its delivery")
    func leftoverHandlersAreStopped() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let pids = dir.appendingPathComponent("out/pids").path
            let first = dir.appendingPathComponent("out/first").path
            // The first attempt hangs (a background sleep it waits for); a retry returns at once.
            let project = try DeliveryProject(root: dir, handler: """
                if [ ! -e "\(first)" ]; then touch "\(first)"; sleep 60 & echo "$$ $!" > "\(pids)"; wait; fi
                """, targets: 1)
            _ = try project.writeEvents(files: 1, perFile: 1)
            let handler = try BackgroundRun.killWhileHandlerRuns(tripline, ["run", "logs"], in: dir, pidsFile: pids)
            try #require(handler.count == 2, "the handler did not start")
            #expect(handler.allSatisfy(isRunning), "SIGKILL does not reach the handler's process group: it should still run here")

            let result = try tripline.run(["run", "logs"], in: dir)
            #expect(result.status == 0, "\(result)")
            #expect(result.stderr.contains("tripline run: stopping 1 handler that a killed run on ./.tripline left running; its delivery is retried:\n"
                                           + "  pid \(handler[0]) (rule all, target t0, event evt-0-0)\n"), "\(result.stderr)")
            #expect(!handler.contains(where: isRunning), "the leftover handler and its child must be gone")
            #expect(project.delivered() == ["evt-0-0:all:t0": 1])

            // Nothing is left to stop the next time.
            let again = try tripline.run(["run", "logs"], in: dir)
            #expect(again.status == 0 && !again.stderr.contains("stopping"), "\(again)")
        }
    }

    @Test("a dlq redrive killed while its handler runs: the next redrive stops the leftover and delivers the queued letter")
    func killedRedriveIsResumedByTheNextRedrive() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let calls = dir.appendingPathComponent("out/calls").path
            let pids = dir.appendingPathComponent("out/pids").path
            // First attempt: fails for good (a dead letter). Second (the redrive): hangs. Then: succeeds.
            let project = try DeliveryProject(root: dir, handler: """
                echo x >> "\(calls)"; n=$(wc -l < "\(calls)")
                [ "$n" -eq 1 ] && exit 65
                if [ "$n" -eq 2 ]; then sleep 60 & echo "$$ $!" > "\(pids)"; wait; fi
                """, targets: 1)
            _ = try project.writeEvents(files: 1, perFile: 1)
            let first = try tripline.run(["run", "logs"], in: dir)
            #expect(first.status == 1 && first.stdout.contains("1 failed (dead-lettered)"), "\(first)")
            let handler = try BackgroundRun.killWhileHandlerRuns(tripline, ["dlq", "redrive"], in: dir, pidsFile: pids)
            try #require(handler.count == 2, "the redriven handler did not start")
            let started = handler.map(StartedProcess.init)
            defer { for process in started { process.killIfStillRunning() } }

            let again = try tripline.run(["dlq", "redrive"], in: dir)
            #expect(again.status == 0, "\(again)")
            #expect(again.stderr.contains("tripline dlq: stopping 1 handler that a killed run on ./.tripline left running; its delivery is retried:\n  pid \(handler[0]) ("), "\(again)")
            #expect(again.stdout.contains("redrove 0 dead letters (and 1 delivery an earlier run left queued); delivering…"), "\(again)")
            #expect(again.stderr.contains("tripline dlq: delivering 1 queued delivery") && !again.stderr.contains("tripline run:"),
                    "redrive's notes name it: \(again)")
            #expect(!handler.contains(where: isRunning))
            #expect(project.delivered() == ["evt-0-0:all:t0": 1])
        }
    }

    @Test("what a handler leaves running in the background after its delivery ended is not stopped by the next run")
    func backgroundJobsOfFinishedDeliveriesAreLeftAlone() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let pids = dir.appendingPathComponent("out/pids").path
            // The handler starts a job in its own group and in a new session, and ends at once (the delivery succeeds).
            let project = try DeliveryProject(root: dir, handler: """
                sleep 60 & echo $! >> "\(pids)"; setsid sleep 61 & echo $! >> "\(pids)"
                """, targets: 1)
            _ = try project.writeEvents(files: 1, perFile: 1)
            let first = try tripline.run(["run", "logs"], in: dir)
            #expect(first.status == 0, "\(first)")
            let jobs = ((try? String(contentsOfFile: pids, encoding: .utf8)) ?? "").split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
            try #require(jobs.count == 2)
            let started = jobs.map(StartedProcess.init)
            defer { for process in started { process.killIfStillRunning() } }
            let next = try tripline.run(["run", "logs"], in: dir)
            #expect(next.status == 0 && !next.stderr.contains("stopping"), "\(next)")
            #expect(jobs.allSatisfy(isRunning), "a finished delivery's background jobs must be left alone")
        }
    }

    @Test("consecutive runs on one state directory: the start-of-run write check leaves no lasting growth of the database and its log")
    func writeCheckDoesNotGrowTheState() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let project = try DeliveryProject(root: dir, handler: "true", targets: 1)
            let ids = try project.writeEvents(files: 6, perFile: 1)
            let state = dir.appendingPathComponent("state")
            func bytes() -> Int {
                ["tripline.db", "tripline.db-wal"].reduce(0) { total, name in
                    total + ((try? FileManager.default.attributesOfItem(atPath: state.appendingPathComponent(name).path)[.size] as? Int) ?? 0)
                }
            }
            var sizes: [Int] = []
            for file in 0..<6 {
                let result = try tripline.run(["run", "--linger", "0", "--state-dir", "state", String(format: "logs/part-%03d.ndjson", file)], in: dir)
                #expect(result.status == 0, "\(result)")
                sizes.append(bytes())
            }
            #expect(project.delivered().count == ids.count)
            // One delivery a run: a few KB each, not the ~140 KB the 64 KiB check used to leave in the log every run.
            #expect(sizes[5] <= sizes[1] + 64 * 1024, "\(sizes)")
        }
    }

    @Test("a full disk stops the run with a clear message and loses nothing: a later run delivers everything")
    func fullDiskLosesNothing() throws {
        let tripline = try TriplineBinary.locate()
        guard FileManager.default.isExecutableFile(atPath: "/bin/sh") else { return }
        try withTemporaryDirectory { dir in
            let project = try DeliveryProject(root: dir, handler: "true", targets: 1)
            var ids: [String] = []
            // Events big enough that the database outgrows the file-size limit quickly.
            var lines: [String] = []
            let padding = String(repeating: "x", count: 4000)
            for index in 0..<400 {
                ids.append("big-\(index)")
                lines.append(#"{"id": "big-\#(index)", "source": "test", "detail-type": "t", "account": "1", "region": "r", "time": "2024-01-01T00:00:00Z", "detail": {"pad": "\#(padding)"}}"#)
            }
            try project.write(lines.joined(separator: "\n") + "\n", "logs/big.ndjson")
            // A 300 KB file-size limit stands in for a full disk (SIGXFSZ ignored: writes fail with EFBIG).
            let limited = try BackgroundRun(TriplineBinary(url: URL(fileURLWithPath: "/bin/sh")),
                                            ["-c", "trap '' XFSZ; ulimit -f 600; exec \"$0\" run logs", tripline.url.path], in: dir).wait()
            #expect(limited.status == 1, "\(limited)")
            #expect(limited.stderr.contains("state database") && limited.stderr.contains("tripline.db"), "\(limited.stderr)")
            #expect(limited.stdout.contains("stopped early: state database"), "\(limited.stdout)")
            let later = try tripline.run(["run", "logs"], in: dir)
            #expect(later.status == 0, "\(later)")
            #expect(Set(project.delivered().keys) == project.expectedKeys(ids, targets: 1))
        }
    }

    @Test("once the state database cannot commit, no handler starts: runs stay within the recorded deliveries plus those in flight (running or awaiting their commit)")
    func failedCommitsStartNothingMore() throws {
        let tripline = try TriplineBinary.locate()
        guard FileManager.default.isExecutableFile(atPath: "/bin/sh") else { return }
        try withTemporaryDirectory { dir in
            // One target, 2 at a time. While `hold` exists the handler refuses (exit 65: a dead letter at once).
            let hold = dir.appendingPathComponent("hold")
            let project = try DeliveryProject(root: dir, handler: "[ -e '\(hold.path)' ] && exit 65; sleep 0.01", targets: 1, maxConcurrency: 2)
            let concurrency = 2
            var ids: [String] = []
            var lines: [String] = []
            let padding = String(repeating: "x", count: 4000)
            for index in 0..<300 {
                ids.append("big-\(index)")
                lines.append(#"{"id": "big-\#(index)", "source": "test", "detail-type": "t", "account": "1", "region": "r", "time": "2024-01-01T00:00:00Z", "detail": {"pad": "\#(padding)"}}"#)
            }
            try project.write(lines.joined(separator: "\n") + "\n", "logs/big.ndjson")
            // 300 deliveries queued for the next run, in a database (about 1.5 MB) larger than the limit below.
            _ = FileManager.default.createFile(atPath: hold.path, contents: nil)
            _ = try tripline.run(["run", "logs"], in: dir)
            let requeued = try tripline.run(["dlq", "redrive", "--queue-only", "--rule", "all"], in: dir)
            #expect(requeued.status == 0, "\(requeued)")
            try FileManager.default.removeItem(at: hold)
            #expect(try JSONParser.parse(try tripline.run(["status", "--json"], in: dir).stdout)["pending"] == 300)

            let handlerRuns = { ((try? String(contentsOf: project.log, encoding: .utf8)) ?? "").split(separator: "\n").count }
            // A file-size limit (600 blocks of 512 bytes, SIGXFSZ ignored) makes the database's writes fail with EFBIG once
            // its write-ahead log outgrows it, as a full disk would, while the handlers' small log stays under it.
            var limitedRuns = 0
            var recordedTotal = 0
            for round in 0..<2 {
                let before = handlerRuns()
                let limited = try BackgroundRun(TriplineBinary(url: URL(fileURLWithPath: "/bin/sh")),
                                                ["-c", "trap '' XFSZ; ulimit -f 600; exec \"$0\" run --log-format json logs", tripline.url.path],
                                                in: dir).wait()
                limitedRuns += 1
                #expect(limited.status == 1, "round \(round): \(limited)")
                let summary = try JSONParser.parse(try #require(limited.stdoutLines.last, "round \(round): \(limited)"))
                #expect(summary["stateError"]?.stringValue?.contains("tripline.db") == true, "\(summary)")
                let number = { (key: String) in Int(summary[key]?.numberValue?.value ?? -1) }
                let recorded = number("deliveriesSucceeded"), unrecorded = number("deliveriesUnrecorded")
                let runs = handlerRuns() - before
                // What ran without being recorded runs again next time: at most what was running when the database
                // failed and the successes handed to the group commit and not yet written (DeliveryDispatcher's
                // maxUncommitted, 64).
                let inFlight = concurrency + 64
                #expect(runs <= recorded + inFlight, "round \(round): \(runs) handler runs, \(recorded) recorded\n\(limited.stderr)")
                #expect(unrecorded >= 0 && unrecorded <= inFlight && runs == recorded + unrecorded, "round \(round): \(runs) runs; \(summary)")
                // The summary does not count them as ok; each has its own line.
                #expect(limited.stdoutLines.filter { $0.contains(#""next":"unrecorded""#) }.count == unrecorded)
                #expect(limited.stderr.contains("no more deliveries were started once the state database failed"), "\(limited.stderr)")
                // Only recorded deliveries left the queue.
                recordedTotal += recorded
                #expect(number("deliveriesLeftQueued") == 300 - recordedTotal, "\(summary)")
                // The database failed part-way, with most deliveries still queued: they were not attempted.
                if round == 0 { #expect(recorded < 300 - concurrency, "\(summary)") }
            }
            let later = try tripline.run(["run", "logs"], in: dir)
            #expect(later.status == 0, "\(later)")
            let delivered = project.delivered()
            #expect(Set(delivered.keys) == project.expectedKeys(ids, targets: 1))
            let duplicates = delivered.values.reduce(0) { $0 + $1 - 1 }
            #expect(duplicates <= limitedRuns * concurrency, "\(duplicates) duplicates after \(limitedRuns) runs on a failing database")
        }
    }
}

/// SplitMix64, for seeded kill times.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt32 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return UInt32(truncatingIfNeeded: z ^ (z >> 31))
    }
}
