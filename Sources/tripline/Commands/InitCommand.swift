import Foundation
import TriplineJSON
import TriplineRouter

/// `tripline init record.json` (or `--from-event record.json`): a new rule, handler and test event from one CloudTrail record.
///
/// The quickest way from "this API call should alert" to a tested rule: the pattern matches the
/// record on `source`, `detail-type`, `eventSource` and `eventName` (as EventBridge delivers it),
/// the rule's `Tests` hold the record itself and a near miss, and the handler starts as a copy of
/// `Handlers/template.sh`. Existing files are never overwritten.
enum InitCommand: Command {
    static let spec = CommandSpec(
        name: "init",
        summary: "Scaffold a rule, a handler and a test event from a CloudTrail record",
        synopses: ["init FILE [--record N] [--name NAME] [--rules DIR] [--handlers DIR] [--events DIR]",
                   "init --from-event FILE [--record N] [--name NAME] [--rules DIR] [--handlers DIR] [--events DIR]"],
        options: [
            OptionSpec(name: "from-event", valueName: "FILE", help: "A CloudTrail record, an EventBridge event, or a CloudTrail log file ({\"Records\":[...]}) (JSON, plain or gzipped; '-' for standard input); the same as FILE given alone."),
            OptionSpec(name: "record", valueName: "N", help: "For a CloudTrail log file with several records: use Records[N] (counting from 0, as jq and tripline's messages do)."),
            OptionSpec(name: "name", valueName: "NAME", help: "The rule's name (default: from eventName, e.g. stop-logging)."),
            OptionSpec(name: "rules", valueName: "DIR", help: "Where the rule file goes (default: Rules)."),
            OptionSpec(name: "handlers", valueName: "DIR", help: "Where the handler goes (default: Handlers)."),
            OptionSpec(name: "events", valueName: "DIR", help: "Where the test event goes (default: Examples/events)."),
        ],
        positionals: "FILE",
        discussion: """
            A CloudTrail log file holding one record gives that record; with several, pick one with
            --record N (Records[N], from 0).
            Writes <rules>/<name>.json, <handlers>/<name>.sh and <events>/<name>.json, then prints what to
            run next (tripline test). The rule names the handler and the test event by paths relative
            to the project root (the folder holding Rules/, else the rules folder), as 'run' and
            'test' resolve them, whatever the folders chosen; the events folder may not be inside the
            rules folder, where every *.json file is read as a rule file. Edit the pattern to widen or narrow it,
            the Description and Severity, and the handler.

            Exit status: 0 when the files were written; 2 when the input cannot be read or is not one
            event (a log file with several records and no --record, a --record out of range), or a
            file to write exists or cannot be written (nothing is written then).
            """)

    /// Largest event read.
    static let maxInputBytes = 16 * 1024 * 1024

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        let given = arguments.positionals + (arguments.value("from-event").map { [$0] } ?? [])
        guard given.count <= 1 else {
            return context.usageError("init takes one event to start from; got \(given.count): \(given.joined(separator: ", "))", spec: spec)
        }
        guard let input = given.first else {
            return context.usageError("a CloudTrail record to start from is required: tripline init FILE (or --from-event FILE)", spec: spec)
        }
        let rulesDirectory = arguments.value("rules") ?? "Rules"
        let handlersDirectory = arguments.value("handlers") ?? "Handlers"
        let eventsDirectory = arguments.value("events") ?? "Examples/events"
        if isWithin(eventsDirectory, rulesDirectory) {
            return context.usageError("--events \(eventsDirectory) is inside the rules folder \(rulesDirectory): every *.json file there is read "
                                      + "as a rule file by validate, test and run, so the test event would be reported as a broken rule; "
                                      + "put events in a folder beside it, such as --events \(siblingEventsFolder(of: rulesDirectory))", spec: spec)
        }
        var bytes: [UInt8]
        if input == "-" {
            bytes = Array(FileHandle(fileDescriptor: context.inputDescriptor).readDataToEndOfFile())
        } else {
            // The reader explain and test-pattern use: plain or gzipped.
            do {
                bytes = try readWholeFile(path: input, limit: maxInputBytes)
            } catch {
                context.errors.line("tripline init: \(error)")
                return ExitStatus.invalidInput
            }
        }
        var source = input
        switch pickRecord(from: bytes, input: input, record: arguments.value("record")) {
        case .success(let picked?):
            bytes = picked.bytes
            source = picked.name
        case .success(nil): break
        case .failure(.usage(let message)): return context.usageError(message, spec: spec)
        case .failure(.input(let message)):
            context.errors.line("tripline init: \(message)")
            return ExitStatus.invalidInput
        }
        let normalized: NormalizedEvent
        // A rule for Tripline's own events (User Blocked, …) starts from one of them.
        switch EventNormalizer().normalize(RawEvent(bytes: bytes, origin: EventOrigin(source: source, position: .document)),
                                           ingestionTime: IngestionClock.format(epochSeconds: Int(Date().timeIntervalSince1970)),
                                           allowingOwnSource: true) {
        case .success(let event): normalized = event
        case .failure(.invalidEvent(_, let detail)) where detail.contains("unexpected content after the JSON value"):
            // NDJSON, or events one after another: init scaffolds from one.
            context.errors.line("tripline init: \(input) holds more than one JSON value (NDJSON?); init takes one event: copy the "
                                + "line you want into a file of its own, or give a CloudTrail log file ({\"Records\":[...]}) with --record N")
            return ExitStatus.invalidInput
        case .failure(let error):
            context.errors.line("tripline init: \(error)")
            return ExitStatus.invalidInput
        }
        let envelope = normalized.envelope
        let detail = envelope["detail"]
        guard let source = envelope["source"]?.stringValue, let detailType = envelope["detail-type"]?.stringValue else {
            context.errors.line("tripline init: \(input) has no source and detail-type once wrapped; give a CloudTrail record or an EventBridge event")
            return ExitStatus.invalidInput
        }
        let eventName = detail?["eventName"]?.stringValue
        let eventSource = detail?["eventSource"]?.stringValue
        let name = arguments.value("name") ?? kebab(eventName ?? detailType)
        guard Rule.isValidName(name) else {
            return context.usageError("'\(name)' is not a valid rule name (1 to 64 of letters, digits, '.', '-', '_'); give one with --name", spec: spec)
        }
        let rulePath = (rulesDirectory as NSString).appendingPathComponent(name + ".json")
        let handlerPath = (handlersDirectory as NSString).appendingPathComponent(name + ".sh")
        let eventPath = (eventsDirectory as NSString).appendingPathComponent(name + ".json")
        for path in [rulePath, handlerPath, eventPath] where FileManager.default.fileExists(atPath: path) {
            context.errors.line("tripline init: \(path) exists; choose another --name (nothing was written)")
            return ExitStatus.invalidInput
        }

        // Paths as the rule file must write them: from the project root, where 'run' and 'test' resolve them.
        let currentDirectory = FileManager.default.currentDirectoryPath
        let handlerInRule = FunctionTarget.writtenPath(for: handlerPath, ruleFile: rulePath, currentDirectory: currentDirectory)
        let eventInRule = FunctionTarget.writtenPath(for: eventPath, ruleFile: rulePath, currentDirectory: currentDirectory)

        var detailPattern: [JSONMember] = []
        if let eventSource { detailPattern.append(JSONMember(key: "eventSource", value: [.string(eventSource)])) }
        if let eventName { detailPattern.append(JSONMember(key: "eventName", value: [.string(eventName)])) }
        var pattern: [JSONMember] = [JSONMember(key: "source", value: [.string(source)]), JSONMember(key: "detail-type", value: [.string(detailType)])]
        if !detailPattern.isEmpty { pattern.append(JSONMember(key: "detail", value: .object(JSONObject(detailPattern)))) }

        let (nearMiss, nearMissName) = self.nearMiss(of: (try? JSONParser.parse(bytes)) ?? envelope, eventName: eventName, detailType: detailType)
        let readOnly = CloudTrailNormalizer.isReadOnlyManagementEvent(envelope)
        let rule = JSONValue.object(JSONObject([
            JSONMember(key: "Name", value: .string(name)),
            JSONMember(key: "Description", value: .string("\(eventName ?? detailType) on \(eventSource ?? source) (scaffolded by tripline init from \(source); edit me)")),
            JSONMember(key: "State", value: .string(readOnly ? "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS" : "ENABLED")),
            JSONMember(key: "Severity", value: "medium"),
            JSONMember(key: "EventPattern", value: .object(JSONObject(pattern))),
            JSONMember(key: "Targets", value: [.object(JSONObject([
                JSONMember(key: "Id", value: "handler"),
                JSONMember(key: "Function", value: .object(JSONObject([JSONMember(key: "Handler", value: .string(handlerInRule))]))),
            ]))]),
            JSONMember(key: "Tests", value: [
                .object(JSONObject([JSONMember(key: "Name", value: "the record it was made from"), JSONMember(key: "EventFile", value: .string(eventInRule)),
                                    JSONMember(key: "Matches", value: true)])),
                .object(JSONObject([JSONMember(key: "Name", value: .string(nearMissName)), JSONMember(key: "Event", value: nearMiss),
                                    JSONMember(key: "Matches", value: false)])),
            ]),
        ]))

        let handler = (try? String(contentsOfFile: (handlersDirectory as NSString).appendingPathComponent("template.sh"), encoding: .utf8))
            ?? "#!/usr/bin/env bash\n# Handler for \(name): the event JSON is on standard input; exit 0 means delivered.\nset -euo pipefail\nevent=$(cat)\necho \"$TRIPLINE_EVENT_ID\"\n"
        do {
            for directory in [rulesDirectory, handlersDirectory, eventsDirectory] {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            try Data((JSONPretty.text(rule) + "\n").utf8).write(to: URL(fileURLWithPath: rulePath))
            try Data(handler.utf8).write(to: URL(fileURLWithPath: handlerPath))
            chmod(handlerPath, 0o755)
            try Data(bytes).write(to: URL(fileURLWithPath: eventPath))
        } catch {
            context.errors.line("tripline init: cannot write the files: \(error.localizedDescription)")
            return ExitStatus.invalidInput
        }
        let patterned = ["source", "detail-type"] + detailPattern.map(\.key)
        context.output.line("wrote \(rulePath) (pattern on " + patterned.joined(separator: ", ") + ")")
        context.output.line("wrote \(handlerPath) (from the template; make it do something)")
        context.output.line("wrote \(eventPath) (the rule's positive test)")
        context.output.line("next: tripline test --rule \(name) \(rulesDirectory)")
        return ExitStatus.success
    }

    /// Whether `path` is `folder` or below it, comparing absolute paths with `.`, `..` and the
    /// symbolic links of their existing parts resolved.
    static func isWithin(_ path: String, _ folder: String) -> Bool {
        func absolute(_ path: String) -> String {
            let current = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
            var url = URL(fileURLWithPath: path, relativeTo: current).standardizedFileURL
            // Resolve links in the longest part that exists (the folders may not exist yet).
            var missing: [String] = []
            while !FileManager.default.fileExists(atPath: url.path), url.path != "/" {
                missing.insert(url.lastPathComponent, at: 0)
                url.deleteLastPathComponent()
            }
            var resolved = url.resolvingSymlinksInPath()
            for component in missing { resolved.appendPathComponent(component) }
            return resolved.path
        }
        let inner = absolute(path), outer = absolute(folder)
        return inner == outer || inner.hasPrefix(outer.hasSuffix("/") ? outer : outer + "/")
    }

    /// A folder for events beside `rulesDirectory`: `events` in its parent folder.
    static func siblingEventsFolder(of rulesDirectory: String) -> String {
        let trimmed = rulesDirectory.count > 1 && rulesDirectory.hasSuffix("/") ? String(rulesDirectory.dropLast()) : rulesDirectory
        let parent = (trimmed as NSString).deletingLastPathComponent
        let name = (trimmed as NSString).lastPathComponent == "events" ? "test-events" : "events"
        return parent.isEmpty ? name : (parent as NSString).appendingPathComponent(name)
    }

    /// Why a record could not be picked out of the input: a wrong `--record` (a usage error) or an input
    /// that needs one.
    enum RecordChoiceError: Error {
        case usage(String)
        case input(String)
    }

    /// The record to scaffold from when `bytes` is a CloudTrail log file (`{"Records":[...]}`): its only
    /// record, or `Records[record]`; the record's JSON and its name in messages (`file Records[3]`).
    /// `nil` when `bytes` is not a log file (a record or an event, used as it is).
    static func pickRecord(from bytes: [UInt8], input: String, record: String?) -> Result<(bytes: [UInt8], name: String)?, RecordChoiceError> {
        var index: Int?
        if let record {
            guard let number = Int(record), number >= 0 else { return .failure(.usage("--record needs a record number (0 or more), got '\(record)'")) }
            index = number
        }
        let parsed = try? JSONParser.parse(bytes, options: JSONParser.Options(maxBytes: maxInputBytes, duplicateKeys: .reject))
        guard let records = parsed?["Records"]?.arrayValue else {
            return index == nil ? .success(nil)
                : .failure(.input("--record picks a record of a CloudTrail log file ({\"Records\":[...]}), and \(input) is not one"))
        }
        guard !records.isEmpty else { return .failure(.input("\(input) is a CloudTrail log file with no records")) }
        let chosen: Int
        if let index {
            guard index < records.count else {
                return .failure(.input("--record \(index): \(input) has \(records.count) record\(records.count == 1 ? "" : "s") (Records[0] to Records[\(records.count - 1)])"))
            }
            chosen = index
        } else {
            guard records.count == 1 else {
                return .failure(.input("\(input) is a CloudTrail log file with \(records.count) records; pick one with --record N (0 to \(records.count - 1))"))
            }
            chosen = 0
        }
        return .success((JSONWriter.bytes(records[chosen]), "\(input) Records[\(chosen)]"))
    }

    /// The event of the near-miss test, and the test's name: `event` (the input, a CloudTrail record
    /// or an EventBridge event) changed in a field the pattern tests, so that it does not match.
    ///
    /// The field is `eventName` when there is one; else, for a record, `eventSource` (which the
    /// envelope's `source` follows: a record's own top-level `detail-type` would be ignored when it
    /// is wrapped), and for an event, `detail-type`.
    static func nearMiss(of event: JSONValue, eventName: String?, detailType: String) -> (event: JSONValue, name: String) {
        guard case .object(var object) = event else { return (event, "near miss") }
        let isRecord = CloudTrailNormalizer.classify(event) == .cloudTrailRecord
        if let eventName {
            if isRecord {
                object["eventName"] = .string(eventName + "Other")
            } else if case .object(var detail)? = object["detail"] {
                detail["eventName"] = .string(eventName + "Other")
                object["detail"] = .object(detail)
            }
            return (.object(object), "near miss: another eventName")
        }
        if isRecord {
            let eventSource = object["eventSource"]?.stringValue
            object["eventSource"] = .string(eventSource.map { "not-" + $0 } ?? "other.amazonaws.com")
            return (.object(object), "near miss: another eventSource")
        }
        object["detail-type"] = .string(detailType + " (other)")
        return (.object(object), "near miss: another detail-type")
    }

    /// `StopLogging` → `stop-logging`; `AWS API Call via CloudTrail` → `aws-api-call-via-cloudtrail`.
    static func kebab(_ text: String) -> String {
        var out = ""
        var previousLower = false
        for character in text {
            if character.isUppercase && previousLower { out.append("-") }
            if character.isLetter || character.isNumber {
                out.append(Character(character.lowercased()))
            } else if !out.hasSuffix("-") && !out.isEmpty {
                out.append("-")
            }
            previousLower = character.isLowercase || character.isNumber
        }
        while out.hasSuffix("-") { out.removeLast() }
        return String(out.prefix(64))
    }
}

/// Indented JSON for files people edit (two spaces, one member per line, short arrays inline).
enum JSONPretty {
    static func text(_ value: JSONValue, indent: String = "") -> String {
        switch value {
        case .object(let object) where !object.isEmpty:
            let inner = indent + "  "
            let members = object.members.map { inner + JSONWriter.quoted($0.key) + ": " + text($0.value, indent: inner) }
            return "{\n" + members.joined(separator: ",\n") + "\n" + indent + "}"
        case .array(let items) where items.contains(where: { if case .object = $0 { return true }; return false }):
            let inner = indent + "  "
            return "[\n" + items.map { inner + text($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        default:
            return JSONWriter.string(value)
        }
    }
}
