import Foundation
import Testing
@testable import TriplineState

/// A fresh directory under the system temporary directory, removed by ``remove()``.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = "state") throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tripline-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    func appending(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A fixed clock for rows (a Unix time with exact binary fractions, so times compare exactly).
let baseTime: Double = 1_700_000_000

/// A delivery of the event `eventID` for `rule/target`, accepted at `acceptedAt`.
func newDelivery(_ eventID: String, rule: String = "r", target: String = "t", acceptedAt: Double = baseTime) -> NewDelivery {
    NewDelivery(rule: rule, target: target, eventID: eventID, origin: "events.ndjson:\(eventID)",
                event: Array(#"{"id":"\#(eventID)","detail":{"n":1}}"#.utf8), ingestionTime: "2023-11-14T22:13:20Z", acceptedAt: acceptedAt)
}

/// The number of rows in `table`.
func rowCount(_ store: StateStore, _ table: String) throws -> Int {
    try store.withDatabase { (db) throws(StateError) in
        let select = try db.prepare("SELECT count(*) FROM \(table)")
        return try select.step() ? select.int(0) : -1
    }
}

/// Runs `body`, which must throw a ``StateError``; returns it (nil, with an issue recorded, when it did not throw).
func stateError<T>(_ body: () throws(StateError) -> T, sourceLocation: SourceLocation = #_sourceLocation) -> StateError? {
    do {
        _ = try body()
        Issue.record("expected a StateError", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}
