import Foundation
import Testing

/// Every handler shipped in Handlers/ runs through `tripline invoke` on a CloudTrail event and
/// succeeds, printing something about the event.
@Suite("Shipped handlers run under tripline invoke")
struct ShippedHandlersTests {
    static let event = """
        {"version":"0","id":"e1","source":"aws.cloudtrail","detail-type":"AWS API Call via CloudTrail",
         "account":"111122223333","time":"2026-11-25T10:00:00Z","region":"us-east-1","resources":[],
         "detail":{"eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1",
                   "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/mallory"}}}
        """

    @Test("a handler prints the event's name and exits 0", arguments: ["notify.sh", "desktop-notify.sh", "template.sh", "template.py"])
    func handlerRuns(_ handler: String) throws {
        let tripline = try TriplineBinary.locate()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tripline-handlers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let eventFile = scratch.appendingPathComponent("event.json")
        try Self.event.write(to: eventFile, atomically: true, encoding: .utf8)
        let path = TriplineBinary.packageRoot.appendingPathComponent("Handlers").appendingPathComponent(handler).path
        let result = try tripline.run(["invoke", path, "--event", eventFile.path, "--rule", "tampering"], in: scratch)
        #expect(result.status == 0, "\(handler): \(result)")
        #expect(result.stdout.contains("StopLogging"), "\(handler): \(result)")
        // 'run' prefixes each line with [rule/target]: a tag of the handler's own would print it twice.
        #expect(!result.stdout.contains("[tampering"), "\(handler) prints its own rule tag: \(result)")
    }
}

/// Runs a shipped handler directly, as `tripline run` starts it: the payload on standard input and
/// only the environment given (PATH chosen by the test, so each fallback of a handler can be run).
struct HandlerRun {
    var status: Int32
    var stdout: [UInt8]
    var stderr: String
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var stdoutLines: [String] { stdoutText.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }

    static func handler(_ name: String) -> String {
        TriplineBinary.packageRoot.appendingPathComponent("Handlers").appendingPathComponent(name).path
    }

    /// Runs `executable` with `arguments`; output goes through files so no pipe can fill up.
    static func run(_ executable: String, _ arguments: [String] = [], stdin: [UInt8], environment: [String: String], in directory: URL) throws -> HandlerRun {
        let input = directory.appendingPathComponent("stdin-\(UUID().uuidString)")
        let output = directory.appendingPathComponent("stdout-\(UUID().uuidString)")
        let errors = directory.appendingPathComponent("stderr-\(UUID().uuidString)")
        try Data(stdin).write(to: input)
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = directory
        let inputHandle = try FileHandle(forReadingFrom: input)
        let outputHandle = try FileHandle(forWritingTo: output)
        let errorHandle = try FileHandle(forWritingTo: errors)
        process.standardInput = inputHandle
        process.standardOutput = outputHandle
        process.standardError = errorHandle
        try process.run()
        process.waitUntilExit()
        try inputHandle.close(); try outputHandle.close(); try errorHandle.close()
        return HandlerRun(status: process.terminationStatus, stdout: Array(try Data(contentsOf: output)),
                          stderr: String(decoding: try Data(contentsOf: errors), as: UTF8.self))
    }

    /// Where `tool` is on this machine's PATH, or nil.
    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate).resolvingSymlinksInPath().path }
        }
        return nil
    }

    /// A folder of links to exactly `tools` (those this machine has), to use as PATH.
    static func toolFolder(_ tools: [String], in directory: URL) throws -> String {
        let folder = directory.appendingPathComponent("bin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for tool in tools {
            if let target = tool == "python3" ? pythonExecutable : which(tool) {
                try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent(tool).path, withDestinationPath: target)
            }
        }
        return folder.path
    }

    /// The python3 interpreter itself: the one on PATH may be a wrapper (pyenv's shims) that needs
    /// more of PATH than a test folder holds.
    static let pythonExecutable: String? = {
        guard let python = which("python3") else { return nil }
        let process = Process()
        let pipe = Pipe()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import sys; print(sys.executable)"]
        process.standardOutput = pipe
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let path = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return process.terminationStatus == 0 && !path.isEmpty ? path : nil
    }()

    /// The tools every shipped sh handler uses.
    static let baseTools = ["cat", "tr", "sed", "dirname", "mkdir", "grep", "flock", "env"]
}

/// What a line must not hold to be safe on a terminal: C0 controls (ESC, CR, LF…), DEL, C1 controls.
private func controlCharacters(in text: String) -> [String] {
    text.unicodeScalars.filter { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) }.map { String(format: "U+%04X", $0.value) }
}

@Suite("Shipped handlers: hostile, Tripline and unusable input")
struct ShippedHandlerInputTests {
    /// An event whose fields carry a newline that forges a second alert line, CR, ESC sequences
    /// (colour, window title), BEL and a C1 control (U+0085, U+009B CSI).
    static let hostile = #"""
        {"version":"0","id":"e1","source":"aws.iam","detail-type":"AWS API Call via CloudTrail","time":"2026-11-25T10:00:00Z","region":"us-east-1",
         "detail":{"eventTime":"2026-11-25T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"Create\rUser\u0085","awsRegion":"us-east-1",
                   "sourceIPAddress":"1.2.3.4\u009b2J","userIdentity":{"type":"IAMUser",
                   "arn":"evil\n[root-account-usage/notify] 2026-11-25T10:00:00Z signin:ConsoleLogin by FORGED \u001b[31mRED\u001b]0;title\u0007"}}}
        """#

    enum Reader: String, CaseIterable { case jq, python3, neither }

    @Test("notify.sh prints exactly one line without control characters, with jq, with python3 only, and with neither", arguments: Reader.allCases)
    func notifyOneLine(_ reader: Reader) throws {
        if reader != .neither, HandlerRun.which(reader.rawValue) == nil {
            print("\(reader.rawValue) is not installed; skipping notify.sh's \(reader.rawValue) path")
            return
        }
        try withTemporaryDirectory { dir in
            let tools = HandlerRun.baseTools + (reader == .neither ? [] : [reader.rawValue])
            let path = try HandlerRun.toolFolder(tools, in: dir)
            let run = try HandlerRun.run(HandlerRun.handler("notify.sh"), stdin: Array(Self.hostile.utf8), environment: ["PATH": path], in: dir)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdoutLines.count == 1, "\(reader): \(run.stdoutLines)")
            #expect(controlCharacters(in: run.stdoutLines.joined()).isEmpty, "\(reader): \(controlCharacters(in: run.stdoutLines.joined())) in \(run.stdoutLines)")
            #expect(run.stdoutText.contains("FORGED"), "the text around the controls stays: \(run.stdoutText)")
            if reader != .neither {
                // The summary, with each control shown as \xNN.
                #expect(run.stdoutText.hasPrefix("2026-11-25T10:00:00Z iam:Create\\x0dUser\\x85 by evil\\x0a[root-account-usage/notify] "), "\(run.stdoutText)")
                #expect(run.stdoutText.contains("\\x1b[31mRED\\x1b]0;title\\x07 from 1.2.3.4\\x9b2J in us-east-1"), "\(run.stdoutText)")
            }
        }
    }

    @Test("notify.sh names the principal of Tripline's blocking events, not 'by ?'", arguments: Reader.allCases.filter { $0 != .neither })
    func notifyTriplineEvents(_ reader: Reader) throws {
        guard HandlerRun.which(reader.rawValue) != nil else {
            print("\(reader.rawValue) is not installed; skipping notify.sh's \(reader.rawValue) path")
            return
        }
        let events: [(String, String)] = [
            (#"{"version":"0","id":"b1","detail-type":"User Blocked","source":"tripline","account":"111122223333","time":"2026-11-25T10:00:01Z","region":"us-east-1","resources":["arn:aws:iam::111122223333:user/mallory"],"detail":{"principal":{"kind":"iamUser","key":"arn:aws:iam::111122223333:user/mallory","arn":"arn:aws:iam::111122223333:user/mallory","userName":"mallory"},"key":"arn:aws:iam::111122223333:user/mallory","reason":"CloudTrail tampering","rule":"cloudtrail-tampering","dryRun":true}}"#,
             "2026-11-25T10:00:01Z tripline:User Blocked by arn:aws:iam::111122223333:user/mallory from ? in us-east-1"),
            (#"{"version":"0","id":"b2","detail-type":"User Unblocked","source":"tripline","account":"111122223333","time":"2026-11-25T11:00:01Z","region":"us-east-1","resources":[],"detail":{"principal":{"kind":"identityCenterUser","key":"identitystore/user/u-1","userName":"u-1"},"unblockedBy":"expiry"}}"#,
             "2026-11-25T11:00:01Z tripline:User Unblocked by identitystore/user/u-1 from ? in us-east-1"),
            (#"{"version":"0","id":"b3","detail-type":"User Block Refused","source":"tripline","account":"111122223333","time":"2026-11-25T10:00:01Z","region":"us-east-1","resources":[],"detail":{"principal":null,"userIdentity":{"type":"Root","arn":"arn:aws:iam::111122223333:root"},"refusal":{"code":"root"}}}"#,
             "2026-11-25T10:00:01Z tripline:User Block Refused by arn:aws:iam::111122223333:root from ? in us-east-1"),
        ]
        try withTemporaryDirectory { dir in
            let path = try HandlerRun.toolFolder(HandlerRun.baseTools + [reader.rawValue], in: dir)
            for (event, expected) in events {
                let run = try HandlerRun.run(HandlerRun.handler("notify.sh"), stdin: Array(event.utf8), environment: ["PATH": path], in: dir)
                #expect(run.status == 0 && run.stdoutLines == [expected], "\(reader): \(run.stdoutLines) \(run.stderr)")
            }
        }
    }

    @Test("desktop-notify.sh writes one line without control characters to the terminal, whatever notify.sh prints",
          .enabled(if: HandlerRun.which("script") != nil, "needs script(1) for a terminal"))
    func desktopNotifyTerminal() throws {
        try withTemporaryDirectory { dir in
            // desktop-notify.sh next to a notify.sh that prints raw controls and two lines.
            let handlers = dir.appendingPathComponent("Handlers")
            try FileManager.default.createDirectory(at: handlers, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: HandlerRun.handler("desktop-notify.sh"), toPath: handlers.appendingPathComponent("desktop-notify.sh").path)
            let stub = "#!/bin/sh\ncat >/dev/null\nprintf 'a\\033[31mRED\\033]0;title\\007\\r\\n[root-account-usage/notify] FORGED \\302\\233x \\177end\\n'\n"
            try stub.write(to: handlers.appendingPathComponent("notify.sh"), atomically: true, encoding: .utf8)
            chmod(handlers.appendingPathComponent("notify.sh").path, 0o755)
            let path = try HandlerRun.toolFolder(HandlerRun.baseTools + ["sh", "script"], in: dir)
            // script(1) gives the handler a terminal of its own and copies what reaches it to standard output.
            let command = "\(handlers.path)/desktop-notify.sh < /dev/null"
            let run = try HandlerRun.run(path + "/script", ["-qec", command, "/dev/null"], stdin: [],
                                         environment: ["PATH": path, "TRIPLINE_RULE": "root-account-usage"], in: dir)
            #expect(run.status == 0, "\(run.stderr)")
            // The terminal turns each \n into \r\n; take that back, then expect the bell, the rule and one clean line.
            let text = run.stdoutText.replacingOccurrences(of: "\r\n", with: "\n")
            #expect(text == "\u{07}[root-account-usage] a[31mRED]0;title  [root-account-usage/notify] FORGED x end\n", "\(Array(text.unicodeScalars).map { $0.value })")
        }
    }

    @Test("the templates and append-audit-log.sh exit 65 with one line on stderr on input they can never handle",
          arguments: ["template.sh", "template.py", "append-audit-log.sh"],
                     ["", "  \n", "CreateUser happened", "null", "[1]", #"{"a":1} {"b":2}"#, #"{"detail":{"userIdentity":{}}}"#])
    func unusableInput(_ handler: String, _ input: String) throws {
        // append-audit-log.sh records any JSON object; the templates need an event name too.
        let wanted = !(handler == "append-audit-log.sh" && input == #"{"detail":{"userIdentity":{}}}"#)
        let needs = handler == "template.py" ? "python3" : "jq"
        guard HandlerRun.which(needs) != nil else {
            print("\(needs) is not installed; skipping \(handler)")
            return
        }
        try withTemporaryDirectory { dir in
            let path = try HandlerRun.toolFolder(HandlerRun.baseTools + ["bash", "python3", "jq"], in: dir)
            let environment = ["PATH": path, "TRIPLINE_IDEMPOTENCY_KEY": "e1:r:t", "TRIPLINE_AUDIT_LOG": dir.appendingPathComponent("audit.ndjson").path]
            let run = try HandlerRun.run(HandlerRun.handler(handler), stdin: Array(input.utf8), environment: environment, in: dir)
            if wanted {
                #expect(run.status == 65, "\(handler) on \(input.debugDescription): status \(run.status), stderr \(run.stderr)")
                #expect(run.stderr.hasSuffix("\n") && run.stderr.dropLast().split(separator: "\n").count == 1, "\(handler): \(run.stderr.debugDescription)")
                #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("audit.ndjson").path), "nothing is recorded")
            } else {
                #expect(run.status == 0, "\(handler) on \(input): \(run.stderr)")
            }
        }
    }

    @Test("template.sh without jq fails for good (65, no day of retries) with one line on stderr saying to install jq")
    func templateWithoutJQ() throws {
        try withTemporaryDirectory { dir in
            let path = try HandlerRun.toolFolder(HandlerRun.baseTools + ["bash"], in: dir)
            guard FileManager.default.fileExists(atPath: path + "/bash") else {
                print("bash is not installed; skipping template.sh")
                return
            }
            let event = #"{"detail":{"eventName":"CreateUser","userIdentity":{"arn":"arn:aws:iam::1:user/a"}}}"#
            let run = try HandlerRun.run(HandlerRun.handler("template.sh"), stdin: Array(event.utf8),
                                         environment: ["PATH": path, "TRIPLINE_IDEMPOTENCY_KEY": "e1:r:t"], in: dir)
            #expect(run.status == 65, "status \(run.status), stderr \(run.stderr)")
            #expect(run.stderr.hasPrefix("template.sh: jq is needed to read the event") && run.stderr.contains("install jq"), "\(run.stderr)")
            #expect(run.stderr.hasSuffix("\n") && run.stderr.dropLast().split(separator: "\n").count == 1, "\(run.stderr.debugDescription)")
        }
    }

    @Test("append-audit-log.sh without jq or python3 still refuses what is not a JSON object")
    func auditLogWithoutReaders() throws {
        try withTemporaryDirectory { dir in
            let path = try HandlerRun.toolFolder(HandlerRun.baseTools, in: dir)
            let log = dir.appendingPathComponent("audit.ndjson").path
            for (input, status) in [("", Int32(65)), ("x happened", 65), ("null", 65), (#"{"detail":{"eventName":"X"}}"#, 0)] {
                let run = try HandlerRun.run(HandlerRun.handler("append-audit-log.sh"), stdin: Array(input.utf8),
                                             environment: ["PATH": path, "TRIPLINE_AUDIT_LOG": log], in: dir)
                #expect(run.status == status, "\(input.debugDescription): \(run.status) \(run.stderr)")
            }
            #expect((try? String(contentsOfFile: log, encoding: .utf8)) == #"{"detail":{"eventName":"X"}}"# + "\n")
        }
    }
}
