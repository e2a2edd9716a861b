import Foundation
import Testing
@testable import TriplineTargets

/// A folder `DIR` with `bin/tool` (an executable script), `bin/plain` (not executable) and
/// `bin/dir/`; handlers' `PATH` is `DIR/bin`.
private func withBin<T>(_ body: (URL) throws -> T) throws -> T {
    try withTargetsTempDirectory { dir in
        _ = try writeScript("exit 0", "bin/tool", in: dir)
        try writeFile("#!/bin/sh\n", "bin/plain", in: dir)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("bin/dir"), withIntermediateDirectories: true)
        return try body(dir)
    }
}

@Suite("What the first bytes of a handler say about whether it can start")
struct ProgramHeaderTests {
    typealias P = ProgramStartProblem

    @Test("each kind of handler the system cannot start is told apart; those it can start pass", arguments: [
        ("a script", "#!/bin/sh\necho hi\n", nil),
        ("spaces around the interpreter and an argument", "#!  /bin/sh -eu  \n", nil),
        ("an ELF program", "\u{7F}ELF\u{2}\u{1}\u{1}", nil),
        ("no #! line", "echo hi\n", P.notAProgram(isEmpty: false)),
        ("an empty file", "", P.notAProgram(isEmpty: true)),
        ("a #! line with no interpreter", "#!\necho hi\n", P.emptyInterpreterLine),
        ("a #! line of blanks", "#!  \t\n", P.emptyInterpreterLine),
        ("a missing interpreter", "#!/nonexistent/python\nprint(1)\n",
         P.interpreterMissing(interpreter: "/nonexistent/python", reason: "No such file or directory")),
        ("a relative interpreter", "#!python3\n", P.interpreterMissing(interpreter: "python3", reason: "No such file or directory")),
        ("an interpreter that is a directory", "#!DIR/bin/dir\n", P.interpreterNotRunnable(interpreter: "DIR/bin/dir", reason: "not a regular file")),
        ("an interpreter that is not executable", "#!DIR/bin/plain -x\n", P.interpreterNotRunnable(interpreter: "DIR/bin/plain", reason: "not executable")),
        ("CRLF, no argument", "#!/bin/sh\r\necho hi\r\n", P.carriageReturn(interpreter: "/bin/sh\r", word: "/bin/sh\r", viaEnv: false)),
        ("CRLF, an argument", "#!/bin/sh -e\r\n", P.carriageReturn(interpreter: "/bin/sh", word: "-e\r", viaEnv: false)),
        ("CRLF through env", "#!/usr/bin/env tool\r\n", P.carriageReturn(interpreter: "/usr/bin/env", word: "tool\r", viaEnv: true)),
        ("CRLF through env -S", "#!/usr/bin/env -S tool\r\n", P.carriageReturn(interpreter: "/usr/bin/env", word: "tool\r", viaEnv: true)),
        ("env finds the command on the handlers' PATH", "#!/usr/bin/env tool\n", nil),
        ("env: a command not on PATH", "#!/usr/bin/env no-such-tripline-command\n",
         P.commandNotOnPath(env: "/usr/bin/env", command: "no-such-tripline-command", searchPath: "DIR/bin", splitsArguments: false)),
        ("env: a command on PATH that is not executable", "#!/usr/bin/env plain\n",
         P.commandNotOnPath(env: "/usr/bin/env", command: "plain", searchPath: "DIR/bin", splitsArguments: false)),
        ("env without -S takes the rest as one name", "#!/usr/bin/env tool -x\n",
         P.commandNotOnPath(env: "/usr/bin/env", command: "tool -x", searchPath: "DIR/bin", splitsArguments: false)),
        ("env -S splits arguments", "#!/usr/bin/env -S tool --flag value\n", nil),
        ("env -S skips options and assignments", "#!/usr/bin/env -S -i -u HOME FOO=1 tool -x\n", nil),
        ("env -S with a missing command", "#!/usr/bin/env -S no-such-tripline-command -u\n",
         P.commandNotOnPath(env: "/usr/bin/env", command: "no-such-tripline-command", searchPath: "DIR/bin", splitsArguments: true)),
        ("env --split-string=", "#!/usr/bin/env --split-string=tool -x\n", nil),
        ("env with a path", "#!/usr/bin/env /nonexistent/node\n",
         P.interpreterMissing(interpreter: "/nonexistent/node", reason: "No such file or directory")),
        ("env with another option is left to env", "#!/usr/bin/env -i no-such-tripline-command\n", nil),
        ("env with nothing to run", "#!/usr/bin/env\n", nil),
        ("an interpreter path past the bytes read", "#!/" + String(repeating: "a", count: 300), P.interpreterLineTooLong(limit: 256)),
        ("a long argument past the bytes read", "#!/bin/sh " + String(repeating: "a", count: 300), nil),
    ] as [(String, String, P?)])
    func classifies(_ name: String, _ content: String, _ expected: P?) throws {
        try withBin { dir in
            let path = try writeFile(content.replacingOccurrences(of: "DIR", with: dir.path), "handler", in: dir)
            chmod(path, 0o755)
            let found = ProgramHeader.problem(program: path, searchPath: dir.path + "/bin")
            let wanted = expected.map { "\($0)".replacingOccurrences(of: "DIR", with: dir.path) }
            #expect(found.map { "\($0)" } == wanted, "\(name)")
        }
    }

    @Test("messages say what is wrong and what to do; a stray carriage return is shown escaped")
    func messages() {
        #expect(P.carriageReturn(interpreter: "/bin/sh\r", word: "/bin/sh\r", viaEnv: false).description
                == #"its #! line ends in a carriage return (the file has Windows CRLF line endings), so the system looks for the interpreter "/bin/sh\r", which does not exist; "#
                + #"convert the file to Unix LF line endings (dos2unix FILE, or sed -i 's/\r$//' FILE)"#)
        #expect(P.notAProgram(isEmpty: false).description.contains("add one, such as #!/bin/sh"))
        #expect(P.interpreterMissing(interpreter: "/nonexistent/python", reason: "No such file or directory").description
                .hasPrefix(#"its #! line names the interpreter "/nonexistent/python", which does not exist (No such file or directory); install it there or change the #! line"#))
        let env = P.commandNotOnPath(env: "/usr/bin/env", command: "python3 -u", searchPath: "/usr/bin:/bin", splitsArguments: false).description
        #expect(env.hasPrefix(#"its #! line runs /usr/bin/env to find the command "python3 -u", which is not on the PATH handlers get (/usr/bin:/bin)"#), "\(env)")
        #expect(env.hasSuffix("write #!/usr/bin/env -S python3 -u)"), "\(env)")
        #expect(P.commandNotOnPath(env: "/usr/bin/env", command: "x", searchPath: nil, splitsArguments: false).description
                .contains("the PATH env searches when handlers get none (/bin:/usr/bin)"))
    }

    @Test("checkStartable resolves the handler, then refuses what cannot start, naming the file")
    func checkStartable() throws {
        try withBin { dir in
            let crlf = try writeFile("#!/bin/sh\r\necho hi\r\n", "crlf.sh", in: dir)
            chmod(crlf, 0o755)
            #expect(throws: FunctionRunError.cannotStartProgram(executable: crlf, .carriageReturn(interpreter: "/bin/sh\r", word: "/bin/sh\r", viaEnv: false))) {
                try FunctionRunner.checkStartable(crlf, searchPath: nil)
            }
            #expect(try FunctionRunner.checkStartable("tool", searchPath: dir.path + "/bin") == dir.path + "/bin/tool")
            #expect(throws: FunctionRunError.cannotStart(executable: "nope-tripline", reason: "not found on PATH")) {
                try FunctionRunner.checkStartable("nope-tripline", searchPath: dir.path + "/bin")
            }
        }
    }

    @Test("a run that fails to start says why: the missing interpreter, not the existing file; no #! line", arguments: [
        ("#!/bin/sh\r\necho hi\r\n", #"cannot start handler HANDLER: its #! line ends in a carriage return (the file has Windows CRLF line endings), so the system looks for the interpreter "/bin/sh\r""#),
        ("#!/nonexistent/python\nprint(1)\n", #"cannot start handler HANDLER: its #! line names the interpreter "/nonexistent/python", which does not exist"#),
        ("echo hi\n", #"cannot start handler HANDLER: the system cannot start it ("Exec format error")"#),
    ])
    func runTimeFailures(_ content: String, _ expected: String) throws {
        try withTargetsTempDirectory { dir in
            let path = try writeFile(content, "h.sh", in: dir)
            chmod(path, 0o755)
            let invocation = FunctionInvocation(executable: path, environment: ["PATH": "/usr/bin:/bin"], payload: [], timeoutSeconds: 5)
            do throws(FunctionRunError) {
                _ = try FunctionRunner().run(invocation)
                Issue.record("\(content) started")
            } catch {
                #expect(error.isPermanent)
                #expect(error.description.hasPrefix(expected.replacingOccurrences(of: "HANDLER", with: path)), "\(error)")
            }
        }
    }
}
