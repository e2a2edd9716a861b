import Foundation
import Testing
import TriplineJSON
@testable import TriplineRouter

/// Parses `text` as the rule file `/project/Rules/cfn.json`.
private func parse(_ text: String) -> (rules: [Rule], errors: [String]) {
    let parsed = RuleFile.parse(bytes: Array(text.utf8), file: "/project/Rules/cfn.json", currentDirectory: "/work")
    return (parsed.rules, parsed.errors.map { String($0.description.dropFirst("/project/Rules/cfn.json:".count)) })
}

@Suite("Rule files pasted from CloudFormation")
struct CloudFormationRuleFileTests {
    @Test("an AWS::Events::Rule resource is read as its Properties, with its resource attributes ignored")
    func resource() throws {
        let (rules, errors) = parse(#"{"Type": "AWS::Events::Rule", "DependsOn": ["Topic"], "Condition": "IsProd", "Metadata": {"a": 1}, "# +
                                    #""Properties": {"Name": "x", "State": "ENABLED", "EventPattern": {"source": ["aws.s3"]}, "# +
                                    #""Targets": [{"Id": "t", "Arn": "arn:aws:sns:us-east-1:1:x", "Function": {"Handler": "h"}}]}}"#)
        #expect(errors.isEmpty, "\(errors)")
        let rule = try #require(rules.first)
        #expect(rule.name == "x")
        #expect(rule.cloudFormationPath == JSONPath.root.appending("Properties"))
        #expect(rule.location?.column == 114, "the rule starts at Properties' object")
        #expect(rule.targets.map(\.id) == ["t"])
    }

    @Test("errors inside a resource point into the file and read Properties.…")
    func errorsKeepTheirPlace() {
        let text = "{\"Type\": \"AWS::Events::Rule\",\n \"Properties\": {\"Name\": \"x\",\n  \"EventPattern\": {\"source\": \"aws.s3\"}}}"
        #expect(parse(text).errors == [#"3:30: Properties.EventPattern.source: expected an array of values to match (e.g. ["x"]) or a nested object, got "aws.s3""#])
        let errors = parse(#"{"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["x"]}}, "Outputs": 1}"#).errors
        #expect(errors.count == 2 && errors[0] == #"1:45: Properties: a rule needs "Name""#, "\(errors)")
        #expect(errors.last?.hasPrefix(#"1:93: Outputs: unknown field "Outputs"; allowed: "Type", "Properties", "DependsOn""#) == true, "\(errors)")
    }

    @Test("a resource of another type, or without Type or Properties, gets an error saying what a rule file reads")
    func otherTypes() {
        #expect(parse(#"{"Type": "AWS::SNS::Topic", "Properties": {}}"#).errors == [
            #"1:10: Type: this CloudFormation resource is of type "AWS::SNS::Topic"; a rule file reads only "AWS::Events::Rule" resources (their Properties are the rule), so paste an AWS::Events::Rule resource or write the rule itself (Name, EventPattern, Targets)"#,
        ])
        #expect(parse(#"{"Properties": {"Name": "x"}}"#).errors == [#"1:1: (top level): a CloudFormation resource needs "Type""#])
        #expect(parse(#"{"Type": "AWS::Events::Rule"}"#).errors == [#"1:1: (top level): an AWS::Events::Rule resource needs "Properties""#])
    }

    @Test("a rule with a stray Type is still a rule with an unknown field")
    func strayTypeInRule() {
        #expect(parse(#"{"Name": "x", "Type": "y", "EventPattern": {"source": ["aws.s3"]}}"#).errors.first?.hasPrefix(#"1:23: Type: unknown field "Type""#) == true)
    }

    @Test("a template contributes each AWS::Events::Rule resource, named by its logical id when Properties has no Name")
    func template() throws {
        let text = #"{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"# +
            #""Alerts": {"Type": "AWS::SNS::Topic", "Properties": {}}, "# +
            #""Tampering": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["aws.cloudtrail"]}}}, "# +
            #""Named": {"Type": "AWS::Events::Rule", "Properties": {"Name": "explicit", "EventPattern": {"source": ["aws.s3"]}}}}}"#
        let (rules, errors) = parse(text)
        #expect(errors.isEmpty, "\(errors)")
        #expect(rules.map(\.name) == ["Tampering", "explicit"])
        #expect(rules.first?.cloudFormationPath?.description == "Resources.Tampering.Properties")
        #expect(parse(#"{"Resources": {"A": {"Type": "AWS::SNS::Topic"}}}"#).errors == [
            #"1:15: Resources: this CloudFormation template has no "AWS::Events::Rule" resource (resource types: "AWS::SNS::Topic"); a rule file reads the Properties of each AWS::Events::Rule resource as a rule"#,
        ])
        let duplicate = #"{"Resources": {"A": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["x"]}}}, "# +
            #""B": {"Type": "AWS::Events::Rule", "Properties": {"Name": "A", "EventPattern": {"source": ["y"]}}}}}"#
        #expect(parse(duplicate).errors.first?.contains(#"Resources.B.Properties.Name: rule name "A" is already used at /project/Rules/cfn.json:1:21"#) == true,
                "\(parse(duplicate).errors)")
    }
}
