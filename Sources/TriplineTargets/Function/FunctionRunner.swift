#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Runs handler programs directly with `posix_spawn` (never through a shell), feeding the payload on
/// standard input and capturing output, with a timeout.
///
/// One `poll(2)` loop drives the three non-blocking pipes, so a handler that never reads its input,
/// floods its output, or both, cannot deadlock the run: input is written only when the pipe has room
/// (EPIPE just ends it), output is always drained (past the cap it is counted and dropped). The
/// handler runs in its own process group with default signal dispositions and an empty signal mask;
/// at the timeout the group gets SIGTERM, and SIGKILL after the grace period. The run is over when the
/// handler process has exited and the output it left in the pipes is read: background processes it
/// started are not waited for. Thread-safe: one runner can serve many threads.
public final class FunctionRunner: Sendable {
    /// Serialises pipe creation and spawning, so no child inherits another delivery's pipe ends
    /// between `pipe(2)` and setting close-on-exec (Glibc does not offer `pipe2` to Swift).
    private static let spawnLock = NSLock()
    /// The handlers running now, and whether ``interruptRunning()`` was called.
    private let running = RunningHandlers()

    public init() {
        // A handler that exits without reading must not kill Tripline with SIGPIPE on write.
        signal(SIGPIPE, SIG_IGN)
    }

    /// Runs `invocation` to completion; throws only when the handler could not be started.
    public func run(_ invocation: FunctionInvocation) throws(FunctionRunError) -> FunctionOutcome {
        let executable = try Self.resolveExecutable(invocation.executable, searchPath: invocation.environment["PATH"])
        let start = monotonicSeconds()
        // A slot of the state directory's record of running handlers, written the moment the pid is known.
        let records = running.records
        let slot = records?.reserve(rule: invocation.environment["TRIPLINE_RULE"], target: invocation.environment["TRIPLINE_TARGET"],
                                    eventID: invocation.environment["TRIPLINE_EVENT_ID"])
        defer { if let slot { records?.remove(slot) } }
        var attempt = 0
        var spawned: Child?
        while spawned == nil {
            do {
                spawned = try spawn(executable: executable, invocation: invocation)
            } catch {
                switch error {
                case .textFileBusy where attempt < 10:
                    // The program file is open for writing somewhere, typically in a child that another
                    // thread forked while the file was being written; that fd goes away at its exec.
                    attempt += 1
                    usleep(UInt32(attempt) * 20_000)
                case .textFileBusy:
                    throw .cannotStart(executable: executable, reason: String(cString: strerror(ETXTBSY)))
                case .failed(let failure):
                    throw failure
                }
            }
        }
        let child = spawned!
        // Noted while it runs, for the next run to stop if this one is killed: the pid at once, then its start time.
        if let slot, let records {
            records.write(slot, pid: child.pid, startTicks: 0)
            if let status = ProcessStatus.read(pid: child.pid, procRoot: "/proc") {
                records.write(slot, pid: child.pid, startTicks: status.identity.startTicks)
            }
        }
        running.insert(child.pid)
        defer { running.remove(child.pid) }
        var session = Session(child: child, invocation: invocation, start: start, interruption: running)
        return session.run()
    }

    /// Stops the handlers that a killed run on `stateDirectory` left running, then records every
    /// handler started from now on there (``HandlerRecords``, in `handlers.running`); returns the
    /// handlers it stopped, after telling `announce` of them (when there are some) before stopping them.
    ///
    /// Call it once the state directory is held (its lock taken) and before any delivery starts: the
    /// deliveries of the stopped handlers are queued and run again. Blocks up to the default kill
    /// grace period (and a second more) when there are leftovers to stop.
    @discardableResult
    public func takeOver(stateDirectory: String, announce: ([LeftoverHandler]) -> Void = { _ in }) -> [LeftoverHandler] {
        let records = HandlerRecords(path: (stateDirectory as NSString).appendingPathComponent("handlers.running"))
        let leftovers = records.leftovers()
        if !leftovers.isEmpty { announce(leftovers) }
        LeftoverHandlers.stop(leftovers, grace: FunctionInvocation.defaultKillGraceSeconds)
        records.clear()
        running.records = records
        return leftovers
    }

    /// Stops every handler running now or started later as a timeout does (SIGTERM to its process
    /// group, SIGKILL after its grace period); their outcomes say `interrupted`.
    ///
    /// For shutdown: a handler must not outlive the run that started it, or the next run would start
    /// the same delivery while the first copy still runs.
    public func interruptRunning() { running.interrupt() }

    /// Lets handlers started from now on run again after ``interruptRunning()``: for a run that
    /// stopped its deliveries to reload its rules and goes on delivering with the same runner.
    /// Call it only once the interrupted handlers have ended (the dispatcher's stop waits for them).
    public func resumeStarting() { running.resume() }

    /// Sends SIGKILL to the process group of every handler running now, without waiting.
    ///
    /// For a process about to exit at once (a second Ctrl-C): handlers run in their own process
    /// groups, so the terminal's signal does not reach them, and they would outlive Tripline.
    public func killRunning() {
        for pid in running.pids {
            _ = kill(-pid, SIGKILL)
            _ = kill(pid, SIGKILL)
        }
    }

    /// The program a run of `name` starts: `name` itself if it contains a slash (checked to be an
    /// executable regular file), else the first executable match on `searchPath` (the handler
    /// environment's `PATH`; a default when nil). Public so rule checks find what a run would.
    public static func resolveExecutable(_ name: String, searchPath path: String?) throws(FunctionRunError) -> String {
        if name.isEmpty { throw .cannotStart(executable: name, reason: "empty program name") }
        if name.contains("/") {
            try checkExecutable(name)
            return name
        }
        if let found = searchOnPath(name, searchPath: path ?? "/usr/local/bin:/usr/bin:/bin") { return found }
        throw .cannotStart(executable: name, reason: "not found on PATH")
    }

    /// ``resolveExecutable(_:searchPath:)``, then whether the system can start what it found:
    /// a compiled program, or a script whose `#!` interpreter exists and can run (and, for
    /// `#!/usr/bin/env NAME`, whose `NAME` is on `searchPath`), read from the file's first bytes
    /// (``ProgramHeader``). What `validate` and `run` check before any delivery.
    public static func checkStartable(_ name: String, searchPath path: String?) throws(FunctionRunError) -> String {
        let program = try resolveExecutable(name, searchPath: path)
        if let problem = ProgramHeader.problem(program: program, searchPath: path) {
            throw .cannotStartProgram(executable: program, problem)
        }
        return program
    }

    /// The first executable regular file named `name` in the directories of `searchPath` (an
    /// empty entry is the working directory), or nil.
    static func searchOnPath(_ name: String, searchPath: String) -> String? {
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return nil
    }

    private static func checkExecutable(_ path: String) throws(FunctionRunError) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .cannotStart(executable: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .cannotStart(executable: path, reason: "not a regular file") }
        guard access(path, X_OK) == 0 else {
            throw .cannotStart(executable: path, reason: "not executable (chmod +x \(path), and give scripts a #! line)")
        }
    }

    /// The spawned process and the parent's ends of its pipes (non-blocking, close-on-exec).
    struct Child {
        var pid: pid_t
        var stdin: Int32
        var stdout: Int32
        var stderr: Int32
    }

    /// Why one spawn attempt failed.
    private enum SpawnFailure: Error {
        /// `ETXTBSY`: worth retrying shortly.
        case textFileBusy
        case failed(FunctionRunError)
    }

    private func spawn(executable: String, invocation: FunctionInvocation) throws(SpawnFailure) -> Child {
        let argv = CStringArray([executable] + invocation.arguments)
        let envp = CStringArray(invocation.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        Self.spawnLock.lock()
        defer { Self.spawnLock.unlock() }
        var pipes: [(read: Int32, write: Int32)] = []
        func closeAll() { for p in pipes { _ = Glibc.close(p.read); _ = Glibc.close(p.write) } }
        for _ in 0..<3 {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else {
                let reason = String(cString: strerror(errno))
                closeAll()
                throw .failed(.systemCallFailed(call: "pipe", reason: reason))
            }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            pipes.append((fds[0], fds[1]))
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipes[0].read, 0)
        posix_spawn_file_actions_adddup2(&actions, pipes[1].write, 1)
        posix_spawn_file_actions_adddup2(&actions, pipes[2].write, 2)
        InheritedDescriptors.closeAbove2(in: &actions)

        var pid: pid_t = 0
        let rc = argv.withPointer { args in envp.withPointer { env in posix_spawn(&pid, executable, &actions, &attributes, args, env) } }
        guard rc == 0 else {
            closeAll()
            if rc == ETXTBSY { throw .textFileBusy }
            // ENOENT for a file that exists, or ENOEXEC: the file's #! line is to blame, not the file.
            if rc == ENOENT || rc == ENOEXEC,
               let problem = ProgramHeader.problem(program: executable, searchPath: invocation.environment["PATH"]) {
                throw .failed(.cannotStartProgram(executable: executable, problem))
            }
            var reason = String(cString: strerror(rc))
            if rc == ENOENT && access(executable, F_OK) == 0 {
                reason += " (the file exists: a program it needs to start, its #! interpreter or dynamic loader, is missing)"
            }
            throw .failed(.cannotStart(executable: executable, reason: reason))
        }
        _ = Glibc.close(pipes[0].read)
        _ = Glibc.close(pipes[1].write)
        _ = Glibc.close(pipes[2].write)
        let child = Child(pid: pid, stdin: pipes[0].write, stdout: pipes[1].read, stderr: pipes[2].read)
        for fd in [child.stdin, child.stdout, child.stderr] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        return child
    }
}

/// Keeps Tripline's own descriptors (the state database, webhook sockets, files other threads are
/// writing) out of handlers.
///
/// Descriptors opened without close-on-exec, as Foundation's `Data.write` does, would otherwise live
/// on in every handler spawned meanwhile: a script written at that moment then cannot be executed
/// (`ETXTBSY`) for as long as that handler runs, and a handler could write into Tripline's files.
private enum InheritedDescriptors {
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc module
    /// does not import; looked up once.
    private static let closeFrom: CloseFrom? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: CloseFrom.self)
    }()

    /// Adds an action closing every descriptor above standard error in the child, after the dup2s.
    static func closeAbove2(in actions: inout posix_spawn_file_actions_t) {
        if let closeFrom, closeFrom(&actions, 3) == 0 { return }
        // Older C libraries: close what is open now (a descriptor opened by another thread in the
        // meantime may still slip through).
        guard let directory = opendir("/proc/self/fd") else { return }
        defer { closedir(directory) }
        let own = dirfd(directory)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let fd = Int32(name), fd > 2, fd != own { posix_spawn_file_actions_addclose(&actions, fd) }
        }
    }
}

/// The poll loop of one run.
private struct Session {
    var child: FunctionRunner.Child
    let invocation: FunctionInvocation
    let start: Double
    var stdinOpen = true
    var stdoutOpen = true
    var stderrOpen = true
    var written = 0
    var stdout = CappedBuffer()
    var stderr = CappedBuffer()
    var status: Int32?
    /// When the handler process itself was seen to exit: its duration ends there, not after the
    /// wait for the rest of its group.
    var exitedAt: Double?
    var timedOut = false
    var killAt: Double?
    var killed = false
    var interrupted = false
    let interruption: RunningHandlers
    var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(child: FunctionRunner.Child, invocation: FunctionInvocation, start: Double, interruption: RunningHandlers) {
        self.child = child
        self.invocation = invocation
        self.start = start
        self.interruption = interruption
        stdout.cap = invocation.outputCap
        stderr.cap = invocation.outputCap
        if invocation.payload.isEmpty { closeStdin() }
    }

    mutating func run() -> FunctionOutcome {
        let deadline = start + max(0, invocation.timeoutSeconds)
        // With every pipe closed only the exit is awaited: poll briefly, backing off, instead of
        // sleeping the full 50 ms (a handler usually exits right after closing its output).
        var exitWait = 0.0005
        while true {
            if status == nil { reap() }
            if status != nil {
                // Everything the handler wrote before exiting is in the pipes now: read it and stop.
                drain(child.stdout, into: \.stdout, open: \.stdoutOpen, untilEmpty: true)
                drain(child.stderr, into: \.stderr, open: \.stderrOpen, untilEmpty: true)
                if (timedOut || interrupted) && !killed { finishGroup() }
                break
            }
            let now = monotonicSeconds()
            if !timedOut && !interrupted && interruption.isInterrupted {
                interrupted = true
                signalGroup(SIGTERM)
                killAt = now + max(0, invocation.killGraceSeconds)
            }
            if !timedOut && !interrupted, now >= deadline {
                timedOut = true
                signalGroup(SIGTERM)
                killAt = now + max(0, invocation.killGraceSeconds)
            }
            if let killAt, !killed, now >= killAt {
                killed = true
                signalGroup(SIGKILL)
            }
            // Wake at least every 50 ms to notice the handler's exit even if a background process
            // keeps its output pipes open.
            var wait = 0.05
            if !stdinOpen && !stdoutOpen && !stderrOpen {
                wait = exitWait
                exitWait = min(exitWait * 2, 0.05)
            }
            if !timedOut && !interrupted { wait = min(wait, deadline - now) }
            if let killAt, !killed { wait = min(wait, killAt - now) }
            pollOnce(timeoutMilliseconds: Int32(max(0, wait) * 1000) + (wait < 0.001 ? 0 : 1))
        }
        closeStdin()
        if stdoutOpen { _ = Glibc.close(child.stdout); stdoutOpen = false }
        if stderrOpen { _ = Glibc.close(child.stderr); stderrOpen = false }
        return FunctionOutcome(termination: decode(status ?? 0), timedOut: timedOut, interrupted: interrupted,
                               durationSeconds: (exitedAt ?? monotonicSeconds()) - start,
                               stdout: stdout.bytes, stderr: stderr.bytes,
                               stdoutDroppedBytes: stdout.dropped, stderrDroppedBytes: stderr.dropped,
                               payloadBytesWritten: written)
    }

    private mutating func pollOnce(timeoutMilliseconds: Int32) {
        var fds: [pollfd] = []
        if stdinOpen { fds.append(pollfd(fd: child.stdin, events: Int16(POLLOUT), revents: 0)) }
        if stdoutOpen { fds.append(pollfd(fd: child.stdout, events: Int16(POLLIN), revents: 0)) }
        if stderrOpen { fds.append(pollfd(fd: child.stderr, events: Int16(POLLIN), revents: 0)) }
        let n = poll(&fds, nfds_t(fds.count), timeoutMilliseconds)
        guard n > 0 else { return }
        for entry in fds where entry.revents != 0 {
            if entry.fd == child.stdin {
                if entry.revents & Int16(POLLOUT) != 0 { writePayload() } else { closeStdin() }
            } else if entry.fd == child.stdout {
                drain(child.stdout, into: \.stdout, open: \.stdoutOpen, untilEmpty: false)
            } else if entry.fd == child.stderr {
                drain(child.stderr, into: \.stderr, open: \.stderrOpen, untilEmpty: false)
            }
        }
    }

    private mutating func writePayload() {
        let payload = invocation.payload
        while written < payload.count {
            let n = payload.withUnsafeBytes { raw in
                write(child.stdin, raw.baseAddress! + written, min(raw.count - written, 64 * 1024))
            }
            if n > 0 { written += n; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            // EPIPE (the handler closed its input or exited) or another error: stop feeding it.
            break
        }
        closeStdin()
    }

    private mutating func closeStdin() {
        guard stdinOpen else { return }
        _ = Glibc.close(child.stdin)
        stdinOpen = false
    }

    /// Reads what is available (a few buffers' worth unless `untilEmpty`); closes the pipe at EOF.
    private mutating func drain(_ fd: Int32, into buffer: WritableKeyPath<Session, CappedBuffer>,
                                open: WritableKeyPath<Session, Bool>, untilEmpty: Bool) {
        guard self[keyPath: open] else { return }
        var rounds = 0
        while untilEmpty || rounds < 4 {
            rounds += 1
            let n = readBuffer.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress!, raw.count) }
            if n > 0 {
                readBuffer.withUnsafeBufferPointer { self[keyPath: buffer].append(UnsafeBufferPointer(rebasing: $0[0..<n])) }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            _ = Glibc.close(fd)
            self[keyPath: open] = false
            return
        }
    }

    private mutating func reap() {
        var raw: Int32 = 0
        while true {
            let rc = waitpid(child.pid, &raw, WNOHANG)
            if rc == child.pid { status = raw; exitedAt = monotonicSeconds(); return }
            if rc < 0 && errno == EINTR { continue }
            if rc < 0 { status = raw; exitedAt = monotonicSeconds(); return }  // ECHILD: someone else reaped it; report what we have
            return
        }
    }

    /// After a stopped handler's own exit: what else its group still runs (background children
    /// that ignored SIGTERM) gets SIGKILL at the end of the grace period, so nothing of a timed-out
    /// or interrupted handler outlives it. The group id cannot be reused while members remain.
    /// A group left with only zombies (children re-parented to a PID 1 that does not reap them) is
    /// done: waiting for them would only stretch every timeout by the grace period.
    private mutating func finishGroup() {
        guard let killAt else { return }
        while ProcessGroup.hasLiveMembers(child.pid) && monotonicSeconds() < killAt { usleep(20_000) }
        if ProcessGroup.hasLiveMembers(child.pid) { _ = kill(-child.pid, SIGKILL) }
        killed = true
    }

    private func signalGroup(_ signal: Int32) {
        _ = kill(-child.pid, signal)
        _ = kill(child.pid, signal)
    }

    private func decode(_ raw: Int32) -> FunctionOutcome.Termination {
        let low = raw & 0x7F
        if low == 0 { return .exited((raw >> 8) & 0xFF) }
        return .signaled(low)
    }
}

/// Keeps the first `cap` bytes and counts the rest.
private struct CappedBuffer {
    var cap = 0
    var bytes: [UInt8] = []
    var dropped = 0

    mutating func append(_ chunk: UnsafeBufferPointer<UInt8>) {
        let room = max(0, cap - bytes.count)
        if room >= chunk.count {
            bytes.append(contentsOf: chunk)
        } else {
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[0..<room]))
            dropped += chunk.count - room
        }
    }
}

/// A NULL-terminated array of C strings that lives as long as the value.
private final class CStringArray {
    private var pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
    }

    deinit {
        for pointer in pointers { free(pointer) }
    }

    func withPointer<R>(_ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
