#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// A handler process still running although the run that started it is gone (killed with
/// SIGKILL, or crashed), found by its `TRIPLINE_OWNER` variable.
public struct LeftoverHandler: Sendable, Equatable, CustomStringConvertible {
    public var process: ProcessIdentity
    public var processGroup: Int32
    /// Its `TRIPLINE_RULE`, `TRIPLINE_TARGET` and `TRIPLINE_EVENT_ID`, when set.
    public var rule: String?
    public var target: String?
    public var eventID: String?

    /// `pid 123 (rule R, target T, event E)`.
    public var description: String {
        let about = [rule.map { "rule \($0)" }, target.map { "target \($0)" }, eventID.map { "event \($0)" }].compactMap { $0 }
        return "pid \(process.pid)" + (about.isEmpty ? "" : " (" + about.joined(separator: ", ") + ")")
    }
}

/// Finds and stops the handlers a killed run left running.
///
/// Handlers run in their own process groups, so the kernel does not stop them when `tripline` dies
/// of SIGKILL; the next run on the same state directory retries their deliveries. Stopping the
/// leftovers first keeps a delivery from running twice at once. Only processes whose
/// `TRIPLINE_OWNER` names the same state directory and a `tripline` process that no longer runs are
/// touched; processes of other users (whose environment cannot be read) and handlers that cleared
/// their environment are not found.
public enum LeftoverHandlers {
    /// The processes started for `owner`'s state directory by a `tripline` process that is gone
    /// (other than `owner`'s own process).
    public static func find(for owner: HandlerOwner, procRoot: String = "/proc") -> [LeftoverHandler] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: procRoot) else { return [] }
        var found: [LeftoverHandler] = []
        var ownersChecked: [ProcessIdentity: Bool] = [:]
        for entry in entries {
            guard let pid = Int32(entry), pid > 0, pid != getpid(),
                  let environment = ProcFile.read("\(procRoot)/\(pid)/environ", limit: 1 << 20),
                  let variables = Self.variables(in: environment, named: [HandlerOwner.variable, "TRIPLINE_RULE", "TRIPLINE_TARGET", "TRIPLINE_EVENT_ID"]),
                  let tag = variables[HandlerOwner.variable], let started = HandlerOwner(tag: tag),
                  started.sharesState(with: owner), started.process != owner.process else { continue }
            let ownerGone: Bool
            if let known = ownersChecked[started.process] {
                ownerGone = known
            } else {
                ownerGone = !started.process.isRunning(procRoot: procRoot)
                ownersChecked[started.process] = ownerGone
            }
            guard ownerGone, let status = ProcessStatus.read(pid: pid, procRoot: procRoot),
                  status.state != UInt8(ascii: "Z"), status.state != UInt8(ascii: "X") else { continue }
            found.append(LeftoverHandler(process: status.identity, processGroup: status.processGroup, rule: variables["TRIPLINE_RULE"],
                                         target: variables["TRIPLINE_TARGET"], eventID: variables["TRIPLINE_EVENT_ID"]))
        }
        return found.sorted { $0.process.pid < $1.process.pid }
    }

    /// Sends SIGTERM to each handler's process group (and to the handler), waits up to `grace`
    /// seconds for them to exit, then sends SIGKILL to what is left; returns the handlers still
    /// running after that (normally none).
    ///
    /// A process group is signalled only while a process of it is one of `handlers` and the group
    /// is not this process's own.
    @discardableResult
    public static func stop(_ handlers: [LeftoverHandler], grace: Double, procRoot: String = "/proc") -> [LeftoverHandler] {
        if handlers.isEmpty { return [] }
        signal(SIGTERM, handlers, procRoot: procRoot)
        let deadline = monotonicSeconds() + grace
        var running = handlers.filter { $0.process.isRunning(procRoot: procRoot) }
        while !running.isEmpty && monotonicSeconds() < deadline {
            usleep(20_000)
            running = running.filter { $0.process.isRunning(procRoot: procRoot) }
        }
        if running.isEmpty { return [] }
        signal(SIGKILL, running, procRoot: procRoot)
        let killDeadline = monotonicSeconds() + 1
        while !running.isEmpty && monotonicSeconds() < killDeadline {
            usleep(10_000)
            running = running.filter { $0.process.isRunning(procRoot: procRoot) }
        }
        return running
    }

    private static func signal(_ number: Int32, _ handlers: [LeftoverHandler], procRoot: String) {
        let ownGroup = getpgrp()
        for handler in handlers where handler.process.isRunning(procRoot: procRoot) {
            // Checked just now, so the pid is still this handler's (not a reused one).
            if handler.processGroup > 1 && handler.processGroup != ownGroup { _ = kill(-handler.processGroup, number) }
            _ = kill(handler.process.pid, number)
        }
    }

    /// What a run says after stopping `stopped`, one entry per handler (a process group: the
    /// handler and what it started): `stopped 1 handler that a killed run on DIR left running:
    /// pid 12 (rule R, target T, event E; and 1 process it started); its delivery is retried`.
    public static func summary(_ stopped: [LeftoverHandler], stateDirectory: String) -> String {
        var groups: [Int32: [LeftoverHandler]] = [:]
        for handler in stopped { groups[handler.processGroup, default: []].append(handler) }
        let entries = groups.values.map { members -> (pid: Int32, text: String) in
            // The handler itself leads its group; without it (it exited), the lowest pid stands for the group.
            let lead = members.first { $0.process.pid == $0.processGroup } ?? members[0]
            var text = lead.description
            if members.count > 1 {
                let more = "\(members.count - 1) process\(members.count == 2 ? "" : "es") it started"
                text = text.hasSuffix(")") ? String(text.dropLast()) + "; and \(more))" : text + " (and \(more))"
            }
            return (lead.process.pid, text)
        }.sorted { $0.pid < $1.pid }
        let one = entries.count == 1
        return "stopped \(entries.count) handler\(one ? "" : "s") that a killed run on \(stateDirectory) left running: "
            + entries.map(\.text).joined(separator: ", ") + "; \(one ? "its delivery is" : "their deliveries are") retried"
    }

    /// The values of `names` in a NUL-separated environment block; nil when the first name is absent.
    static func variables(in environment: [UInt8], named names: [String]) -> [String: String]? {
        var values: [String: String] = [:]
        let prefixes = names.map { Array(($0 + "=").utf8) }
        for entry in environment.split(separator: 0) {
            for (k, prefix) in prefixes.enumerated() where entry.starts(with: prefix) {
                values[names[k]] = String(decoding: entry.dropFirst(prefix.count), as: UTF8.self)
            }
        }
        return values[names[0]] == nil ? nil : values
    }
}
