import Foundation
import Testing
@testable import TriplineRouter

/// Loads and checks a project folder (`/p` in messages) whose `Rules/r.json` holds `rule`, with
/// `HANDLERS` in it standing for the folder's `Handlers/`, which holds `ok.sh` (executable),
/// `plain.sh` (not executable), `a-directory/`, `bin/mytool-tripline` (an executable only on
/// `HANDLERS/bin`), and executable files the system cannot start: `noshebang.sh`, `badinterp.py`
/// (a missing `#!` interpreter), `crlf.sh` (Windows line endings) and `env.py` (`#!/usr/bin/env`
/// with a command not on PATH); `envtool.sh` is `#!/usr/bin/env mytool-tripline`, and
/// `crlfarg.sh` starts but gives its interpreter the argument `-e\r`. `variables` is the
/// environment `BlockUser` `Environment` placeholders are filled from (`HANDLERS` in its values too).
private func checkAll(_ rule: String, inheritedPath: String? = "/usr/bin:/bin", variables: [String: String] = [:]) throws
    -> (rules: [String], errors: [String], warnings: [String]) {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("tripline-handlers-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    try FileManager.default.createDirectory(atPath: root + "/Rules", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: root + "/Handlers/a-directory", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: root + "/Handlers/bin", withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: root + "/Handlers/ok.sh", contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
    FileManager.default.createFile(atPath: root + "/Handlers/plain.sh", contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o644])
    for (name, text) in [("noshebang.sh", "echo hi\n"), ("badinterp.py", "#!/nonexistent/python\nprint(1)\n"), ("crlf.sh", "#!/bin/sh\r\necho hi\r\n"),
                         ("env.py", "#!/usr/bin/env no-such-interpreter-tripline\n"), ("envtool.sh", "#!/usr/bin/env mytool-tripline\n"),
                         ("crlfarg.sh", "#!/bin/sh -e\r\necho hi\r\n"), ("bin/mytool-tripline", "#!/bin/sh\n")] {
        _ = FileManager.default.createFile(atPath: root + "/Handlers/" + name, contents: Data(text.utf8), attributes: [.posixPermissions: 0o755])
    }
    try Data(rule.replacingOccurrences(of: "HANDLERS", with: root + "/Handlers").utf8).write(to: URL(fileURLWithPath: root + "/Rules/r.json"))
    let (loaded, loadErrors) = RuleSet.load(paths: [root + "/Rules"])
    #expect(loadErrors.isEmpty, "\(loadErrors)")
    let (checked, errors, warnings) = loaded.checkingHandlers(
        inheritedPath: inheritedPath, variables: variables.mapValues { $0.replacingOccurrences(of: "HANDLERS", with: root + "/Handlers") })
    let shown = { (error: RuleError) in error.description.replacingOccurrences(of: root, with: "/p") }
    return (checked.rules.map(\.name), errors.map(shown), warnings.map(shown))
}

/// ``checkAll(_:inheritedPath:variables:)`` without the warnings.
private func check(_ rule: String, inheritedPath: String? = "/usr/bin:/bin") throws -> (rules: [String], errors: [String]) {
    let (rules, errors, _) = try checkAll(rule, inheritedPath: inheritedPath)
    return (rules, errors)
}

private func functionRule(_ function: String) -> String {
    #"{"Name": "r", "EventPattern": {"source": ["x"]}, "Targets": [{"Id": "t", "Function": \#(function)}]}"#
}

@Suite("Handler checks before a run")
struct HandlerCheckTests {
    @Test("a handler that cannot start is reported at its Handler, with the rule, the target and why", arguments: [
        (#"{"Handler": "Handlers/missing.sh"}"#, "/p/Handlers/missing.sh: No such file or directory"),
        (#"{"Handler": "Handlers/a-directory"}"#, "/p/Handlers/a-directory: not a regular file"),
        (#"{"Handler": "Handlers/plain.sh"}"#, "/p/Handlers/plain.sh: not executable (chmod +x /p/Handlers/plain.sh, and give scripts a #! line)"),
        (#"{"Handler": "no-such-command-tripline"}"#, "no-such-command-tripline: not found on PATH"),
        (#"{"Handler": "sh", "Environment": {"PATH": "/nonexistent"}}"#, "sh: not found on PATH"),
        (#"{"Handler": "/p-absent/h.sh"}"#, "/p-absent/h.sh: No such file or directory"),
        (#"{"Handler": "Handlers/noshebang.sh"}"#, #"/p/Handlers/noshebang.sh: the system cannot start it ("Exec format error"): a handler is a compiled program or a script whose first line is a #! line"#),
        (#"{"Handler": "Handlers/badinterp.py"}"#, #"/p/Handlers/badinterp.py: its #! line names the interpreter "/nonexistent/python", which does not exist (No such file or directory)"#),
        (#"{"Handler": "Handlers/crlf.sh"}"#, #"/p/Handlers/crlf.sh: its #! line ends in a carriage return (the file has Windows CRLF line endings), so the system looks for the interpreter "/bin/sh\r", which does not exist; convert the file to Unix LF line endings"#),
        (#"{"Handler": "Handlers/env.py"}"#, #"/p/Handlers/env.py: its #! line runs /usr/bin/env to find the command "no-such-interpreter-tripline", which is not on the PATH handlers get (/usr/bin:/bin)"#),
        (#"{"Handler": "Handlers/env.py", "Environment": {"PATH": "/nonexistent"}}"#, #"/p/Handlers/env.py: its #! line runs /usr/bin/env to find the command "no-such-interpreter-tripline", which is not on the PATH handlers get (/nonexistent)"#),
    ] as [(String, String)])
    func cannotStart(_ function: String, _ why: String) throws {
        let (rules, errors) = try check(functionRule(function))
        #expect(rules.isEmpty, "a rule whose handler cannot start is left out")
        #expect(errors.count == 1 && errors[0].hasPrefix("/p/Rules/r.json:1:98: Targets[0].Function.Handler: rule r, target t: cannot start handler " + why),
                "\(errors)")
    }

    @Test("handlers that can start pass: a relative path from the project root, a name on PATH or on the target's own PATH", arguments: [
        #"{"Handler": "Handlers/ok.sh"}"#, #"{"Handler": "./Handlers/../Handlers/ok.sh"}"#, #"{"Handler": "sh"}"#,
        #"{"Handler": "ok.sh", "Environment": {"PATH": "/nonexistent:HANDLERS"}}"#,
    ])
    func canStart(_ function: String) throws {
        let (rules, errors) = try check(functionRule(function))
        #expect(errors.isEmpty && rules == ["r"], "\(errors)")
    }

    @Test("a relative path that is missing says where relative paths are taken from")
    func relativeHint() throws {
        let (_, errors) = try check(functionRule(#"{"Handler": "handlers/x.sh"}"#))
        #expect(errors.first?.hasSuffix("(a relative handler path is taken from the folder that holds Rules/, else from the rule file's folder); every delivery to it would fail") == true, "\(errors)")
    }

    @Test("a handler found but not startable gets no hint about where relative paths are taken from")
    func noRelativeHintForFoundFiles() throws {
        let (_, errors) = try check(functionRule(#"{"Handler": "Handlers/crlf.sh"}"#))
        #expect(errors.count == 1 && !errors[0].contains("relative handler path") && errors[0].hasSuffix("; every delivery to it would fail"), "\(errors)")
    }

    @Test("topic Function subscriptions and BlockUser enforcement handlers are checked too")
    func subscriptionsAndBlockUser() throws {
        let text = #"[{"Topic": {"Name": "alerts", "Subscriptions": [{"Id": "s", "Function": {"Handler": "Handlers/gone.sh"}}]}},"# + "\n"
            + #"{"Name": "r", "EventPattern": {"source": ["x"]}, "Targets": [{"Id": "b", "BlockUser": {"Reason": "x", "Enforce": "Handlers/gone.sh"}}]}]"#
        let (rules, errors) = try check(text)
        #expect(rules.isEmpty)
        #expect(errors.count == 2)
        #expect(errors.first?.hasPrefix("/p/Rules/r.json:1:85: [0].Topic.Subscriptions[0].Function.Handler: topic alerts, subscription s: cannot start handler /p/Handlers/gone.sh") == true, "\(errors)")
        #expect(errors.last?.hasPrefix("/p/Rules/r.json:2:114: [1].Targets[0].BlockUser.Enforce: rule r, target b: cannot start handler /p/Handlers/gone.sh") == true, "\(errors)")
    }

    @Test("a BlockUser Enforce handler is looked up on the PATH its Environment gives it, placeholders filled as a run fills them", arguments: [
        #"{"Enforce": "Handlers/envtool.sh", "Environment": {"PATH": "HANDLERS/bin:${PATH}"}}"#,
        #"{"Enforce": "Handlers/envtool.sh", "Environment": {"PATH": "HANDLERS/bin"}}"#,
        #"{"Enforce": "mytool-tripline", "Environment": {"PATH": "/nonexistent:HANDLERS/bin"}}"#,
        #"{"Enforce": "mytool-tripline", "Environment": {"PATH": "${TOOLS}/bin"}}"#,
    ])
    func blockUserEnvironmentPath(_ block: String) throws {
        let rule = #"{"Name": "r", "EventPattern": {"source": ["x"]}, "Targets": [{"Id": "b", "BlockUser": {"Reason": "x", "#
            + block.dropFirst() + "}]}"
        let (rules, errors, _) = try checkAll(rule, variables: ["PATH": "/usr/bin:/bin", "TOOLS": "HANDLERS"])
        #expect(errors.isEmpty && rules == ["r"], "\(errors)")
    }

    @Test("a BlockUser Enforce handler not on its Environment's PATH is refused, naming that PATH; with an unset variable in it, only what PATH cannot change is")
    func blockUserEnvironmentPathRefusals() throws {
        func blockRule(_ block: String) -> String {
            #"{"Name": "r", "EventPattern": {"source": ["x"]}, "Targets": [{"Id": "b", "BlockUser": {"Reason": "x", "# + block.dropFirst() + "}]}"
        }
        let (_, errors, _) = try checkAll(blockRule(#"{"Enforce": "Handlers/envtool.sh", "Environment": {"PATH": "/nonexistent:${PATH}"}}"#),
                                          variables: ["PATH": "/usr/bin:/bin"])
        #expect(errors.count == 1 && errors[0].contains(#"the command "mytool-tripline", which is not on the PATH handlers get (/nonexistent:/usr/bin:/bin)"#),
                "\(errors)")
        // ${UNSET} is not set: run refuses for that by itself; where PATH leads cannot be told.
        let unset = try checkAll(blockRule(#"{"Enforce": "Handlers/envtool.sh", "Environment": {"PATH": "${UNSET}"}}"#))
        #expect(unset.errors.isEmpty && unset.rules == ["r"], "\(unset.errors)")
        let missing = try checkAll(blockRule(#"{"Enforce": "Handlers/gone.sh", "Environment": {"PATH": "${UNSET}"}}"#))
        #expect(missing.errors.count == 1 && missing.errors[0].contains("cannot start handler /p/Handlers/gone.sh"), "\(missing.errors)")
    }

    @Test("a DISABLED rule whose handler cannot start is kept, with a warning; an enabled one next to it is unaffected")
    func disabledRuleHandlers() throws {
        let text = #"[{"Name": "on", "EventPattern": {"source": ["x"]}, "Targets": [{"Id": "t", "Function": {"Handler": "Handlers/ok.sh"}}]},"# + "\n"
            + #"{"Name": "off", "State": "DISABLED", "EventPattern": {"source": ["x"]}, "Targets": [{"Id": "t", "Function": {"Handler": "Handlers/badinterp.py"}}]},"# + "\n"
            + #"{"Name": "gone", "State": "DISABLED", "EventPattern": {"source": ["x"]}, "Targets": [{"Id": "b", "BlockUser": {"Reason": "x", "Enforce": "Handlers/gone.sh"}}]}]"#
        let (rules, errors, warnings) = try checkAll(text)
        #expect(errors.isEmpty, "\(errors)")
        #expect(rules == ["on", "off", "gone"])
        #expect(warnings.count == 2, "\(warnings)")
        #expect(warnings.first?.hasPrefix(#"/p/Rules/r.json:2:121: [1].Targets[0].Function.Handler: rule off, target t: cannot start handler /p/Handlers/badinterp.py: its #! line names the interpreter "/nonexistent/python""#) == true,
                "\(warnings)")
        #expect(warnings.allSatisfy { $0.hasSuffix("the rule is DISABLED, so nothing runs it now, but every delivery to it would fail once the rule is enabled") },
                "\(warnings)")
        // The same handler in an ENABLED rule is still an error.
        let enabled = try checkAll(text.replacingOccurrences(of: #""State": "DISABLED", "#, with: #""State": "ENABLED", "#))
        #expect(enabled.errors.count == 2 && enabled.rules == ["on"], "\(enabled.errors)")
    }

    @Test("a handler that starts but passes its interpreter an argument ending in a carriage return is a warning")
    func carriageReturnArgumentWarning() throws {
        let (rules, errors, warnings) = try checkAll(functionRule(#"{"Handler": "Handlers/crlfarg.sh"}"#))
        #expect(errors.isEmpty && rules == ["r"], "\(errors)")
        #expect(warnings == [#"/p/Rules/r.json:1:98: Targets[0].Function.Handler: rule r, target t: handler /p/Handlers/crlfarg.sh starts, but may fail at once: "#
                + #"its #! line ends in a carriage return (the file has Windows CRLF line endings), so the interpreter "/bin/sh" is given the argument "-e\r", "#
                + #"which most interpreters other than perl reject; convert the file to Unix LF line endings (dos2unix FILE, or sed -i 's/\r$//' FILE)"#], "\(warnings)")
    }
}
