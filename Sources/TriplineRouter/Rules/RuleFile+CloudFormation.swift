import TriplineJSON

/// Rule files pasted from CloudFormation: an `AWS::Events::Rule` resource, or a whole template.
///
/// A resource, `{"Type": "AWS::Events::Rule", "Properties": {…}}` (with `DependsOn`, `Condition`,
/// `Metadata` and the other resource attributes accepted and ignored), is read as its `Properties`:
/// errors keep their place in the file and read `Properties.EventPattern…`. A template,
/// `{"Resources": {…}}`, contributes every `AWS::Events::Rule` resource, named by its logical id when
/// `Properties.Name` is absent; its other resources (the topic or function a rule targets on AWS)
/// are skipped. The `Resources` section alone, or a resource copied with its logical id
/// (`{"TrailAlarm": {"Type": …, "Properties": …}}`), is read as a template's. Every rule read this way
/// carries ``Rule/cloudFormationPath``, so `validate` notes it.
extension RuleFile {
    /// The resource type read as a rule.
    public static let cloudFormationRuleType = "AWS::Events::Rule"
    /// The keys of a CloudFormation resource: `Type`, `Properties` and the attributes ignored here.
    public static let cloudFormationResourceFields = ["Type", "Properties", "DependsOn", "Condition", "Metadata", "DeletionPolicy",
                                                      "UpdateReplacePolicy", "CreationPolicy", "UpdatePolicy"]
    /// The top-level sections of a CloudFormation template; only `Resources` is read.
    public static let cloudFormationTemplateFields = ["AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules",
                                                      "Mappings", "Conditions", "Transform", "Resources", "Outputs"]

    /// The keys of `aws events list-rules` output besides `Rules`.
    public static let ruleListFields = ["Rules", "NextToken"]

    /// What a top-level object of a rule file is.
    enum EntryShape {
        case rule
        case cloudFormationResource
        case cloudFormationTemplate
        /// A template's `Resources` section without its wrapper, or one resource copied with its
        /// logical id: `{"TrailAlarm": {"Type": "AWS::Events::Rule", "Properties": {…}}}`.
        case cloudFormationResources
        /// `aws events list-rules` output: `{"Rules": [{"Name", "EventPattern", …}], "NextToken"}`.
        case ruleList
    }

    /// A rule object has `Name` or `EventPattern`; without them, `Resources` marks a template,
    /// `Type` or `Properties` a resource, an array of `Rules` the output of `list-rules`, and members
    /// that are all objects with a `Type`, one of them `AWS::Events::Rule`, resources keyed by their
    /// logical ids (a rule has none of these, so a stray one stays an unknown field).
    static func shape(of object: JSONObject) -> EntryShape {
        if object["Name"] != nil || object["EventPattern"] != nil { return .rule }
        if object["Resources"] != nil { return .cloudFormationTemplate }
        if object["Type"] != nil || object["Properties"] != nil { return .cloudFormationResource }
        if case .array? = object["Rules"], object.keys.allSatisfy(ruleListFields.contains) { return .ruleList }
        if !object.isEmpty, object.allSatisfy({ $0.value["Type"]?.stringValue != nil }),
           object.contains(where: { $0.value["Type"]?.stringValue == cloudFormationRuleType }) {
            return .cloudFormationResources
        }
        return .rule
    }
}

extension RuleFileReader {
    /// Reads one top-level object of a rule file, unwrapping CloudFormation resources and templates.
    mutating func readEntries(_ object: JSONObject, at path: JSONPath) -> [RuleFile.RuleEntry] {
        switch RuleFile.shape(of: object) {
        case .rule:
            return readRule(object, at: path).map { [$0] } ?? []
        case .cloudFormationResource:
            return readCloudFormationResource(object, at: path, logicalID: nil).map { [$0] } ?? []
        case .cloudFormationTemplate:
            return readCloudFormationTemplate(object, at: path)
        case .cloudFormationResources:
            return readCloudFormationResources(object, at: path)
        case .ruleList:
            checkFields(object, at: path, allowed: RuleFile.ruleListFields)
            guard case .array(let rules)? = object["Rules"] else { return [] }
            var entries: [RuleFile.RuleEntry] = []
            for (i, element) in rules.enumerated() {
                let rulePath = path.appending("Rules").appending(index: i)
                guard case .object(let rule) = element else {
                    fail(rulePath, .expected("a rule object", found: RuleProblem.describe(element)))
                    continue
                }
                if let entry = readRule(rule, at: rulePath) { entries.append(entry) }
            }
            return entries
        }
    }

    /// The `Properties` of an `AWS::Events::Rule` resource as a rule; `logicalID` names it when
    /// `Properties.Name` is absent (resources of a template).
    mutating func readCloudFormationResource(_ object: JSONObject, at path: JSONPath, logicalID: String?) -> RuleFile.RuleEntry? {
        checkFields(object, at: path, allowed: RuleFile.cloudFormationResourceFields)
        guard let type = required(object, "Type", at: path, in: "a CloudFormation resource") else { return nil }
        guard type.stringValue == RuleFile.cloudFormationRuleType else {
            fail(path.appending("Type"), .notCloudFormationRule(found: RuleProblem.describe(type)))
            return nil
        }
        guard let properties = required(object, "Properties", at: path, in: "an AWS::Events::Rule resource") else { return nil }
        let propertiesPath = path.appending("Properties")
        guard case .object(let rule) = properties else {
            fail(propertiesPath, .expected("an object holding the rule (Name, EventPattern, Targets, …)", found: RuleProblem.describe(properties)))
            return nil
        }
        let defaultName = logicalID.map { (name: $0, path: path) }
        return readRule(rule, at: propertiesPath, defaultName: defaultName, cloudFormationPath: propertiesPath)
    }

    /// Every `AWS::Events::Rule` resource of a template, in document order.
    mutating func readCloudFormationTemplate(_ object: JSONObject, at path: JSONPath) -> [RuleFile.RuleEntry] {
        checkFields(object, at: path, allowed: RuleFile.cloudFormationTemplateFields)
        let resourcesPath = path.appending("Resources")
        guard case .object(let resources)? = object["Resources"] else {
            fail(resourcesPath, .expected("an object of logical ids to resources", found: RuleProblem.describe(object["Resources"] ?? .null)))
            return []
        }
        return readCloudFormationResources(resources, at: resourcesPath)
    }

    /// Every `AWS::Events::Rule` resource of `resources` (logical id → resource), in document order.
    mutating func readCloudFormationResources(_ resources: JSONObject, at resourcesPath: JSONPath) -> [RuleFile.RuleEntry] {
        var entries: [RuleFile.RuleEntry] = []
        var ruleResources = 0
        var otherTypes: [String] = []
        for member in resources {
            let resourcePath = resourcesPath.appending(member.key)
            guard case .object(let resource) = member.value else {
                fail(resourcePath, .expected("a resource object with \"Type\" and \"Properties\"", found: RuleProblem.describe(member.value)))
                continue
            }
            guard resource["Type"]?.stringValue == RuleFile.cloudFormationRuleType else {
                // The topics, functions and roles a rule uses on AWS: nothing to read here.
                if let type = resource["Type"]?.stringValue, !otherTypes.contains(type) { otherTypes.append(type) }
                continue
            }
            ruleResources += 1
            if let entry = readCloudFormationResource(resource, at: resourcePath, logicalID: member.key) { entries.append(entry) }
        }
        if ruleResources == 0 { fail(resourcesPath, .noCloudFormationRules(otherTypes: otherTypes)) }
        return entries
    }
}
