#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import TriplineTargets

/// A fake `/proc` tree: `PID/stat` and `PID/environ` files.
private struct FakeProc {
    let root: URL

    /// A process in state `state` of group `group`, started at `start`, with `environment`.
    func add(pid: Int32, start: UInt64, state: String = "S", group: Int32? = nil, command: String = "sh", environment: [String: String] = [:]) throws {
        let dir = root.appendingPathComponent(String(pid))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // Fields 3 to 22: state, ppid, pgrp, then 16 zeros, then the start time.
        let stat = "\(pid) (\(command)) \(state) 1 \(group ?? pid) " + Array(repeating: "0", count: 16).joined(separator: " ") + " \(start) 0 0\n"
        try Data(stat.utf8).write(to: dir.appendingPathComponent("stat"))
        var block: [UInt8] = []
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) { block += Array("\(name)=\(value)".utf8) + [0] }
        try Data(block).write(to: dir.appendingPathComponent("environ"))
    }
}

@Suite("Leftover handlers: which handlers a killed run left behind, and stopping them")
struct LeftoverHandlersTests {
    @Test func onlyRecordedHandlersThatStillRunAreLeftovers() throws {
        try withTargetsTempDirectory { dir in
            let proc = FakeProc(root: dir.appendingPathComponent("proc"))
            let records = HandlerRecords(path: dir.appendingPathComponent("handlers.running").path, procRoot: proc.root.path)
            // Running, as recorded; its pid now another process's (another start time); a zombie; exited.
            try proc.add(pid: 200, start: 10, command: "sh) (x")
            try proc.add(pid: 300, start: 99)
            try proc.add(pid: 400, start: 40, state: "Z")
            try proc.add(pid: 2345, start: 10)
            let running = try #require(records.record(ProcessIdentity(pid: 200, startTicks: 10), rule: "r", target: "t", eventID: "e-1"))
            let ended = try #require(records.record(ProcessIdentity(pid: 12345, startTicks: 10), rule: "r", target: "t", eventID: "e-0"))
            _ = records.record(ProcessIdentity(pid: 300, startTicks: 30), rule: "r", target: "t", eventID: "e-2")
            _ = records.record(ProcessIdentity(pid: 400, startTicks: 40), rule: "r", target: "t", eventID: "e-3")
            _ = records.record(ProcessIdentity(pid: 500, startTicks: 50), rule: nil, target: nil, eventID: nil)
            // A blanked slot names nobody, not even a pid that its leftover digits would spell (2345).
            records.remove(ended)
            // Written before its start time was read (a run killed just after the spawn): the pid counts only
            // when it leads its group and carries the delivery's idempotency key.
            try proc.add(pid: 600, start: 60, environment: ["TRIPLINE_IDEMPOTENCY_KEY": "e-6:r:t"])
            try proc.add(pid: 700, start: 70, group: 1, environment: ["TRIPLINE_IDEMPOTENCY_KEY": "e-7:r:t"])
            try proc.add(pid: 800, start: 80, environment: ["TRIPLINE_IDEMPOTENCY_KEY": "other:r:t"])
            for (pid, event) in [(Int32(600), "e-6"), (700, "e-7"), (800, "e-8")] {
                let slot = try #require(records.reserve(rule: "r", target: "t", eventID: event))
                records.write(slot, pid: pid, startTicks: 0)
            }

            let found = records.leftovers()
            #expect(found == [LeftoverHandler(process: ProcessIdentity(pid: 200, startTicks: 10), rule: "r", target: "t", eventID: "e-1"),
                              LeftoverHandler(process: ProcessIdentity(pid: 600, startTicks: 60), rule: "r", target: "t", eventID: "e-6")])
            #expect(found.first?.description == "pid 200 (rule r, target t, event e-1)")
            // A handler that ended blanks its slot, which the next one reuses; clear empties the file.
            records.remove(running)
            #expect(records.leftovers().map(\.process.pid) == [600])
            let reused = try #require(records.record(ProcessIdentity(pid: 200, startTicks: 10), rule: String(repeating: "x", count: 1000), target: "t", eventID: "e"))
            #expect(reused.index == running.index || reused.index == ended.index)
            #expect(records.leftovers().map(\.process.pid) == [200, 600], "a long delivery is cut to fit its slot")
            records.clear()
            #expect(records.leftovers().isEmpty)
            let size = (try? FileManager.default.attributesOfItem(atPath: records.path)[.size] as? Int) ?? -1
            #expect(size == 0)
        }
    }

    @Test func aRunnerRecordsItsHandlersOnlyWhileTheyRun() throws {
        try withTargetsTempDirectory { dir in
            let state = dir.appendingPathComponent("state").path
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            let runner = FunctionRunner()
            #expect(runner.takeOver(stateDirectory: state).isEmpty)
            let file = state + "/handlers.running"
            // The slot is written just after the spawn: wait for it (a busy machine may run the script first).
            let script = try writeScript("for i in $(seq 200); do [ -s '\(file)' ] && break; sleep 0.05; done; echo $$; tr -s ' ' < '\(file)'",
                                         "list.sh", in: dir)
            let outcome = try runner.run(FunctionInvocation(executable: script, environment: ["PATH": "/usr/bin:/bin", "TRIPLINE_RULE": "r"],
                                                            payload: [], timeoutSeconds: 10))
            let lines = String(decoding: outcome.stdout, as: UTF8.self).split(separator: "\n")
            #expect(lines.count == 2 && lines.last?.hasPrefix("\(lines.first ?? "?") ") == true && lines.last?.contains(#"{"rule":"r"}"#) == true,
                    "the handler sees its own slot: \(lines)")
            let after = (try? String(contentsOfFile: file, encoding: .utf8)) ?? "?"
            #expect(after.allSatisfy { $0 == " " || $0 == "\n" }, "the slot is blanked when the handler ends")
        }
    }

    @Test func aRealLeftoverProcessGroupIsStoppedEvenWhenItIgnoresSIGTERM() throws {
        try withTargetsTempDirectory { dir in
            // A process group whose leader ignores SIGTERM: stop must fall back to SIGKILL after the grace.
            let ready = dir.appendingPathComponent("ready").path
            // The marker is written once SIGTERM is ignored: signalled earlier, the shell would just die of it.
            let script = try writeScript("trap '' TERM; touch '\(ready)'; sleep 30 & wait; sleep 30", "term-ignoring-leader.sh", in: dir)
            let runner = FunctionRunner()
            let invocation = FunctionInvocation(executable: script, environment: ["PATH": "/usr/bin:/bin"], payload: [], timeoutSeconds: 60)
            let finished = DispatchSemaphore(value: 0)
            let box = OutcomeBox()
            Thread.detachNewThread {
                do { box.outcome = try runner.run(invocation) } catch { box.error = error }
                finished.signal()
            }
            var leader: Int32 = 0
            let deadline = Date().addingTimeInterval(30)
            while (leader == 0 || !FileManager.default.fileExists(atPath: ready)) && Date() < deadline && box.error == nil {
                // By its whole path: other tests running meanwhile start scripts of the same name.
                leader = runningChildren(running: script).first ?? 0
                usleep(10_000)
            }
            try #require(leader > 0 && FileManager.default.fileExists(atPath: ready),
                         "the script did not start: \(box.error.map { "\($0)" } ?? "no error, leader \(leader)")")
            let status = try #require(ProcessStatus.read(pid: leader, procRoot: "/proc"))
            #expect(status.processGroup == leader, "handlers lead their own process group")
            let handler = LeftoverHandler(process: status.identity, rule: nil, target: nil, eventID: nil)
            let started = Date()
            let left = LeftoverHandlers.stop([handler], grace: 0.3)
            let elapsed = Date().timeIntervalSince(started)
            #expect(left.isEmpty, "still running after SIGKILL: \(left)")
            #expect(elapsed >= 0.3, "SIGTERM is ignored: only SIGKILL after the grace ends it (stopped after \(elapsed) s)")
            // A loaded machine (the whole suite runs side by side) may take a while to schedule the runner.
            #expect(finished.wait(timeout: .now() + 60) == .success, "the runner did not return")
            #expect(box.outcome?.signal == SIGKILL, "\(box.outcome.map { "\($0)" } ?? "no outcome: \(box.error.map { "\($0)" } ?? "-")")")
            #expect(!handler.process.isRunning())
        }
    }

    /// Pids of this process's children whose command line holds `path` as one of its arguments.
    private func runningChildren(running path: String) -> [Int32] {
        let me = getpid()
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> Int32? in
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")"),
                  let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, Int32(fields[1]) == me,
                  cmdline.split(separator: 0).contains(where: { $0.elementsEqual(path.utf8) }) else { return nil }
            return pid
        }
    }
}

private final class OutcomeBox: @unchecked Sendable {
    var outcome: FunctionOutcome?
    var error: (any Error)?
}
