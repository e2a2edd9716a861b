import TriplineJSON
import TriplineTargets

/// A program a rule file names to run (a `Function` handler, a `BlockUser` enforcement handler),
/// where it is written, and whose it is.
///
/// The rule file reader records these so that `validate` and `run` can check, before anything
/// runs, that each one can be started: otherwise `run` finds out at the first match and dead-letters
/// every delivery. The check is ``FunctionRunner/checkStartable(_:searchPath:)``: the very lookup a
/// delivery does, then what the system would make of the file's first bytes (its `#!` line).
public struct HandlerReference: Sendable, Equatable {
    /// What owns the handler.
    public enum Owner: Sendable, Equatable, CustomStringConvertible {
        case target(rule: String, target: String)
        case subscription(topic: String, subscription: String)

        public var description: String {
            switch self {
            case .target(let rule, let target): return "rule \(rule), target \(target)"
            case .subscription(let topic, let subscription): return "topic \(topic), subscription \(subscription)"
            }
        }
    }

    /// The handler as written in the rule file.
    public var written: String
    /// The program as a delivery runs it: ``written`` resolved from the project root, or a bare
    /// command name looked up on `PATH`.
    public var program: String
    /// `PATH` from the target's own `Environment`, which a delivery searches instead of Tripline's.
    public var searchPath: String?
    public var owner: Owner
    public var file: String
    /// Where ``written`` is in the file (`Targets[0].Function.Handler`).
    public var path: JSONPath
    public var location: JSONLocation?

    /// The problem when the handler cannot be started; `inheritedPath` is the `PATH` handlers
    /// inherit from Tripline's environment (nil when unset).
    public func problem(inheritedPath: String?) -> RuleError? {
        do {
            _ = try FunctionRunner.checkStartable(program, searchPath: searchPath ?? inheritedPath)
            return nil
        } catch {
            return RuleError(file: file, location: location, path: path,
                             problem: .handlerCannotStart(owner: owner.description, written: written, error))
        }
    }
}
