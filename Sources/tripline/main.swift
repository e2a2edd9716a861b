#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TriplineRouter

/// The `tripline` command: picks the subcommand and runs it.
///
/// Kept apart from the commands so each command only sees its own parsed arguments; all output
/// goes through buffered writers that are flushed before the process exits.
enum Tripline {
    /// Every subcommand, in the order `usage` lists them.
    static var commands: [any Command.Type] { [TestPatternCommand.self, ValidateCommand.self, BenchCommand.self, RunCommand.self, NormalizeCommand.self, MatchCommand.self, InvokeCommand.self, TestCommand.self, ExplainCommand.self, StatusCommand.self, DeadLetterCommand.self, ReceiveCommand.self, BlocklistCommand.self, InitCommand.self] }

    static var usage: String {
        let rows = commands.map { ($0.spec.name, $0.spec.summary) } + [("help", "Show help for a command")]
        let width = rows.map(\.0.count).max() ?? 0
        return """
            usage: tripline <command> [options]

            Commands:
            \(rows.map { "  " + $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }.joined(separator: "\n"))

            Run 'tripline help <command>' or 'tripline <command> --help' for a command's options,
            'tripline --version' for the version.
            Exit status 64 means the command line was wrong (an unknown command or option, a missing or bad value).
            """
    }

    /// What `tripline help help` prints.
    static let helpHelp = """
        usage: tripline help [COMMAND]

        Without COMMAND, lists the commands; with one, shows its options (as 'tripline COMMAND --help').
        Help that was asked for goes to standard output with exit status 0.
        """

    /// Runs the command line (without the program name); returns the exit status.
    ///
    /// Help that was asked for (`--help`, `-h`, `help`, `help COMMAND`) goes to standard output and
    /// exits 0; no command at all, or an unknown one, is a usage error (64) with the usage on standard error.
    static func run(_ arguments: [String], context: CommandContext) -> Int32 {
        guard let name = arguments.first else {
            context.errors.line("tripline: no command given")
            context.errors.line(usage)
            return ExitStatus.usage
        }
        if name == "--version" {
            guard arguments.count == 1 else { return topLevelUsageError("--version takes no arguments", context: context) }
            context.output.line("tripline \(TriplineVersion.string)")
            return ExitStatus.success
        }
        if ["--help", "-h"].contains(name) {
            guard arguments.count == 1 else { return topLevelUsageError("\(name) takes no arguments; for a command's options run 'tripline help COMMAND'", context: context) }
            context.output.line(usage)
            return ExitStatus.success
        }
        if name == "help" {
            switch arguments.count {
            case 1:
                context.output.line(usage)
                return ExitStatus.success
            case 2 where ["help", "--help", "-h"].contains(arguments[1]):
                context.output.line(helpHelp)
                return ExitStatus.success
            case 2:
                guard let command = command(named: arguments[1]) else {
                    return topLevelUsageError("unknown command '\(arguments[1])'", context: context)
                }
                context.output.write(command.spec.helpText)
                return ExitStatus.success
            default:
                return topLevelUsageError("help takes one command, got '\(arguments.dropFirst().joined(separator: " "))'", context: context)
            }
        }
        guard let command = command(named: name) else {
            return topLevelUsageError("unknown command '\(name)'", context: context)
        }
        let parsed: ParsedArguments
        do {
            parsed = try ArgumentParser.parse(Array(arguments.dropFirst()), spec: command.spec)
        } catch .helpRequested {
            context.output.write(command.spec.helpText)
            return ExitStatus.success
        } catch {
            return context.usageError(error.description, spec: command.spec)
        }
        return command.run(parsed, context: context)
    }

    /// A mistake before any command was chosen: the message and the usage on standard error; returns 64.
    static func topLevelUsageError(_ message: String, context: CommandContext) -> Int32 {
        context.errors.line("tripline: " + message)
        context.errors.line(usage)
        return ExitStatus.usage
    }

    static func command(named name: String) -> (any Command.Type)? {
        commands.first { $0.spec.name == name }
    }
}

extension Tripline {
    /// Runs with the process's arguments and standard streams; flushes output before returning.
    static func main() -> Int32 {
        let context = CommandContext(output: .standardOutput(), errors: .standardError(), inputDescriptor: STDIN_FILENO)
        // Not CommandLine.arguments: it turns bytes that are not UTF-8 into replacement characters, and
        // an input path with such a name would then name no file.
        let arguments = (1..<Int(CommandLine.argc)).map { PathText.text(ofArgument: CommandLine.unsafeArgv[$0]!) }
        let status = run(arguments, context: context)
        context.output.flush()
        context.errors.flush()
        return status
    }
}

exit(Tripline.main())
