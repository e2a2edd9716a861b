import Foundation
import Testing
@testable import TriplineTargets

@Suite("Running handlers: stdin, output, environment, timeouts, no deadlocks")
struct FunctionRunnerTests {
    let runner = FunctionRunner()

    func invocation(_ executable: String, payload: [UInt8] = Array("{}".utf8), timeout: Double = 20, grace: Double = 2,
                    environment: [String: String]? = nil, arguments: [String] = []) -> FunctionInvocation {
        let delivery = HandlerEnvironment.Delivery(ruleName: "rule-1", targetID: "target-1", eventID: "evt-123", attempt: 1)
        return FunctionInvocation(executable: executable, arguments: arguments,
                                  environment: environment ?? HandlerEnvironment.make(delivery: delivery, target: ["CUSTOM": "yes", "PATH": "/usr/bin:/bin"]),
                                  payload: payload, timeoutSeconds: timeout, killGraceSeconds: grace)
    }

    @Test func payloadArrivesOnStdinAndEnvironmentIsMinimal() throws {
        try withTargetsTempDirectory { dir in
            let out = dir.appendingPathComponent("received").path
            let script = try writeScript("cat > \"$1\"\n/usr/bin/env > \"$1.env\"", "echo.sh", in: dir)
            let payload = Array(#"{"detail":{"eventName":"ConsoleLogin","note":"$(rm -rf /) `x` 'q'"}}"#.utf8)
            let outcome = try runner.run(invocation(script, payload: payload, arguments: [out]))
            #expect(outcome.termination == .exited(0))
            #expect(outcome.succeeded && !outcome.timedOut)
            #expect(outcome.payloadBytesWritten == payload.count)
            #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: out))) == payload)

            let env = try String(contentsOfFile: out + ".env", encoding: .utf8)
            var variables: [String: String] = [:]
            for line in env.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                variables[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            #expect(variables["TRIPLINE_RULE"] == "rule-1")
            #expect(variables["TRIPLINE_TARGET"] == "target-1")
            #expect(variables["TRIPLINE_EVENT_ID"] == "evt-123")
            #expect(variables["TRIPLINE_IDEMPOTENCY_KEY"] == "evt-123:rule-1:target-1")
            #expect(variables["TRIPLINE_ATTEMPT"] == "1")
            #expect(variables["CUSTOM"] == "yes")
            #expect(variables["PATH"] == "/usr/bin:/bin", "the target's Env overrides the inherited PATH")
            // Nothing else leaks from the test process (the shell itself may add PWD and friends).
            let allowed: Set<String> = ["PATH", "HOME", "LANG", "TZ", "CUSTOM", "PWD", "OLDPWD", "SHLVL", "_",
                                        "TRIPLINE_RULE", "TRIPLINE_TARGET", "TRIPLINE_EVENT_ID", "TRIPLINE_IDEMPOTENCY_KEY", "TRIPLINE_ATTEMPT"]
            #expect(Set(variables.keys).subtracting(allowed).isEmpty, "unexpected variables: \(Set(variables.keys).subtracting(allowed))")
        }
    }

    @Test func exitStatusAndOutputAreReported() throws {
        try withTargetsTempDirectory { dir in
            let script = try writeScript("echo out line\necho err line >&2\nexit 3", "fail.sh", in: dir)
            let outcome = try runner.run(invocation(script))
            #expect(outcome.termination == .exited(3))
            #expect(outcome.exitStatus == 3 && outcome.signal == nil)
            #expect(!outcome.succeeded && !outcome.timedOut)
            #expect(String(decoding: outcome.stdout, as: UTF8.self) == "out line\n")
            #expect(String(decoding: outcome.stderr, as: UTF8.self) == "err line\n")
            #expect(outcome.summary.hasPrefix("exit status 3 in "))
            #expect(outcome.failureDescription == outcome.summary + ": err line", "a dead letter says why")
        }
    }

    @Test(arguments: [
        ("plain text", "plain text"),
        ("tab\there", "tab\there"),
        ("\u{1B}]0;TITLE\u{07}\u{1B}[2J", "\\x1b]0;TITLE\\x07\\x1b[2J"),
        ("cr\rlf", "cr\\x0dlf"),
        ("del\u{7F} csi\u{9B}1m é", "del\\x7f csi\\u009b1m é"),
        ("bidi \u{202E}gnp.exe\u{202C} \u{2066}iso\u{2069} \u{202A}", "bidi \\u202egnp.exe\\u202c \\u2066iso\\u2069 \\u202a"),
    ])
    func controlCharactersArePrintedAsEscapes(_ text: String, _ printable: String) {
        #expect(PrintableText.escapingControls(text) == printable)
    }

    @Test func theLastStderrLineIsTheOneThatExplains() {
        #expect(PrintableText.lastLine(of: Array("first\nsecond  \n\n".utf8)) == "second")
        #expect(PrintableText.lastLine(of: Array("\n \n".utf8)) == nil)
        #expect(PrintableText.lastLine(of: Array(String(repeating: "x", count: 300).utf8), limit: 10) == "xxxxxxxxxx…")
        #expect(PrintableText.lastLine(of: Array("bad \u{1B}[2J".utf8)) == "bad \\x1b[2J")
    }

    @Test func aTimedOutHandlersBackgroundChildIgnoringSIGTERMIsKilledAfterTheGrace() throws {
        try withTargetsTempDirectory { dir in
            let pidFile = dir.appendingPathComponent("child.pid").path
            let script = try writeScript("( trap '' TERM; exec sleep 60 ) &\necho $! > \"\(pidFile)\"\nsleep 30", "spawner.sh", in: dir)
            let started = monotonicSeconds()
            // A grace long enough that the handler's own end (just after the timeout) and the end of
            // the grace stay apart on a loaded machine.
            let outcome = try runner.run(invocation(script, timeout: 0.3, grace: 1.5))
            let wall = monotonicSeconds() - started
            #expect(outcome.timedOut && outcome.termination == .signaled(SIGTERM), "the handler itself ends on SIGTERM")
            let child = try #require(pid_t(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            // Reaped by init once killed; give it a moment.
            var alive = true
            for _ in 0..<100 where alive {
                alive = kill(child, 0) == 0
                if alive { usleep(20_000) }
            }
            #expect(!alive, "the background child that ignored SIGTERM outlived its handler")
            #expect(wall >= 1.7 && wall < 8, "the live child is waited for through the grace, then killed")
            #expect(outcome.durationSeconds >= 0.3 && outcome.durationSeconds < 1.5,
                    "the duration is the handler's own, not the grace wait: \(outcome.durationSeconds)")
        }
    }

    @Test("a timed-out handler's group left with only a zombie is done at once, not after the kill grace")
    func zombiesInTheGroupDoNotHoldTheTimeoutUp() throws {
        try withTargetsTempDirectory { dir in
            let pidFile = dir.appendingPathComponent("handler.pid").path
            let script = try writeScript("echo $$ > \"\(pidFile).tmp\"\nmv \"\(pidFile).tmp\" \"\(pidFile)\"\nexec sleep 30", "zombie.sh", in: dir)
            let runner = FunctionRunner()
            let finished = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var result: (outcome: FunctionOutcome?, wall: Double) = (nil, 0)
            Thread {
                let started = monotonicSeconds()
                let outcome = try? runner.run(invocation(script, timeout: 2, grace: 6))
                result = (outcome, monotonicSeconds() - started)
                finished.signal()
            }.start()
            // A process that exits at once, moved into the handler's group and never reaped while the
            // handler runs: the zombie a PID 1 that does not reap leaves behind.
            var handler: pid_t?
            for _ in 0..<400 where handler == nil {
                handler = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                if handler == nil { usleep(5_000) }
            }
            let group = try #require(handler)
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
            posix_spawnattr_setpgroup(&attributes, group)
            var zombie: pid_t = 0
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup("true"), nil]
            defer { argv.forEach { free($0) } }
            let spawned = posix_spawn(&zombie, "/bin/true", nil, &attributes, argv, nil)
            try #require(spawned == 0, "spawning into the handler's group: \(String(cString: strerror(spawned)))")
            defer { var status: Int32 = 0; _ = waitpid(zombie, &status, 0) }
            var info = siginfo_t()
            _ = waitid(P_PID, id_t(zombie), &info, WEXITED | WNOWAIT)  // exited, left a zombie
            #expect(ProcessGroup.hasLiveMembers(group), "the handler still runs")

            finished.wait()
            let outcome = try #require(result.outcome)
            #expect(outcome.timedOut && outcome.termination == .signaled(SIGTERM))
            #expect(result.wall < 6, "waited out the 6 s grace for a zombie: \(result.wall)s")
            #expect(outcome.durationSeconds >= 2 && outcome.durationSeconds < 6, "\(outcome.durationSeconds)")
            #expect(!ProcessGroup.hasLiveMembers(group) && kill(-group, 0) == 0, "only the zombie is left in the group")
        }
    }

    @Test("/proc/<pid>/stat: the state and group are read after the command name, whatever it holds")
    func statLinesAreParsed() {
        let line = Array("4242 (we ird) (name)) Z 1 4240 4240 0 -1 4194564".utf8)
        let parsed = ProcessGroup.parseStat(line[...])
        #expect(parsed?.state == UInt8(ascii: "Z") && parsed?.group == 4240)
        #expect(ProcessGroup.parseStat(Array("garbage".utf8)[...]) == nil)
    }

    @Test func interruptingStopsRunningHandlersLikeATimeout() throws {
        try withTargetsTempDirectory { dir in
            let script = try writeScript("sleep 30", "hang.sh", in: dir)
            let runner = FunctionRunner()
            let interrupter = Thread { usleep(300_000); runner.interruptRunning() }
            interrupter.start()
            let outcome = try runner.run(invocation(script, grace: 0.5))
            #expect(outcome.interrupted && !outcome.timedOut && !outcome.succeeded)
            #expect(outcome.termination == .signaled(SIGTERM))
            #expect(outcome.durationSeconds < 5)
            #expect(outcome.summary.hasPrefix("interrupted (tripline was stopping)"))
        }
    }

    @Test func hangingHandlerIsTerminatedAtTheTimeout() throws {
        try withTargetsTempDirectory { dir in
            let script = try writeScript("echo started\nsleep 30", "hang.sh", in: dir)
            let outcome = try runner.run(invocation(script, timeout: 0.5))
            #expect(outcome.timedOut)
            #expect(outcome.termination == .signaled(SIGTERM))
            #expect(!outcome.succeeded)
            #expect(outcome.durationSeconds >= 0.5 && outcome.durationSeconds < 5)
            #expect(String(decoding: outcome.stdout, as: UTF8.self) == "started\n")
        }
    }

    @Test func handlerIgnoringSIGTERMIsKilledAfterTheGracePeriod() throws {
        try withTargetsTempDirectory { dir in
            let script = try writeScript("trap '' TERM\nwhile :; do sleep 1; done", "stubborn.sh", in: dir)
            let outcome = try runner.run(invocation(script, timeout: 0.3, grace: 0.5))
            #expect(outcome.timedOut)
            #expect(outcome.termination == .signaled(SIGKILL))
            #expect(outcome.durationSeconds >= 0.8 && outcome.durationSeconds < 5)
        }
    }

    @Test func floodingStdoutWithoutReadingStdinDoesNotDeadlock() throws {
        try withTargetsTempDirectory { dir in
            let script = try writeScript("head -c 10485760 /dev/zero\necho tail >&2", "flood.sh", in: dir)
            let payload = [UInt8](repeating: UInt8(ascii: "x"), count: 1024 * 1024)
            let outcome = try runner.run(invocation(script, payload: payload, timeout: 30))
            #expect(outcome.termination == .exited(0))
            #expect(!outcome.timedOut)
            #expect(outcome.stdout.count == FunctionInvocation.defaultOutputCap)
            #expect(outcome.stdoutDroppedBytes == 10_485_760 - FunctionInvocation.defaultOutputCap)
            #expect(outcome.truncatedBytes == outcome.stdoutDroppedBytes)
            #expect(String(decoding: outcome.stderr, as: UTF8.self) == "tail\n")
            #expect(outcome.payloadBytesWritten < payload.count)
        }
    }

    @Test func handlerThatNeverReadsStdinGetsA1MBPayloadWithoutDeadlock() throws {
        try withTargetsTempDirectory { dir in
            let script = try writeScript("sleep 0.2\necho ignored input", "ignore.sh", in: dir)
            let payload = [UInt8](repeating: UInt8(ascii: "y"), count: 1024 * 1024)
            let outcome = try runner.run(invocation(script, payload: payload, timeout: 30))
            #expect(outcome.termination == .exited(0))
            #expect(!outcome.timedOut)
            #expect(outcome.durationSeconds < 10)
            #expect(String(decoding: outcome.stdout, as: UTF8.self) == "ignored input\n")
        }
    }

    @Test func largePayloadIsDeliveredWhole() throws {
        try withTargetsTempDirectory { dir in
            let script = try writeScript("wc -c", "count.sh", in: dir)
            let outcome = try runner.run(invocation(script, payload: [UInt8](repeating: 0x41, count: 3 * 1024 * 1024 + 17)))
            #expect(outcome.succeeded)
            #expect(String(decoding: outcome.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "\(3 * 1024 * 1024 + 17)")
        }
    }

    @Test func backgroundChildHoldingStdoutDoesNotDelayTheEnd() throws {
        try withTargetsTempDirectory { dir in
            let script = try writeScript("sleep 5 &\necho done", "bg.sh", in: dir)
            let outcome = try runner.run(invocation(script))
            #expect(outcome.succeeded)
            #expect(outcome.durationSeconds < 3)
            #expect(String(decoding: outcome.stdout, as: UTF8.self) == "done\n")
        }
    }

    @Test func handlerKilledBySignalIsReported() throws {
        try withTargetsTempDirectory { dir in
            let script = try writeScript("kill -KILL $$", "suicide.sh", in: dir)
            let outcome = try runner.run(invocation(script))
            #expect(outcome.termination == .signaled(SIGKILL))
            #expect(!outcome.timedOut && !outcome.succeeded)
            #expect(outcome.summary.contains("SIGKILL"))
        }
    }

    @Test func handlerCannotBeStarted() throws {
        try withTargetsTempDirectory { dir in
            #expect(throws: FunctionRunError.self) { try runner.run(invocation(dir.path + "/missing.sh")) }
            let plain = try writeFile("echo hi\n", "plain.sh", in: dir)
            do {
                _ = try runner.run(invocation(plain))
                Issue.record("a non-executable handler started")
            } catch {
                #expect("\(error)".contains("not executable"))
            }
            #expect(throws: FunctionRunError.cannotStart(executable: "no-such-program-xyz", reason: "not found on PATH")) {
                try runner.run(invocation("no-such-program-xyz"))
            }
        }
    }

    @Test func bareNamesAreLookedUpOnPATH() throws {
        let outcome = try runner.run(invocation("echo", arguments: ["hello", "world"]))
        #expect(outcome.succeeded)
        #expect(String(decoding: outcome.stdout, as: UTF8.self) == "hello world\n")
    }

    @Test func argumentsArePassedVerbatimWithoutAShell() throws {
        try withTargetsTempDirectory { dir in
            let script = try writeScript("for a in \"$@\"; do printf '<%s>\\n' \"$a\"; done", "args.sh", in: dir)
            let outcome = try runner.run(invocation(script, arguments: ["a b", "$(id)", "*", ""]))
            #expect(String(decoding: outcome.stdout, as: UTF8.self) == "<a b>\n<$(id)>\n<*>\n<>\n")
        }
    }

    @Test("descriptors Tripline opened without close-on-exec do not reach the handler")
    func parentDescriptorsAreNotInherited() throws {
        try withTargetsTempDirectory { dir in
            // As Foundation's Data.write opens its file: no O_CLOEXEC. Inherited, it would keep a script
            // being written "busy" (ETXTBSY) for as long as the handler runs.
            let fd = open(dir.appendingPathComponent("held-open").path, O_WRONLY | O_CREAT, 0o644)
            #expect(fd > 2)
            defer { close(fd) }
            let script = try writeScript("if [ -e /proc/self/fd/$1 ]; then echo inherited; else echo closed; fi", "fds.sh", in: dir)
            let outcome = try runner.run(invocation(script, arguments: [String(fd)]))
            #expect(String(decoding: outcome.stdout, as: UTF8.self) == "closed\n")
        }
    }

    @Test func manyConcurrentRunsDoNotLeakPipesIntoEachOther() async throws {
        try await withThrowingTaskGroup(of: FunctionOutcome.self) { group in
            for i in 0..<16 {
                group.addTask {
                    // `cat` ends only when it sees end of input: a leaked write end would hang it.
                    try FunctionRunner().run(FunctionInvocation(executable: "/bin/cat", environment: [:], payload: Array("payload \(i)".utf8),
                                                                timeoutSeconds: 10))
                }
            }
            var count = 0
            for try await outcome in group {
                count += 1
                #expect(outcome.succeeded, "\(outcome.summary)")
                #expect(String(decoding: outcome.stdout, as: UTF8.self).hasPrefix("payload "))
            }
            #expect(count == 16)
        }
    }
}
