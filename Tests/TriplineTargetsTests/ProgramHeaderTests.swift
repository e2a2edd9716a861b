import Foundation
import Testing
@testable import TriplineTargets

/// A folder `DIR` with `bin/tool` (an executable script), `bin/plain` (not executable),
/// `bin/dir/` and `bin2/tool2` (another executable script); handlers' `PATH` is `DIR/bin`.
private func withBin<T>(_ body: (URL) throws -> T) throws -> T {
    try withTargetsTempDirectory { dir in
        _ = try writeScript("exit 0", "bin/tool", in: dir)
        _ = try writeScript("exit 0", "bin2/tool2", in: dir)
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
        ("a #! line after a UTF-8 byte order mark", "\u{FEFF}#!/bin/sh\necho hi\n", P.byteOrderMark),
        ("a #! line with no interpreter", "#!\necho hi\n", P.emptyInterpreterLine),
        ("a #! line of blanks", "#!  \t\n", P.emptyInterpreterLine),
        ("a missing interpreter", "#!/nonexistent/python\nprint(1)\n",
         P.interpreterMissing(interpreter: "/nonexistent/python", reason: "No such file or directory")),
        ("a relative interpreter", "#!python3\n", P.interpreterMissing(interpreter: "python3", reason: "No such file or directory")),
        ("an interpreter that is a directory", "#!DIR/bin/dir\n", P.interpreterNotRunnable(interpreter: "DIR/bin/dir", reason: "not a regular file")),
        ("an interpreter that is not executable", "#!DIR/bin/plain -x\n", P.interpreterNotRunnable(interpreter: "DIR/bin/plain", reason: "not executable")),
        ("CRLF, no argument", "#!/bin/sh\r\necho hi\r\n", P.carriageReturn(interpreter: "/bin/sh\r", word: "/bin/sh\r", viaEnv: false)),
        ("CRLF, an argument: the interpreter starts (perl ignores the \\r; a doubt, not a problem)", "#!/bin/sh -e\r\n", nil),
        ("CRLF through env", "#!/usr/bin/env tool\r\n", P.carriageReturn(interpreter: "/usr/bin/env", word: "tool\r", viaEnv: true)),
        ("CRLF through env -S, which splits at the \\r", "#!/usr/bin/env -S tool\r\n", nil),
        ("CRLF through env -S with arguments", "#!/usr/bin/env -S tool -u\r\n", nil),
        ("CRLF through env -S, a missing command", "#!/usr/bin/env -S no-such-tripline-command\r\n",
         P.commandNotOnPath(env: "/usr/bin/env", command: "no-such-tripline-command", searchPath: "DIR/bin", splitsArguments: true)),
        ("CRLF through env with a path", "#!/usr/bin/env DIR/bin/tool\r\n", P.carriageReturn(interpreter: "/usr/bin/env", word: "DIR/bin/tool\r", viaEnv: true)),
        ("env finds the command on the handlers' PATH", "#!/usr/bin/env tool\n", nil),
        ("env: a command not on PATH", "#!/usr/bin/env no-such-tripline-command\n",
         P.commandNotOnPath(env: "/usr/bin/env", command: "no-such-tripline-command", searchPath: "DIR/bin", splitsArguments: false)),
        ("env: a command on PATH that is not executable", "#!/usr/bin/env plain\n",
         P.commandNotOnPath(env: "/usr/bin/env", command: "plain", searchPath: "DIR/bin", splitsArguments: false)),
        ("env without -S takes the rest as one name", "#!/usr/bin/env tool -x\n",
         P.commandNotOnPath(env: "/usr/bin/env", command: "tool -x", searchPath: "DIR/bin", splitsArguments: false)),
        ("env -S splits arguments", "#!/usr/bin/env -S tool --flag value\n", nil),
        ("env -S skips options and assignments", "#!/usr/bin/env -S -v -u HOME -C / -- FOO=1 tool -x\n", nil),
        ("env -S with a PATH= assignment searches that PATH", "#!/usr/bin/env -S PATH=DIR/bin2 tool2\n", nil),
        ("env -S with PATH=… and other assignments", "#!/usr/bin/env -S LANG=C PATH=/nonexistent:DIR/bin2 X=1 tool2 -x\n", nil),
        ("env -S with a PATH= assignment without the command", "#!/usr/bin/env -S PATH=/nonexistent tool\n",
         P.commandNotOnLinePath(env: "/usr/bin/env", command: "tool", path: "/nonexistent")),
        ("env -S -i clears PATH: env searches its default", "#!/usr/bin/env -S -i tool\n",
         P.commandNotOnLinePath(env: "/usr/bin/env", command: "tool", path: nil)),
        ("env -S -i then PATH=…", "#!/usr/bin/env -S -i PATH=DIR/bin tool\n", nil),
        ("env -S -u PATH", "#!/usr/bin/env -S -uPATH sh\n", nil),
        ("env -S -a NAME takes an argument (coreutils 9.5)", "#!/usr/bin/env -S -a name tool\n", nil),
        ("env -S --argv0 NAME", "#!/usr/bin/env -S --argv0=name tool\n", nil),
        ("env -S with an option env may not know is left to env", "#!/usr/bin/env -S -P DIR/bin tool\n", nil),
        ("env -S with ${NAME} is left to env", "#!/usr/bin/env -S PATH=${HOME} no-such-tripline-command\n", nil),
        ("env -S -C with a relative command is left to env", "#!/usr/bin/env -S -C / bin/no-such-tripline-command\n", nil),
        ("env -S with a missing command", "#!/usr/bin/env -S no-such-tripline-command -u\n",
         P.commandNotOnPath(env: "/usr/bin/env", command: "no-such-tripline-command", searchPath: "DIR/bin", splitsArguments: true)),
        ("env --split-string=", "#!/usr/bin/env --split-string=tool -x\n", nil),
        ("env with a path", "#!/usr/bin/env /nonexistent/node\n",
         P.interpreterMissing(interpreter: "/nonexistent/node", reason: "No such file or directory")),
        ("env with another option is left to env", "#!/usr/bin/env -i no-such-tripline-command\n", nil),
        ("env with nothing to run", "#!/usr/bin/env\n", nil),
        ("an interpreter path past the bytes read", "#!/" + String(repeating: "a", count: 300), P.interpreterLineTooLong(limit: 256)),
        ("an interpreter path of 254 bytes, then a blank past the bytes read", "#!/" + String(repeating: "a", count: 253) + " -x\n",
         P.interpreterLineTooLong(limit: 256)),
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
        #expect(P.byteOrderMark.description.contains("byte order mark (BOM)") && P.byteOrderMark.description.hasSuffix(#"(sed -i '1s/^\xEF\xBB\xBF//' FILE)"#),
                "\(P.byteOrderMark.description)")
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

    @Test("a carriage return that only ends the interpreter's argument is a doubt: the interpreter starts, and perl accepts it", arguments: [
        ("#!DIR/bin/tool -w\r\nprint 1\r\n", ProgramStartDoubt.carriageReturnInArgument(interpreter: "DIR/bin/tool", argument: "-w\r")),
        ("#!DIR/bin/tool -w\n", nil),
        ("#!/usr/bin/env -S tool -w\r\n", nil),
        ("#!/bin/sh\r\n", nil),
    ] as [(String, ProgramStartDoubt?)])
    func carriageReturnDoubt(_ content: String, _ expected: ProgramStartDoubt?) throws {
        try withBin { dir in
            let path = try writeFile(content.replacingOccurrences(of: "DIR", with: dir.path), "handler", in: dir)
            chmod(path, 0o755)
            let found = ProgramHeader.doubt(program: path, searchPath: dir.path + "/bin")
            #expect(found.map { "\($0)" } == expected.map { "\($0)".replacingOccurrences(of: "DIR", with: dir.path) })
            if expected != nil { #expect(ProgramHeader.problem(program: path, searchPath: dir.path + "/bin") == nil) }
        }
    }

    @Test("the #! line is split as Linux splits it: a blank at the last byte read ends a 253-byte interpreter, which runs")
    func shebangAtTheReadLimit() throws {
        func parse(_ text: String) -> ShebangLine.Parse { ShebangLine.parse(Array(text.utf8)) }
        let name253 = "/" + String(repeating: "y", count: 252)
        #expect(parse("#!" + name253 + " -x-more-bytes") == .line(ShebangLine(interpreter: name253, argument: nil, isComplete: false)))
        #expect(parse("#!" + name253 + "\t") == .line(ShebangLine(interpreter: name253, argument: nil, isComplete: false)))
        #expect(parse("#!" + "/" + String(repeating: "y", count: 253) + " -x") == .interpreterCutShort)
        #expect(parse("#!/bin/sh " + String(repeating: "a", count: 300)).argumentPrefix(3) == "aaa")
        #expect(parse("#! \t/bin/sh  -e -u \t\nrest") == .line(ShebangLine(interpreter: "/bin/sh", argument: "-e -u", isComplete: true)))
        #expect(parse("#!/bin/sh\r\n") == .line(ShebangLine(interpreter: "/bin/sh\r", argument: nil, isComplete: true)))
        #expect(parse("#!/bin/sh") == .line(ShebangLine(interpreter: "/bin/sh", argument: nil, isComplete: true)))
        #expect(parse("#!/bin/sh\0 -e\n") == .line(ShebangLine(interpreter: "/bin/sh", argument: nil, isComplete: true)))
        #expect(parse("#!" + String(repeating: " ", count: 300)) == .noInterpreter)
        #expect(parse("#!\n") == .noInterpreter)

        // And a real file: an interpreter path of 253 bytes (a symlink to /bin/sh), the blank at byte 255.
        try withTargetsTempDirectory { dir in
            var interpreter = dir.path + "/l"
            while interpreter.utf8.count < 253 - 3 - 1 {
                interpreter += "/" + String(repeating: "y", count: min(100, 253 - 3 - 1 - interpreter.utf8.count - 1))
            }
            interpreter += "/" + String(repeating: "s", count: 253 - 1 - interpreter.utf8.count)
            try FileManager.default.createDirectory(atPath: (interpreter as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: interpreter, withDestinationPath: "/bin/sh")
            #expect(interpreter.utf8.count == 253)
            let path = try writeFile("#!" + interpreter + " -x-more-bytes-here\necho ok\n", "long.sh", in: dir)
            chmod(path, 0o755)
            #expect(ProgramHeader.problem(program: path, searchPath: nil) == nil)
        }
    }

    @Test("a file that is neither a program nor a script is accepted when binfmt_misc may run it, refused when it cannot", arguments: [
        ("not mounted: a binary file (a container may still run the host's formats)", nil, [:], "app.pyz", true),
        ("binfmt_misc disabled", "disabled", ["pyz": "enabled\ninterpreter /usr/bin/python3\nflags: \nextension .pyz\n"], "app.pyz", false),
        ("an extension entry", "enabled", ["pyz": "enabled\ninterpreter /usr/bin/python3\nflags: \nextension .pyz\n"], "app.pyz", true),
        ("an extension entry, another extension", "enabled", ["pyz": "enabled\ninterpreter /usr/bin/python3\nflags: \nextension .pyz\n"], "app.zip", false),
        ("a disabled entry", "enabled", ["pyz": "disabled\ninterpreter /usr/bin/python3\nflags: \nextension .pyz\n"], "app.pyz", false),
        ("a magic entry (jar)", "enabled", ["jar": "enabled\ninterpreter /usr/bin/jexec\nflags: \noffset 0\nmagic 504b0304\n"], "app", true),
        ("a magic entry at an offset, under a mask", "enabled", ["x": "enabled\ninterpreter /x\nflags: F\noffset 2\nmagic 0300\nmask ff00\n"], "app", true),
        ("a magic entry that does not match", "enabled", ["exe": "enabled\ninterpreter /usr/bin/wine\nflags: \noffset 0\nmagic 4d5a\n"], "app", false),
        ("an entry that does not parse", "enabled", ["odd": "enabled\ninterpreter /x\nsomething new\n"], "app", true),
        ("an unreadable entry", "enabled", ["DIRECTORY": ""], "app", true),
        ("an unknown status", "maybe", [:], "app", true),
    ] as [(String, String?, [String: String], String, Bool)])
    func binfmtMisc(_ name: String, _ status: String?, _ entries: [String: String], _ file: String, _ runs: Bool) throws {
        try withTargetsTempDirectory { dir in
            let binfmt = dir.appendingPathComponent("binfmt_misc")
            try FileManager.default.createDirectory(at: binfmt, withIntermediateDirectories: true)
            if let status {
                try writeFile(status + "\n", "binfmt_misc/status", in: dir)
                try writeFile("", "binfmt_misc/register", in: dir)
            }
            for (entry, text) in entries {
                if entry == "DIRECTORY" {
                    try FileManager.default.createDirectory(at: binfmt.appendingPathComponent("dir-entry"), withIntermediateDirectories: true)
                } else {
                    try writeFile(text, "binfmt_misc/" + entry, in: dir)
                }
            }
            let head: [UInt8] = [0x50, 0x4B, 0x03, 0x04, 0x14, 0x00]  // a zip archive
            let verdict = ProgramHeader.verdict(head: head, program: dir.path + "/" + file, searchPath: nil, binfmtDirectory: binfmt.path)
            #expect(verdict == (runs ? .startable : .problem(.notAProgram(isEmpty: false))), "\(name)")
        }
    }

    @Test("with binfmt_misc not mounted, a text file without a #! line is refused (a script missing its interpreter line)")
    func textWithoutShebangNotMounted() throws {
        try withTargetsTempDirectory { dir in
            let head = Array("echo hello\nexit 0\n".utf8)
            let verdict = ProgramHeader.verdict(head: head, program: dir.path + "/notify.sh", searchPath: nil,
                                                binfmtDirectory: dir.appendingPathComponent("no-binfmt_misc").path)
            #expect(verdict == .problem(.notAProgram(isEmpty: false)))
        }
    }
}

extension ShebangLine.Parse {
    /// The first `count` characters of the parsed argument, if any.
    func argumentPrefix(_ count: Int) -> String? {
        if case .line(let line) = self { return line.argument.map { String($0.prefix(count)) } }
        return nil
    }
}
