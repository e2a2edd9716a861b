import Testing
import EventPattern
@testable import TriplineRouter

private func rule(_ pattern: String, state: RuleState = .enabled) throws -> Rule {
    Rule(name: "r", state: state, pattern: try EventPattern.parse(pattern), file: "r.json")
}

@Suite("Rule notes: valid rules that probably do not do what was meant")
struct RuleNoteTests {
    @Test("the guide's 'AWS Console Signin via CloudTrail' gets a note naming the spelling events arrive with", arguments: [
        (#"{"detail-type": ["AWS Console Signin via CloudTrail"]}"#, "AWS Console Signin via CloudTrail"),
        (#"{"detail-type": [{"equals-ignore-case": "aws console signin via cloudtrail"}]}"#, "aws console signin via cloudtrail"),
        (#"{"$or": [{"source": ["aws.signin"]}, {"detail-type": ["AWS API Call via CloudTrail", "AWS Console Signin via CloudTrail"]}]}"#, "AWS Console Signin via CloudTrail"),
        (#"{"detail-type": [{"prefix": "AWS Console Signin"}]}"#, "AWS Console Signin"),
    ] as [(String, String)])
    func guideSpelling(_ pattern: String, _ written: String) throws {
        let notes = RuleNote.notes(for: try rule(pattern))
        #expect(notes == [.consoleSignInSpelling(written: written)])
        #expect(notes.first?.description.contains(#"arrive as "AWS Console Sign In via CloudTrail""#) == true)
    }

    @Test("the spelling events arrive with, or a prefix both share, gets no note", arguments: [
        #"{"detail-type": ["AWS Console Sign In via CloudTrail"]}"#,
        #"{"detail-type": [{"prefix": "AWS Console Sign"}]}"#,
        #"{"detail": {"eventName": ["AWS Console Signin via CloudTrail"]}}"#,
    ])
    func rightSpelling(_ pattern: String) throws {
        #expect(RuleNote.notes(for: try rule(pattern)).isEmpty)
    }

    @Test("ENABLED with only read-only eventNames gets a note suggesting ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", arguments: [
        (#"{"source": ["aws.sts"], "detail": {"eventName": ["AssumeRole"]}}"#, ["AssumeRole"]),
        (#"{"detail": {"eventName": ["GetSecretValue", "Decrypt", "ListBuckets", "DescribeInstances", "HeadBucket"]}}"#,
         ["GetSecretValue", "Decrypt", "ListBuckets", "DescribeInstances", "HeadBucket"]),
        (#"{"$or": [{"detail": {"eventName": ["GetCallerIdentity"]}}, {"detail": {"eventName": ["AssumeRoleWithSAML"]}}]}"#,
         ["GetCallerIdentity", "AssumeRoleWithSAML"]),
    ] as [(String, [String])])
    func readOnlyOnly(_ pattern: String, _ names: [String]) throws {
        let notes = RuleNote.notes(for: try rule(pattern))
        #expect(notes == [.readOnlyEventNamesOnly(names)])
        #expect(notes.first?.description.contains(#"use "State": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS""#) == true)
    }

    @Test("no read-only note when some eventName is not read-only, not exact, absent in a branch, or the state receives them", arguments: [
        (#"{"detail": {"eventName": ["GetSecretValue", "DeleteSecret"]}}"#, RuleState.enabled),
        (#"{"detail": {"eventName": ["GetSessionToken"]}}"#, .enabled),
        (#"{"detail": {"eventName": ["GetFederationToken", "GetCallerIdentity"]}}"#, .enabled),
        (#"{"detail": {"eventName": [{"prefix": "Get"}]}}"#, .enabled),
        (#"{"detail": {"eventName": ["Getaway"]}}"#, .enabled),
        (#"{"$or": [{"detail": {"eventName": ["GetObject"]}}, {"source": ["aws.s3"]}]}"#, .enabled),
        (#"{"detail": {"eventName": ["GetObject"]}}"#, .enabledWithAllCloudTrailManagementEvents),
        (#"{"detail": {"eventName": ["GetObject"]}}"#, .disabled),
        (#"{"source": ["aws.s3"]}"#, .enabled),
    ] as [(String, RuleState)])
    func noReadOnlyNote(_ pattern: String, _ state: RuleState) throws {
        #expect(RuleNote.notes(for: try rule(pattern, state: state)).isEmpty)
    }
}
