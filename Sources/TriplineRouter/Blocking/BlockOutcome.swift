import TriplineJSON
import TriplineState
import TriplineTargets

/// What one `BlockUser` delivery (or a block by hand) did, and the events to emit about it.
public struct BlockOutcome: Sendable {
    /// The result.
    public enum Result: Sendable, Equatable {
        /// The principal is on the blocklist and the handler applied the block now (printed it, in a
        /// dry run); or, without a handler, the entry was recorded.
        case blocked(BlockEntry)
        /// The principal was already blocked and enforced: nothing was run or emitted.
        case alreadyBlocked(BlockEntry)
        /// The principal was already blocked until `previousExpiry`; the new block lasts longer, so
        /// the entry now expires at its `expiresAt` (nil: never). Nothing was run or emitted.
        case extended(BlockEntry, previousExpiry: Double?)
        /// No block, by design (root, AWS service, protected principal, open circuit breaker, …).
        case refused(BlockRefusal)
        /// The handler (or the state database) failed. The entry stays on the blocklist marked
        /// `failed`, so a retry of the same delivery runs the handler again. `retryable` is false
        /// when a retry cannot help (the handler cannot be started, or exited 65).
        case failed(entry: BlockEntry?, error: String, retryable: Bool)
    }

    public var result: Result
    /// The handler run, when there was one.
    public var handler: FunctionOutcome?
    /// Events to put back on the bus (`User Blocked` / `User Block Refused`); empty for a no-op or a failure.
    public var events: [JSONValue]
    /// This refusal opened the circuit breaker: automatic blocking has stopped; alert loudly.
    public var breakerOpened: Bool

    public init(result: Result, handler: FunctionOutcome? = nil, events: [JSONValue] = [], breakerOpened: Bool = false) {
        self.result = result
        self.handler = handler
        self.events = events
        self.breakerOpened = breakerOpened
    }

    /// True unless the delivery should be retried or dead-lettered: blocked, already blocked and
    /// refused are all done.
    public var succeeded: Bool {
        if case .failed = result { return false }
        return true
    }

    /// One line for the log: `blocked IAM user alice until …`, `refused: …`, `failed: exit status 3 …`.
    public var summary: String {
        switch result {
        case .blocked(let entry):
            let until = entry.expiresAt.map { " until " + StateTime.iso8601($0) } ?? " until removed"
            let how = handler.map { "; handler " + $0.summary } ?? "; no handler run"
            return (entry.dryRun ? "dry run: would block " : "blocked ") + entry.key + until + how
        case .alreadyBlocked(let entry):
            return "already blocked: \(entry.key) (since \(StateTime.iso8601(entry.addedAt)), by \(entry.addedBy))"
        case .extended(let entry, let previous):
            let until = entry.expiresAt.map { "to " + StateTime.iso8601($0) } ?? "to never (until removed)"
            return "\(entry.key) already blocked; expiry extended \(until)" + (previous.map { " (was " + StateTime.iso8601($0) + ")" } ?? "")
        case .refused(let refusal):
            if breakerOpened, case .circuitOpen(let count, let limit, let window) = refusal {
                return "CIRCUIT BREAKER OPEN, automatic blocking stopped: \(count) blocks in the last "
                    + "\(AlertContext.durationPhrase(seconds: window)) reached the limit of \(limit), until the window passes"
            }
            return (breakerOpened ? "CIRCUIT BREAKER OPEN, automatic blocking stopped: " : "refused: ") + refusal.description
        case .failed(let entry, let error, _):
            return "block" + (entry.map { " of " + $0.key } ?? "") + " failed: " + error
        }
    }
}

/// What lifting one block did (expiry, or removal by hand), and the event to emit about it.
public struct UnblockOutcome: Sendable {
    /// The entry as it was before it was lifted.
    public var entry: BlockEntry
    /// True when the entry left the blocklist.
    public var removed: Bool
    /// The handler run of the unblock path, when there was one.
    public var handler: FunctionOutcome?
    /// Why the unblock path failed; the entry then stays, and the next expiry pass tries again.
    public var error: String?
    /// The `User Unblocked` event, or `User Unblock Failed` when the entry stayed.
    public var events: [JSONValue]
    /// The entry was only forgotten (`blocklist remove --keep-enforcement`): no unblock path ran, and
    /// what its handler applied stays in AWS.
    public var keptEnforcement: Bool

    public init(entry: BlockEntry, removed: Bool, handler: FunctionOutcome? = nil, error: String? = nil, keptEnforcement: Bool = false,
                events: [JSONValue] = []) {
        self.entry = entry
        self.removed = removed
        self.handler = handler
        self.error = error
        self.keptEnforcement = keptEnforcement
        self.events = events
    }

    /// One line for the log: what was lifted, and how.
    public var summary: String {
        if let error, !removed { return "unblock of \(entry.key) failed (it stays on the blocklist): \(error)" }
        if keptEnforcement {
            return "removed \(entry.key) from the blocklist, enforcement kept: the unblock path of \(entry.enforce ?? "its handler") did not run, "
                + "so what it applied (deny policy, deactivated keys) stays in AWS until lifted by hand"
        }
        var text = (entry.dryRun ? "dry run: unblocked " : "unblocked ") + entry.key
        if let handler { text += "; unblock path ran, handler " + handler.summary }
        else if error == nil { text += entry.enforcement == .recorded ? "; only recorded, nothing to lift" : "; no handler to lift it" }
        if let error { text += "; the unblock path failed but the block was never applied: " + error }
        return text
    }
}
