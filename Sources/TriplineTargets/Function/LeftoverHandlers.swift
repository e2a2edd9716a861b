#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import TriplineJSON

/// A handler still running although the run that started it is gone (killed with SIGKILL, or
/// crashed) before the handler ended: its delivery was not completed and runs again.
public struct LeftoverHandler: Sendable, Equatable, CustomStringConvertible {
    public var process: ProcessIdentity
    /// The delivery it was running, as its record names it.
    public var rule: String?
    public var target: String?
    public var eventID: String?

    /// `pid 123 (rule R, target T, event E)`.
    public var description: String {
        let about = [rule.map { "rule \($0)" }, target.map { "target \($0)" }, eventID.map { "event \($0)" }].compactMap { $0 }
        return "pid \(process.pid)" + (about.isEmpty ? "" : " (" + about.joined(separator: ", ") + ")")
    }
}

/// The handlers a run has running, one small file each in a folder of the state directory, so that
/// the next run can stop those a killed run left behind.
///
/// Handlers run in their own process groups, so the kernel does not stop them when `tripline` dies
/// of SIGKILL, and the next run retries their deliveries: stopping the leftovers first keeps two
/// copies of one delivery from running side by side. A record is written when a handler starts
/// (named by its pid and start time, which no later process shares) and removed when it ends, so
/// only handlers whose delivery was still running are ever found: background processes a handler
/// leaves behind after a finished delivery are not touched. Records are not synced: a process
/// crash keeps them (the kernel has them), and a machine crash ends the handlers anyway.
public final class HandlerRecords: @unchecked Sendable {
    /// The folder of records (created when missing).
    public let directory: String
    private let procRoot: String

    public init(directory: String, procRoot: String = "/proc") {
        self.directory = directory
        self.procRoot = procRoot
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Notes that `process` runs the delivery of `rule`/`target` for event `eventID`; returns the
    /// record's path (nil when it could not be written: the handler then goes unrecorded).
    func record(_ process: ProcessIdentity, rule: String?, target: String?, eventID: String?) -> String? {
        let path = directory + "/\(process.pid)-\(process.startTicks)"
        var fields: [JSONMember] = []
        if let rule { fields.append(JSONMember(key: "rule", value: .string(rule))) }
        if let target { fields.append(JSONMember(key: "target", value: .string(target))) }
        if let eventID { fields.append(JSONMember(key: "event", value: .string(eventID))) }
        let bytes = JSONWriter.bytes(.object(JSONObject(fields))) + [0x0A]
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count ? path : nil
    }

    /// Removes a record when its handler has ended.
    func remove(_ path: String) { unlink(path) }

    /// The recorded handlers that still run (a pid now used by another process, or a zombie, is not one).
    public func leftovers() -> [LeftoverHandler] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var found: [LeftoverHandler] = []
        for name in names {
            let parts = name.split(separator: "-")
            guard parts.count == 2, let pid = Int32(parts[0]), pid > 1, let start = UInt64(parts[1]) else { continue }
            let process = ProcessIdentity(pid: pid, startTicks: start)
            guard process.isRunning(procRoot: procRoot) else { continue }
            let record = ProcFile.read(directory + "/" + name, limit: 64 * 1024).flatMap { try? JSONParser.parse($0) }
            found.append(LeftoverHandler(process: process, rule: record?["rule"]?.stringValue,
                                         target: record?["target"]?.stringValue, eventID: record?["event"]?.stringValue))
        }
        return found.sorted { $0.process.pid < $1.process.pid }
    }

    /// Removes every record (after their handlers were stopped, before this run starts its own).
    public func clear() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] { unlink(directory + "/" + name) }
    }
}

/// Stops the handlers a killed run left running.
public enum LeftoverHandlers {
    /// Sends SIGTERM to each handler's process group, waits until each group is empty (or `grace`
    /// seconds have passed), then sends SIGKILL to what is left of the groups; returns the handlers
    /// still running after that (normally none).
    ///
    /// A handler leads its own process group (its pid is the group's id), which is signalled only
    /// while the handler is checked to be the recorded process, and never when it is this
    /// process's own group.
    @discardableResult
    public static func stop(_ handlers: [LeftoverHandler], grace: Double, procRoot: String = "/proc") -> [LeftoverHandler] {
        if handlers.isEmpty { return [] }
        let ownGroup = getpgrp()
        // The groups to stop: those whose leader is still the recorded handler and leads its group.
        var groups: [Int32] = []
        for handler in handlers {
            guard let status = ProcessStatus.read(pid: handler.process.pid, procRoot: procRoot), status.identity == handler.process else { continue }
            if status.processGroup == handler.process.pid && status.processGroup != ownGroup {
                groups.append(status.processGroup)
                _ = kill(-status.processGroup, SIGTERM)
            } else {
                _ = kill(handler.process.pid, SIGTERM)
            }
        }
        let deadline = monotonicSeconds() + grace
        func settled() -> Bool {
            handlers.allSatisfy { !$0.process.isRunning(procRoot: procRoot) } && groups.allSatisfy { kill(-$0, 0) != 0 }
        }
        while !settled() && monotonicSeconds() < deadline { usleep(20_000) }
        // What ignored SIGTERM, or outlived its handler in the group, gets SIGKILL (an exited group: ESRCH).
        for group in groups { _ = kill(-group, SIGKILL) }
        for handler in handlers where handler.process.isRunning(procRoot: procRoot) { _ = kill(handler.process.pid, SIGKILL) }
        let killDeadline = monotonicSeconds() + 1
        var running = handlers.filter { $0.process.isRunning(procRoot: procRoot) }
        while !running.isEmpty && monotonicSeconds() < killDeadline {
            usleep(10_000)
            running = running.filter { $0.process.isRunning(procRoot: procRoot) }
        }
        return running
    }

    /// What a run says after stopping `stopped`: `stopped 1 handler that a killed run on DIR left
    /// running: pid 12 (rule R, target T, event E); its delivery is retried`.
    public static func summary(_ stopped: [LeftoverHandler], stateDirectory: String) -> String {
        let one = stopped.count == 1
        return "stopped \(stopped.count) handler\(one ? "" : "s") that a killed run on \(stateDirectory) left running: "
            + stopped.map(\.description).joined(separator: ", ") + "; \(one ? "its delivery is" : "their deliveries are") retried"
    }
}
