import Foundation
import Testing
import TriplineJSON

@Suite("tripline init (end to end)")
struct InitCommandTests {
    @Test("a pasted CloudTrail record becomes a rule whose tests pass, a handler and a test event; nothing is overwritten")
    func scaffoldsATestedRule() throws {
        let tripline = try TriplineBinary.locate()
        try withTemporaryDirectory { dir in
            let record = #"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice"},"eventTime":"2024-01-01T00:00:00Z","eventSource":"kms.amazonaws.com","eventName":"ScheduleKeyDeletion","awsRegion":"eu-west-1","readOnly":false,"eventType":"AwsApiCall","recipientAccountId":"111122223333","eventID":"k-1"}"#
            try Data(record.utf8).write(to: dir.appendingPathComponent("record.json"))
            let result = try tripline.run(["init", "--from-event", "record.json"], in: dir)
            #expect(result.status == 0, "\(result)")
            let rule = try JSONParser.parse([UInt8](try Data(contentsOf: dir.appendingPathComponent("Rules/schedule-key-deletion.json"))))
            #expect(rule["EventPattern"] == ["source": ["aws.kms"], "detail-type": ["AWS API Call via CloudTrail"],
                                             "detail": ["eventSource": ["kms.amazonaws.com"], "eventName": ["ScheduleKeyDeletion"]]])
            #expect(FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("Handlers/schedule-key-deletion.sh").path))
            let test = try tripline.run(["test", "Rules"], in: dir)
            #expect(test.status == 0 && test.stdoutLines.last == "2 passed, 0 failed", "\(test)")
            let again = try tripline.run(["init", "--from-event", "record.json"], in: dir)
            #expect(again.status == 2 && again.stderr.contains("exists"), "\(again)")
        }
    }
}
