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
    /// Whether ``searchPath`` is written with `${NAME}` placeholders that a run fills from
    /// Tripline's own environment (a `BlockUser` target's `Environment`), rather than taken as is.
    public var searchPathHasPlaceholders: Bool
    public var owner: Owner
    public var file: String
    /// Where ``written`` is in the file (`Targets[0].Function.Handler`).
    public var path: JSONPath
    public var location: JSONLocation?

    public init(written: String, program: String, searchPath: String?, searchPathHasPlaceholders: Bool = false, owner: Owner,
                file: String, path: JSONPath, location: JSONLocation?) {
        self.written = written
        self.program = program
        self.searchPath = searchPath
        self.searchPathHasPlaceholders = searchPathHasPlaceholders
        self.owner = owner
        self.file = file
        self.path = path
        self.location = location
    }

    /// What the start-up check found.
    public enum Finding: Sendable, Equatable {
        /// The handler can start.
        case startable
        /// It cannot: every delivery to it would fail.
        case cannotStart(RuleError)
        /// It starts, but something in it may well keep it from working (a warning).
        case doubtful(RuleError)
    }

    /// Checks that the handler can start, looked up on the `PATH` a delivery gives it: the
    /// target's own (with a `BlockUser` `Environment`'s `${NAME}` placeholders filled from
    /// `variables`, Tripline's environment, as a run fills them), else `inheritedPath`, the
    /// `PATH` handlers inherit from Tripline's environment (nil when unset).
    ///
    /// When the target's `PATH` names a variable that is not set, where a bare name or
    /// `#!/usr/bin/env NAME` would be found cannot be told: only what does not depend on `PATH`
    /// is reported (`run` refuses to start for the missing variable by itself).
    public func check(inheritedPath: String?, variables: [String: String]) -> Finding {
        var effective = searchPath ?? inheritedPath
        var pathKnown = true
        if let searchPath, searchPathHasPlaceholders {
            do {
                effective = try SecretTemplate(parsing: searchPath).expand(environment: variables, field: "PATH")
            } catch {
                effective = inheritedPath
                pathKnown = false
            }
        }
        let program: String
        do {
            program = try FunctionRunner.checkStartable(self.program, searchPath: effective)
        } catch {
            if !pathKnown && Self.dependsOnPath(error) { return .startable }
            return .cannotStart(RuleError(file: file, location: location, path: path,
                                          problem: .handlerCannotStart(owner: owner.description, written: written, error)))
        }
        guard let doubt = ProgramHeader.doubt(program: program, searchPath: effective) else { return .startable }
        return .doubtful(RuleError(file: file, location: location, path: path,
                                   problem: .handlerMayNotWork(owner: owner.description, program: program, doubt)))
    }

    /// The problem when the handler cannot be started (``check(inheritedPath:variables:)``
    /// without doubts).
    public func problem(inheritedPath: String?, variables: [String: String] = [:]) -> RuleError? {
        if case .cannotStart(let error) = check(inheritedPath: inheritedPath, variables: variables) { return error }
        return nil
    }

    /// Whether `error` is about where `PATH` leads: a bare name not found on it, or a
    /// `#!/usr/bin/env NAME` whose `NAME` is not on it.
    static func dependsOnPath(_ error: FunctionRunError) -> Bool {
        switch error {
        case .cannotStart(let executable, _): return !executable.contains("/")
        case .cannotStartProgram(_, .commandNotOnPath): return true
        case .cannotStartProgram(_, .carriageReturn(_, _, viaEnv: true)): return true
        default: return false
        }
    }
}
