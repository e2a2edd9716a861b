import Foundation
import TriplineState
import TriplineTargets

/// Deliveries and checkpoints read since the last commit; committed together in one transaction.
final class AcceptBatch {
    private let journal: DeliveryJournal
    private let dispatcher: DeliveryDispatcher
    private let limit: Int
    private let gates: AlertGates?
    private let lock: NSLock
    private let tally: DeliveryTally?
    private var deliveries: [NewDelivery] = []
    private var checkpoints: [String: Checkpoint] = [:]
    /// Outbox rows routed since the last commit: deleted in the commit's transaction.
    private var outboxIDs: [Int64] = []
    private var since: Double?
    /// The run's stop signal: a requested stop ends a wait for room in the queue.
    var stop: StopSignal?
    /// The command its notes name (`run`, `dlq`).
    var command = "run"
    /// Told, after a commit, which of the committed deliveries the journal skipped as copies (by index).
    var onCommitted: ((_ deliveries: [NewDelivery], _ skipped: [Int]) -> Void)?
    /// The file last checkpointed, as last looked at (refreshed at most once a second while it is read).
    private var identity: (file: SourceFile, extent: Int64, modificationTime: Double, fingerprint: FileFingerprint, checkedAt: Double)?

    init(journal: DeliveryJournal, dispatcher: DeliveryDispatcher, limit: Int, gates: AlertGates?, lock: NSLock = NSLock(),
         tally: DeliveryTally? = nil) {
        self.lock = lock
        self.tally = tally
        self.journal = journal
        self.dispatcher = dispatcher
        self.limit = limit
        self.gates = gates
    }

    /// Marks the batch as holding a change (alert-gate state) even without deliveries.
    func touch() {
        if since == nil { since = monotonicSeconds() }
    }

    /// Records that the outbox row `id` was routed (its deliveries, if any, added before): the commit
    /// deletes it together with accepting them.
    func takeOutbox(_ id: Int64) {
        if since == nil { since = monotonicSeconds() }
        outboxIDs.append(id)
    }

    func add(_ delivery: NewDelivery) {
        if since == nil { since = monotonicSeconds() }
        deliveries.append(delivery)
    }

    /// Records that the first `items` of `file` are handled (as of the deliveries added so far), and
    /// with `ending` how reading it ended (nil while it is being read).
    ///
    /// The checkpoint's extent is what the readers took from the open file (its whole size for a file
    /// an error stopped early), with the fingerprint of the bytes they took: a later run resumes only
    /// while the file still starts with those bytes. It is complete once the file was read to its end without an
    /// incomplete item there. Looked at again at most once a second while a file is read (one `fstat`,
    /// and at most 128 KiB read when the extent moved), and always at its end.
    func checkpoint(file: SourceFile, items: Int, ending: SourceEnd? = nil) {
        let now = monotonicSeconds()
        if identity == nil || identity!.file !== file || now - identity!.checkedAt > 1 || ending != nil {
            guard let status = file.status() else { return }
            // How far the readers read, even past the end of a file cut shorter meanwhile (a `cp` over
            // it): the fingerprint of those bytes then matches nothing, and the next read starts over.
            let extent = ending == .stopped ? status.size : file.bytesRead
            let fingerprint: FileFingerprint
            if let known = identity, known.file === file, known.extent == extent {
                fingerprint = known.fingerprint
            } else {
                guard let found = file.fingerprint(extent: extent) else { return }
                fingerprint = found
            }
            identity = (file, extent, status.modificationTime, fingerprint, now)
        }
        let identity = self.identity!
        // A file read as far as it goes is not looked at again: do not hold it open.
        if ending != nil { self.identity = nil }
        if since == nil { since = monotonicSeconds() }
        let complete = ending != nil && ending != .incomplete
        checkpoints[file.path] = Checkpoint(source: file.path, size: identity.extent, modificationTime: identity.modificationTime,
                                            fingerprint: identity.fingerprint.hex, items: items, complete: complete, updatedAt: StateTime.now(),
                                            directoryDevice: file.directoryDevice)
    }

    /// Whether the batch is full or has waited long enough.
    func isDue(interval: Double) -> Bool {
        guard let since else { return false }
        return deliveries.count >= limit || monotonicSeconds() - since >= (deliveries.isEmpty ? 1 : interval)
    }

    /// Commits the batch, then hands its new deliveries to the dispatcher. On a state error nothing
    /// of the batch counts as accepted (its input is read again by the next run) and `failure` is set.
    func commit(failure: StateFailure, log: DeliveryLog) {
        guard since != nil, !failure.failed else { return }
        let pending = deliveries
        let marks = Array(checkpoints.values)
        let routed = outboxIDs
        deliveries.removeAll(keepingCapacity: true)
        checkpoints.removeAll(keepingCapacity: true)
        outboxIDs.removeAll()
        since = nil
        // Wait for room before taking the lock: a topic publish on a worker needs the lock to finish,
        // and the workers are what make room.
        dispatcher.waitForRoom(giveUp: { stop?.isRequested ?? false })
        lock.lock()
        defer { lock.unlock() }
        do {
            let gates = self.gates
            var skipped: [Int] = []
            let queued = try journal.acceptStored(pending, checkpoints: marks, alongside: { (store) throws(StateError) in
                try gates?.save(store)
                try BusOutbox.remove(ids: routed, store: store)
            }, skipped: { skipped.append($0) })
            tally?.countDuplicates(pending.count - queued.count)
            // Which pending blocks a report will settle, and which never get one (copies).
            onCommitted?(pending, skipped)
            dispatcher.enqueue(stored: queued, waitingForRoom: false)
        } catch {
            if failure.record(error) {
                log.note("tripline \(command): cannot accept \(pending.count) deliver\(pending.count == 1 ? "y" : "ies"): \(error); "
                         + "stopping: the input from the last checkpoint on is read again by the next run")
            }
        }
    }
}
