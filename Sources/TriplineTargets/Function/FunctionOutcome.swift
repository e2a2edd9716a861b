#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// How a handler run ended and what it printed.
public struct FunctionOutcome: Sendable, Equatable {
    /// How the handler process ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        public var description: String {
            switch self {
            case .exited(let status): return "exit status \(status)"
            case .signaled(let signal): return "killed by signal \(signal) (\(signalName(signal)))"
            }
        }
    }

    public var termination: Termination
    /// The handler was still running at its timeout and was stopped (SIGTERM, then SIGKILL).
    public var timedOut: Bool
    /// The handler was stopped because Tripline was shutting down (``FunctionRunner/interruptRunning()``).
    public var interrupted = false
    public var durationSeconds: Double
    /// Standard output, at most the invocation's `outputCap` bytes.
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    /// Bytes of standard output beyond the cap, read and dropped.
    public var stdoutDroppedBytes: Int
    public var stderrDroppedBytes: Int
    /// How much of the payload the handler read before exiting or closing its standard input.
    public var payloadBytesWritten: Int

    /// The exit status, if the handler exited normally.
    public var exitStatus: Int32? { if case .exited(let s) = termination { return s }; return nil }
    /// The signal that ended the handler, if one did.
    public var signal: Int32? { if case .signaled(let s) = termination { return s }; return nil }
    /// Output bytes dropped over the cap, both streams together.
    public var truncatedBytes: Int { stdoutDroppedBytes + stderrDroppedBytes }
    /// Exit status 0 within the timeout, not interrupted: the delivery succeeded.
    public var succeeded: Bool { !timedOut && !interrupted && termination == .exited(0) }

    /// ``summary`` and, when the handler failed and wrote to standard error, its last line there:
    /// what a failed attempt's history and dead letter say about it.
    public var failureDescription: String {
        guard !succeeded, let line = PrintableText.lastLine(of: stderr) else { return summary }
        return summary + ": " + line
    }

    /// One line: `exit status 0 in 0.012s`, `timed out after 5s, killed by signal 15 (SIGTERM)`.
    public var summary: String {
        let time = formatSeconds(durationSeconds)
        if interrupted { return "interrupted (tripline was stopping), \(termination) after \(time)" }
        if timedOut { return "timed out, \(termination) after \(time)" }
        return "\(termination) in \(time)"
    }
}

/// `SIGTERM` for 15, and so on for the signals a handler is likely to die of.
func signalName(_ signal: Int32) -> String {
    switch signal {
    case SIGHUP: return "SIGHUP"
    case SIGINT: return "SIGINT"
    case SIGQUIT: return "SIGQUIT"
    case SIGILL: return "SIGILL"
    case SIGABRT: return "SIGABRT"
    case SIGBUS: return "SIGBUS"
    case SIGFPE: return "SIGFPE"
    case SIGKILL: return "SIGKILL"
    case SIGSEGV: return "SIGSEGV"
    case SIGPIPE: return "SIGPIPE"
    case SIGALRM: return "SIGALRM"
    case SIGTERM: return "SIGTERM"
    default: return "signal \(signal)"
    }
}
