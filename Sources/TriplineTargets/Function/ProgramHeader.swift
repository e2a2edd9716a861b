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
    /// A `#!` line after a UTF-8 byte order mark, which the system does not look past.
    case byteOrderMark
    /// `#!` followed by no interpreter.
    case emptyInterpreterLine
    /// The interpreter's path does not end within the first `limit` bytes, all the system reads.
    case interpreterLineTooLong(limit: Int)
    /// The `#!` line ends in a carriage return (a file with Windows line endings) that ends up in
    /// the name of the program to run: `word` is the interpreter that carries the stray `\r`, or,
    /// `viaEnv`, the command `interpreter` (`/usr/bin/env`) is asked to find. (A carriage return
    /// that only ends the interpreter's argument is a ``ProgramStartDoubt``.)
    case carriageReturn(interpreter: String, word: String, viaEnv: Bool)
    /// The `#!` interpreter does not exist (`reason`: the system's).
    case interpreterMissing(interpreter: String, reason: String)
    /// The `#!` interpreter exists but cannot be run: not a regular file, or not executable.
    case interpreterNotRunnable(interpreter: String, reason: String)
    /// `#!/usr/bin/env COMMAND` where `COMMAND` is not on the `PATH` handlers get (`searchPath`;
    /// nil when handlers get none, and env searches `defaultEnvPath`).
    case commandNotOnPath(env: String, command: String, searchPath: String?, splitsArguments: Bool)
    /// `#!/usr/bin/env -S … COMMAND` where the line itself sets env's `PATH` (`PATH=…`, or clears it:
    /// `-i`, `-u PATH`, then `path` is nil and env searches `defaultEnvPath`) and `COMMAND` is not on it.
    case commandNotOnLinePath(env: String, command: String, path: String?)

    /// Where `env` looks for a command when `PATH` is not set (glibc's `_CS_PATH`).
    public static let defaultEnvPath = "/bin:/usr/bin"

    public var description: String {
        switch self {
        case .notAProgram(let isEmpty):
            return (isEmpty ? "the file is empty, so " : "")
                + "the system cannot start it (\"Exec format error\"): a handler is a compiled program or a script whose first line "
                + "is a #! line naming its interpreter; add one, such as #!/bin/sh or #!/usr/bin/env python3"
        case .byteOrderMark:
            return "the system cannot start it (\"Exec format error\"): its #! line comes after a UTF-8 byte order mark (BOM), "
                + "and the system only reads a #! line at the very start of the file; save the file without the BOM "
                + "(sed -i '1s/^\\xEF\\xBB\\xBF//' FILE)"
        case .emptyInterpreterLine:
            return "its #! line names no interpreter; write one after the #!, such as #!/bin/sh or #!/usr/bin/env python3"
        case .interpreterLineTooLong(let limit):
            return "its #! line is longer than the \(limit) bytes the system reads, so the interpreter's path is cut short; "
                + "use a shorter path, or #!/usr/bin/env NAME to find the interpreter on PATH"
        case .carriageReturn(_, let word, let viaEnv):
            let consequence: String
            if viaEnv {
                consequence = "so env looks for the command \(JSONWriter.quoted(word)), which does not exist"
            } else {
                consequence = "so the system looks for the interpreter \(JSONWriter.quoted(word)), which does not exist"
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
        case .commandNotOnLinePath(let env, let command, let path):
            let searched = path.map { "the PATH its #! line sets (\($0))" }
                ?? "the PATH env searches once its #! line clears PATH (\(Self.defaultEnvPath))"
            return "its #! line runs \(env) to find the command \(JSONWriter.quoted(command)), which is not on \(searched); "
                + "change PATH in the #! line, or name the interpreter by its full path"
        }
    }
}

/// Something in a handler's first bytes that the system accepts but that may still keep the
/// handler from working: `validate` and `run` warn about it and start the handler anyway.
public enum ProgramStartDoubt: Sendable, Equatable, CustomStringConvertible {
    /// The `#!` line ends in a carriage return (a file with Windows line endings) that the system
    /// passes on to `interpreter` at the end of its one `argument` (`-w\r`): some interpreters
    /// (perl) ignore it, most (python3, sh) reject the argument.
    case carriageReturnInArgument(interpreter: String, argument: String)

    public var description: String {
        switch self {
        case .carriageReturnInArgument(let interpreter, let argument):
            return "its #! line ends in a carriage return (the file has Windows CRLF line endings), so the interpreter "
                + "\(JSONWriter.quoted(interpreter)) is given the argument \(JSONWriter.quoted(argument)), which most interpreters other than perl reject; "
                + "convert the file to Unix LF line endings (dos2unix FILE, or sed -i 's/\\r$//' FILE)"
        }
    }
}


/// Reads the first bytes of a handler program, as `execve` does, to tell whether it can start.
///
/// It refuses only what is certain not to start (``ProgramStartProblem``); what it cannot tell
/// without running the handler passes, and what starts but may well fail is a
/// ``ProgramStartDoubt``.
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

    /// What the first bytes of a program say.
    enum Verdict: Equatable {
        /// It starts, or whether it does cannot be told without running it.
        case startable
        case problem(ProgramStartProblem)
        case doubt(ProgramStartDoubt)
    }

    /// The problem that keeps the executable file at `program` from starting, or nil when it can
    /// start (or when it cannot be read: a program may be executable without being readable, and
    /// the system then decides). `searchPath` is the `PATH` the handler gets, where
    /// `#!/usr/bin/env NAME` finds `NAME`. Only the interpreter and env's command are checked,
    /// not the interpreter's other arguments.
    public static func problem(program: String, searchPath: String?) -> ProgramStartProblem? {
        guard let head = readHead(program) else { return nil }
        if case .problem(let problem) = verdict(head: head, program: program, searchPath: searchPath) { return problem }
        return nil
    }

    /// What may keep the program at `program` from working although the system starts it, or nil.
    public static func doubt(program: String, searchPath: String?) -> ProgramStartDoubt? {
        guard let head = readHead(program) else { return nil }
        if case .doubt(let doubt) = verdict(head: head, program: program, searchPath: searchPath) { return doubt }
        return nil
    }

    /// The verdict on a program whose first bytes (at most ``readLimit``) are `head`; `program` is
    /// its path as it is started (binfmt_misc matches some formats by its extension), and
    /// `binfmtDirectory` where binfmt_misc lists the other formats the system runs.
    static func verdict(head: [UInt8], program: String, searchPath: String?,
                        binfmtDirectory: String = BinfmtMisc.defaultDirectory) -> Verdict {
        guard head.starts(with: [0x23, 0x21]) else {  // "#!"
            if binaryMagics.contains(where: { head.starts(with: $0) }) { return .startable }
            // A jar, a .pyz without a #! line, a Windows .exe: formats registered with binfmt_misc.
            if BinfmtMisc.mayRun(program: program, head: head, directory: binfmtDirectory) { return .startable }
            if head.starts(with: [0xEF, 0xBB, 0xBF, 0x23, 0x21]) { return .problem(.byteOrderMark) }
            return .problem(.notAProgram(isEmpty: head.isEmpty))
        }
        let line: ShebangLine
        switch ShebangLine.parse(head) {
        case .noInterpreter: return .problem(.emptyInterpreterLine)
        case .interpreterCutShort: return .problem(.interpreterLineTooLong(limit: readLimit))
        case .line(let parsed): line = parsed
        }
        let interpreter = line.interpreter
        if let problem = interpreterProblem(interpreter) {
            // The kernel splits the line at blanks only: a CRLF file's "\r" is part of a lone interpreter.
            if interpreter.hasSuffix("\r") { return .problem(.carriageReturn(interpreter: interpreter, word: interpreter, viaEnv: false)) }
            return .problem(problem)
        }
        guard let argument = line.argument else { return .startable }
        guard interpreter.split(separator: "/").last == "env" else {
            if line.isComplete && argument.hasSuffix("\r") {
                return .doubt(.carriageReturnInArgument(interpreter: interpreter, argument: argument))
            }
            return .startable
        }
        // A line cut short by the read limit has an incomplete argument: leave it to env.
        guard line.isComplete, let lookup = EnvCommandLine.parse(argument) else { return .startable }
        let command = lookup.command
        if command.contains("/") {
            if lookup.changesDirectory && !command.hasPrefix("/") { return .startable }
            guard let problem = interpreterProblem(command) else { return .startable }
            if command.hasSuffix("\r") { return .problem(.carriageReturn(interpreter: interpreter, word: command, viaEnv: true)) }
            return .problem(problem)
        }
        let path: String?  // nil: PATH is unset, and env searches its default
        switch lookup.path {
        case .inherited: path = searchPath
        case .cleared: path = nil
        case .assigned(let assigned): path = assigned
        }
        let searched = path ?? ProgramStartProblem.defaultEnvPath
        if lookup.changesDirectory && searched.split(separator: ":", omittingEmptySubsequences: false).contains(where: { !$0.hasPrefix("/") }) {
            return .startable  // relative PATH entries, taken from the directory -C changes to
        }
        if FunctionRunner.searchOnPath(command, searchPath: searched) != nil { return .startable }
        if command.contains("\r") { return .problem(.carriageReturn(interpreter: interpreter, word: command, viaEnv: true)) }
        switch lookup.path {
        case .inherited:
            return .problem(.commandNotOnPath(env: interpreter, command: command, searchPath: searchPath, splitsArguments: lookup.splitsArguments))
        case .cleared, .assigned:
            return .problem(.commandNotOnLinePath(env: interpreter, command: command, path: path))
        }
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
        readFile(path, limit: readLimit)
    }

    /// At most `limit` bytes from the start of `path`, or nil when it cannot be opened or read.
    static func readFile(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        var buffer = [UInt8](repeating: 0, count: limit)
        var count = 0
        while count < limit {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, limit - count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { break }
            count += n
        }
        return Array(buffer[0..<count])
    }
}

/// A `#!` line as Linux reads it (`fs/binfmt_script.c`, 5.1 and later): within the first
/// ``ProgramHeader/readLimit`` bytes, up to the newline; blanks (spaces and tabs) around it dropped;
/// the interpreter is the first word, up to a blank or NUL, and the rest, if any, is one argument.
/// Nothing else is whitespace: a carriage return stays in the word it ends.
struct ShebangLine: Equatable {
    var interpreter: String
    /// Everything after the interpreter and the blanks that follow it, as one word (up to a NUL).
    var argument: String?
    /// The whole line was read: it ends with a newline, or the file ends within the bytes read.
    /// When not, the argument may be cut short (the system passes it so).
    var isComplete: Bool

    enum Parse: Equatable {
        case line(ShebangLine)
        /// Blanks only: the system refuses it (`ENOEXEC`).
        case noInterpreter
        /// No newline, and the interpreter's path runs to the end of the bytes read: the system
        /// refuses rather than run a truncated path (`ENOEXEC`).
        case interpreterCutShort
    }

    /// Parses `head`, the file's first bytes, which start with `#!`.
    static func parse(_ head: [UInt8]) -> Parse {
        let size = ProgramHeader.readLimit
        // The kernel's buffer: the file's first bytes, NUL past its end.
        var buffer = Array(head.prefix(size))
        let isComplete = buffer.count < size || buffer.contains(0x0A)
        if buffer.count < size { buffer += [UInt8](repeating: 0, count: size - buffer.count) }
        func isBlank(_ i: Int) -> Bool { buffer[i] == 0x20 || buffer[i] == 0x09 }
        func isTerminator(_ i: Int) -> Bool { isBlank(i) || buffer[i] == 0 }
        let last = size - 1
        var end: Int
        if let newline = buffer.firstIndex(of: 0x0A) {
            end = newline
        } else {
            guard let first = (2...last).first(where: { !isBlank($0) }) else { return .noInterpreter }
            // The interpreter must end (a blank or NUL) within the buffer, or it would be cut short.
            guard (first...last).contains(where: isTerminator) else { return .interpreterCutShort }
            end = last  // the last byte is overwritten by the terminating NUL
        }
        while isBlank(end - 1) { end -= 1 }
        guard let name = (2...end).first(where: { !isBlank($0) }), name != end else { return .noInterpreter }
        let separator = (name...end).first(where: isTerminator)
        let interpreterEnd = min(separator ?? end, end)
        var argument: String?
        if let separator, buffer[separator] != 0, let start = (separator...end).first(where: { !isBlank($0) }), start < end {
            let bytes = buffer[start..<end]
            argument = String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return .line(ShebangLine(interpreter: String(decoding: buffer[name..<interpreterEnd], as: UTF8.self), argument: argument,
                                 isComplete: isComplete))
    }
}
