#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TriplineJSON

/// Why a handler file that exists and is executable still cannot be started: what the system
/// would make of its first bytes.
///
/// `execve` runs a compiled program (ELF) or a script whose first line is `#!` and the path of its
/// interpreter; anything else fails with `ENOEXEC` ("Exec format error"), and a `#!` interpreter
/// that is missing fails with `ENOENT`, which names the script rather than the interpreter. Each
/// case carries what was found, so the message can say what to change.
public enum ProgramStartProblem: Sendable, Equatable, CustomStringConvertible {
    /// Neither a compiled program nor a script with a `#!` line (`isEmpty`: the file has no bytes).
    case notAProgram(isEmpty: Bool)
    /// `#!` followed by no interpreter.
    case emptyInterpreterLine
    /// The interpreter's path does not end within the first `limit` bytes, all the system reads.
    case interpreterLineTooLong(limit: Int)
    /// The `#!` line ends in a carriage return (a file with Windows line endings): `word` is the
    /// interpreter, or its argument, that carries the stray `\r`; `viaEnv` when `word` is the
    /// command `/usr/bin/env` is asked to find.
    case carriageReturn(interpreter: String, word: String, viaEnv: Bool)
    /// The `#!` interpreter does not exist (`reason`: the system's).
    case interpreterMissing(interpreter: String, reason: String)
    /// The `#!` interpreter exists but cannot be run: not a regular file, or not executable.
    case interpreterNotRunnable(interpreter: String, reason: String)
    /// `#!/usr/bin/env COMMAND` where `COMMAND` is not on the `PATH` handlers get (`searchPath`;
    /// nil when handlers get none, and env searches `defaultEnvPath`).
    case commandNotOnPath(env: String, command: String, searchPath: String?, splitsArguments: Bool)

    /// Where `env` looks for a command when `PATH` is not set (glibc's `_CS_PATH`).
    public static let defaultEnvPath = "/bin:/usr/bin"

    public var description: String {
        switch self {
        case .notAProgram(let isEmpty):
            return (isEmpty ? "the file is empty, so " : "")
                + "the system cannot start it (\"Exec format error\"): a handler is a compiled program or a script whose first line "
                + "is a #! line naming its interpreter; add one, such as #!/bin/sh or #!/usr/bin/env python3"
        case .emptyInterpreterLine:
            return "its #! line names no interpreter; write one after the #!, such as #!/bin/sh or #!/usr/bin/env python3"
        case .interpreterLineTooLong(let limit):
            return "its #! line is longer than the \(limit) bytes the system reads, so the interpreter's path is cut short; "
                + "use a shorter path, or #!/usr/bin/env NAME to find the interpreter on PATH"
        case .carriageReturn(let interpreter, let word, let viaEnv):
            let consequence: String
            if word == interpreter {
                consequence = "so the system looks for the interpreter \(JSONWriter.quoted(word)), which does not exist"
            } else if viaEnv {
                consequence = "so env looks for the command \(JSONWriter.quoted(word)), which does not exist"
            } else {
                consequence = "so the interpreter \(JSONWriter.quoted(interpreter)) is given the argument \(JSONWriter.quoted(word))"
            }
            return "its #! line ends in a carriage return (the file has Windows CRLF line endings), \(consequence); "
                + "convert the file to Unix LF line endings (dos2unix FILE, or sed -i 's/\\r$//' FILE)"
        case .interpreterMissing(let interpreter, let reason):
            return "its #! line names the interpreter \(JSONWriter.quoted(interpreter)), which does not exist (\(reason)); "
                + "install it there or change the #! line (#!/usr/bin/env NAME finds NAME on the handlers' PATH)"
        case .interpreterNotRunnable(let interpreter, let reason):
            return "its #! line names the interpreter \(JSONWriter.quoted(interpreter)), which cannot be run (\(reason)); "
                + "name an executable program in the #! line"
        case .commandNotOnPath(let env, let command, let searchPath, let splitsArguments):
            let path = searchPath.map { "the PATH handlers get (\($0))" }
                ?? "the PATH env searches when handlers get none (\(Self.defaultEnvPath))"
            var text = "its #! line runs \(env) to find the command \(JSONWriter.quoted(command)), which is not on \(path); "
                + "install it, set PATH in the target's \"Environment\", or name the interpreter by its full path in the #! line"
            if !splitsArguments && command.contains(where: { $0 == " " || $0 == "\t" }) {
                text += " (the system passes everything after \(env) as one word: to give the interpreter arguments, write #!\(env) -S \(command))"
            }
            return text
        }
    }
}

/// Reads the first bytes of a handler program, as `execve` does, to tell whether it can start.
public enum ProgramHeader {
    /// How much of the file is read: what Linux reads for the `#!` line (`BINPRM_BUF_SIZE`).
    public static let readLimit = 256

    /// Magic numbers of the compiled programs this system runs.
    static let binaryMagics: [[UInt8]] = {
        var magics: [[UInt8]] = [[0x7F, 0x45, 0x4C, 0x46]]  // ELF
        #if canImport(Darwin)
        magics += [[0xCF, 0xFA, 0xED, 0xFE], [0xCE, 0xFA, 0xED, 0xFE], [0xCA, 0xFE, 0xBA, 0xBE]]  // Mach-O, universal
        #endif
        return magics
    }()

    /// The problem that keeps the executable file at `program` from starting, or nil when it can
    /// start (or when it cannot be read: a program may be executable without being readable, and
    /// the system then decides). `searchPath` is the `PATH` the handler gets, where
    /// `#!/usr/bin/env NAME` finds `NAME`. Only the interpreter and env's command are checked,
    /// not the interpreter's other arguments.
    public static func problem(program: String, searchPath: String?) -> ProgramStartProblem? {
        guard let head = readHead(program) else { return nil }
        return problem(head: head, searchPath: searchPath)
    }

    /// ``problem(program:searchPath:)`` for the first bytes of a file (at most ``readLimit``).
    static func problem(head: [UInt8], searchPath: String?) -> ProgramStartProblem? {
        guard head.starts(with: [0x23, 0x21]) else {  // "#!"
            if binaryMagics.contains(where: { head.starts(with: $0) }) { return nil }
            return .notAProgram(isEmpty: head.isEmpty)
        }
        let lineEnd = head.firstIndex(of: 0x0A)
        var line = Array(head[2..<(lineEnd ?? head.endIndex)])
        // As the kernel does: trailing spaces and tabs go (a carriage return stays), then the
        // interpreter is the first word and the rest, if any, one argument.
        while let last = line.last, last == 0x20 || last == 0x09 { line.removeLast() }
        let isBlank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        guard let start = line.firstIndex(where: { !isBlank($0) }) else { return .emptyInterpreterLine }
        let end = line[start...].firstIndex(where: { isBlank($0) || $0 == 0 }) ?? line.endIndex
        if lineEnd == nil && end == line.endIndex && head.count >= readLimit { return .interpreterLineTooLong(limit: readLimit) }
        let interpreter = String(decoding: line[start..<end], as: UTF8.self)
        var argument: String?
        if let argumentStart = line[end...].firstIndex(where: { !isBlank($0) }) {
            argument = String(decoding: line[argumentStart...], as: UTF8.self)
        }
        let isEnv = interpreter.split(separator: "/").last == "env"
        if line.last == 0x0D {
            // The stray "\r" belongs to the last word of the line.
            if let argument {
                let word = isEnv ? (envCommand(argument) ?? argument) : argument
                return .carriageReturn(interpreter: interpreter, word: word, viaEnv: isEnv)
            }
            return .carriageReturn(interpreter: interpreter, word: interpreter, viaEnv: false)
        }
        if let problem = interpreterProblem(interpreter) { return problem }
        // A line cut short by the read limit has an incomplete argument: leave it to env.
        guard isEnv, lineEnd != nil || head.count < readLimit, let argument, let command = envCommand(argument) else { return nil }
        if command.contains("/") {
            return interpreterProblem(command)
        }
        if FunctionRunner.searchOnPath(command, searchPath: searchPath ?? ProgramStartProblem.defaultEnvPath) != nil { return nil }
        return .commandNotOnPath(env: interpreter, command: command, searchPath: searchPath, splitsArguments: splitsArguments(argument))
    }

    /// The command `env` runs given `argument`, the one word the kernel passes it after a `#!`
    /// line's interpreter; nil when that cannot be told without running it (options other than
    /// `-S`, variable assignments, escapes or `${…}` in a split string).
    static func envCommand(_ argument: String) -> String? {
        guard splitsArguments(argument) else {
            // Without -S the whole rest of the line is one word: the command's name, spaces and all.
            if argument.hasPrefix("-") || argument.contains("=") { return nil }
            return argument
        }
        var rest = Substring(argument)
        if rest.hasPrefix("--split-string=") { rest = rest.dropFirst("--split-string=".count) }
        else if rest.hasPrefix("--split-string") { rest = rest.dropFirst("--split-string".count) }
        else { rest = rest.dropFirst(2) }  // "-S"
        var words = rest.split(whereSeparator: { $0 == " " || $0 == "\t" })[...]
        while let word = words.first {
            if word.contains("\\") || word.contains("$") || word.contains("\"") || word.contains("'") { return nil }
            if word == "-u" || word == "-C" || word == "--unset" || word == "--chdir" { words = words.dropFirst(2); continue }
            if word.hasPrefix("-") || word.contains("=") { words = words.dropFirst(); continue }
            return String(word)
        }
        return nil
    }

    /// Whether env's argument starts with `-S` (`--split-string`): env then splits it into words.
    static func splitsArguments(_ argument: String) -> Bool {
        argument.hasPrefix("-S") || argument.hasPrefix("--split-string")
    }

    /// Why the interpreter at `path` cannot be run, or nil.
    static func interpreterProblem(_ path: String) -> ProgramStartProblem? {
        var info = stat()
        guard stat(path, &info) == 0 else { return .interpreterMissing(interpreter: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return .interpreterNotRunnable(interpreter: path, reason: "not a regular file") }
        guard access(path, X_OK) == 0 else { return .interpreterNotRunnable(interpreter: path, reason: "not executable") }
        return nil
    }

    /// The first ``readLimit`` bytes of `path`, or nil when it cannot be opened or read.
    static func readHead(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        var buffer = [UInt8](repeating: 0, count: readLimit)
        var count = 0
        while count < readLimit {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, readLimit - count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { break }
            count += n
        }
        return Array(buffer[0..<count])
    }
}
