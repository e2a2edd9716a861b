#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import TriplineJSON
import TriplineState
import TriplineTargets

/// How the run's log is written: readable lines, or one JSON object per line for machines.
public enum LogFormat: String, Sendable, CaseIterable {
    case text
    case json
}

/// Thread-safe, unbuffered line writer for a run's standard output and standard error, with an
/// optional progress line on standard error.
///
/// Delivery workers and the run loop write through one console so lines never interleave mid-line;
/// each call writes whole lines with as few `write(2)` calls as possible. The progress line (shown
/// only when standard error is a terminal, unless told otherwise) is erased before any other output
/// and redrawn on the next ``progress(_:)``. Write errors (a closed pipe) are ignored.
public final class RunConsole: @unchecked Sendable {
    public let outputDescriptor: Int32
    public let errorDescriptor: Int32
    /// Whether ``progress(_:)`` draws anything.
    public let showsProgress: Bool
    private let lock = NSLock()
    private var progressVisible = false

    public init(output: Int32 = STDOUT_FILENO, errors: Int32 = STDERR_FILENO, showProgress: Bool? = nil) {
        outputDescriptor = output
        errorDescriptor = errors
        showsProgress = showProgress ?? (isatty(errors) == 1)
    }

    /// Writes `text` (one or more lines, newline added if missing) to standard output.
    public func output(_ text: String) {
        write(Array(text.utf8), to: outputDescriptor)
    }

    /// Writes raw line bytes to standard output.
    public func output(bytes: [UInt8]) {
        write(bytes, to: outputDescriptor)
    }

    /// Writes `text` (newline added if missing) to standard error.
    public func error(_ text: String) {
        write(Array(text.utf8), to: errorDescriptor)
    }

    /// Replaces the progress line on standard error (no effect unless ``showsProgress``); the text is
    /// cut to the terminal's width so it never wraps (a wrapped line could not be erased).
    public func progress(_ text: String) {
        guard showsProgress else { return }
        var size = winsize()
        let width = ioctl(errorDescriptor, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 1 ? Int(size.ws_col) : 80
        let line = text.count < width ? text : String(text.prefix(width - 2)) + "…"
        lock.lock()
        defer { lock.unlock() }
        writeAll(Array(("\r\u{1B}[2K" + line).utf8), to: errorDescriptor)
        progressVisible = true
    }

    /// Erases the progress line, if shown.
    public func clearProgress() {
        lock.lock()
        defer { lock.unlock() }
        eraseProgress()
    }

    private func write(_ bytes: [UInt8], to fd: Int32) {
        var line = bytes
        if line.last != 0x0A { line.append(0x0A) }
        lock.lock()
        defer { lock.unlock() }
        eraseProgress()
        writeAll(line, to: fd)
    }

    private func eraseProgress() {
        guard progressVisible else { return }
        progressVisible = false
        writeAll(Array("\r\u{1B}[2K".utf8), to: errorDescriptor)
    }

    private func writeAll(_ bytes: [UInt8], to fd: Int32) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

/// The run's log: handler output tagged with its rule and target, delivery failures, bad inputs.
///
/// Text format: handler output lines as `[rule/target] line` (standard error lines as
/// `[rule/target] stderr: line`) and failures as `[rule/target] delivery failed: …` on standard
/// output; bad inputs as `origin: reason` on standard error. JSON format (`--log-format json`): the
/// same facts as one object per line with a `"type"` (`output`, `delivery`, `badInput`, `note`,
/// `error`, `summary`); in JSON every delivery gets a `delivery` line, successful or not. Thread-safe.
///
/// A dead letter that could not be appended to its dead-letter file is said once per file (a note
/// naming the file and the system's reason), and marked on its own delivery line.
public final class DeliveryLog: Sendable {
    public let format: LogFormat
    public let console: RunConsole
    /// The run keeps no state database (`--ephemeral`): nothing is said to be kept for later.
    public let ephemeral: Bool
    private let deadLetterFilesReported = ReportedPaths()

    public init(format: LogFormat, console: RunConsole, ephemeral: Bool = false) {
        self.format = format
        self.console = console
        self.ephemeral = ephemeral
    }

    /// Logs what an attempt printed and, if it failed (or always, in JSON), how it ended and what comes next.
    ///
    /// `forReload`: the run is pausing to reload its rules, which take over what stays queued.
    public func record(_ report: DeliveryReport, forReload: Bool = false) {
        if let fileError = report.deadLetterFileError, deadLetterFilesReported.insert(fileError.path) {
            note("tripline run: " + PrintableText.escapingControls(fileError.description)
                 + (ephemeral ? "; its dead letters are lost (--ephemeral keeps no state database)"
                              : "; its dead letters are kept in the state database (tripline dlq list)")
                 + "; the summary counts every letter not appended")
        }
        if let outcome = report.attemptReport?.function {
            logOutput(outcome.stdout, dropped: outcome.stdoutDroppedBytes, stream: "stdout", report: report)
            logOutput(outcome.stderr, dropped: outcome.stderrDroppedBytes, stream: "stderr", report: report)
        }
        switch format {
        case .text:
            if report.succeeded, let notice = report.attemptReport?.notice {
                console.output("[\(report.targetKey)] " + PrintableText.escapingControls(notice + " (event \(report.eventID) from \(report.origin))"))
            }
            guard !report.succeeded else { return }
            if report.next == .unrecorded {
                console.output("[\(report.targetKey)] delivered, but the state database could not record it: it stays queued and "
                               + "runs again in the next run (event \(PrintableText.escapingControls(report.eventID)) from "
                               + "\(PrintableText.escapingControls(report.origin)))")
                return
            }
            var line: String
            if case .notAttempted? = report.attemptReport?.outcome {
                line = "[\(report.targetKey)] " + PrintableText.escapingControls(report.attemptReport?.summary ?? "not sent")
            } else {
                line = "[\(report.targetKey)] delivery failed"
                if let attempt = report.attempt, attempt > 1 { line += " (attempt \(attempt))" }
                line += ": " + PrintableText.escapingControls(report.attemptReport?.summary ?? "not attempted")
            }
            switch report.next {
            case .retry(let at): line += "; retrying in \(formatSeconds(max(0, at - StateTime.now())))"
            case .postponed(let at): line += "; sending in \(formatSeconds(max(0, at - StateTime.now()))), no attempt counted"
            case .deadLettered(let reason, let file):
                line += "; dead-lettered: " + PrintableText.escapingControls(reason)
                if let file {
                    line += " (" + PrintableText.escapingControls(file)
                        + (report.deadLetterFileError.map { "; not appended: " + PrintableText.escapingControls($0.reason) } ?? "") + ")"
                }
            case .leftQueued:
                line += forReload ? "; left queued for the reloaded rules"
                    : ephemeral ? "; still queued at the end, dropped (--ephemeral)" : "; left queued for the next run"
            case .done, .unrecorded: break
            }
            console.output(line + " (event \(PrintableText.escapingControls(report.eventID)) from \(PrintableText.escapingControls(report.origin)))")
        case .json:
            var object: [(String, JSONValue)] = [
                ("type", "delivery"), ("rule", .string(report.rule)), ("target", .string(report.target)),
                ("eventId", .string(report.eventID)), ("origin", .string(report.origin)),
                ("attempt", report.attempt.map { .number(JSONNumber($0)) } ?? .null), ("ok", .bool(report.succeeded)),
            ]
            if let outcome = report.attemptReport?.function {
                object.append(("exitStatus", outcome.exitStatus.map { .number(JSONNumber(Int($0))) } ?? .null))
                object.append(("signal", outcome.signal.map { .number(JSONNumber(Int($0))) } ?? .null))
                object.append(("timedOut", .bool(outcome.timedOut)))
                object.append(("durationSeconds", .number(JSONNumber((outcome.durationSeconds * 1000).rounded() / 1000))))
                object.append(("droppedOutputBytes", .number(JSONNumber(outcome.truncatedBytes))))
            }
            if case .failed(let error, _, _)? = report.attemptReport?.outcome { object.append(("error", .string(error))) }
            if case .notAttempted(let reason, _)? = report.attemptReport?.outcome { object.append(("notSent", .string(reason))) }
            if let notice = report.attemptReport?.notice { object.append(("notice", .string(notice))) }
            switch report.next {
            case .done: object.append(("next", "done"))
            case .retry(let at):
                object.append(("next", "retry"))
                object.append(("retryAt", .string(StateTime.iso8601(at))))
            case .deadLettered(let reason, let file):
                object.append(("next", "deadLetter"))
                object.append(("reason", .string(reason)))
                object.append(("deadLetterFile", file.map { .string($0) } ?? .null))
                if let fileError = report.deadLetterFileError { object.append(("deadLetterFileError", .string(fileError.description))) }
            case .postponed(let at):
                object.append(("next", "postponed"))
                object.append(("retryAt", .string(StateTime.iso8601(at))))
            case .leftQueued: object.append(("next", "queued"))
            case .unrecorded: object.append(("next", "unrecorded"))
            }
            console.output(bytes: Self.jsonLine(object))
        }
    }

    /// Reports an input or event that was skipped, on standard error.
    public func badInput(_ error: InputError) {
        switch format {
        case .text:
            console.error(error.description)
        case .json:
            var object: [(String, JSONValue)] = [("type", "badInput"), ("file", .string(error.path))]
            if let origin = error.origin { object.append(("origin", .string(origin.description))) }
            object.append(("error", .string(error.description)))
            object.append(("endsFile", .bool(error.endsFile)))
            if error.isIncomplete { object.append(("incomplete", .bool(true))) }
            console.error(String(decoding: Self.jsonLine(object), as: UTF8.self))
        }
    }

    /// A message about the run itself (rules loaded, stop requested), on standard error.
    public func note(_ message: String) {
        switch format {
        case .text: console.error(message)
        case .json: console.error(String(decoding: Self.jsonLine([("type", "note"), ("message", .string(message))]), as: UTF8.self))
        }
    }

    /// Handlers a killed run left running, said before they are stopped (so that a run killed while
    /// it waits for them has said so): one line, then one per handler; in JSON one object
    /// `{"type":"leftoverHandlers","stateDirectory":…,"handlers":[{"pid","rule","target","eventId"}]}`.
    public func leftoverHandlers(_ handlers: [LeftoverHandler], stateDirectory: String, command: String) {
        guard !handlers.isEmpty else { return }
        switch format {
        case .text:
            let one = handlers.count == 1
            console.error("tripline \(command): stopping \(handlers.count) handler\(one ? "" : "s") that a killed run on \(stateDirectory) left "
                          + "running; \(one ? "its delivery is" : "their deliveries are") retried:\n"
                          + handlers.map { "  " + PrintableText.escapingControls($0.description) }.joined(separator: "\n"))
        case .json:
            let entries: [JSONValue] = handlers.map { handler in
                var fields = [JSONMember(key: "pid", value: .number(JSONNumber(Int(handler.process.pid))))]
                if let rule = handler.rule { fields.append(JSONMember(key: "rule", value: .string(rule))) }
                if let target = handler.target { fields.append(JSONMember(key: "target", value: .string(target))) }
                if let event = handler.eventID { fields.append(JSONMember(key: "eventId", value: .string(event))) }
                return .object(JSONObject(fields))
            }
            console.error(String(decoding: Self.jsonLine([("type", "leftoverHandlers"), ("stateDirectory", .string(stateDirectory)),
                                                          ("handlers", .array(entries))]), as: UTF8.self))
        }
    }

    /// A problem that stops the run before it starts (rule errors, a handler that cannot start, an
    /// unusable state directory), on standard error: the text as it is, or `{"type":"error","message":…}`.
    public func error(_ message: String) {
        switch format {
        case .text: console.error(message)
        case .json: console.error(String(decoding: Self.jsonLine([("type", "error"), ("message", .string(message))]), as: UTF8.self))
        }
    }

    private func logOutput(_ bytes: [UInt8], dropped: Int, stream: String, report: DeliveryReport) {
        guard !bytes.isEmpty || dropped > 0 else { return }
        let prefix = "[\(report.targetKey)] " + (stream == "stderr" ? "stderr: " : "")
        var out: [UInt8] = []
        switch format {
        case .text:
            for line in PrintableText.printableLines(of: bytes) {
                out.append(contentsOf: (prefix + line).utf8)
                out.append(0x0A)
            }
        case .json:
            for text in PrintableText.lines(of: bytes) {
                out.append(contentsOf: Self.jsonLine([
                    ("type", "output"), ("rule", .string(report.rule)), ("target", .string(report.target)),
                    ("eventId", .string(report.eventID)), ("stream", .string(stream)), ("line", .string(text)),
                ]))
            }
        }
        if dropped > 0 {
            let note = "(\(dropped) more bytes of \(stream) dropped)"
            switch format {
            case .text:
                out.append(contentsOf: (prefix + note).utf8)
                out.append(0x0A)
            case .json:
                out.append(contentsOf: Self.jsonLine([
                    ("type", "output"), ("rule", .string(report.rule)), ("target", .string(report.target)),
                    ("eventId", .string(report.eventID)), ("stream", .string(stream)),
                    ("droppedBytes", .number(JSONNumber(dropped))),
                ]))
            }
        }
        console.output(bytes: out)
    }

    /// One compact JSON object with members in the given order, and a newline.
    static func jsonLine(_ members: [(String, JSONValue)]) -> [UInt8] {
        var out = JSONWriter.bytes(.object(JSONObject(members.map { JSONMember(key: $0.0, value: $0.1) })))
        out.append(0x0A)
        return out
    }
}

/// Paths already reported, shared by worker threads.
private final class ReportedPaths: @unchecked Sendable {
    private let lock = NSLock()
    private var paths: Set<String> = []

    /// Adds `path`; returns whether it was new.
    func insert(_ path: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return paths.insert(path).inserted
    }
}
