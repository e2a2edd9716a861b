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

    public init(process: ProcessIdentity, rule: String?, target: String?, eventID: String?) {
        self.process = process
        self.rule = rule
        self.target = target
        self.eventID = eventID
    }

    /// `pid 123 (rule R, target T, event E)`.
    public var description: String {
        let about = [rule.map { "rule \($0)" }, target.map { "target \($0)" }, eventID.map { "event \($0)" }].compactMap { $0 }
        return "pid \(process.pid)" + (about.isEmpty ? "" : " (" + about.joined(separator: ", ") + ")")
    }
}

/// The handlers a run has running, noted in a file of the state directory, so that the next run
/// can stop those a killed run left behind.
///
/// Handlers run in their own process groups, so the kernel does not stop them when `tripline` dies
/// of SIGKILL, and the next run retries their deliveries: stopping the leftovers first keeps two
/// copies of one delivery from running side by side. Each running handler holds one fixed-size slot
/// of the file (its pid and start time, which no later process shares, and its delivery), written
/// when it starts and blanked when it ends, so only handlers whose delivery was still running are
/// ever found: background processes a handler leaves behind after a finished delivery are not
/// touched. Slots are written in place (`pwrite`, no file created or removed per handler) and not
/// synced: a process crash keeps them (the kernel has them), and a machine crash ends the handlers
/// anyway.
public final class HandlerRecords: @unchecked Sendable {
    /// The file of slots (created when missing).
    public let path: String
    private let procRoot: String
    private let descriptor: Int32
    private let lock = NSLock()
    private var freeSlots: [Int] = []
    private var slotCount = 0

    /// Bytes per slot: `PID START` and the delivery as one line of JSON, padded; longer deliveries are cut.
    static let slotSize = 512

    public init(path: String, procRoot: String = "/proc") {
        self.path = path
        self.procRoot = procRoot
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// A held slot, given back with ``remove(_:)``: its place and the delivery it notes.
    struct Slot {
        let index: Int
        let delivery: [UInt8]
    }

    /// Takes a slot for a handler about to start for `rule`/`target` and event `eventID`; nothing is
    /// written until ``write(_:pid:startTicks:)``. Taken before the spawn, so that the pid can be
    /// written the moment it is known: a run killed in between leaves a handler unnoted.
    func reserve(rule: String?, target: String?, eventID: String?) -> Slot? {
        guard descriptor >= 0 else { return nil }
        var fields: [JSONMember] = []
        if let rule { fields.append(JSONMember(key: "rule", value: .string(String(rule.prefix(120))))) }
        if let target { fields.append(JSONMember(key: "target", value: .string(String(target.prefix(120))))) }
        if let eventID { fields.append(JSONMember(key: "event", value: .string(String(eventID.prefix(200))))) }
        var delivery = JSONWriter.bytes(.object(JSONObject(fields)))
        if delivery.count > Self.slotSize - 64 { delivery = Array("{}".utf8) }
        lock.lock()
        let index = freeSlots.popLast() ?? { slotCount += 1; return slotCount - 1 }()
        lock.unlock()
        return Slot(index: index, delivery: delivery)
    }

    /// Notes the handler in its slot: `startTicks` 0 when not read yet (written at once after the
    /// spawn, then again with the start time).
    func write(_ slot: Slot, pid: Int32, startTicks: UInt64) {
        var bytes = Array("\(pid) \(startTicks) ".utf8) + slot.delivery
        bytes += Array(repeating: UInt8(ascii: " "), count: Self.slotSize - 1 - bytes.count) + [0x0A]
        _ = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(slot.index * Self.slotSize)) }
    }

    /// ``reserve(rule:target:eventID:)`` and ``write(_:pid:startTicks:)`` at once, for a process already running.
    func record(_ process: ProcessIdentity, rule: String?, target: String?, eventID: String?) -> Slot? {
        guard let slot = reserve(rule: rule, target: target, eventID: eventID) else { return nil }
        write(slot, pid: process.pid, startTicks: process.startTicks)
        return slot
    }

    /// Blanks a slot when its handler has ended (or gives back one reserved for a handler that never started).
    func remove(_ slot: Slot) {
        _ = Self.blank.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(slot.index * Self.slotSize)) }
        release(slot.index)
    }

    /// An empty slot: spaces and a line end.
    private static let blank = [UInt8](repeating: UInt8(ascii: " "), count: slotSize - 1) + [0x0A]

    private func release(_ index: Int) {
        lock.lock()
        freeSlots.append(index)
        lock.unlock()
    }

    /// The recorded handlers that still run (a pid now used by another process, or a zombie, is not one).
    public func leftovers() -> [LeftoverHandler] {
        guard let bytes = ProcFile.read(path, limit: 64 << 20) else { return [] }
        var found: [LeftoverHandler] = []
        var offset = 0
        while offset < bytes.count {
            let slot = bytes[offset..<min(offset + Self.slotSize, bytes.count)]
            offset += Self.slotSize
            let parts = slot.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: true)
            guard parts.count >= 2, let pid = Int32(String(decoding: parts[0], as: UTF8.self)), pid > 1,
                  let start = UInt64(String(decoding: parts[1], as: UTF8.self)) else { continue }
            let record = parts.count > 2 ? try? JSONParser.parse(Array(parts[2])) : nil
            let rule = record?["rule"]?.stringValue, target = record?["target"]?.stringValue, event = record?["event"]?.stringValue
            var process = ProcessIdentity(pid: pid, startTicks: start)
            if start == 0 {
                // Killed before the start time was written: the pid is this handler's only if the
                // process leads its own group and carries this delivery's idempotency key.
                guard let rule, let target, let event, let status = ProcessStatus.read(pid: pid, procRoot: procRoot),
                      status.processGroup == pid, let environment = ProcFile.read("\(procRoot)/\(pid)/environ", limit: 1 << 20),
                      environment.split(separator: 0).contains(where: { $0.elementsEqual("TRIPLINE_IDEMPOTENCY_KEY=\(event):\(rule):\(target)".utf8) })
                else { continue }
                process = status.identity
            }
            guard process.isRunning(procRoot: procRoot) else { continue }
            found.append(LeftoverHandler(process: process, rule: rule, target: target, eventID: event))
        }
        return found.sorted { $0.process.pid < $1.process.pid }
    }

    /// Blanks every slot (after their handlers were stopped, before this run starts its own).
    public func clear() {
        lock.lock()
        defer { lock.unlock() }
        if descriptor >= 0 { _ = ftruncate(descriptor, 0) }
        freeSlots.removeAll()
        slotCount = 0
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
}
