import Foundation
import Testing

/// Every handler shipped in Handlers/ runs through `tripline invoke` on a CloudTrail event and
/// succeeds, printing something about the event.
@Suite("Shipped handlers run under tripline invoke")
struct ShippedHandlersTests {
    static let event = """
        {"version":"0","id":"e1","source":"aws.cloudtrail","detail-type":"AWS API Call via CloudTrail",
         "account":"111122223333","time":"2026-11-25T10:00:00Z","region":"us-east-1","resources":[],
         "detail":{"eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1",
                   "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/mallory"}}}
        """

    @Test("a handler prints the event's name and exits 0", arguments: ["notify.sh", "desktop-notify.sh", "template.sh", "template.py"])
    func handlerRuns(_ handler: String) throws {
        let tripline = try TriplineBinary.locate()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tripline-handlers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let eventFile = scratch.appendingPathComponent("event.json")
        try Self.event.write(to: eventFile, atomically: true, encoding: .utf8)
        let path = TriplineBinary.packageRoot.appendingPathComponent("Handlers").appendingPathComponent(handler).path
        let result = try tripline.run(["invoke", path, "--event", eventFile.path, "--rule", "tampering"], in: scratch)
        #expect(result.status == 0, "\(handler): \(result)")
        #expect(result.stdout.contains("StopLogging"), "\(handler): \(result)")
        // 'run' prefixes each line with [rule/target]: a tag of the handler's own would print it twice.
        #expect(!result.stdout.contains("[tampering"), "\(handler) prints its own rule tag: \(result)")
    }
}
