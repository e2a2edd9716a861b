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

    @Test("resources keyed by their logical ids, without the template around them, are read as a template's")
    func resourcesWithoutTemplate() throws {
        let (rules, errors) = parse(#"{"TrailAlarm": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["aws.cloudtrail"]}}}, "# +
                                    #""Alerts": {"Type": "AWS::SNS::Topic", "Properties": {}}}"#)
        #expect(errors.isEmpty, "\(errors)")
        #expect(rules.map(\.name) == ["TrailAlarm"])
        #expect(rules.first?.cloudFormationPath?.description == "TrailAlarm.Properties")
    }

    @Test("aws events list-rules output is read as its Rules; put-rule input's Tags and an empty ScheduleExpression are ignored")
    func cliForms() throws {
        let listed = parse(#"{"Rules": [{"Name": "a", "Arn": "arn:aws:events:us-east-1:1:rule/a", "EventPattern": "{\"source\":[\"aws.s3\"]}", "# +
                           #""State": "ENABLED", "EventBusName": "default"}, {"Name": "b", "EventPattern": "{\"source\":[\"aws.ec2\"]}"}], "NextToken": "t"}"#)
        #expect(listed.errors.isEmpty, "\(listed.errors)")
        #expect(listed.rules.map(\.name) == ["a", "b"])
        let errors = parse(#"{"Rules": [{"Name": "a"}]}"#).errors
        #expect(errors == [#"1:12: Rules[0]: a rule needs "EventPattern""#], "errors keep their place: \(errors)")

        let put = parse(#"{"Name": "x", "ScheduleExpression": "", "Tags": [{"Key": "team", "Value": "sec"}], "EventPattern": {"source": ["aws.s3"]}}"#)
        #expect(put.errors.isEmpty, "\(put.errors)")
        #expect(put.rules.first?.ignoredFields == ["Tags"])
        #expect(parse(#"{"Name": "x", "ScheduleExpression": "rate(5 minutes)", "EventPattern": {"source": ["aws.s3"]}}"#).errors.first?
            .contains("scheduled rules are not supported") == true)
    }

    @Test("CloudFormation intrinsic functions are said to be such: in a pattern, as a pattern, in Name")
    func intrinsicFunctions() {
        func first(_ text: String) -> String { parse(text).errors.first ?? "" }
        let function = "is a CloudFormation intrinsic function: patterns are read as written and nothing evaluates it; write the value it stands for"
        #expect(first(#"{"Name": "x", "EventPattern": {"account": [{"Ref": "AWS::AccountId"}]}}"#) == "1:52: EventPattern.account[0].Ref: \"Ref\" " + function)
        #expect(first(#"{"Name": "x", "EventPattern": {"Fn::Sub": "{\"account\": [\"${AWS::AccountId}\"]}"}}"#)
                == #"1:43: EventPattern["Fn::Sub"]: "Fn::Sub" "# + function)
        #expect(first(#"{"Name": {"Fn::Sub": "${AWS::StackName}-x"}, "EventPattern": {"source": ["aws.s3"]}}"#).hasSuffix(
            #"(the CloudFormation intrinsic function "Fn::Sub", which nothing evaluates here: write the value it stands for)"#))
        #expect(first(#"{"Name": "x", "EventPattern": {"detail": {"Ref": "y"}}}"#).contains(#""Ref" is a CloudFormation intrinsic function"#))
        // Fn::GetAtt and Fn::FindInMap read as a field with values: refused as what they are, not loaded to never match.
        #expect(first(#"{"Name": "x", "EventPattern": {"bucket": {"Fn::GetAtt": ["B", "Name"]}}}"#)
                == #"1:57: EventPattern.bucket["Fn::GetAtt"]: "Fn::GetAtt" "# + function)
        // In a target's Arn, ignored once a local kind is added, the note would give the wrong advice.
        #expect(!first(#"{"Name": "x", "EventPattern": {"source": ["a"]}, "Targets": [{"Id": "t", "Arn": {"Fn::GetAtt": ["F", "Arn"]}}]}"#)
            .contains("write the value"))
        // A field named Ref with values to match is a field like any other.
        #expect(parse(#"{"Name": "x", "EventPattern": {"detail": {"Ref": ["y"]}}}"#).errors.isEmpty)
    }

    @Test("YAML and Terraform are told as such, not as invalid JSON; a repeated key is not called invalid JSON")
    func foreignFormats() {
        let yaml = "YAML is not read: rule files are JSON"
        #expect(parse("Type: AWS::Events::Rule\nProperties:\n  Name: x\n").errors.first?.hasPrefix("1:1: " + yaml) == true)
        #expect(parse("# alarms\nResources:\n").errors.first?.hasPrefix("1:1: " + yaml) == true)
        #expect(parse("---\n- a\n").errors.first?.hasPrefix("1:1: " + yaml) == true)
        #expect(parse(#"resource "aws_cloudwatch_event_rule" "x" {"#).errors.first?.hasPrefix("1:1: Terraform is not read") == true)
        #expect(parse("{\"Name\": \"x\",\n  Targets: []}").errors == [#"2:3: not valid JSON: unexpected 'T', expected a string"#],
                "broken JSON stays a JSON error")
        #expect(parse("# rules\n{\"Name\": \"x\"}").errors == [#"1:1: not valid JSON: unexpected '#', expected a JSON value"#],
                "JSON with a comment is JSON, not YAML")
        #expect(parse("# made by terraform\n\nresource \"aws_cloudwatch_event_rule\" \"x\" {").errors.first?.hasPrefix("1:1: Terraform is not read") == true)
        #expect(parse(#"{"Name": "x", "EventPattern": {"a": ["x"], "a": ["y"]}}"#).errors == [
            #"1:44: duplicate key "a" in object at EventPattern: a rule file takes each key once (EventBridge would keep the last "a"); remove the one that does not apply"#,
        ])
    }
}
