#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TriplineState
import TriplineTargets

/// Forgets the checkpoints of input files that are gone from the directories a run walks or watches,
/// so the state database holds checkpoints for the files present (and those gone only recently), not
/// for every file ever read.
///
/// A check (``sweep(now:)``) looks at the checkpoints under each root, page by page, and `lstat`s each
/// file. A checkpoint is only ever forgotten on proof that its file is gone:
/// - the root is a directory that can be listed now (a root that is missing, not a directory or
///   unreadable is not checked at all);
/// - `lstat` says the path does not exist (`ENOENT`, `ENOTDIR`); any other failure proves nothing;
/// - the nearest directory above the file that still exists, within the root, can be listed and is on
///   the device the file's directory was on when it was read (``Checkpoint/directoryDevice``): an
///   unmounted mount point is an empty directory of the file system below, and proves nothing;
/// - and the file was found gone by two checks at least `grace` seconds apart (the first records the
///   time in ``Checkpoint/missingSince``; a check that finds the file there again clears it). A file
///   deleted and put back within `grace` is judged by its checkpoint as before (the same bytes are not
///   read again); one put back later is read again, and its events are duplicates `--dedupe-window`
///   skips while they are recent.
///
/// Files named on the command line (not found by walking a directory) are not checked by that run. A
/// file renamed within a watched folder, in a rename the watcher sees (``FolderWatcher/onMove``), keeps
/// its checkpoint under its new name (``moved(from:to:isDirectory:)``), so it is not read again. Not
/// thread-safe: the run loop's thread.
public final class CheckpointPruner {
    /// The directories whose files' checkpoints are checked, as given (walked or watched).
    public let roots: [String]
    /// Seconds a file must have been found gone before its checkpoint is forgotten.
    public let grace: Double
    /// Seconds between checks (``sweepIfDue()``).
    public let interval: Double
    private let store: CheckpointStore
    private var nextSweep: Double?

    /// Checkpoints looked at per transaction.
    static let pageSize = 1_000

    /// What one check did.
    public struct Sweep: Sendable, Equatable {
        /// Checkpoints looked at (under a root that could be checked).
        public var checked = 0
        /// Checkpoints of files found gone for the first time (kept until `grace` passed).
        public var markedMissing = 0
        /// Checkpoints forgotten.
        public var forgotten = 0
        /// Roots not checked: missing, not a directory, or not listable.
        public var rootsSkipped: [String] = []
    }

    /// Checks checkpoints under `roots`; `interval` defaults to a quarter of `grace`, between 5 seconds and 15 minutes.
    public init(store: CheckpointStore, roots: [String], grace: Double, interval: Double? = nil) {
        self.store = store
        self.roots = roots
        self.grace = max(0, grace)
        self.interval = interval ?? min(max(grace / 4, 5), 900)
    }

    /// Runs ``sweep(now:)`` when ``interval`` has passed since the last one (at once the first time).
    @discardableResult
    public func sweepIfDue() throws(StateError) -> Sweep? {
        let now = monotonicSeconds()
        if let nextSweep, now < nextSweep { return nil }
        nextSweep = now + interval
        return try sweep()
    }

    /// Checks every checkpoint under the roots once; `now` is the wall-clock time findings record.
    @discardableResult
    public func sweep(now: Double = StateTime.now()) throws(StateError) -> Sweep {
        var sweep = Sweep()
        for root in roots {
            let trimmed = Self.trimmingSlashes(root)
            var directories: [String: DirectoryState] = [:]
            guard case .directory(_, true) = Self.state(ofDirectory: trimmed, cache: &directories) else {
                sweep.rootsSkipped.append(root)
                continue
            }
            let prefix = trimmed == "/" ? "/" : trimmed + "/"
            var after: String?
            while true {
                let page = try store.checkpoints(prefix: prefix, after: after, limit: Self.pageSize)
                guard let last = page.last else { break }
                after = last.source
                var findings: [CheckpointFinding] = []
                for checkpoint in page {
                    sweep.checked += 1
                    switch Self.presence(of: checkpoint.source, root: trimmed, recordedDevice: checkpoint.directoryDevice, cache: &directories) {
                    case .present(let device):
                        if checkpoint.missingSince != nil || (checkpoint.directoryDevice == 0 && device != 0) {
                            findings.append(.present(source: checkpoint.source, updatedAt: checkpoint.updatedAt, directoryDevice: device))
                        }
                    case .absent:
                        let since = checkpoint.missingSince ?? now
                        if now - since >= grace {
                            findings.append(.forget(source: checkpoint.source, updatedAt: checkpoint.updatedAt))
                        } else if checkpoint.missingSince == nil {
                            findings.append(.missing(source: checkpoint.source, updatedAt: checkpoint.updatedAt, since: now))
                            sweep.markedMissing += 1
                        }
                    case .unknown:
                        continue
                    }
                }
                sweep.forgotten += try store.apply(findings)
                if page.count < Self.pageSize { break }
            }
        }
        return sweep
    }

    /// A file (or, with `isDirectory`, a directory) was renamed from `source` to `destination` within a
    /// watched folder: its checkpoint (those of the files under it) follow it, so it is not read again.
    /// Another file already back under the old name keeps the old checkpoint too.
    public static func moved(from source: String, to destination: String, isDirectory: Bool, in store: CheckpointStore) throws(StateError) {
        if isDirectory {
            try store.moveAll(under: Self.trimmingSlashes(source) + "/", to: Self.trimmingSlashes(destination) + "/")
        } else {
            var info = stat()
            try store.move(from: source, to: destination, keepingSource: PathText.withCString(source, { lstat($0, &info) }) == 0)
        }
    }

    // MARK: - Checking one file

    /// Whether a checkpoint's file is there, as far as can be proved.
    enum Presence: Equatable {
        /// It is (a directory entry of any kind); `directoryDevice` is its directory's device (0: unknown).
        case present(directoryDevice: UInt64)
        /// Proved gone (see the type's rules).
        case absent
        /// Nothing can be said now (its directory cannot be read, is on another device, an I/O error…).
        case unknown
    }

    /// What a directory looked like during one check.
    enum DirectoryState: Equatable {
        case directory(device: UInt64, listable: Bool)
        /// Not there, or not a directory (so nothing below it exists either).
        case missing
        /// `stat` failed otherwise (permission, I/O): proves nothing.
        case unknown
    }

    /// Whether `path`, under the root directory `root` (no trailing slash), is there; `recordedDevice`
    /// is its directory's device when it was read (0: not known, not compared).
    static func presence(of path: String, root: String, recordedDevice: UInt64,
                         cache: inout [String: DirectoryState]) -> Presence {
        var info = stat()
        if PathText.withCString(path, { lstat($0, &info) }) == 0 {
            let device: UInt64
            if case .directory(let found, _) = state(ofDirectory: directory(of: path), cache: &cache) { device = found } else { device = 0 }
            return .present(directoryDevice: device)
        }
        guard errno == ENOENT || errno == ENOTDIR else { return .unknown }
        // The nearest directory above it that still exists (a day directory removed whole counts as
        // its files gone), but never above the root.
        var current = directory(of: path)
        while true {
            guard current == root || current.hasPrefix(root == "/" ? "/" : root + "/") else { return .unknown }
            switch state(ofDirectory: current, cache: &cache) {
            case .directory(let device, let listable):
                // A row of unknown device (written before devices were recorded) is never taken as
                // gone: its directory may be a mount point left empty. A sweep that finds its file
                // present records the device.
                guard listable, recordedDevice != 0, device == recordedDevice else { return .unknown }
                return .absent
            case .missing:
                if current == root { return .unknown }
                current = directory(of: current)
            case .unknown:
                return .unknown
            }
        }
    }

    /// What `path` is as a directory (through symbolic links: a root may be a link to its directory),
    /// looked at once per check.
    static func state(ofDirectory path: String, cache: inout [String: DirectoryState]) -> DirectoryState {
        if let known = cache[path] { return known }
        let found: DirectoryState
        var info = stat()
        if PathText.withCString(path, { stat($0, &info) }) != 0 {
            found = errno == ENOENT || errno == ENOTDIR ? .missing : .unknown
        } else if (info.st_mode & S_IFMT) != S_IFDIR {
            found = .missing
        } else if let handle = PathText.withCString(path, { opendir($0) }) {
            // Listable: a directory whose entries can be read, so an absent name is really absent.
            closedir(handle)
            found = .directory(device: UInt64(info.st_dev), listable: true)
        } else {
            found = .directory(device: UInt64(info.st_dev), listable: false)
        }
        cache[path] = found
        return found
    }

    /// The device of the directory `path`, or nil when it cannot be looked at.
    static func device(ofDirectory path: String) -> UInt64? {
        var info = stat()
        guard PathText.withCString(path, { stat($0, &info) }) == 0 else { return nil }
        return UInt64(info.st_dev)
    }

    /// The directory part of `path` (`.` for a bare name, `/` for a name at the top).
    static func directory(of path: String) -> String {
        let trimmed = trimmingSlashes(path)
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        let head = trimmingSlashes(String(trimmed[..<slash]))
        return head.isEmpty ? "/" : head
    }

    /// `path` without trailing slashes (`/` stays).
    static func trimmingSlashes(_ path: String) -> String {
        var result = Substring(path)
        while result.count > 1, result.hasSuffix("/") { result = result.dropLast() }
        return String(result)
    }
}
