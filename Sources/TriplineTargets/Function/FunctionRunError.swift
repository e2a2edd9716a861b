/// Why a handler could not be started.
public enum FunctionRunError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The program was not found, is not executable, or `posix_spawn` failed.
    case cannotStart(executable: String, reason: String)
    /// The program is an executable file the system still cannot start: no `#!` line, a missing
    /// interpreter, Windows line endings (``ProgramStartProblem``).
    case cannotStartProgram(executable: String, ProgramStartProblem)
    /// Setting up pipes or the spawn attributes failed.
    case systemCallFailed(call: String, reason: String)

    /// Whether a retry cannot help: the handler cannot be started at all (not a passing failure
    /// of a system call).
    public var isPermanent: Bool {
        switch self {
        case .cannotStart, .cannotStartProgram: return true
        case .systemCallFailed: return false
        }
    }

    public var description: String {
        switch self {
        case .cannotStart(let executable, let reason): return "cannot start handler \(executable): \(reason)"
        case .cannotStartProgram(let executable, let problem): return "cannot start handler \(executable): \(problem)"
        case .systemCallFailed(let call, let reason): return "cannot run handler: \(call) failed: \(reason)"
        }
    }
}
