import Foundation
import TriplineJSON
import TriplineState

/// `tripline status`: what a state directory holds: queued deliveries, retries, dead letters, checkpoints.
///
/// Reads without taking the directory's lock, so it works next to a running `tripline run`.
enum StatusCommand: Command {
    static let spec = CommandSpec(
        name: "status",
        summary: "Show queued deliveries, scheduled retries and dead letters per target",
        synopses: ["status [--state-dir DIR] [--rules DIR] [--json]"],
        options: [
            OptionSpec(name: "state-dir", valueName: "DIR", help: "The state directory (default: .tripline beside the rules)."),
            OptionSpec(name: "rules", valueName: "DIR", help: "Where the rules are (only to find the default state directory)."),
            OptionSpec(name: "json", valueName: nil, help: "One JSON object."),
        ],
        positionals: nil,
        discussion: """
            Per rule/target: deliveries queued, how many of them wait for a retry (and when the next is
            due), and dead letters. The blocking circuit breaker: automatic blocks in its window, its
            limit and whether it is open, as of the limits (--max-blocks, --block-window) of the run
            that last counted a block. Also the input files recorded as read (checkpoints) and how many of
            them a check found gone (forgotten after run --forget-missing; --json: "filesGone"), and whether a
            'tripline run' is using the directory right now (--json: "running" is its pid, or null).

            Exit status: 0 when the state was shown; 2 when the state directory cannot be read (it does
            not exist, nothing has run with it, or a newer tripline wrote it).
            """)

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        let directory = arguments.value("state-dir") ?? StateDirectory.defaultPath(rules: arguments.value("rules") ?? "Rules")
        return DeadLetterCommand.withStore(directory, access: .readOnly, command: spec.name, context: context) { (store) throws(StateError) -> Int32 in
            let queues = try DeliveryJournal(store: store).summary()
            let letters = try DeadLetterStore(store: store).counts()
            let files = try CheckpointStore(store: store).counts()
            let gone = try CheckpointStore(store: store).missingCount()
            let breaker = try Blocklist(store: store).savedBreakerState()
            let holder = lockHolder(directory)
            var keys: [String] = []
            for queue in queues where !keys.contains(queue.rule + "/" + queue.target) { keys.append(queue.rule + "/" + queue.target) }
            for letter in letters where !keys.contains(letter.rule + "/" + letter.target) { keys.append(letter.rule + "/" + letter.target) }
            keys.sort()
            let now = StateTime.now()

            if arguments.has("json") {
                let targets: [JSONValue] = keys.map { key in
                    let queue = queues.first { $0.rule + "/" + $0.target == key }
                    let letter = letters.first { $0.rule + "/" + $0.target == key }
                    let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
                    return .object(JSONObject([
                        JSONMember(key: "rule", value: .string(parts[0])),
                        JSONMember(key: "target", value: .string(parts.count > 1 ? parts[1] : "")),
                        JSONMember(key: "pending", value: .number(JSONNumber(queue?.pending ?? 0))),
                        JSONMember(key: "retrying", value: .number(JSONNumber(queue?.retrying ?? 0))),
                        JSONMember(key: "nextAttemptAt", value: queue.map { .string(StateTime.iso8601($0.nextAttemptAt)) } ?? .null),
                        JSONMember(key: "deadLetters", value: .number(JSONNumber(letter?.count ?? 0))),
                    ]))
                }
                let object = JSONObject([
                    JSONMember(key: "stateDir", value: .string(directory)),
                    JSONMember(key: "running", value: runningPID(directory, holder: holder)),
                    JSONMember(key: "pending", value: .number(JSONNumber(queues.reduce(0) { $0 + $1.pending }))),
                    JSONMember(key: "retrying", value: .number(JSONNumber(queues.reduce(0) { $0 + $1.retrying }))),
                    JSONMember(key: "deadLetters", value: .number(JSONNumber(letters.reduce(0) { $0 + $1.count }))),
                    JSONMember(key: "filesRead", value: .number(JSONNumber(files.complete))),
                    JSONMember(key: "filesPartlyRead", value: .number(JSONNumber(files.partial))),
                    JSONMember(key: "filesGone", value: .number(JSONNumber(gone))),
                    JSONMember(key: "targets", value: .array(targets)),
                    JSONMember(key: "circuitBreaker", value: BreakerReport.json(breaker, now: now)),
                ])
                context.output.line(JSONWriter.string(.object(object)))
                return ExitStatus.success
            }

            context.output.line("State directory \(directory)" + (holder.map { " (in use by a tripline run, \($0))" } ?? ""))
            context.output.line("  deliveries queued: \(queues.reduce(0) { $0 + $1.pending }) "
                                + "(\(queues.reduce(0) { $0 + $1.retrying }) waiting to retry); dead letters: \(letters.reduce(0) { $0 + $1.count })")
            context.output.line("  input files read: \(files.complete)" + (files.partial > 0 ? " (\(files.partial) part-way)" : "")
                                + (gone > 0 ? "; \(gone) of them found gone (their checkpoints are forgotten after --forget-missing)" : ""))
            if let line = BreakerReport.line(breaker, now: now, always: true) { context.output.line("  " + line) }
            if !keys.isEmpty {
                let width = max(6, keys.map(\.count).max() ?? 0)
                context.output.line("  " + "TARGET".padding(toLength: width, withPad: " ", startingAt: 0) + "  QUEUED  RETRYING  NEXT ATTEMPT               DEAD LETTERS")
                for key in keys {
                    let queue = queues.first { $0.rule + "/" + $0.target == key }
                    let letter = letters.first { $0.rule + "/" + $0.target == key }
                    var next = "-"
                    if let queue { next = queue.nextAttemptAt <= now ? "now" : StateTime.iso8601(queue.nextAttemptAt) }
                    context.output.line("  " + key.padding(toLength: width, withPad: " ", startingAt: 0)
                                        + "  " + String(queue?.pending ?? 0).leftPadded(6)
                                        + "  " + String(queue?.retrying ?? 0).leftPadded(8)
                                        + "  " + next.padding(toLength: max(24, next.count), withPad: " ", startingAt: 0)
                                        + "  " + String(letter?.count ?? 0).leftPadded(12))
                }
            }
            return ExitStatus.success
        }
    }

    /// The pid of the process using the directory as a JSON number; `true` when one holds it whose
    /// pid is not known; null when none does.
    static func runningPID(_ directory: String, holder: String?) -> JSONValue {
        guard let holder else { return .null }
        if holder.hasPrefix("pid "), let pid = Int(holder.dropFirst(4)) { return .number(JSONNumber(pid)) }
        return .bool(true)
    }

    /// "pid N" when a process holds the directory's lock, else nil.
    static func lockHolder(_ directory: String) -> String? {
        let path = (directory as NSString).appendingPathComponent(StateStore.lockName)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        let pid = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return pid.isEmpty ? "running" : "pid \(pid)"
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
