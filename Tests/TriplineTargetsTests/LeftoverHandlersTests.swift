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

@Suite("Leftover handlers: which processes a killed run left behind, and stopping them")
struct LeftoverHandlersTests {
    let ours = HandlerOwner(stateDevice: 7, stateInode: 42, process: ProcessIdentity(pid: 500, startTicks: 9000))

    func tag(pid: Int32, start: UInt64, inode: UInt64 = 42) -> String {
        HandlerOwner(stateDevice: 7, stateInode: inode, process: ProcessIdentity(pid: pid, startTicks: start)).tag
    }

    @Test func ownerTagsRoundTripAndOthersAreRefused() {
        #expect(HandlerOwner(tag: ours.tag) == ours)
        #expect(ours.tag == "7:42:500:9000")
        for bad in ["", "7:42:500", "7:42:500:9000:1", "7:42:0:9000", "7:42:-1:9000", "a:42:500:9000", "7:42:500:x"] {
            #expect(HandlerOwner(tag: bad) == nil, "\(bad)")
        }
    }

    @Test func onlyProcessesOfThisStateDirectoryWhoseRunIsGoneAreFound() throws {
        try withTargetsTempDirectory { dir in
            let proc = FakeProc(root: dir)
            // A run (pid 100) that is gone: its handler 200 and the child 201 it started (same group).
            try proc.add(pid: 200, start: 10, environment: [HandlerOwner.variable: tag(pid: 100, start: 5), "TRIPLINE_RULE": "r",
                                                            "TRIPLINE_TARGET": "t", "TRIPLINE_EVENT_ID": "e-1", "PATH": "/bin"])
            try proc.add(pid: 201, start: 11, group: 200, command: "sleep) (x", environment: [HandlerOwner.variable: tag(pid: 100, start: 5)])
            // Pid 100 runs again, but it is another process (another start time): the run is still gone.
            try proc.add(pid: 100, start: 77)
            // A run that still runs (pid 300, same start time): its handler is not a leftover.
            try proc.add(pid: 300, start: 30)
            try proc.add(pid: 301, start: 31, environment: [HandlerOwner.variable: tag(pid: 300, start: 30)])
            // Another state directory's leftover, a zombie, an untagged process, a malformed tag, our own handler.
            try proc.add(pid: 400, start: 40, environment: [HandlerOwner.variable: tag(pid: 100, start: 5, inode: 43)])
            try proc.add(pid: 401, start: 41, state: "Z", environment: [HandlerOwner.variable: tag(pid: 100, start: 5)])
            try proc.add(pid: 402, start: 42, environment: ["PATH": "/bin"])
            try proc.add(pid: 403, start: 43, environment: [HandlerOwner.variable: "junk"])
            try proc.add(pid: 404, start: 44, environment: [HandlerOwner.variable: ours.tag])

            let found = LeftoverHandlers.find(for: ours, procRoot: dir.path)
            #expect(found.map(\.process.pid) == [200, 201])
            #expect(found.first == LeftoverHandler(process: ProcessIdentity(pid: 200, startTicks: 10), processGroup: 200,
                                                   rule: "r", target: "t", eventID: "e-1"))
            #expect(found.last?.processGroup == 200, "the group is read past a command name holding parentheses")
            #expect(LeftoverHandlers.summary(found, stateDirectory: "S")
                    == "stopped 1 handler that a killed run on S left running: pid 200 (rule r, target t, event e-1; and 1 process it started); its delivery is retried")
        }
    }

    @Test func aRealLeftoverProcessGroupIsStoppedEvenWhenItIgnoresSIGTERM() throws {
        try withTargetsTempDirectory { dir in
            // A process group whose leader ignores SIGTERM: stop must fall back to SIGKILL after the grace.
            let ready = dir.appendingPathComponent("ready").path
            // The marker is written once SIGTERM is ignored: signalled earlier, the shell would just die of it.
            let script = try writeScript("trap '' TERM; touch '\(ready)'; sleep 30 & wait; sleep 30", "stubborn.sh", in: dir)
            let runner = FunctionRunner()
            let invocation = FunctionInvocation(executable: script, environment: ["PATH": "/usr/bin:/bin"], payload: [], timeoutSeconds: 60)
            let finished = DispatchSemaphore(value: 0)
            let box = OutcomeBox()
            Thread.detachNewThread {
                box.outcome = try? runner.run(invocation)
                finished.signal()
            }
            var leader: Int32 = 0
            let deadline = Date().addingTimeInterval(20)
            while (leader == 0 || !FileManager.default.fileExists(atPath: ready)) && Date() < deadline {
                leader = runningChildren(named: "stubborn.sh").first ?? 0
                usleep(10_000)
            }
            try #require(leader > 0 && FileManager.default.fileExists(atPath: ready), "the script did not start")
            let status = try #require(ProcessStatus.read(pid: leader, procRoot: "/proc"))
            #expect(status.processGroup == leader, "handlers lead their own process group")
            let handler = LeftoverHandler(process: status.identity, processGroup: leader, rule: nil, target: nil, eventID: nil)
            let started = Date()
            let left = LeftoverHandlers.stop([handler], grace: 0.3)
            #expect(left.isEmpty)
            #expect(Date().timeIntervalSince(started) >= 0.3, "SIGTERM is ignored: only SIGKILL after the grace ends it")
            #expect(finished.wait(timeout: .now() + 10) == .success)
            #expect(box.outcome?.signal == SIGKILL)
            #expect(!handler.process.isRunning())
        }
    }

    /// Pids of this process's children whose command line names `name`.
    private func runningChildren(named name: String) -> [Int32] {
        let me = getpid()
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> Int32? in
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")"),
                  let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, Int32(fields[1]) == me, String(decoding: cmdline, as: UTF8.self).contains(name) else { return nil }
            return pid
        }
    }
}

private final class OutcomeBox: @unchecked Sendable {
    var outcome: FunctionOutcome?
}
