/// A `tripline` subcommand.
///
/// A command declares its command line in ``spec`` and runs with the parsed arguments; it writes
/// through the streams in ``CommandContext`` and returns the process exit status.
protocol Command {
    static var spec: CommandSpec { get }
    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32
}

/// The streams a command writes to, and standard input's descriptor.
struct CommandContext {
    let output: StandardOutput
    let errors: StandardOutput
    let inputDescriptor: Int32

    /// Reports a command-line mistake found after parsing, with the command's usage; returns 64.
    func usageError(_ message: String, spec: CommandSpec) -> Int32 {
        errors.line("tripline \(spec.name): \(message)")
        errors.line(spec.usageText)
        return ExitStatus.usage
    }
}

/// Exit statuses shared by the commands.
enum ExitStatus {
    static let success: Int32 = 0
    /// `test-pattern`: the pattern did not match; `validate`: some file has errors.
    static let negative: Int32 = 1
    /// The pattern or event given was invalid or unreadable.
    static let invalidInput: Int32 = 2
    /// The command line was wrong (sysexits.h `EX_USAGE`).
    static let usage: Int32 = 64
}
