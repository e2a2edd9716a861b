import Testing
import TriplineJSON
@testable import TriplineRouter

/// The example event of the EventBridge input transformation guide
/// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html).
private let ec2EventText = """
    {
      "version": "0",
      "id": "7bf73129-1428-4cd3-a780-95db273d1602",
      "detail-type": "EC2 Instance State-change Notification",
      "source": "aws.ec2",
      "account": "123456789012",
      "time": "2015-11-11T21:29:54Z",
      "region": "us-east-1",
      "resources": [
        "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"
      ],
      "detail": {
        "instance-id": "i-0123456789",
        "state": "RUNNING"
      }
    }
    """

/// The guide's InputPathsMap for that event.
private let guideVariables: [(name: String, path: String)] = [
    ("timestamp", "$.time"),
    ("instance", "$.detail.instance-id"),
    ("state", "$.detail.state"),
    ("resource", "$.resources[0]"),
]

private func render(_ template: String, variables: [(name: String, path: String)] = guideVariables,
                    event: String = ec2EventText, eventBytes: [UInt8]? = nil) throws -> String {
    let compiled = InputTransformer.compile(variables: variables, template: template)
    let transformer = try #require(compiled.transformer, "template should compile: \(compiled.errors)")
    let value = try JSONParser.parse(event)
    let bytes = try transformer.render(event: value, eventBytes: eventBytes, ruleName: "example", ingestionTime: "2015-11-11T21:29:55Z")
    return String(decoding: bytes, as: UTF8.self)
}

/// The problems compiling `template` reports.
private func problems(_ template: String, variables: [(name: String, path: String)] = guideVariables) -> [InputTransformerError] {
    InputTransformer.compile(variables: variables, template: template).errors
}

@Suite("Input transformers render as EventBridge documents")
struct InputTransformerTests {
    // MARK: - The guide's examples, one test each

    @Test("guide: simple string")
    func simpleString() throws {
        #expect(try render(#""instance <instance> is in <state>""#) == #""instance i-0123456789 is in RUNNING""#)
    }

    @Test("guide: string with escaped quotes (console behaviour)")
    func stringWithEscapedQuotes() throws {
        #expect(try render(#""instance \"<instance>\" is in <state>""#) == #""instance \"i-0123456789\" is in RUNNING""#)
    }

    @Test("guide: simple JSON; string values get quotes, output is minified")
    func simpleJSON() throws {
        let template = """
            {
              "instance" : <instance>,
              "state": <state>
            }
            """
        #expect(try render(template) == #"{"instance":"i-0123456789","state":"RUNNING"}"#)
    }

    @Test("guide: JSON with strings and variables")
    func jsonWithStringsAndVariables() throws {
        let template = #"{"instance" : <instance>, "state": "<state>", "instanceStatus": "instance \"<instance>\" is in <state>"}"#
        #expect(try render(template) == #"{"instance":"i-0123456789","state":"RUNNING","instanceStatus":"instance \"i-0123456789\" is in RUNNING"}"#)
    }

    @Test("guide: JSON with a mix of variables and static information")
    func jsonWithMix() throws {
        let template = #"{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}"#
        #expect(try render(template) == #"{"instance":"i-0123456789","state":[9,"RUNNING",true],"Transformed":"Yes"}"#)
    }

    @Test("guide: reserved variables in JSON; <aws.events.event> is the event without detail")
    func reservedVariablesInJSON() throws {
        let template = #"{"instance": <instance>, "state": <state>, "ruleName": <aws.events.rule-name>, "originalEvent": <aws.events.event>}"#
        let output = try JSONParser.parse(try render(template))
        #expect(output["instance"] == "i-0123456789")
        #expect(output["ruleName"] == "example")
        var withoutDetail = try #require(try JSONParser.parse(ec2EventText).objectValue)
        withoutDetail["detail"] = nil
        #expect(output["originalEvent"] == .object(withoutDetail))
    }

    @Test("guide: <aws.events.rule-arn> is the rule's local ARN, in JSON values and strings")
    func ruleArnIsTheLocalArn() throws {
        #expect(try render(#"{"ruleArn": <aws.events.rule-arn>, "s": "rule <aws.events.rule-arn>"}"#)
            == #"{"ruleArn":"arn:tripline:events:local:000000000000:rule/example","s":"rule arn:tripline:events:local:000000000000:rule/example"}"#)
        #expect(try render("arn=<aws.events.rule-arn>") == "arn=arn:tripline:events:local:000000000000:rule/example")
    }

    @Test("guide: the 'reserved variables in JSON' example with <aws.events.rule-arn> loads and renders")
    func guideReservedVariablesExample() throws {
        let template = #"{"instance": <instance>, "state": <state>, "ruleArn": <aws.events.rule-arn>, "ruleName": <aws.events.rule-name>, "originalEvent": <aws.events.event.json>}"#
        let output = try JSONParser.parse(try render(template))
        #expect(output["ruleArn"] == "arn:tripline:events:local:000000000000:rule/example")
        #expect(output["ruleName"] == "example")
        #expect(output["originalEvent"] == (try JSONParser.parse(ec2EventText)))
    }

    @Test("Rule.localArn is shaped like an EventBridge rule ARN in Tripline's local partition")
    func ruleLocalArn() {
        #expect(Rule.localArn(name: "my-rule") == "arn:tripline:events:local:000000000000:rule/my-rule")
    }

    @Test("guide: reserved variables in a string")
    func reservedVariablesInString() throws {
        #expect(try render(#""<aws.events.rule-name> triggered""#) == #""example triggered""#)
    }

    @Test("guide: the CloudWatch log group example yields valid JSON")
    func cloudWatchLogGroup() throws {
        // The guide prints `{"timestamp" : 2015-11-11T21:29:54Z, "message": "instance "i-0123456789" is in RUNNING}`,
        // which is not JSON; Tripline quotes the string value and keeps the escaped quotes.
        let template = #"{"timestamp" : <timestamp>, "message": "instance \"<instance>\" is in <state>"}"#
        #expect(try render(template) == #"{"timestamp":"2015-11-11T21:29:54Z","message":"instance \"i-0123456789\" is in RUNNING"}"#)
    }

    @Test("API reference: text template")
    func apiTextTemplate() throws {
        let variables = [(name: "instance", path: "$.detail.instance"), (name: "status", path: "$.detail.status")]
        let event = #"{"detail": {"instance": "i-1", "status": "running"}}"#
        #expect(try render("<instance> is in state <status>", variables: variables, event: event) == "i-1 is in state running")
        #expect(try render(#"<instance> is in state "<status>""#, variables: variables, event: event) == #"i-1 is in state "running""#)
    }

    @Test("API reference: JSON template with variables in quotes or out")
    func apiJSONTemplate() throws {
        let variables = [(name: "instance", path: "$.detail.instance"), (name: "status", path: "$.detail.status")]
        let event = #"{"detail": {"instance": "i-1", "status": "running"}}"#
        let template = #"{"myInstance": <instance>,"myStatus": "<instance> is in state \"<status>\""}"#
        #expect(try render(template, variables: variables, event: event) == #"{"myInstance":"i-1","myStatus":"i-1 is in state \"running\""}"#)
    }

    // MARK: - Common issues the guide lists

    @Test("a variable whose path is not in the event is not created", arguments: [
        (#"{"a": <missing>, "b": "x<missing>y", "c": [<missing>]}"#, #"{"a":null,"b":"xy","c":[null]}"#),
        ("value=<missing>.", "value=."),
        (#""<missing>""#, #""""#),
    ] as [(String, String)])
    func missingPath(_ template: String, _ output: String) throws {
        let variables = guideVariables + [(name: "missing", path: "$.detail.nothing.here")]
        #expect(try render(template, variables: variables) == output)
    }

    @Test("an object referenced inside a string loses its internal quotes")
    func objectInsideString() throws {
        let variables = [(name: "detail", path: "$.detail")]
        #expect(try render(#""Detail is <detail>""#, variables: variables) == #""Detail is {instance-id:i-0123456789,state:RUNNING}""#)
    }

    @Test("objects and arrays in value positions are inserted as JSON")
    func objectsAsValues() throws {
        let variables = [(name: "detail", path: "$.detail"), (name: "resources", path: "$.resources")]
        #expect(try render(#"{"detail": <detail>, "resources": <resources>}"#, variables: variables)
            == #"{"detail":{"instance-id":"i-0123456789","state":"RUNNING"},"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"]}"#)
    }

    @Test("numbers, booleans and null keep their JSON form", arguments: [
        (#"{"n": <n>, "s": "n=<n>"}"#, #"{"n":1.50,"s":"n=1.50"}"#),
        (#"{"b": <b>, "s": "<b>"}"#, #"{"b":false,"s":"false"}"#),
        (#"{"z": <z>, "s": "<z>"}"#, #"{"z":null,"s":"null"}"#),
        ("n=<n> b=<b> z=<z>", "n=1.50 b=false z=null"),
    ] as [(String, String)])
    func scalars(_ template: String, _ output: String) throws {
        let variables = [(name: "n", path: "$.detail.n"), (name: "b", path: "$.detail.b"), (name: "z", path: "$.detail.z")]
        #expect(try render(template, variables: variables, event: #"{"detail": {"n": 1.50, "b": false, "z": null}}"#) == output)
    }

    @Test("values with quotes, backslashes and newlines are escaped inside JSON strings")
    func escaping() throws {
        let variables = [(name: "agent", path: "$.detail.userAgent")]
        let event = #"{"detail": {"userAgent": "say \"hi\"\\ \n\tbye"}}"#
        let output = try render(#"{"message": "agent <agent>", "raw": <agent>}"#, variables: variables, event: event)
        let parsed = try JSONParser.parse(output)
        #expect(parsed["message"] == .string("agent say \"hi\"\\ \n\tbye"))
        #expect(parsed["raw"] == .string("say \"hi\"\\ \n\tbye"))
        #expect(try render("agent: <agent>", variables: variables, event: event) == "agent: say \"hi\"\\ \n\tbye", "text templates insert raw values")
    }

    @Test("<aws.events.event.json> is the event exactly as received")
    func eventJSON() throws {
        let bytes = Array("  {\"source\": \"aws.ec2\",  \"detail\": {\"a\": 1}}\n".utf8)
        let event = String(decoding: bytes, as: UTF8.self)
        #expect(try render(#"{"event": <aws.events.event.json>}"#, variables: [], event: event, eventBytes: bytes)
            == #"{"event":{"source": "aws.ec2",  "detail": {"a": 1}}}"#)
        #expect(try render(#"{"event": <aws.events.event.json>}"#, variables: [], event: event)
            == #"{"event":{"source":"aws.ec2","detail":{"a":1}}}"#, "serialised when the bytes are not given")
    }

    @Test("<aws.events.event.ingestion-time> is the time the event was received")
    func ingestionTime() throws {
        #expect(try render(#"{"at": <aws.events.event.ingestion-time>, "s": "at <aws.events.event.ingestion-time>"}"#)
            == #"{"at":"2015-11-11T21:29:55Z","s":"at 2015-11-11T21:29:55Z"}"#)
    }

    @Test("a lone placeholder renders its value as JSON")
    func lonePlaceholder() throws {
        #expect(try render("<instance>") == #""i-0123456789""#)
        #expect(try render("  <aws.events.event.json>\n", variables: [], event: #"{"a":[1]}"#) == #"{"a":[1]}"#)
    }

    @Test("wildcards and indices in variable paths")
    func wildcardPaths() throws {
        let variables = [(name: "all", path: "$.detail.*"), (name: "first", path: "$.resources[0]"), (name: "each", path: "$.resources[*]")]
        #expect(try render(#"{"all": <all>, "first": <first>, "each": <each>}"#, variables: variables)
            == #"{"all":["i-0123456789","RUNNING"],"first":"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111","each":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"]}"#)
    }

    @Test("text that is not a placeholder stays as it is")
    func literalAngleBrackets() throws {
        #expect(try render("a < b and c > d, <instance>") == "a < b and c > d, i-0123456789")
        #expect(try render(#"{"cmp": "1 < 2 > 0"}"#) == #"{"cmp":"1 < 2 > 0"}"#)
    }

    @Test("outputs larger than the event size limit are refused")
    func outputTooLarge() throws {
        let big = String(repeating: "x", count: 100_000)
        let event = try JSONParser.parse(#"{"detail": {"big": "\#(big)"}}"#)
        let transformer = try InputTransformer(inputPathsMap: ["big": "$.detail.big"], inputTemplate: #"[<big>, <big>, <big>]"#)
        #expect(throws: TransformError.self) {
            _ = try transformer.render(event: event, eventBytes: nil, ruleName: "r", ingestionTime: "t")
        }
    }

    // MARK: - Problems found at load time

    @Test("problems are found when the rule loads", arguments: [
        (#"{"a": <instanse>}"#, guideVariables, InputTransformerError.unknownVariable(name: "instanse", position: 6, suggestion: "instance", defined: ["timestamp", "instance", "state", "resource"])),
        ("<nothing> here", [], .unknownVariable(name: "nothing", position: 0, suggestion: nil, defined: [])),
        (#"{<instance>: 1}"#, guideVariables, .placeholderInObjectKey(name: "instance", position: 1)),
        (#"{"key <instance>": 1}"#, guideVariables, .placeholderInObjectKey(name: "instance", position: 1)),
        (#"{"a": <instance>,}"#, guideVariables, .invalidJSONTemplate(reason: "expected a quoted object key", position: 17)),
        (#"{"a": hello}"#, guideVariables, .invalidJSONTemplate(reason: "\"hello\" is not a JSON value (strings need quotes)", position: 6)),
        (#"["a" "b"]"#, guideVariables, .invalidJSONTemplate(reason: "expected ',' or ']'", position: 5)),
        (#""unterminated <instance>"#, guideVariables, .invalidJSONTemplate(reason: "unterminated string", position: 0)),
        (#""a" "b""#, guideVariables, .invalidJSONTemplate(reason: "unexpected content after the JSON value", position: 4)),
        (#"{"bad": "\q"}"#, guideVariables, .invalidJSONTemplate(reason: "invalid escape sequence \\q in string", position: 9)),
        (#""event: <aws.events.event>""#, guideVariables, .eventVariableOutsideJSONValue(name: "aws.events.event", position: 8)),
        ("all: <aws.events.event.json>", guideVariables, .eventVariableOutsideJSONValue(name: "aws.events.event.json", position: 5)),
        ("   ", guideVariables, .emptyTemplate),
        (String(repeating: "x", count: 8193), guideVariables, .templateTooLong(bytes: 8193, limit: 8192)),
        ("static", [(name: "a b", path: "$.x")], .invalidVariableName("a b", reason: "\" \" is not allowed; use letters, digits, '_' and '-'")),
        ("<x>", [(name: "x", path: "$.x"), (name: "aws.events.rule-name", path: "$.x")], .reservedVariableName("aws.events.rule-name")),
        ("<x>", [(name: "x", path: "$.x"), (name: "AWS.mine", path: "$.x")], .reservedVariableName("AWS.mine")),
        ("<x>", [(name: "x", path: "detail.x")], .invalidPath(variable: "x", EventJSONPath.ParseError(text: "detail.x", position: 0, reason: "a path must start with \"$\" (e.g. \"$.detail.eventName\")"))),
        ("<x>", [(name: "x", path: "$.detail['x']")], .invalidPath(variable: "x", EventJSONPath.ParseError(text: "$.detail['x']", position: 8, reason: "bracket notation for keys is not allowed here; use dot notation (e.g. \"$.detail.key\")"))),
    ] as [(String, [(name: String, path: String)], InputTransformerError)])
    func loadTimeProblems(_ template: String, _ variables: [(name: String, path: String)], _ problem: InputTransformerError) {
        #expect(problems(template, variables: variables) == [problem])
    }

    @Test("more than 100 variables are refused")
    func tooManyVariables() {
        let variables = (0...100).map { (name: "v\($0)", path: "$.detail.v\($0)") }
        #expect(problems("<v0>", variables: variables) == [.tooManyVariables(count: 101, limit: 100)])
        #expect(problems("<v0>", variables: Array(variables.prefix(100))).isEmpty)
    }

    @Test("every problem is reported, not just the first")
    func everyProblem() {
        let found = problems(#"{"a": <nope>, "b": <aws.events.rule-nam>}"#, variables: [(name: "x", path: "nope")])
        #expect(found.count == 3)
        #expect(found.first?.variable == "x")
        #expect(found.dropFirst().allSatisfy { $0.isTemplateError })
    }

    @Test("a rejected InputPathsMap name is reported once, not again where the template uses it", arguments: [
        (#"{"x": <aws.foo>}"#, "aws.foo", InputTransformerError.reservedVariableName("aws.foo")),
        (#""s <aws.foo> t""#, "aws.foo", .reservedVariableName("aws.foo")),
        ("text <aws.foo>", "aws.foo", .reservedVariableName("aws.foo")),
        (#"{"x": <a b>, "y": "<a b>"}"#, "a b", .invalidVariableName("a b", reason: "\" \" is not allowed; use letters, digits, '_' and '-'")),
        ("<a b>", "a b", .invalidVariableName("a b", reason: "\" \" is not allowed; use letters, digits, '_' and '-'")),
    ] as [(String, String, InputTransformerError)])
    func noFollowOnErrors(_ template: String, _ name: String, _ problem: InputTransformerError) {
        #expect(problems(template, variables: [(name: name, path: "$.detail.s")]) == [problem])
    }

    @Test("other template mistakes are still reported beside a rejected name")
    func otherProblemsStillReported() {
        let found = problems(#"{"x": <aws.foo>, "y": <nope>}"#, variables: [(name: "aws.foo", path: "$.a"), (name: "ok", path: "$.b")])
        #expect(found == [
            .reservedVariableName("aws.foo"),
            .unknownVariable(name: "nope", position: 22, suggestion: nil, defined: ["ok"]),
        ])
        // "a b" is not an entry here, so its '<' is a JSON error only once the unknown variable has been passed.
        #expect(problems(#"{"z": <a b>}"#, variables: [(name: "aws.foo", path: "$.a")])
            == [.reservedVariableName("aws.foo"), .invalidJSONTemplate(reason: "unexpected '<', expected a value or a placeholder such as <name>", position: 6)])
    }

    @Test("messages say what is wrong and where")
    func messages() {
        #expect(InputTransformerError.unknownVariable(name: "instanse", position: 6, suggestion: "instance", defined: ["instance"]).description
            == "unknown variable <instanse> at character 7 of the template; did you mean <instance>? (defined: <instance>)")
        #expect(InputTransformerError.placeholderInObjectKey(name: "k", position: 1).description
            == "placeholder <k> at character 2 is used as an object key; placeholders may only stand for values")
    }

    // MARK: - InputSpec

    @Test("InputSpec renders each kind of target input")
    func inputSpecs() throws {
        let bytes = Array(ec2EventText.utf8)
        let event = try JSONParser.parse(bytes)
        func text(_ spec: InputSpec, bytes: [UInt8]? = nil) throws -> String {
            String(decoding: try spec.render(event: event, eventBytes: bytes, ruleName: "r", ingestionTime: "t"), as: UTF8.self)
        }
        #expect(try text(.matchedEvent, bytes: bytes) == ec2EventText, "the event bytes pass through unchanged")
        #expect(try text(.matchedEvent) == JSONWriter.string(event))
        #expect(try text(.constant(["a": [1, true]])) == #"{"a":[1,true]}"#)
        #expect(try text(.path(try EventJSONPath(parsing: "$.detail"))) == #"{"instance-id":"i-0123456789","state":"RUNNING"}"#)
        #expect(try text(.path(try EventJSONPath(parsing: "$.detail.nothing"))) == "null")
        let transformer = try InputTransformer(inputPathsMap: ["s": "$.detail.state"], inputTemplate: "state <s>")
        #expect(try text(.transformer(transformer)) == "state RUNNING")
        #expect(transformer.templateKind == .text)
    }

    // MARK: - EventJSONPath

    @Test("JSON paths parse into steps", arguments: [
        ("$", [EventJSONPath.Step]()),
        ("$.detail", [.key("detail")]),
        ("$.detail.instance-id", [.key("detail"), .key("instance-id")]),
        ("$.detail.list[0]", [.key("detail"), .key("list"), .index(0)]),
        ("$.resources[12].arn", [.key("resources"), .index(12), .key("arn")]),
        ("$.detail.*", [.key("detail"), .wildcard]),
        ("$.a[*].b_c/d", [.key("a"), .wildcard, .key("b_c/d")]),
        ("$[0]", [.index(0)]),
    ] as [(String, [EventJSONPath.Step])])
    func pathSteps(_ text: String, _ steps: [EventJSONPath.Step]) throws {
        #expect(try EventJSONPath(parsing: text).steps == steps)
    }

    @Test("malformed JSON paths are rejected with the position", arguments: [
        ("", 0), ("detail", 0), ("$.", 2), ("$..a", 2), ("$.a.", 4), ("$.a b", 3), ("$.a[", 3), ("$.a[x]", 4),
        ("$.a[-1]", 4), ("$.a[1", 5), ("$.a[01]", 4), ("$.a:b", 3), ("$a", 1), ("$.a['b']", 3),
    ] as [(String, Int)])
    func malformedPaths(_ text: String, _ position: Int) {
        #expect(throws: EventJSONPath.ParseError.self) { _ = try EventJSONPath(parsing: text) }
        do {
            _ = try EventJSONPath(parsing: text)
        } catch {
            #expect(error.position == position, "\(error)")
        }
    }

    @Test("bracketed keys are accepted where allowed")
    func bracketKeys() throws {
        let path = try EventJSONPath(parsing: "$['detail'][\"a.b\"]", allowsBracketKeys: true)
        #expect(path.steps == [.key("detail"), .key("a.b")])
        #expect(path.evaluate(in: ["detail": ["a.b": 7]]) == 7)
    }

    @Test("paths that lead nowhere evaluate to nothing", arguments: [
        "$.detail.nothing", "$.detail.state.deeper", "$.resources[5]", "$.detail[0]", "$.resources.key",
    ])
    func missingPaths(_ text: String) throws {
        #expect(try EventJSONPath(parsing: text).evaluate(in: try JSONParser.parse(ec2EventText)) == nil)
    }

    @Test("the error message names the path, the problem and the position")
    func pathErrorMessage() {
        #expect(throws: EventJSONPath.ParseError(text: "$.a b", position: 3, reason: "expected \".\" or \"[\" but found a space")) {
            _ = try EventJSONPath(parsing: "$.a b")
        }
        let error = EventJSONPath.ParseError(text: "$..a", position: 2, reason: "empty key (\"..\")")
        #expect(error.description == #"invalid JSON path "$..a": empty key ("..") at character 3"#)
    }
}
