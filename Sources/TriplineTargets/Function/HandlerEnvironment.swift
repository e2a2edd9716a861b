#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The environment a handler gets: a few inherited variables, the target's own, then Tripline's.
public enum HandlerEnvironment {
    /// Inherited from Tripline's own environment when set; nothing else leaks through.
    public static let inheritedNames = ["PATH", "HOME", "LANG", "TZ"]
    /// How many matches `Suppress` held back before this delivery; set only when above 0.
    public static let suppressedCountVariable = "TRIPLINE_SUPPRESSED_COUNT"

    /// What a handler is told about the delivery it is running for.
    public struct Delivery: Sendable, Equatable {
        public var ruleName: String
        public var targetID: String
        public var eventID: String
        /// 1 for the first attempt; retries count up.
        public var attempt: Int
        /// Matches `Suppress` held back since the previous delivery of the same alert key
        /// (`TRIPLINE_SUPPRESSED_COUNT`, set only when above 0).
        public var suppressedCount: Int

        public init(ruleName: String, targetID: String, eventID: String, attempt: Int = 1, suppressedCount: Int = 0) {
            self.ruleName = ruleName
            self.targetID = targetID
            self.eventID = eventID
            self.attempt = attempt
            self.suppressedCount = suppressedCount
        }

        /// `eventId:rule:target`: the same for every attempt of one delivery, unique across deliveries.
        public var idempotencyKey: String { "\(eventID):\(ruleName):\(targetID)" }
    }

    /// `PATH`, `HOME`, `LANG`, `TZ` from `inherited` (default: this process), then `target` (the rule
    /// target's `Env`), then the `TRIPLINE_*` variables, each layer overriding the one before
    /// (``suppressedCountVariable`` only when the delivery's count is above 0).
    public static func make(delivery: Delivery, target: [String: String],
                            inherited: [String: String] = HandlerEnvironment.currentInherited()) -> [String: String] {
        var environment: [String: String] = [:]
        for name in inheritedNames { if let value = inherited[name] { environment[name] = value } }
        environment.merge(target) { _, new in new }
        environment["TRIPLINE_RULE"] = delivery.ruleName
        environment["TRIPLINE_TARGET"] = delivery.targetID
        environment["TRIPLINE_EVENT_ID"] = delivery.eventID
        environment["TRIPLINE_IDEMPOTENCY_KEY"] = delivery.idempotencyKey
        environment["TRIPLINE_ATTEMPT"] = String(delivery.attempt)
        if delivery.suppressedCount > 0 { environment[suppressedCountVariable] = String(delivery.suppressedCount) }
        return environment
    }

    /// This process's values of ``inheritedNames``.
    public static func currentInherited() -> [String: String] {
        var values: [String: String] = [:]
        for name in inheritedNames { if let value = getenv(name) { values[name] = String(cString: value) } }
        return values
    }
}
