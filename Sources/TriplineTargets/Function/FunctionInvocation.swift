/// One run of a handler program: what to run, with what, and for how long.
///
/// The handler runs in Tripline's working directory (Swift's Glibc module does not export
/// `posix_spawn_file_actions_addchdir_np`, and changing the whole process's directory is not an option).
public struct FunctionInvocation: Sendable {
    /// The program: a path, or a bare name looked up on the handler environment's `PATH`.
    public var executable: String
    /// Arguments after the program name. Event data never goes here: it goes on standard input.
    public var arguments: [String]
    /// The complete environment of the handler (see ``HandlerEnvironment``).
    public var environment: [String: String]
    /// Bytes written to the handler's standard input, which is then closed.
    public var payload: [UInt8]
    /// After this many seconds the handler's process group gets SIGTERM.
    public var timeoutSeconds: Double
    /// After SIGTERM, how long before SIGKILL.
    public var killGraceSeconds: Double
    /// Most bytes kept of each of standard output and standard error; the rest is counted and dropped.
    public var outputCap: Int

    public static let defaultKillGraceSeconds: Double = 2
    public static let defaultOutputCap = 64 * 1024

    public init(executable: String, arguments: [String] = [], environment: [String: String], payload: [UInt8],
                timeoutSeconds: Double, killGraceSeconds: Double = FunctionInvocation.defaultKillGraceSeconds,
                outputCap: Int = FunctionInvocation.defaultOutputCap) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.payload = payload
        self.timeoutSeconds = timeoutSeconds
        self.killGraceSeconds = killGraceSeconds
        self.outputCap = outputCap
    }
}
