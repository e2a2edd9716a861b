import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import TriplineJSON

/// Runs the built `tripline` binary.
struct TriplineBinary {
    /// The package root, three levels above this file (`<root>/Tests/EndToEndTests/…`).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Where `swift build` puts the binary: next to the test bundle, or `<root>/.build/debug`.
    static var candidates: [URL] {
        var urls: [URL] = []
        if let executable = Bundle.main.executableURL {
            urls.append(executable.deletingLastPathComponent().appendingPathComponent("tripline"))
        }
        urls.append(Bundle.main.bundleURL.appendingPathComponent("tripline"))
        urls.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("tripline"))
        urls.append(packageRoot.appendingPathComponent(".build/debug/tripline"))
        return urls
    }

    let url: URL

    /// The binary, or an error telling the reader to build it.
    static func locate() throws -> TriplineBinary {
        for url in candidates where FileManager.default.isExecutableFile(atPath: url.path) {
            return TriplineBinary(url: url)
        }
        throw BinaryMissing(searched: candidates.map(\.path))
    }

    struct BinaryMissing: Error, CustomStringConvertible {
        var searched: [String]
        var description: String {
            "the tripline binary was not found; run `swift build` first (looked in: \(searched.joined(separator: ", ")))"
        }
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stdoutLines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }
    }

    /// Runs with `arguments`, feeding `stdin`; output is collected through files so no pipe can fill up.
    func run(_ arguments: [String], stdin: String = "", in directory: URL? = nil) throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tripline-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let input = scratch.appendingPathComponent("stdin"), output = scratch.appendingPathComponent("stdout"), errors = scratch.appendingPathComponent("stderr")
        try Data(stdin.utf8).write(to: input)
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let inputHandle = try FileHandle(forReadingFrom: input)
        let outputHandle = try FileHandle(forWritingTo: output)
        let errorHandle = try FileHandle(forWritingTo: errors)
        process.standardInput = inputHandle
        process.standardOutput = outputHandle
        process.standardError = errorHandle
        try process.run()
        process.waitUntilExit()
        try inputHandle.close()
        try outputHandle.close()
        try errorHandle.close()
        return Result(status: process.terminationStatus,
                      stdout: try String(contentsOf: output, encoding: .utf8),
                      stderr: try String(contentsOf: errors, encoding: .utf8))
    }
}

/// A fresh directory, removed when `body` returns.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tripline-e2e-files-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try body(dir)
}

/// The binary running on pipes, for tests that write a line and wait for what it prints.
final class InteractiveTripline {
    struct NoAnswer: Error, CustomStringConvertible {
        var description: String { "no complete output line within the time limit: output is held back" }
    }

    private let process = Process()
    private let input = Pipe(), output = Pipe()

    init(_ binary: TriplineBinary, _ arguments: [String], in directory: URL? = nil) throws {
        process.executableURL = binary.url
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    deinit { if process.isRunning { process.terminate() } }

    func send(_ line: String) {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    /// The next output line (without its newline); throws if it is not complete within `seconds`.
    func readLine(within seconds: Double) throws -> String {
        let descriptor = output.fileHandleForReading.fileDescriptor
        let deadline = Date().addingTimeInterval(seconds)
        var bytes: [UInt8] = []
        while bytes.last != 0x0A {
            let left = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard left > 0, poll(&poller, 1, left) > 0 else { throw NoAnswer() }
            var byte: UInt8 = 0
            guard read(descriptor, &byte, 1) == 1 else { throw NoAnswer() }
            bytes.append(byte)
        }
        return String(decoding: bytes.dropLast(), as: UTF8.self)
    }

    /// Closes standard input and waits for the exit status.
    func finish() throws -> Int32 {
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

@Suite("tripline test-pattern (end to end)")
struct TestPatternCommandTests {
    @Test("match prints \"match\" and exits 0; no match prints \"no match\" and exits 1")
    func matchAndNoMatch() throws {
        let tripline = try TriplineBinary.locate()
        let pattern = #"{"source": ["aws.ec2"], "detail": {"state": [{"anything-but": "running"}]}}"#
        let hit = try tripline.run(["test-pattern", "--pattern", pattern, "--event", #"{"source": "aws.ec2", "detail": {"state": "stopped"}}"#])
        #expect(hit.status == 0 && hit.stdout == "match\n" && hit.stderr.isEmpty, "\(hit)")
        let miss = try tripline.run(["test-pattern", "--pattern", pattern, "--event", #"{"source": "aws.ec2", "detail": {"state": "running"}}"#])
        #expect(miss.status == 1 && miss.stdout == "no match\n" && miss.stderr.isEmpty, "\(miss)")
        let spaced = try tripline.run(["test-pattern", "--pattern=  \n" + pattern, "--event", " {\"source\": \"aws.ec2\", \"detail\": {\"state\": \"x\"}}"])
        #expect(spaced.status == 0, "inline JSON may start with blanks: \(spaced)")
    }

    @Test("a raw CloudTrail record is matched literally; a pattern on envelope fields gets a one-line hint, exit codes unchanged", arguments: [
        (#"{"detail": {"eventName": ["StopLogging"]}}"#, 1, true),
        (#"{"source": ["aws.cloudtrail"]}"#, 1, true),
        (#"{"$or": [{"detail-type": ["AWS API Call via CloudTrail"]}, {"x": ["y"]}]}"#, 1, true),
        (#"{"eventName": ["StopLogging"]}"#, 0, false),
        (#"{"eventName": ["Other"]}"#, 1, false),
    ] as [(String, Int32, Bool)])
    func rawRecordHint(_ pattern: String, _ status: Int32, _ hinted: Bool) throws {
        let tripline = try TriplineBinary.locate()
        let record = #"{"eventVersion": "1.08", "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "eventType": "AwsApiCall"}"#
        let result = try tripline.run(["test-pattern", "--pattern", pattern, "--event", record])
        #expect(result.status == status && result.stdout == (status == 0 ? "match\n" : "no match\n"), "\(result)")
        if hinted {
            #expect(result.stderr.hasPrefix("hint: the event looks like a raw CloudTrail record") && result.stderr.contains("tripline explain --pattern")
                    && result.stderr.split(separator: "\n").count == 1, "\(result)")
        } else {
            #expect(result.stderr.isEmpty, "\(result)")
        }
        let envelope = #"{"source": "aws.cloudtrail", "detail-type": "AWS API Call via CloudTrail", "detail": \#(record)}"#
        let wrapped = try tripline.run(["test-pattern", "--pattern", pattern, "--event", envelope])
        #expect(wrapped.stderr.isEmpty, "no hint for an envelope: \(wrapped)")
        let help = try tripline.run(["test-pattern", "--help"])
        #expect(help.stdout.contains("matched literally") && help.stdout.contains("tripline explain --pattern"), "\(help)")
    }

    @Test("pattern and event read from files")
    func fromFiles() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            try Data(#"{"detail": {"size": [{"numeric": [">", 10]}]}}"#.utf8).write(to: dir.appendingPathComponent("pattern.json"))
            try Data("{\n  \"detail\": {\"size\": 3e2}\n}\n".utf8).write(to: dir.appendingPathComponent("event.json"))
            let result = try tripline.run(["test-pattern", "--pattern", "pattern.json", "--event", "event.json"], in: dir)
            #expect(result.status == 0 && result.stdout == "match\n", "\(result)")
            let missing = try tripline.run(["test-pattern", "--pattern", "pattern.json", "--event", "absent.json"], in: dir)
            #expect(missing.status == 2 && missing.stderr.contains("absent.json"), "\(missing)")
        }
    }

    @Test("a bad pattern exits 2 with the JSON path, the expectation and the file name")
    func badPattern() throws {
        let tripline = try TriplineBinary.locate()
        let text = #"{"detail":{"eventName":["a", {"numeric": "x"}]}}"#
        let inline = try tripline.run(["test-pattern", "--pattern", text, "--event", "{}"])
        #expect(inline.status == 2 && inline.stdout.isEmpty, "\(inline)")
        #expect(inline.stderr.contains("detail.eventName[1].numeric") && inline.stderr.contains(#""numeric" needs an array"#), "\(inline.stderr)")
        try withTemporaryDirectory { dir in
            try Data("{\n  \"detail\": {\"eventName\": [\"a\", {\"numeric\": \"x\"}]}\n}\n".utf8).write(to: dir.appendingPathComponent("bad.json"))
            let fromFile = try tripline.run(["test-pattern", "--pattern", "bad.json", "--event", "{}"], in: dir)
            #expect(fromFile.status == 2, "\(fromFile)")
            #expect(fromFile.stderr.hasPrefix("bad.json:2:45: detail.eventName[1].numeric: "), "\(fromFile.stderr)")
        }
        let malformed = try tripline.run(["test-pattern", "--pattern", #"{"a": ["x""#, "--event", "{}"])
        #expect(malformed.status == 2 && malformed.stderr.contains("1:11"), "\(malformed)")
    }

    @Test("a bad event exits 2 with an error on standard error")
    func badEvent() throws {
        let tripline = try TriplineBinary.locate()
        for event in [#"{"a": "x""#, #"{"a": 1, "a": 2}"#, #"{"a": 01}"#, "[1]"] {
            let result = try tripline.run(["test-pattern", "--pattern", #"{"a": ["x"]}"#, "--event", event])
            #expect(result.status == 2 && result.stdout.isEmpty && result.stderr.contains("invalid event"), "\(event): \(result)")
        }
    }

    @Test("command-line mistakes exit 64 with usage on standard error")
    func usageErrors() throws {
        let tripline = try TriplineBinary.locate()
        for arguments in [[], ["frobnicate"], ["help", "frobnicate"], ["help", "run", "extra"], ["--help", "run"], ["--version", "x"],
                          ["test-pattern"], ["test-pattern", "--pattern", "{}"], ["test-pattern", "--frob"],
                          ["test-pattern", "--pattern"], ["test-pattern", "--batch", "--event", "{}"], ["test-pattern", "stray"],
                          ["validate"], ["validate", "--kind", "nope", "x.json"]] {
            let result = try tripline.run(arguments)
            #expect(result.status == 64 && result.stdout.isEmpty && result.stderr.contains("usage: tripline"), "\(arguments): \(result)")
        }
        let unknown = try tripline.run(["frobnicate"])
        #expect(unknown.stderr.contains("unknown command 'frobnicate'"))
        let nothing = try tripline.run([])
        #expect(nothing.stderr.hasPrefix("tripline: no command given\n"), "\(nothing)")
        let missing = try tripline.run(["test-pattern", "--pattern", "{}"])
        #expect(missing.stderr.contains("--event is required"))
    }

    @Test("help that was asked for goes to standard output with exit status 0; --version prints the version")
    func topLevelHelp() throws {
        let tripline = try TriplineBinary.locate()
        for (arguments, mentions) in [(["--help"], "Commands:"), (["-h"], "Commands:"), (["help"], "Commands:"),
                                      (["help", "help"], "usage: tripline help [COMMAND]"), (["help", "--help"], "usage: tripline help [COMMAND]"),
                                      (["--version"], "tripline ")] {
            let result = try tripline.run(arguments)
            #expect(result.status == 0 && result.stdout.contains(mentions) && result.stderr.isEmpty, "\(arguments): \(result)")
        }
        let version = try tripline.run(["--version"])
        #expect(version.stdoutLines.count == 1 && version.stdout.split(separator: " ").count == 2, "\(version)")
    }

    @Test("a whole CloudTrail log file given as the event gets a hint when it does not match")
    func logFileHint() throws {
        let tripline = try TriplineBinary.locate()
        let log = #"{"Records": [{"eventSource": "s3.amazonaws.com", "eventName": "DeleteBucket"}]}"#
        let missed = try tripline.run(["test-pattern", "--pattern", #"{"source": ["aws.s3"]}"#, "--event", log])
        #expect(missed.status == 1 && missed.stdout == "no match\n", "\(missed)")
        #expect(missed.stderr.hasPrefix(#"hint: the event is a CloudTrail log file (1 record under "Records"), matched as one event"#), "\(missed)")
        let matched = try tripline.run(["test-pattern", "--pattern", #"{"Records": {"eventName": ["DeleteBucket"]}}"#, "--event", log])
        #expect(matched.status == 0 && matched.stderr.isEmpty, "a pattern written for the log file itself gets no hint: \(matched)")
    }

    @Test("--event - and --pattern - read standard input; both at once is a usage error")
    func standardInput() throws {
        let tripline = try TriplineBinary.locate()
        let event = try tripline.run(["test-pattern", "--pattern", #"{"a": ["x"]}"#, "--event", "-"], stdin: #"{"a": "x"}"#)
        #expect(event.status == 0 && event.stdout == "match\n", "\(event)")
        let pattern = try tripline.run(["test-pattern", "--pattern", "-", "--event", #"{"a": "y"}"#], stdin: #"{"a": ["x"]}"#)
        #expect(pattern.status == 1 && pattern.stdout == "no match\n", "\(pattern)")
        let both = try tripline.run(["test-pattern", "--pattern", "-", "--event", "-"], stdin: "{}")
        #expect(both.status == 64 && both.stderr.contains("only one of --pattern and --event can be '-'"), "\(both)")
    }

    @Test("each command has --help")
    func commandHelp() throws {
        let tripline = try TriplineBinary.locate()
        for (arguments, mentions) in [(["test-pattern", "--help"], "--batch"), (["help", "test-pattern"], "--event"),
                                      (["validate", "--help"], "PATH..."), (["validate", "-h"], "--kind")] {
            let result = try tripline.run(arguments)
            #expect(result.status == 0 && result.stdout.contains(mentions) && result.stderr.isEmpty, "\(arguments): \(result)")
            #expect(result.stdout.contains("Exit status 64: the command line was wrong"), "every command's help documents 64: \(arguments)")
        }
    }

    @Test("every command's help lists its exit statuses, not only 64")
    func everyHelpListsExitStatuses() throws {
        let tripline = try TriplineBinary.locate()
        let list = try tripline.run(["--help"]).stdout
        let names = list.split(separator: "\n").drop { !$0.hasPrefix("Commands:") }.dropFirst()
            .prefix { $0.hasPrefix("  ") }.compactMap { $0.split(separator: " ").first.map(String.init) }.filter { $0 != "help" }
        #expect(names.count >= 13, "\(names)")
        for name in names {
            let help = try tripline.run(["help", name]).stdout
            #expect(help.contains("Exit status:") || help.contains("(exit 0)"), "\(name)'s help lists no exit status besides 64")
        }
    }

    @Test("--batch: one output line per input line, in order, through 1,000 mixed lines with garbage")
    func batch() throws {
        let tripline = try TriplineBinary.locate()
        let cases: [(pattern: String, event: String, expected: Bool?)] = [
            (#"{"a": ["x"]}"#, #"{"a": "x"}"#, true),
            (#"{"a": ["x"]}"#, #"{"a": "y"}"#, false),
            (#""{\"a\": [{\"prefix\": \"x\"}]}""#, #"{"a": "xyz"}"#, true),
            (#"{"a": [{"numeric": [">", 300]}]}"#, #"{"a": 3.01e2}"#, true),
            (#"{"a": [{"numeric": [">", 300]}]}"#, #"{"a": 3e2}"#, false),
            (#"{"$or": [{"a": ["x"]}, {"b": [{"exists": false}]}]}"#, #"{"a": "z"}"#, true),
            (#"{"e": {"f": ["Anna"], "l": ["Jones"]}}"#, #"{"e": [{"f": "Anna"}, {"l": "Jones"}]}"#, false),
            (#"{"a": [{"numeric": "x"}]}"#, #"{"a": 1}"#, nil),
            (#"{"a": ["x"]}"#, #"{"a": "x", "a": "y"}"#, nil),
            (#"{"a": ["x"]}"#, #""{\"a\": \"x\"}""#, true),
            (#""{\"a\": ["#, #"{"a": 1}"#, nil),
            // A raw pattern may repeat a key (the last leaf counts); strings may hold brackets.
            (#"{"a": ["x"], "a": ["y"]}"#, #"{"a": "y"}"#, true),
            (#"{"a": ["x"], "a": ["y"]}"#, #"{"a": "x"}"#, false),
            (#"{"a": ["}\"]"], "b": [{"prefix": "\\"}]}"#, #"{"a": "}\"]", "b": "\\z"}"#, true),
            (#"{"a": ["x"]"#, #"{"a": "x"}"#, nil),
        ]
        let garbage = ["", "garbage", "{", #"{"pattern": {"a": ["x"]}}"#, #"{"event": {}}"#, "[]", "\u{1}", #"{"pattern": {"a": ["x"]}, "event": {"a": "x"}} trailing"#]
        var rng = SystemRandomNumberGenerator()
        var input: [String] = []
        var expected: [Bool?] = []
        for i in 0..<1_000 {
            if i % 7 == 3 {
                input.append(garbage[i % garbage.count])
                expected.append(nil)
            } else {
                let c = cases.randomElement(using: &rng)!
                input.append(#"{"pattern": \#(c.pattern), "event": \#(c.event)}"#)
                expected.append(c.expected)
            }
        }
        let result = try tripline.run(["test-pattern", "--batch"], stdin: input.joined(separator: "\n") + "\n")
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdoutLines
        try #require(lines.count == input.count, "\(lines.count) output lines for \(input.count) input lines")
        for (i, line) in lines.enumerated() {
            let value = try JSONParser.parse(line)
            if let matches = expected[i] {
                #expect(value == ["matches": .bool(matches)], "line \(i + 1): \(input[i]) → \(line)")
            } else {
                #expect(value["error"]?.stringValue?.isEmpty == false, "line \(i + 1): \(input[i]) → \(line)")
            }
        }
    }

    @Test("--batch: interleaved patterns, more than its cache of recent ones holds, each answered by its own machine")
    func batchInterleavedPatterns() throws {
        let tripline = try TriplineBinary.locate()
        // Ten patterns come back every other line, between them 350 patterns seen once: the ten
        // are found among the recent ones, then dropped as the others push them out, then
        // compiled again. A mix-up (another line's machine) would answer for the wrong field.
        var input: [String] = []
        var expected: [Bool] = []
        for i in 0..<700 {
            let wanted = (i / 2) % 3 != 0
            if i % 2 == 0 {
                let k = (i / 2) % 10
                input.append(#"{"pattern": {"a": ["h\#(k)"]}, "event": {"a": "h\#(wanted ? k : k + 1)", "c": "x\#(i)"}}"#)
            } else {
                input.append(#"{"pattern": {"c": ["x\#(i)"]}, "event": {"c": "x\#(wanted ? i : i + 1)", "a": "h0"}}"#)
            }
            expected.append(wanted)
        }
        let result = try tripline.run(["test-pattern", "--batch"], stdin: input.joined(separator: "\n") + "\n")
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdoutLines
        try #require(lines.count == input.count)
        for (i, line) in lines.enumerated() {
            #expect(try JSONParser.parse(line) == ["matches": .bool(expected[i])], "line \(i + 1): \(input[i]) → \(line)")
        }
    }

    @Test("--batch answers each line before the next one is written (a harness may wait for it)")
    func batchInteractive() throws {
        let tripline = try InteractiveTripline(try TriplineBinary.locate(), ["test-pattern", "--batch"])
        let lines = [(#"{"pattern": {"a": ["x"]}, "event": {"a": "x"}}"#, #"{"matches":true}"#),
                     (#"{"pattern": {"a": ["x"]}, "event": {"a": "y"}}"#, #"{"matches":false}"#),
                     ("not json", nil)]
        for (line, expected) in lines {
            tripline.send(line)
            let answer = try tripline.readLine(within: 10)
            if let expected {
                #expect(answer == expected, "\(line)")
            } else {
                #expect(answer.hasPrefix(#"{"error":"#), "\(line) → \(answer)")
            }
        }
        #expect(try tripline.finish() == 0)
    }

    @Test("--batch: no trailing newline, CRLF line ends, and an empty input")
    func batchLineEnds() throws {
        let tripline = try TriplineBinary.locate()
        let line = #"{"pattern": {"a": ["x"]}, "event": {"a": "x"}}"#
        #expect(try tripline.run(["test-pattern", "--batch"], stdin: line).stdoutLines == [#"{"matches":true}"#])
        #expect(try tripline.run(["test-pattern", "--batch"], stdin: line + "\r\n" + line + "\r\n").stdoutLines == [#"{"matches":true}"#, #"{"matches":true}"#])
        let empty = try tripline.run(["test-pattern", "--batch"], stdin: "")
        #expect(empty.status == 0 && empty.stdout.isEmpty)
    }
}
