import Foundation
import TriplineJSON
import TriplineTargets

/// Every rule loaded from a set of files and directories.
///
/// Rule names are unique across the whole set: the same name in two files is an error at the
/// second occurrence (files are read in sorted order, so "second" is stable).
public struct RuleSet: Sendable {
    /// The rules without problems, in file order then document order.
    public var rules: [Rule]
    /// The topics declared (`{"Topic": {…}}` entries) without problems.
    public var topics: [Topic]
    /// The programs the rules' targets and the topics' subscriptions run, where they are written.
    public var handlers: [HandlerReference]

    public init(rules: [Rule] = [], topics: [Topic] = [], handlers: [HandlerReference] = []) {
        self.rules = rules
        self.topics = topics
        self.handlers = handlers
    }

    /// The rule named `name`.
    public func rule(named name: String) -> Rule? { rules.first { $0.name == name } }
    /// The topic named `name`.
    public func topic(named name: String) -> Topic? { topics.first { $0.name == name } }

    /// Loads rule files and directories.
    ///
    /// A directory contributes every `*.json` file below it (recursively, hidden entries skipped),
    /// and every `*.yaml`/`*.yml` one that holds JSON; one holding YAML rules is an error;
    /// a file is read whatever its name. Files are read in sorted path order, each at most once.
    /// Every problem in every file is returned, not just the first; rules with problems are left
    /// out of the set.
    ///
    /// A file given on its own is usually one of a folder of rule files, whose topics may be
    /// declared in another file of that folder (`Rules/security-alerts.json`). So the topics of
    /// the other `*.json` files of its folder are known too: references to them resolve, and the
    /// set holds those its rules publish to. Those files' rules and problems are not the caller's
    /// concern and are left out; a topic declared nowhere is still an error.
    ///
    /// `checkTopicReferences: false` keeps rules whose `Topic` targets name no loaded topic, for
    /// commands that only match (`explain`): a broken topic file elsewhere does not hide them.
    public static func load(paths: [String], checkTopicReferences: Bool = true) -> (RuleSet, [RuleError]) {
        let fileManager = FileManager.default
        let currentDirectory = fileManager.currentDirectoryPath
        var errors: [RuleError] = []
        var files: [String] = []
        var folders: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                errors.append(RuleError(file: path, problem: .unreadable(reason: "no such file or directory")))
                continue
            }
            if isDirectory.boolValue {
                let found = ruleFiles(under: path, fileManager: fileManager)
                files.append(contentsOf: found.json)
                for file in found.yaml {
                    // JSON under a YAML name is read as any rule file; YAML that holds rules is an error, not
                    // passed over in silence (its rules would never fire); other YAML there is no rule file.
                    guard let bytes = try? readRuleFile(file, fileManager: fileManager) else { continue }
                    if (try? JSONParser.parse(bytes, options: .init(duplicateKeys: .lastWins))) != nil {
                        files.append(file)
                    } else if RuleFile.mentionsRules(bytes) {
                        errors.append(RuleError(file: file, problem: .yamlNotRead))
                    }
                }
            } else {
                files.append(path)
                let folder = (path as NSString).deletingLastPathComponent
                folders.append(folder.isEmpty ? "." : folder)
            }
        }

        func key(_ file: String) -> String {
            URL(fileURLWithPath: file, relativeTo: URL(fileURLWithPath: currentDirectory, isDirectory: true)).standardizedFileURL.path
        }
        var seenFiles: Set<String> = []
        var entries: [RuleFile.RuleEntry] = []
        var topicEntries: [TopicEntry] = []
        for file in files.sorted() {
            guard seenFiles.insert(key(file)).inserted else { continue }
            let bytes: [UInt8]
            do {
                bytes = try readRuleFile(file, fileManager: fileManager)
            } catch {
                errors.append(error)
                continue
            }
            let parsed = RuleFile.parseEntries(bytes: bytes, file: file, currentDirectory: currentDirectory)
            entries.append(contentsOf: parsed.entries)
            topicEntries.append(contentsOf: parsed.topics)
            errors.append(contentsOf: parsed.errors)
        }

        // The topics of the other files in the folders of files given on their own.
        var contextTopics: [TopicEntry] = []
        for folder in Set(folders).sorted() {
            for file in jsonFiles(in: folder, fileManager: fileManager) where seenFiles.insert(key(file)).inserted {
                guard let bytes = try? readRuleFile(file, fileManager: fileManager) else { continue }
                contextTopics.append(contentsOf: RuleFile.parseEntries(bytes: bytes, file: file, currentDirectory: currentDirectory).topics)
            }
        }

        var firstByName: [String: RuleFile.RuleEntry] = [:]
        var kept: [RuleFile.RuleEntry] = []
        for entry in entries {
            guard let name = entry.name else { continue }
            if let first = firstByName[name] {
                errors.append(RuleError(file: entry.file, location: entry.nameLocation, path: entry.namePath,
                                        problem: .duplicateRuleName(name, firstFile: first.file, firstLocation: first.nameLocation)))
                continue
            }
            firstByName[name] = entry
            kept.append(entry)
        }
        let linked = TopicLinker.link(rules: kept, topics: topicEntries, context: contextTopics, checkReferences: checkTopicReferences)
        errors += linked.errors
        let ruleNames = Set(linked.rules.map(\.name))
        let handlers = kept.filter { ruleNames.contains($0.name ?? "") }.flatMap(\.handlerReferences)
            + (topicEntries + contextTopics).filter { entry in linked.topics.contains { $0.name == entry.name && $0.file == entry.file } }
                .flatMap(\.handlerReferences)
        return (RuleSet(rules: linked.rules, topics: linked.topics, handlers: handlers), sortedByFile(errors))
    }

    /// The bytes of a rule file; throws why they cannot be read.
    ///
    /// Only regular files are read: a FIFO or device is refused before it is opened (opening a
    /// FIFO would wait for a writer).
    static func readRuleFile(_ file: String, fileManager: FileManager) throws(RuleError) -> [UInt8] {
        func unreadable(_ reason: String) -> RuleError { RuleError(file: file, problem: .unreadable(reason: reason)) }
        var info = stat()
        guard stat(file, &info) == 0 else { throw unreadable(String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw unreadable("not a regular file") }
        guard Int(info.st_size) <= RuleFile.maxFileBytes else { throw unreadable("larger than \(RuleFile.maxFileBytes) bytes") }
        guard let data = fileManager.contents(atPath: file) else {
            throw unreadable(access(file, R_OK) != 0 ? String(cString: strerror(errno)) : "reading failed")
        }
        if data.count > RuleFile.maxFileBytes { throw unreadable("larger than \(RuleFile.maxFileBytes) bytes") }
        return [UInt8](data)
    }

    /// The `*.json` files directly in `folder` (not below it), hidden ones skipped, sorted.
    static func jsonFiles(in folder: String, fileManager: FileManager) -> [String] {
        let names = (try? fileManager.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0.hasSuffix(".json") }.sorted().compactMap { name in
            let full = folder.hasSuffix("/") ? folder + name : folder + "/" + name
            var isDirectory: ObjCBool = false
            return fileManager.fileExists(atPath: full, isDirectory: &isDirectory) && !isDirectory.boolValue ? full : nil
        }
    }

    /// The set without the rules and topics whose handlers cannot be started, those problems, and
    /// warnings.
    ///
    /// What `validate` reports and what stops `run` before it starts: each handler is looked up as
    /// a delivery would look it up (``HandlerReference/check(inheritedPath:variables:)``),
    /// `inheritedPath` being the `PATH` handlers inherit (this process's by default) and
    /// `variables` the environment `BlockUser` `Environment` placeholders are filled from (this
    /// process's). A handler of a `DISABLED` rule that cannot start is a warning: the rule runs
    /// nothing, and disabling it is how a rule is kept on a host that lacks its interpreter. So is a
    /// handler that starts but may fail at once (``ProgramStartDoubt``).
    public func checkingHandlers(inheritedPath: String? = HandlerEnvironment.currentInherited()["PATH"],
                                 variables: [String: String] = ProcessInfo.processInfo.environment)
        -> (checked: RuleSet, errors: [RuleError], warnings: [RuleError]) {
        var errors: [RuleError] = []
        var warnings: [RuleError] = []
        var failed: [HandlerReference.Owner] = []
        let disabled = Set(rules.filter { $0.state == .disabled }.map(\.name))
        for handler in handlers {
            switch handler.check(inheritedPath: inheritedPath, variables: variables) {
            case .startable:
                continue
            case .doubtful(let warning):
                warnings.append(warning)
            case .cannotStart(var error):
                if case .target(let rule, _) = handler.owner, disabled.contains(rule),
                   case .handlerCannotStart(let owner, let written, let why) = error.problem {
                    error.problem = .handlerCannotStartInDisabledRule(owner: owner, written: written, why)
                    warnings.append(error)
                    continue
                }
                errors.append(error)
                failed.append(handler.owner)
            }
        }
        warnings = RuleSet.sortedByFile(warnings)
        guard !errors.isEmpty else { return (self, [], warnings) }
        var checked = self
        checked.rules.removeAll { rule in failed.contains { if case .target(rule.name, _) = $0 { return true }; return false } }
        checked.topics.removeAll { topic in failed.contains { if case .subscription(topic.name, _) = $0 { return true }; return false } }
        let names = Set(checked.rules.map(\.name)), topicNames = Set(checked.topics.map(\.name))
        checked.handlers.removeAll { handler in
            switch handler.owner {
            case .target(let rule, _): return !names.contains(rule)
            case .subscription(let topic, _): return !topicNames.contains(topic)
            }
        }
        return (checked, RuleSet.sortedByFile(errors), warnings)
    }

    /// Every `*.json` file below `directory`, and every `*.yaml`/`*.yml` one (rules written for
    /// CloudFormation or SAM, which are not read), skipping hidden files and directories.
    static func ruleFiles(under directory: String, fileManager: FileManager) -> (json: [String], yaml: [String]) {
        guard let enumerator = fileManager.enumerator(atPath: directory) else { return ([], []) }
        var json: [String] = []
        var yaml: [String] = []
        while let relative = enumerator.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.hasPrefix(".") {
                enumerator.skipDescendants()
                continue
            }
            let isYAML = RuleFile.isYAMLName(name)
            guard name.hasSuffix(".json") || isYAML else { continue }
            let full = directory.hasSuffix("/") ? directory + relative : directory + "/" + relative
            var isDirectory: ObjCBool = false
            if fileManager.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
                if isYAML { yaml.append(full) } else { json.append(full) }
            }
        }
        return (json.sorted(), yaml.sorted())
    }

    /// Errors grouped by file (in sorted file order), each file's in document order.
    public static func sortedByFile(_ errors: [RuleError]) -> [RuleError] {
        errors.enumerated().sorted { a, b in
            if a.element.file != b.element.file { return a.element.file < b.element.file }
            let x = a.element.location?.offset ?? -1, y = b.element.location?.offset ?? -1
            return x != y ? x < y : a.offset < b.offset
        }.map(\.element)
    }
}
