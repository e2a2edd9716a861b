import TriplineJSON
import TriplineState
import TriplineTargets

/// How one delivery attempt ended, as the target reports it.
public enum AttemptOutcome: Sendable, Equatable {
    /// The target accepted the event.
    case delivered
    /// The attempt failed. `retryable` false sends the delivery straight to the dead letters;
    /// `retryAfter` (seconds) is the least wait the target asked for.
    case failed(error: String, retryable: Bool, retryAfter: Double?)
    /// Nothing was attempted (a webhook request held for its rate-limit slot when the run stopped, or one
    /// its URL's `Retry-After` pause kept back): the attempt count stays, and the delivery goes out once
    /// `retryAfter` seconds have passed, or in the next run when nil.
    case notAttempted(reason: String, retryAfter: Double?)

    public var succeeded: Bool { self == .delivered }
}

/// One attempt's outcome plus what the log shows of it.
public struct AttemptReport: Sendable {
    public var outcome: AttemptOutcome
    /// A function target's result (its output is logged line by line).
    public var function: FunctionOutcome?
    /// One line for the log: `exit status 3 in 0.010s`, `HTTP 500 in 0.2s`.
    public var summary: String
    /// Something the log must show although the attempt succeeded (a block refused by the circuit
    /// breaker or a protection rule): the delivery is done, the outcome is not what the rule asked.
    public var notice: String?
    /// Events to put back on the bus only if this failed attempt ends the delivery in the dead
    /// letters (`User Block Failed`); dropped when it is retried.
    public var eventsIfDeadLettered: [JSONValue]
    /// Deliveries this successful attempt adds to the journal (a topic publish's subscription
    /// deliveries). Whoever runs the attempt commits them in the same transaction that removes the
    /// delivery (``DeliveryDispatcher`` does, with group commit): neither happens without the other,
    /// and the attempt counts as done only once both are committed. Ignored when the attempt failed.
    public var fanOut: [NewDelivery]

    public init(outcome: AttemptOutcome, function: FunctionOutcome? = nil, summary: String, notice: String? = nil,
                eventsIfDeadLettered: [JSONValue] = [], fanOut: [NewDelivery] = []) {
        self.outcome = outcome
        self.function = function
        self.summary = summary
        self.notice = notice
        self.eventsIfDeadLettered = eventsIfDeadLettered
        self.fanOut = fanOut
    }
}

/// What happens to a delivery after an attempt.
public enum DeliveryNextStep: Sendable, Equatable {
    /// Delivered: removed from the queue.
    case done
    /// Failed; tried again at this Unix time.
    case retry(at: Double)
    /// Failed for good: in the dead letters (and the file, when there is one).
    case deadLettered(reason: String, file: String?)
    /// The run is stopping: the delivery stays queued for the next run.
    case leftQueued
    /// Not attempted (``AttemptOutcome/notAttempted(reason:retryAfter:)``): tried at this Unix time with
    /// its attempt count unchanged.
    case postponed(until: Double)
    /// The target succeeded, but the state database could not record it (disk full, unwritable): the
    /// delivery stays queued, and the next run delivers it again.
    case unrecorded
}

/// One attempt of one delivery, for the log and the summary.
public struct DeliveryReport: Sendable {
    public var rule: String
    public var target: String
    public var eventID: String
    public var origin: String
    /// 1 for the first attempt; nil when no attempt was made (dead-lettered before one, or not sent).
    public var attempt: Int?
    public var attemptReport: AttemptReport?
    public var next: DeliveryNextStep
    /// For a dead letter: why it could not be appended to the target's dead-letter file (it is in
    /// the state database all the same); nil when it was, or there is no file.
    public var deadLetterFileError: DeadLetterFileError?
    /// Of the attempt's ``AttemptReport/fanOut``, how many the journal did not add because they were
    /// already queued or settled (a publish repeated after a crash).
    public var duplicatesSkipped: Int

    public init(rule: String, target: String, eventID: String, origin: String, attempt: Int?, attemptReport: AttemptReport?, next: DeliveryNextStep,
                deadLetterFileError: DeadLetterFileError? = nil, duplicatesSkipped: Int = 0) {
        self.rule = rule
        self.target = target
        self.eventID = eventID
        self.origin = origin
        self.attempt = attempt
        self.attemptReport = attemptReport
        self.next = next
        self.deadLetterFileError = deadLetterFileError
        self.duplicatesSkipped = duplicatesSkipped
    }

    /// `rule/target`.
    public var targetKey: String { DeliveryKey.target(rule: rule, target: target) }

    /// The target succeeded and that is recorded: the delivery is done.
    public var succeeded: Bool { next == .done }
}
