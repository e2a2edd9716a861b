#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The `tripline` command: picks the subcommand and runs it.
///
/// Kept apart from the commands so each command only sees its own parsed arguments; all output
/// goes through buffered writers that are flushed before the process exits.
enum Tripline {
    /// Every subcommand, in the order `usage` lists them.
    static var commands: [any Command.Type] { [TestPatternCommand.self, ValidateCommand.self, BenchCommand.self, RunCommand.self, NormalizeCommand.self, InvokeCommand.self, TestCommand.self, ExplainCommand.self, StatusCommand.self, DeadLetterCommand.self, ReceiveCommand.self, BlocklistCommand.self, InitCommand.self] }

    static var usage: String {
        let rows = commands.map { ($0.spec.name, $0.spec.summary) } + [("help", "Show help for a command")]
        let width = rows.map(\.0.count).max() ?? 0
        return """
            usage: tripline <command> [options]

            Commands:
            \(rows.map { "  " + $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }.joined(separator: "\n"))

            Run 'tripline help <command>' or 'tripline <command> --help' for a command's options.
            """
    }

    /// Runs the command line (without the program name); returns the exit status.
    static func run(_ arguments: [String], context: CommandContext) -> Int32 {
        guard let name = arguments.first, !["--help", "-h"].contains(name) else {
            context.errors.line(usage)
            return ExitStatus.usage
        }
        if name == "help" {
            guard arguments.count == 2, let command = command(named: arguments[1]) else {
                if arguments.count > 1 { context.errors.line("tripline: unknown command '\(arguments.dropFirst().joined(separator: " "))'") }
                context.errors.line(usage)
                return ExitStatus.usage
            }
            context.output.write(command.spec.helpText)
            return ExitStatus.success
        }
        guard let command = command(named: name) else {
            context.errors.line("tripline: unknown command '\(name)'")
            context.errors.line(usage)
            return ExitStatus.usage
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

    static func command(named name: String) -> (any Command.Type)? {
        commands.first { $0.spec.name == name }
    }
}

extension Tripline {
    /// Runs with the process's arguments and standard streams; flushes output before returning.
    static func main() -> Int32 {
        let context = CommandContext(output: .standardOutput(), errors: .standardError(), inputDescriptor: STDIN_FILENO)
        let status = run(Array(CommandLine.arguments.dropFirst()), context: context)
        context.output.flush()
        context.errors.flush()
        return status
    }
}

exit(Tripline.main())
