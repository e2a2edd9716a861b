import TriplineJSON
import TriplineTargets

extension RuleFile {
    /// The fields of a topic declaration entry and of its `Topic` object.
    public static let topicEntryFields = ["Topic"]
    public static let topicFields = ["Name", "Subscriptions"]
    /// The fields of a subscription (kind keys included).
    public static let subscriptionFields = ["Id", "Function", "Webhook", "File", "Topic", "FilterPolicy", "FilterPolicyScope",
                                            "RawMessageDelivery", "RetryPolicy", "DeadLetterConfig"]
    public static let subscriptionKinds = ["Function", "Webhook", "File", "Topic"]
    /// The fields of a `File` subscription.
    public static let fileSubscriptionFields = ["Path", "TimeoutSeconds"]
}

/// A `Topic` name written in a rule target or a subscription, and where.
struct TopicReference {
    var name: String
    var file: String
    var path: JSONPath
    var location: JSONLocation?
}

/// One topic declaration of a file: its name (for uniqueness checks) and the topic when it had no problem.
struct TopicEntry {
    var file: String
    var name: String?
    var namePath: JSONPath
    var nameLocation: JSONLocation?
    var topic: Topic?
    /// Its subscriptions that forward to other topics.
    var forwards: [TopicReference] = []
    /// The programs its subscriptions run.
    var handlerReferences: [HandlerReference] = []
}

extension RuleFileReader {
    mutating func readTopicDeclaration(_ entry: JSONObject, at entryPath: JSONPath) {
        checkFields(entry, at: entryPath, allowed: RuleFile.topicEntryFields)
        let path = entryPath.appending("Topic")
        guard case .object(let object) = entry["Topic"]! else {
            fail(path, .expected("a topic object such as {\"Name\": \"security-alerts\", \"Subscriptions\": [...]}",
                                 found: RuleProblem.describe(entry["Topic"]!)))
            return
        }
        let before = errors.count
        handlerReferences = []
        checkFields(object, at: path, allowed: RuleFile.topicFields)
        let namePath = path.appending("Name")
        var name: String?
        if let value = required(object, "Name", at: path, in: "a topic") {
            if case .string(let s) = value, Rule.isValidName(s) {
                name = s
            } else {
                fail(namePath, .invalidName(kind: "a topic name", found: RuleProblem.describe(value), maxLength: Rule.maxNameLength))
            }
        }
        var subscriptions: [TopicSubscription] = []
        var forwards: [TopicReference] = []
        let subscriptionsPath = path.appending("Subscriptions")
        if let value = required(object, "Subscriptions", at: path, in: "a topic") {
            if case .array(let elements) = value {
                if elements.count > Topic.maxSubscriptions {
                    fail(subscriptionsPath, .expected("at most \(Topic.maxSubscriptions) subscriptions", found: "\(elements.count)"))
                }
                var ids: Set<String> = []
                for (i, element) in elements.enumerated() {
                    let subscriptionPath = subscriptionsPath.appending(index: i)
                    guard case .object(let subscription) = element else {
                        fail(subscriptionPath, .expected("a subscription object", found: RuleProblem.describe(element)))
                        continue
                    }
                    let parsed = readSubscription(subscription, at: subscriptionPath, topic: name)
                    if let id = parsed.id, !ids.insert(id).inserted { fail(subscriptionPath.appending("Id"), .duplicateSubscriptionID(id)) }
                    if let found = parsed.subscription {
                        subscriptions.append(found)
                        if case .topic(let target) = found.kind {
                            let kindPath = subscriptionPath.appending("Topic")
                            forwards.append(TopicReference(name: target, file: file, path: kindPath, location: locations.location(of: kindPath)))
                        }
                    }
                }
            } else {
                fail(subscriptionsPath, .expected("an array of subscriptions", found: RuleProblem.describe(value)))
            }
        }
        var topic: Topic?
        if errors.count == before, let name {
            topic = Topic(name: name, subscriptions: subscriptions, file: file, location: locations.location(of: path))
        }
        topics.append(TopicEntry(file: file, name: name, namePath: namePath, nameLocation: locations.location(of: namePath), topic: topic,
                                 forwards: forwards, handlerReferences: handlerReferences))
    }

    /// A topic name: a string with a rule name's characters.
    mutating func readTopicName(_ value: JSONValue, at path: JSONPath) -> String? {
        guard case .string(let s) = value, Rule.isValidName(s) else {
            fail(path, .expected("the name of a topic declared as {\"Topic\": {\"Name\": …}}", found: RuleProblem.describe(value)))
            return nil
        }
        return s
    }

    /// One subscription; `topic` is the topic's name, when valid, to name the owner of its handler.
    mutating func readSubscription(_ object: JSONObject, at path: JSONPath, topic: String?) -> (id: String?, subscription: TopicSubscription?) {
        let before = errors.count
        checkFields(object, at: path, allowed: RuleFile.subscriptionFields)
        let id = readID(object, at: path, of: "a subscription")
        var kind: TopicSubscription.Kind?
        let present = RuleFile.subscriptionKinds.filter { object[$0] != nil }
        if present.isEmpty {
            fail(path, .missingTargetKind(available: RuleFile.subscriptionKinds))
        } else if present.count > 1 {
            fail(path.appending(present[1]), .multipleTargetKinds(present))
        } else {
            let key = present[0], kindPath = path.appending(key), value = object[key]!
            switch key {
            case "Function":
                let function = readFunction(value, at: kindPath)
                if let function, let topic, let id { recordHandler(function, at: kindPath, owner: .subscription(topic: topic, subscription: id)) }
                kind = function.map(TopicSubscription.Kind.function)
            case "Webhook": kind = readWebhook(value, at: kindPath).map(TopicSubscription.Kind.webhook)
            case "File": kind = readFileSubscription(value, at: kindPath).map(TopicSubscription.Kind.file)
            default:
                kind = readTopicName(value, at: kindPath).map(TopicSubscription.Kind.topic)
                for field in ["RawMessageDelivery", "RetryPolicy", "DeadLetterConfig"] where object[field] != nil {
                    fail(path.appending(field), .invalidOption("does not apply to a \"Topic\" subscription: it forwards the message "
                                                               + "within the publish, and the other topic's subscriptions deliver it"))
                }
            }
        }
        var scope = FilterPolicyScope.messageAttributes
        if let value = object["FilterPolicyScope"] {
            if case .string(let s) = value, let chosen = FilterPolicyScope(rawValue: s) {
                scope = chosen
            } else {
                fail(path.appending("FilterPolicyScope"), .expected("\"MessageAttributes\" or \"MessageBody\"", found: RuleProblem.describe(value)))
            }
        }
        var policy: FilterPolicy?
        if let value = object["FilterPolicy"] {
            policy = readFilterPolicy(value, scope: scope, at: path.appending("FilterPolicy"))
        }
        var raw = false
        if let value = object["RawMessageDelivery"] {
            if case .bool(let b) = value { raw = b } else {
                fail(path.appending("RawMessageDelivery"), .expected("true or false", found: RuleProblem.describe(value)))
            }
        }
        let retryPolicy = readRetryPolicy(object, at: path)
        let deadLetter = readDeadLetter(object, at: path)
        guard errors.count == before, let id, let kind else { return (id, nil) }
        return (id, TopicSubscription(id: id, kind: kind, filterPolicy: policy, rawMessageDelivery: raw, retryPolicy: retryPolicy,
                                      deadLetterConfig: deadLetter))
    }

    /// `FilterPolicy` as an object, or as a string holding policy JSON (the SNS API takes policies as
    /// strings, so one pasted from `get-subscription-attributes` works), read as a string
    /// `EventPattern` is: errors in the string form point at their place inside it when the policy
    /// knows it, else at the string, with the policy's own path (a JSON syntax error adds its
    /// line:column inside the string), and a duplicate key is reported
    /// as in the object form.
    mutating func readFilterPolicy(_ value: JSONValue, scope: FilterPolicyScope, at policyPath: JSONPath) -> FilterPolicy? {
        guard case .string(let text) = value else {
            do {
                return try FilterPolicy(json: value, scope: scope, source: file, locations: locations, basePath: policyPath)
            } catch {
                errors.append(RuleError(file: file, location: error.location ?? locations.location(of: error.path), path: error.path,
                                        problem: .filterPolicy(error.problem)))
                return nil
            }
        }
        do {
            return try FilterPolicy(json: Array(text.utf8), scope: scope)
        } catch {
            let stringLocation = locations.location(of: policyPath)
            guard case .invalidJSON(let jsonError) = error.problem else {
                // At the place inside the string, when the policy knows it.
                var at = stringLocation
                if let inner = error.location, let string = stringLocation { at = location(ofDecoded: inner.offset, inStringAt: string) ?? stringLocation }
                errors.append(RuleError(file: file, location: at, path: JSONPath(policyPath.components + error.path.components),
                                        problem: .filterPolicy(error.problem)))
                return nil
            }
            if case .duplicateKey(let key, let innerPath, _) = jsonError {
                // The message of a duplicate key in the object form, with the path in the file.
                let path = innerPath.isEmpty ? policyPath.description
                    : policyPath.description + (innerPath.hasPrefix("[") ? "" : ".") + innerPath
                let at = stringLocation ?? JSONLocation(offset: 0, line: 1, column: 1)
                errors.append(RuleError(file: file, location: stringLocation, problem: .invalidJSON(.duplicateKey(key: key, path: path, at: at))))
            } else {
                errors.append(RuleError(file: file, location: stringLocation, path: policyPath, problem: .filterPolicyText(jsonError)))
            }
            return nil
        }
    }

    mutating func readFileSubscription(_ value: JSONValue, at path: JSONPath) -> FileSubscription? {
        guard case .object(let object) = value else {
            fail(path, .expected("an object such as {\"Path\": \"alerts.ndjson\"}", found: RuleProblem.describe(value)))
            return nil
        }
        let before = errors.count
        checkFields(object, at: path, allowed: RuleFile.fileSubscriptionFields)
        guard let pathValue = required(object, "Path", at: path, in: "a file subscription") else { return nil }
        guard case .string(let written) = pathValue, !written.isEmpty, !written.contains("\0") else {
            fail(path.appending("Path"), .expected("a file path", found: RuleProblem.describe(pathValue)))
            return nil
        }
        let range = FunctionTarget.timeoutRange
        let timeout = number(object, "TimeoutSeconds", at: path,
                             expected: "a number from \(Int(range.lowerBound)) to \(Int(range.upperBound))",
                             accept: { range.contains($0) }) ?? FileSubscription.defaultTimeoutSeconds
        guard errors.count == before else { return nil }
        return FileSubscription(path: FunctionTarget.resolvePath(written, ruleFile: file, currentDirectory: currentDirectory), pathAsWritten: written,
                                timeoutSeconds: timeout)
    }
}

/// Checks topics against each other and the rules that publish to them: unique names, known
/// topics, no forwarding cycles. Rules and topics with a problem are left out.
///
/// `context` holds the topics of files read only for them (the other files in the folder of a
/// rule file given on its own): they count as declared, but their own problems are not reported,
/// and only those the rules and topics publish to, directly or by forwarding, are returned. A
/// reference that needs a context topic which failed to load is an error where it is written.
enum TopicLinker {
    static func link(rules entries: [RuleFile.RuleEntry], topics topicEntries: [TopicEntry], context: [TopicEntry] = [],
                     checkReferences: Bool) -> (rules: [Rule], topics: [Topic], errors: [RuleError]) {
        var errors: [RuleError] = []
        var firstByName: [String: TopicEntry] = [:]
        var declared: [TopicEntry] = []
        for entry in topicEntries + context {
            guard let name = entry.name else { continue }
            if let first = firstByName[name] {
                errors.append(RuleError(file: entry.file, location: entry.nameLocation, path: entry.namePath,
                                        problem: .duplicateTopicName(name, firstFile: first.file, firstLocation: first.nameLocation)))
                continue
            }
            firstByName[name] = entry
            declared.append(entry)
        }
        let known = firstByName.keys.sorted()

        var rules: [Rule] = []
        for entry in entries {
            guard let rule = entry.rule else { continue }
            var ok = true
            if checkReferences {
                for reference in entry.topicReferences where firstByName[reference.name] == nil {
                    errors.append(RuleError(file: reference.file, location: reference.location, path: reference.path,
                                            problem: .unknownTopic(reference.name, known: known)))
                    ok = false
                }
            }
            if ok { rules.append(rule) }
        }

        var bad: Set<String> = []
        for entry in declared where entry.topic != nil {
            for reference in entry.forwards where firstByName[reference.name] == nil {
                if checkReferences {
                    errors.append(RuleError(file: reference.file, location: reference.location, path: reference.path,
                                            problem: .unknownTopic(reference.name, known: known)))
                    bad.insert(entry.name!)
                }
            }
        }

        // Forwarding cycles: depth-first search, reporting each back edge at the subscription that closes it.
        var state: [String: Int] = [:]  // 1 on the stack, 2 done
        var stack: [String] = []
        func visit(_ name: String) {
            state[name] = 1
            stack.append(name)
            for reference in firstByName[name]?.forwards ?? [] where firstByName[reference.name]?.topic != nil {
                switch state[reference.name] {
                case 1:
                    let start = stack.lastIndex(of: reference.name)!
                    let cycle = Array(stack[start...]) + [reference.name]
                    errors.append(RuleError(file: reference.file, location: reference.location, path: reference.path, problem: .topicCycle(cycle)))
                    bad.formUnion(cycle)
                case nil:
                    visit(reference.name)
                default:
                    break
                }
            }
            stack.removeLast()
            state[name] = 2
        }
        for entry in declared where entry.topic != nil && state[entry.name!] == nil { visit(entry.name!) }

        var topics = declared.compactMap(\.topic).filter { !bad.contains($0.name) }
        guard !context.isEmpty else { return (rules, topics, errors) }

        // Context topics: drop their files' problems, flag references to those that failed, keep the used ones.
        let contextFiles = Set(context.map(\.file))
        errors.removeAll { contextFiles.contains($0.file) }
        let loaded = Set(topics.map(\.name))
        let failed = Set(declared.filter { contextFiles.contains($0.file) && !loaded.contains($0.name!) }.map { $0.name! })
        func unusable(_ reference: TopicReference) -> RuleError? {
            guard let name = reachable(from: [reference], through: declared).sorted().first(where: failed.contains) else { return nil }
            return RuleError(file: reference.file, location: reference.location, path: reference.path,
                             problem: .unusableTopic(name, file: firstByName[name]!.file))
        }
        var unusableRules: Set<String> = []
        for entry in entries where entry.rule != nil {
            for error in entry.topicReferences.compactMap(unusable) {
                errors.append(error)
                unusableRules.insert(entry.name!)
            }
        }
        for entry in topicEntries where entry.topic != nil {
            for error in entry.forwards.compactMap(unusable) {
                errors.append(error)
                bad.insert(entry.name!)
            }
        }
        rules.removeAll { unusableRules.contains($0.name) }
        let used = reachable(from: entries.flatMap(\.topicReferences) + topicEntries.flatMap(\.forwards), through: declared)
        topics.removeAll { bad.contains($0.name) || (contextFiles.contains($0.file) && !used.contains($0.name)) }
        return (rules, topics, errors)
    }

    /// The names of the topics `references` publish to, and of those these forward to, transitively.
    static func reachable(from references: [TopicReference], through entries: [TopicEntry]) -> Set<String> {
        var forwards: [String: [TopicReference]] = [:]
        for entry in entries {
            if let name = entry.name, forwards[name] == nil { forwards[name] = entry.forwards }
        }
        var found: Set<String> = []
        var pending = references.map(\.name)
        while let name = pending.popLast() {
            guard found.insert(name).inserted else { continue }
            pending += (forwards[name] ?? []).map(\.name)
        }
        return found
    }
}
