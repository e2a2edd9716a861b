import Foundation
import EventPattern
import TriplineJSON
import TriplineRouter

/// `tripline validate FILE...`: checks files and reports every problem with file:line:column.
///
/// Meant for editors and CI: all errors in all files in one run, each on its own line, so a
/// rule author fixes everything at once.
enum ValidateCommand: Command {
    static let spec = CommandSpec(
        name: "validate",
        summary: "Check rule files, rule folders and event pattern files for errors",
        synopses: ["validate [--kind KIND] PATH..."],
        options: [
            OptionSpec(name: "kind", valueName: "KIND",
                       help: "What the files hold: " + ValidatedFileKind.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ") + " (default: decided per path)."),
        ],
        positionals: "PATH...",
        discussion: """
            A rule file holds one rule object (Name, EventPattern, Targets, …) or a list of them; a
            folder is read as rule files (every *.json below it; a .yaml or .yml file that holds rules in
            YAML is an error, as Tripline reads JSON), checked together so duplicate
            names across files are found; a rule file given alone sees the topics declared in the
            other files of its folder. A pattern file holds one event pattern: a JSON object.
            Without --kind, folders and files that look like rules are rules, others patterns.
            Rule checks include what 'run' checks before it starts: each Function handler (and
            BlockUser Enforce handler) must be an executable file, found as a delivery finds it
            (relative paths from the folder holding Rules/, bare names on PATH), that the system can
            start: a compiled program, or a script whose #! line names an interpreter that exists
            (#!/usr/bin/env NAME: NAME on the handlers' PATH, the target's Environment PATH when
            it sets one), without a Windows carriage return in the interpreter's name, or a format
            binfmt_misc runs. The entries of each
            rule's Tests are checked as 'tripline test' checks them (without running them).
            Every problem is printed on standard output as FILE:LINE:COLUMN: PATH: MESSAGE;
            a file without problems prints FILE: ok. Notes and warnings (a DeadLetterConfig Path
            that is a directory or whose directory is not writable, a handler of a DISABLED rule
            that cannot start, a #! line that gives its interpreter an argument ending in a
            carriage return) do not make a file invalid.
            Exit status: 0 when every file is valid, 1 when any has errors or cannot be read.
            """)

    /// Largest file read (validation reports anything beyond the pattern size limit itself).
    static let maxFileBytes = 16 * 1024 * 1024

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        guard !arguments.positionals.isEmpty else { return context.usageError("no files given", spec: spec) }
        var kind = ValidatedFileKind.pattern
        if let name = arguments.value("kind") {
            guard let chosen = ValidatedFileKind(rawValue: name) else {
                return context.usageError("unknown kind '\(name)'; expected " + ValidatedFileKind.allCases.map { "'\($0.rawValue)'" }.joined(separator: " or "), spec: spec)
            }
            kind = chosen
        }
        var anyErrors = false
        var rulePaths: [String] = []
        var patternPaths: [String] = []
        for path in arguments.positionals {
            let chosen = arguments.value("kind") == nil ? ValidatedFileKind.sniff(path) : kind
            if chosen == .rule { rulePaths.append(path) } else { patternPaths.append(path) }
        }
        if !rulePaths.isEmpty {
            let (loaded, loadErrors) = RuleSet.load(paths: rulePaths)
            // Handlers are looked up as 'run' looks them up, so a rule that validates can deliver.
            let (ruleSet, handlerErrors, handlerWarnings) = loaded.checkingHandlers()
            // Rules' Tests entries, checked by the code 'tripline test' uses, without running them.
            let testProblems = RuleTestRunner().problemsByRule(in: ruleSet.rules)
            let testErrors = testProblems.flatMap(\.errors).map(RuleError.init)
            let errors = RuleSet.sortedByFile(loadErrors + handlerErrors + testErrors)
            for error in errors { context.output.line(error.description) }
            anyErrors = anyErrors || !errors.isEmpty
            let files = Set(errors.map(\.file))
            for path in rulePaths where !files.contains(path) && !files.contains(where: { $0.hasPrefix(path.hasSuffix("/") ? path : path + "/") }) {
                context.output.line("\(path): ok")
            }
            // Variables webhook and BlockUser targets need: not errors here (the machine that runs may set them), but worth a note.
            let environment = ProcessInfo.processInfo.environment
            for rule in ruleSet.rules {
                guard let path = rule.cloudFormationPath else { continue }
                context.output.line("note: \(rule.file): rule \(rule.name): CloudFormation wrapper unwrapped: the rule is read from "
                                    + "\(path) of the AWS::Events::Rule resource (its other keys are ignored)")
            }
            for rule in ruleSet.rules where !rule.ignoredFields.isEmpty {
                context.output.line("note: \(rule.file): rule \(rule.name): " + rule.ignoredFields.joined(separator: ", ")
                                    + " \(rule.ignoredFields.count == 1 ? "has" : "have") no effect locally (ignored)")
            }
            // Valid rules that probably do not do what was meant: a misspelt detail-type, read-only calls in ENABLED.
            for rule in ruleSet.rules {
                for note in RuleNote.notes(for: rule) { context.output.line("note: \(rule.file): rule \(rule.name): \(note)") }
            }
            for rule in ruleSet.rules {
                for target in rule.targets where !target.ignoredFields.isEmpty {
                    context.output.line("note: \(rule.file): rule \(rule.name), target \(target.id): " + target.ignoredFields.joined(separator: ", ")
                                        + " \(target.ignoredFields.count == 1 ? "has" : "have") no effect locally (ignored; the target runs its "
                                        + JSONWriter.quoted(target.kind.key.rawValue) + ")")
                }
            }
            for rule in ruleSet.rules {
                for target in rule.targets {
                    let missing: [String]
                    switch target.kind {
                    case .webhook(let spec) where !spec.optional:
                        missing = spec.configuration.requiredVariables.filter { (environment[$0] ?? "").isEmpty }
                    case .blockUser(let block):
                        missing = block.requiredVariables.filter { (environment[$0] ?? "").isEmpty }
                    default:
                        continue
                    }
                    guard !missing.isEmpty else { continue }
                    context.output.line("note: \(rule.file): rule \(rule.name), target \(target.id) needs "
                                        + missing.map { "${\($0)}" }.joined(separator: ", ") + ", not set here"
                                        + " ('run' refuses to start without it)")
                }
            }
            // Handlers of DISABLED rules that cannot start, and handlers that start but may fail at once.
            for warning in handlerWarnings { context.output.line("warning: \(warning)") }
            // Dead-letter files that cannot be written: not errors (the letters stay in the state database), but nobody would see them.
            func warnIfUnwritable(_ config: DeadLetterConfig?, file: String, owner: String) {
                guard let config, let problem = DeadLetterFile.problem(path: config.path) else { return }
                context.output.line("warning: \(file): \(owner): DeadLetterConfig.Path " + JSONWriter.quoted(config.pathAsWritten)
                                    + " cannot be appended to: \(problem) (dead letters would be kept in the state database only)")
            }
            for rule in ruleSet.rules {
                for target in rule.targets { warnIfUnwritable(target.deadLetterConfig, file: rule.file, owner: "rule \(rule.name), target \(target.id)") }
            }
            for topic in ruleSet.topics {
                for subscription in topic.subscriptions {
                    warnIfUnwritable(subscription.deadLetterConfig, file: topic.file, owner: "topic \(topic.name), subscription \(subscription.id)")
                }
            }
            context.output.line(summary(rules: loaded.rules.count, valid: ruleSet.rules.count - testProblems.count, errors: errors.count))
        }
        for path in patternPaths {
            let diagnostics: [String]
            do {
                diagnostics = ValidatedFileKind.pattern.diagnostics(for: try readWholeFile(path: path, limit: maxFileBytes), file: path)
            } catch {
                diagnostics = [error.description]
            }
            if diagnostics.isEmpty {
                context.output.line("\(path): ok")
            } else {
                anyErrors = true
                for line in diagnostics { context.output.line(line) }
            }
        }
        return anyErrors ? ExitStatus.negative : ExitStatus.success
    }
}

extension ValidateCommand {
    /// The last line for rule files: `3 rules valid, 0 errors` when every rule read is free of
    /// errors, else `3 rules, 1 valid, 9 errors`. `rules` counts the rules read (a rule whose
    /// definition has errors is not one: only its errors count), `valid` those of them without
    /// errors in their handlers or their Tests.
    static func summary(rules: Int, valid: Int, errors: Int) -> String {
        let errorCount = "\(errors) error\(errors == 1 ? "" : "s")"
        let ruleCount = "\(rules) rule\(rules == 1 ? "" : "s")"
        if valid == rules { return "\(ruleCount) valid, \(errorCount)" }
        return "\(ruleCount), \(valid) valid, \(errorCount)"
    }
}

/// A kind of file `validate` checks.
enum ValidatedFileKind: String, CaseIterable {
    /// One event pattern (a JSON object).
    case pattern
    /// Rule files (`AWS::Events::Rule`-style objects, or lists of them), or folders of them.
    case rule

    /// Folders, JSON arrays and objects with rule fields (also in the wrong case) are rules;
    /// anything else is a pattern.
    static func sniff(_ path: String) -> ValidatedFileKind {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { return .rule }
        guard let bytes = try? readWholeFile(path: path, limit: maxSniffBytes) else { return .pattern }
        // Rules written for CloudFormation, SAM or Terraform: told as rule files are that they are not read.
        guard let value = try? JSONParser.parse(bytes, options: .init(duplicateKeys: .lastWins)) else {
            // Only when it holds rules: YAML or HCL of a pattern is told what a pattern file holds.
            let foreign = RuleFile.isYAMLName(path) || RuleFile.looksLikeYAML(bytes) || RuleFile.looksLikeTerraform(bytes)
            return foreign && RuleFile.mentionsRules(bytes) ? .rule : .pattern
        }
        switch value {
        case .array: return .rule
        case .object(let object):
            if object.keys.contains(where: { ["Name", "EventPattern", "Targets", "State", "Topic"].contains($0) }) { return .rule }
            // Rule fields in the wrong case ("name", "eventpattern", "targets"): a rule written wrongly, to be told
            // `unknown field "eventpattern"; did you mean "EventPattern"?` as in a folder. A pattern may name an
            // event field "name" or "state", but never holds an "eventpattern" or a string at its top level.
            let ruleLike = object.filter { member in (RuleFile.ruleFields + ["Topic"]).contains { $0.lowercased() == member.key.lowercased() } }
            if ruleLike.contains(where: { $0.key.lowercased() == "eventpattern" || $0.value.stringValue != nil }) { return .rule }
            // A CloudFormation resource or template (a pattern has no string values, so "Type": "…" is not one).
            if object["Type"]?.stringValue != nil || object["AWSTemplateFormatVersion"] != nil { return .rule }
            if case .object(let resources)? = object["Resources"], resources.contains(where: { $0.value["Type"]?.stringValue != nil }) { return .rule }
            // `list-rules` output, resources keyed by their logical ids, a resource's `Properties` alone: a
            // pattern holds no string right inside an object, and no rule objects in a list.
            if case .array(let rules)? = object["Rules"], rules.contains(where: { $0["Name"]?.stringValue != nil }) { return .rule }
            if object.contains(where: { member in
                guard case .object(let inner) = member.value else { return false }
                return inner["Type"]?.stringValue?.contains("::") == true
                    || (member.key == "Properties" && inner.contains { $0.value.stringValue != nil })
            }) { return .rule }
            return .pattern
        default: return .pattern
        }
    }

    static let maxSniffBytes = 16 * 1024 * 1024

    /// Every problem in `bytes`, formatted `file:line:column: path: message`; empty when valid.
    func diagnostics(for bytes: [UInt8], file: String) -> [String] {
        switch self {
        case .rule:
            return RuleFile.parse(bytes: bytes, file: file).errors.map(\.description)
        case .pattern:
            switch EventPattern.validate(text: bytes, file: file) {
            case .success: return []
            case .failure(let errors): return errors.errors.map { Diagnostics.describe($0, file: file) }
            }
        }
    }
}
