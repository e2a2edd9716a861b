import TriplineJSON
import TriplineRouter
import TriplineState
import TriplineTargets

/// What `tripline status` and `tripline blocklist list` say about the blocking circuit breaker:
/// automatic blocks in the current window, the limit, and whether it is open.
///
/// The limit and window are `run` options (`--max-blocks`, `--block-window`); a run saves them with
/// the breaker's state when it counts or refuses a block, so the report is as of the last run's
/// limits. State saved before they were kept shows what is known and says so.
enum BreakerReport {
    /// One line; nil when nothing was ever saved and `always` is false.
    static func line(_ saved: (state: BlockBreakerState, updatedAt: Double)?, now: Double, always: Bool) -> String? {
        guard let (state, updatedAt) = saved else {
            guard always else { return nil }
            return "circuit breaker: no automatic block counted yet (limit: tripline run --max-blocks, default "
                + "\(BlockUserExecutor.Settings.defaultMaxBlocks), per --block-window, default \(Int(BlockUserExecutor.Settings.defaultWindowSeconds)) s)"
        }
        guard let limit = state.maxBlocks, let window = state.windowSeconds, let count = state.blocksInWindow(now: now) else {
            let last = state.recentBlocks.max().map { ", the last at " + StateTime.iso8601($0) } ?? ""
            return "circuit breaker: \(state.recentBlocks.count) automatic block\(state.recentBlocks.count == 1 ? "" : "s") recorded\(last)"
                + (state.isTripped ? "; it was open when last saved (" + StateTime.iso8601(updatedAt) + ")" : "")
                + "; its limit and window are tripline run options (--max-blocks, --block-window) and were not recorded, "
                + "so whether it is open now is not known"
        }
        let within = "\(count) of \(limit) automatic block\(limit == 1 ? "" : "s") in the last \(AlertContext.durationPhrase(seconds: window))"
        if state.isOpen(now: now) == true {
            let reopens = state.reopensAt(now: now).map { "; blocking resumes at " + StateTime.iso8601($0) } ?? ""
            return "circuit breaker: OPEN, automatic blocking stopped: " + within + reopens
        }
        return "circuit breaker: closed, " + within
    }

    /// The same as JSON: `{"recorded", "blocksInWindow", "limit", "windowSeconds", "open", "resumesAt", "updatedAt"}`,
    /// unknown parts null.
    static func json(_ saved: (state: BlockBreakerState, updatedAt: Double)?, now: Double) -> JSONValue {
        let state = saved?.state
        return .object(JSONObject([
            JSONMember(key: "recorded", value: .bool(saved != nil)),
            JSONMember(key: "blocksInWindow", value: state?.blocksInWindow(now: now).map { .number(JSONNumber($0)) } ?? .null),
            JSONMember(key: "limit", value: state?.maxBlocks.map { .number(JSONNumber($0)) } ?? .null),
            JSONMember(key: "windowSeconds", value: state?.windowSeconds.map { .number(JSONNumber($0)) } ?? .null),
            JSONMember(key: "open", value: state?.isOpen(now: now).map(JSONValue.bool) ?? (saved == nil ? .bool(false) : .null)),
            JSONMember(key: "resumesAt", value: state?.reopensAt(now: now).map { .string(StateTime.iso8601($0)) } ?? .null),
            JSONMember(key: "updatedAt", value: saved.map { .string(StateTime.iso8601($0.updatedAt)) } ?? .null),
        ]))
    }
}
