import TriplineJSON

// What the delivery journal stores and returns: a delivery as accepted, as queued, as stored, and its attempts.

/// A match accepted for delivery: one event for one rule's target.
public struct NewDelivery: Sendable, Equatable {
    public var rule: String
    public var target: String
    public var eventID: String
    /// Where the event came from (`file Records[3]`), for logs and dead letters.
    public var origin: String
    /// The normalized event as compact JSON; the target's input is rendered from it at each attempt.
    public var event: [UInt8]
    /// The ISO 8601 time the event was ingested (`<aws.events.event.ingestion-time>`).
    public var ingestionTime: String
    /// Unix time of acceptance: `MaximumEventAgeInSeconds` counts from here.
    public var acceptedAt: Double
    /// Matches of the same alert key held back (`Suppress`) since the last delivery: shown on this one.
    public var suppressedCount: Int

    public init(rule: String, target: String, eventID: String, origin: String, event: [UInt8], ingestionTime: String, acceptedAt: Double,
                suppressedCount: Int = 0) {
        self.rule = rule
        self.target = target
        self.eventID = eventID
        self.origin = origin
        self.event = event
        self.ingestionTime = ingestionTime
        self.acceptedAt = acceptedAt
        self.suppressedCount = suppressedCount
    }

    /// `eventId:rule:target`: the same for every attempt of one delivery, unique across deliveries.
    public var idempotencyKey: String { DeliveryKey.idempotencyKey(eventID: eventID, rule: rule, target: target) }
}

/// A queued delivery as the scheduler tracks it: small, without the event.
public struct QueuedDelivery: Sendable, Equatable {
    public var id: Int64
    public var rule: String
    public var target: String
    /// Attempts made so far.
    public var attempts: Int
    /// Unix time the next attempt is due.
    public var nextAttemptAt: Double
    public var acceptedAt: Double

    public init(id: Int64, rule: String, target: String, attempts: Int, nextAttemptAt: Double, acceptedAt: Double) {
        self.id = id
        self.rule = rule
        self.target = target
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.acceptedAt = acceptedAt
    }

    public var targetKey: String { DeliveryKey.target(rule: rule, target: target) }
}

/// One failed attempt, as kept in a delivery's history and its dead letter.
public struct AttemptRecord: Sendable, Equatable {
    /// 1 for the first attempt.
    public var attempt: Int
    /// Unix time the attempt ended.
    public var at: Double
    public var error: String

    public init(attempt: Int, at: Double, error: String) {
        self.attempt = attempt
        self.at = at
        self.error = error
    }

    var json: JSONValue {
        ["attempt": .number(JSONNumber(attempt)), "at": .string(StateTime.iso8601(at)), "error": .string(error)]
    }

    init?(json: JSONValue) {
        guard let attempt = json["attempt"]?.numberValue?.value, let at = json["at"]?.stringValue.flatMap(StateTime.parse),
              let error = json["error"]?.stringValue else { return nil }
        self.init(attempt: Int(attempt), at: at, error: error)
    }

    static func encode(_ records: [AttemptRecord]) -> String { JSONWriter.string(.array(records.map(\.json))) }

    static func decode(_ text: String?) -> [AttemptRecord] {
        guard let text, let value = try? JSONParser.parse(Array(text.utf8)), let items = value.arrayValue else { return [] }
        return items.compactMap(AttemptRecord.init(json:))
    }
}

/// A queued delivery with everything needed to attempt it.
public struct StoredDelivery: Sendable, Equatable {
    public var queued: QueuedDelivery
    public var eventID: String
    public var origin: String
    public var event: [UInt8]
    public var ingestionTime: String
    /// Every failed attempt so far, oldest first.
    public var history: [AttemptRecord]
    /// Matches held back by `Suppress` since the previous delivery of the same alert key.
    public var suppressedCount: Int = 0

    public var idempotencyKey: String { DeliveryKey.idempotencyKey(eventID: eventID, rule: queued.rule, target: queued.target) }
}
