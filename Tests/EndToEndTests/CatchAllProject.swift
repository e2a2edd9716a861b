import Foundation
import Testing
import TriplineJSON

/// A project with one rule matching every CloudTrail event, whose handler saves each event it gets as
/// a new file in `out/`: the set-up the ingestion defects were reported with.
struct CatchAllProject {
    let root: URL
    var out: URL { root.appendingPathComponent("out") }

    init(root: URL) throws {
        self.root = root
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try write("""
            #!/bin/sh
            name="\(out.path)/$(date +%s%N)-$$"
            cat > "$name.tmp" && mv "$name.tmp" "$name.json"
            """, "h.sh")
        chmod(root.appendingPathComponent("h.sh").path, 0o755)
        let handler = root.appendingPathComponent("h.sh").path
        try write(#"{"Name":"all","State":"ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS","EventPattern":{"detail-type":[{"suffix":"via CloudTrail"}]},"Targets":[{"Id":"log","Function":{"Handler":"\#(handler)"}}]}"#,
                  "rules/all.json")
    }

    /// Writes `text` at `relative` (directories made as needed), replacing what was there in place.
    func write(_ text: String, _ relative: String) throws {
        try write(Array(text.utf8), relative)
    }

    func write(_ bytes: [UInt8], _ relative: String) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    /// Appends `text` to the file at `relative` (opened, written, closed: one writer's append).
    func append(_ text: String, _ relative: String) throws {
        let handle = try FileHandle(forWritingTo: root.appendingPathComponent(relative))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// The `eventID`s of the CloudTrail records delivered so far, sorted, one entry per delivery.
    func delivered() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.compactMap { name -> String? in
            guard let data = try? Data(contentsOf: out.appendingPathComponent(name)),
                  let event = try? JSONParser.parse([UInt8](data)) else { return "unreadable \(name)" }
            return event["detail"]?["eventID"]?.stringValue
        }.sorted()
    }

    /// Waits until `count` deliveries arrived (at most `seconds`); whether they did.
    func waitForDeliveries(_ count: Int, seconds: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if delivered().count >= count { return true }
            usleep(50_000)
        }
        return delivered().count >= count
    }
}

/// A CloudTrail management event record with `eventID` `id`, one line of JSON.
func cloudTrailRecord(_ id: String) -> String {
    #"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},"eventTime":"2024-03-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"DeleteBucket","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","readOnly":false,"eventID":"\#(id)","eventType":"AwsApiCall","recipientAccountId":"111122223333"}"#
}

/// A CloudTrail log file (`{"Records":[…]}`) holding one record per id.
func cloudTrailLog(_ ids: [String]) -> String {
    #"{"Records":["# + ids.map(cloudTrailRecord).joined(separator: ",") + "]}"
}
