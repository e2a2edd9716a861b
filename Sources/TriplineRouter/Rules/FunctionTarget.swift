/// A local program run for each matched event; the delivery runner hands it the target's payload.
public struct FunctionTarget: Sendable, Equatable {
    /// `Handler` as written in the rule file.
    public var handler: String
    /// The program to run: ``handler`` resolved with ``resolveHandler(_:ruleFile:currentDirectory:)``.
    public var handlerPath: String
    /// Extra command-line arguments, passed as they are.
    public var args: [String]
    /// Extra environment variables for the program.
    public var environment: [String: String]
    /// How long one run may take before it is stopped and counts as failed; 1 to 900, default 30.
    public var timeoutSeconds: Double
    /// Most runs of this target at once; default 4.
    public var maxConcurrency: Int

    /// `TimeoutSeconds` when omitted.
    public static let defaultTimeoutSeconds: Double = 30
    /// Longest timeout, as for AWS Lambda: 900 seconds.
    public static let timeoutRange: ClosedRange<Double> = 1...900
    /// `MaxConcurrency` when omitted.
    public static let defaultMaxConcurrency = 4
    /// Accepted `MaxConcurrency` values.
    public static let maxConcurrencyRange = 1...256

    public init(handler: String, handlerPath: String? = nil, args: [String] = [], environment: [String: String] = [:],
                timeoutSeconds: Double = FunctionTarget.defaultTimeoutSeconds, maxConcurrency: Int = FunctionTarget.defaultMaxConcurrency) {
        self.handler = handler
        self.handlerPath = handlerPath ?? handler
        self.args = args
        self.environment = environment
        self.timeoutSeconds = timeoutSeconds
        self.maxConcurrency = maxConcurrency
    }

    /// The project root for a rule file: the directory that contains the `Rules` folder the file
    /// is in (at any depth), or the file's own directory when it is in no `Rules` folder.
    ///
    /// A relative `ruleFile` is taken relative to `currentDirectory`. The result is absolute and
    /// normalised (no `.` or `..`), so it does not depend on the directory a handler runs in.
    public static func projectRoot(ruleFile: String, currentDirectory: String) -> String {
        var components = absoluteComponents(ruleFile, currentDirectory: currentDirectory)
        if !components.isEmpty { components.removeLast() }
        if let rules = components.lastIndex(of: "Rules") {
            components.removeSubrange(rules...)
        }
        return "/" + components.joined(separator: "/")
    }

    /// Resolves a path written in a rule file: absolute paths stay as they are (normalised),
    /// relative paths are taken from the project root (see ``projectRoot(ruleFile:currentDirectory:)``).
    public static func resolvePath(_ path: String, ruleFile: String, currentDirectory: String) -> String {
        let base = projectRoot(ruleFile: ruleFile, currentDirectory: currentDirectory)
        return "/" + absoluteComponents(path, currentDirectory: base).joined(separator: "/")
    }

    /// How to write `path` (relative to `currentDirectory`, or absolute) in `ruleFile` so that
    /// ``resolvePath(_:ruleFile:currentDirectory:)`` and ``resolveHandler(_:ruleFile:currentDirectory:)``
    /// take it back to the same file: relative to the project root (`../Handlers/x.sh` when the
    /// rules are in `myrules/`), with a `/` always in it so it is never taken for a command name.
    public static func writtenPath(for path: String, ruleFile: String, currentDirectory: String) -> String {
        let root = absoluteComponents(projectRoot(ruleFile: ruleFile, currentDirectory: currentDirectory), currentDirectory: "/")
        let target = absoluteComponents(path, currentDirectory: currentDirectory)
        let common = zip(root, target).prefix { $0 == $1 }.count
        if common == 0 && !root.isEmpty { return "/" + target.joined(separator: "/") }
        let relative = Array(repeating: "..", count: root.count - common) + target[common...]
        return relative.count == 1 ? "./" + relative[0] : relative.joined(separator: "/")
    }

    /// Resolves `Handler`: a bare command name without `/` (`python3`) stays as it is, to be looked
    /// up on `PATH` like a shell does; any other path goes through ``resolvePath(_:ruleFile:currentDirectory:)``.
    public static func resolveHandler(_ handler: String, ruleFile: String, currentDirectory: String) -> String {
        guard handler.contains("/") else { return handler }
        return resolvePath(handler, ruleFile: ruleFile, currentDirectory: currentDirectory)
    }

    /// The components of `path` made absolute against `currentDirectory`, with `.`, `..` and empty
    /// components resolved lexically (symbolic links are not followed).
    static func absoluteComponents(_ path: String, currentDirectory: String) -> [String] {
        let full = path.hasPrefix("/") ? path : currentDirectory + "/" + path
        var out: [String] = []
        for component in full.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..": if !out.isEmpty { out.removeLast() }
            default: out.append(String(component))
            }
        }
        return out
    }
}
