#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `--follow DIR`: hands out the input files already in a directory tree, then each new one as it lands.
///
/// Uses inotify on the directory and every subdirectory (new subdirectories are watched as they
/// appear): a file is ready when it is closed after writing (`IN_CLOSE_WRITE`) or moved in
/// (`IN_MOVED_TO`), which is how CloudTrail-to-disk sync tools and `mv` deliver, and a symbolic link
/// to a file or a hard link to an existing file (a regular file with more than one link) is ready as
/// soon as it is created (`IN_CREATE`: no write follows); a dangling link is reported, and read once
/// its target is a file (looked at each second, as a target elsewhere raises no event). Watches are set up
/// before the existing files are listed, so nothing that arrives in between is missed; a file is handed
/// out again only if it changed (inode, size or modification time), and an empty file not at all
/// (nothing to read yet: a file being created is empty until its first write). Names are filtered as in
/// ``DirectoryWalker``, and a name that is not valid UTF-8 is handed out as its ``PathText``
/// (`caf\xE9.json`), like any other. ``nextFile()`` blocks until a file is ready or the
/// ``StopSignal`` fires. Not thread-safe: one consumer.
///
/// The watch is on the directory the root path named when it was set up, so the root is checked: at
/// once when its watch reports it moved, deleted or unmounted, and each second anyway (a parent
/// renamed or a symbolic link pointed elsewhere raises no event on it). Once the path no longer names
/// that directory, every watch is dropped (the old directory's files are not reported under the root's
/// path, where they are not), a note says so (``InputError/followedFolder(path:change:)``), and as
/// soon as a directory is at the path again it is watched afresh and its files are handed out.
public final class FolderWatcher {
    /// The watched root as given.
    public let root: String
    private let stop: StopSignal
    private let inotify: Int32
    private var directories: [Int32: String] = [:]
    private var ready: [String] = []
    private var readyIndex = 0
    /// What each handed-out file looked like, so a repeated event for an unchanged file is ignored.
    private var seen: [String: FileStamp] = [:]
    private var errors: [InputError] = []
    /// Links reported dangling: looked at again each second, and read once their target is a file
    /// (a target outside the watched tree raises no event when it appears).
    private var dangling: Set<String> = []
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    /// What left a watched directory by a rename whose other half has not been seen, by the rename's
    /// cookie: paired with the `IN_MOVED_TO` of the same rename, or with the same file or directory
    /// found by a new directory's listing (see ``pairUnpairedRenames(now:)``); dropped once
    /// ``unpairedRenameLifetime`` has passed (it left the tree).
    private var movedOut: [UInt32: MovedOut] = [:]
    /// The files that listings of newly watched directories queued since the last pairing: one may be
    /// a file renamed into the directory before it was watched, whose `IN_MOVED_TO` was never raised.
    private var newlyListed: [String] = []
    /// Directories watched again under another path than their watch had (the same directory, by
    /// its watch descriptor, renamed): old path to new, since the last pairing.
    private var relocatedDirectories: [String: String] = [:]
    /// The watch on the root, while there is one.
    private var rootWatch: Int32?
    /// The directory the root named when it was last watched (or found unwatchable); nil while no
    /// directory is at the root path.
    private var rootIdentity: FileIdentity?
    /// Whether the root was watched at some point (so a directory appearing at its path is noted).
    private var rootWasWatchedBefore = false
    /// Whether watching ``rootIdentity`` failed (reported once, not tried again until it changes).
    private var rootUnwatchable = false
    /// When the root is to be checked next (monotonic seconds).
    private var nextRootCheck = 0.0

    private struct FileIdentity: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private struct FileStamp: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modifiedSeconds: Int
        var modifiedNanoseconds: Int
    }

    /// A name that left a watched directory by a rename (`IN_MOVED_FROM`) not yet paired with its new one.
    private struct MovedOut {
        var path: String
        var isDirectory: Bool
        /// The file's device and inode when it was handed out (nil for a directory, or a file not handed
        /// out under this name): what tells it under a new name that no `IN_MOVED_TO` reported.
        var identity: FileIdentity?
        /// When it is dropped unpaired (monotonic seconds).
        var expires: Double
    }

    /// How long an unpaired `IN_MOVED_FROM` is kept (seconds). Both halves of a rename within the tree
    /// are queued before the rename returns, so they are normally read in the same drain; keeping it a
    /// little longer costs nothing and also pairs an `IN_MOVED_TO` read in the next one.
    static let unpairedRenameLifetime = 2.0

    private static let fileEvents = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO)
    private static let directoryEvents = UInt32(IN_CREATE) | UInt32(IN_MOVED_TO)
    /// A file left the folder: what is remembered about it goes, so a long `--follow` over a folder
    /// whose files are rotated away holds state for the files present, not for every file ever seen.
    private static let leaveEvents = UInt32(IN_DELETE) | UInt32(IN_MOVED_FROM)
    /// The watched directory itself went (on the root's watch: the root path may name another directory
    /// now). Its file system unmounted (`IN_UNMOUNT`, followed by `IN_IGNORED`) is reported without asking.
    private static let selfEvents = UInt32(IN_MOVE_SELF) | UInt32(IN_DELETE_SELF)

    /// Starts watching `directory`; the first calls to ``nextFile()`` return the files already there.
    public init(directory: String, stop: StopSignal) throws(InputError) {
        guard case .directory = FileKind.of(directory) else {
            throw .notFound(path: directory, reason: "not a directory (--follow needs one)")
        }
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else {
            throw .file(.cannotOpen(path: directory, reason: "inotify_init1: " + String(cString: strerror(errno))))
        }
        root = directory
        self.stop = stop
        inotify = fd
        checkRoot()
    }

    deinit {
        _ = Glibc.close(inotify)
    }

    /// Called about once a second while waiting for new files (the run's housekeeping: events its
    /// targets emitted, expired blocks, committing what was accepted).
    public var onWait: (() -> Void)?
    /// Asked after each ``onWait``: true ends the watch (``nextFile()`` returns nil), because the run
    /// cannot go on (its state database failed).
    public var shouldEnd: (() -> Bool)?
    /// Told when a file or directory was renamed within the watched tree, before the file under its
    /// new name is handed out: its checkpoint can follow it, so the same bytes are not read again. A
    /// rename is seen as its `IN_MOVED_FROM` and `IN_MOVED_TO`; one into a directory made just before
    /// (not yet watched, so it raised no `IN_MOVED_TO`) as its `IN_MOVED_FROM` and the same file or
    /// directory found by the new directory's listing (``pairUnpairedRenames(now:)``). Only files with
    /// an input's name are reported (a rename from or to another name is a file leaving or arriving),
    /// and only renames this watcher sees: not those made while no run watched, nor those lost when
    /// the inotify queue overflows.
    public var onMove: ((_ from: String, _ to: String, _ isDirectory: Bool) -> Void)?
    static let waitTickMilliseconds = 1000

    /// Number of directories being watched.
    public var watchedDirectories: Int { directories.count }
    /// How many files the watcher remembers as handed out (those still in the folder).
    var rememberedFiles: Int { seen.count }

    /// The next file to read, a problem worth reporting (an unreadable subdirectory), or nil once a stop
    /// was requested.
    public func nextFile() -> Result<String, InputError>? {
        while true {
            if stop.isRequested { return nil }
            if !errors.isEmpty { return .failure(errors.removeFirst()) }
            while readyIndex < ready.count {
                let path = ready[readyIndex]
                readyIndex += 1
                if take(path) { return .success(path) }
            }
            ready.removeAll(keepingCapacity: true)
            readyIndex = 0
            waitForEvents()
            if shouldEnd?() == true { return nil }
        }
    }

    // MARK: - Private

    /// Blocks until inotify or the stop pipe is readable, then queues what inotify reported; checks the
    /// root at most a second apart, whether events keep arriving or not.
    private func waitForEvents() {
        defer {
            if Self.monotonicSeconds() >= nextRootCheck { checkRoot() }
        }
        var fds = [pollfd(fd: inotify, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: stop.descriptor, events: Int16(POLLIN), revents: 0)]
        let n = poll(&fds, nfds_t(fds.count), Int32(Self.waitTickMilliseconds))
        if n == 0 {
            recheckDangling()
            onWait?()
            return
        }
        if n < 0 { return }  // EINTR: the caller loops
        guard (fds[0].revents & Int16(POLLIN)) != 0 else { return }
        drainEvents()
    }

    /// Watches the directory at the root path afresh if it is not the one watched (see the type's
    /// documentation), noting the change; drops every watch while no directory is there.
    private func checkRoot() {
        nextRootCheck = Self.monotonicSeconds() + Double(Self.waitTickMilliseconds) / 1000
        var info = stat()
        let current = PathText.withCString(root, { stat($0, &info) }) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
            ? FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)) : nil
        if current != nil, current == rootIdentity, rootWatch != nil || rootUnwatchable { return }
        let wasFollowing = rootIdentity != nil
        if wasFollowing || !directories.isEmpty { unwatchAll() }
        guard let current else {
            if wasFollowing { errors.append(.followedFolder(path: root, change: .gone)) }
            return
        }
        if wasFollowing || rootWasWatchedBefore {
            errors.append(.followedFolder(path: root, change: wasFollowing ? .replaced : .reappeared))
        }
        rootWasWatchedBefore = true
        rootIdentity = current
        rootWatch = watchTree(root, listFiles: true)
        rootUnwatchable = rootWatch == nil
        newlyListed.removeAll()  // the whole folder listed: not a new directory inside it
    }

    /// Drops every watch and what is remembered about the files under them: the root path no longer
    /// names the directory they are on.
    private func unwatchAll() {
        for wd in directories.keys { _ = inotify_rm_watch(inotify, wd) }
        directories.removeAll()
        seen.removeAll()
        dangling.removeAll()
        movedOut.removeAll()
        newlyListed.removeAll()
        relocatedDirectories.removeAll()
        ready.removeAll(keepingCapacity: true)
        readyIndex = 0
        rootWatch = nil
        rootIdentity = nil
        rootUnwatchable = false
    }

    private static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1_000_000_000
    }

    private func drainEvents() {
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in read(inotify, raw.baseAddress!, raw.count) }
            if count <= 0 {  // EAGAIN: drained
                pairUnpairedRenames(now: Self.monotonicSeconds())
                return
            }
            var offset = 0
            let headerSize = 16  // wd, mask, cookie, len
            while offset + headerSize <= count {
                let (wd, mask, cookie, nameLength) = buffer.withUnsafeBytes { raw in
                    (raw.loadUnaligned(fromByteOffset: offset, as: Int32.self),
                     raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                     raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self),
                     Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)))
                }
                let nameBytes = buffer[(offset + headerSize)..<min(count, offset + headerSize + nameLength)]
                // inotify gives the name's raw bytes: its PathText names the file even when it is not UTF-8.
                let name = PathText.text(ofName: nameBytes.prefix { $0 != 0 })
                offset += headerSize + nameLength
                handle(wd: wd, mask: mask, cookie: cookie, name: name)
            }
        }
    }

    private func handle(wd: Int32, mask: UInt32, cookie: UInt32, name: String) {
        if mask & UInt32(IN_Q_OVERFLOW) != 0 {
            // Events were lost: rescan everything; unchanged files are skipped by `take`, renamed ones
            // cannot be paired any more, which the note says.
            errors.append(.followedFolder(path: root, change: .eventsLost))
            checkRoot()
            if rootWatch != nil { watchTree(root, listFiles: true) }
            newlyListed.removeAll()
            return
        }
        if wd == rootWatch, mask & (Self.selfEvents | UInt32(IN_UNMOUNT) | UInt32(IN_IGNORED)) != 0 {
            // The root itself moved, was deleted or unmounted: whatever is at its path now is another
            // directory (or none), and the events still queued for the old one name paths it is not at.
            // Moved: it may be back by now (the same directory: its watches hold). Otherwise its watch is
            // gone, and a directory now at the path is another one even if it got the same inode number.
            if mask & UInt32(IN_MOVE_SELF) == 0 { rootWatch = nil }
            checkRoot()
            return
        }
        if mask & UInt32(IN_IGNORED) != 0 {
            directories[wd] = nil
            return
        }
        guard let directory = directories[wd], !name.isEmpty, !name.hasPrefix(".") else { return }
        let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        let isDirectory = mask & UInt32(IN_ISDIR) != 0
        if mask & UInt32(IN_MOVED_FROM) != 0, isDirectory || DirectoryWalker.accepts(name: name) {
            let identity = seen[path].map { FileIdentity(device: $0.device, inode: $0.inode) }
            movedOut[cookie] = MovedOut(path: path, isDirectory: isDirectory, identity: isDirectory ? nil : identity,
                                        expires: Self.monotonicSeconds() + Self.unpairedRenameLifetime)
        } else if mask & UInt32(IN_MOVED_TO) != 0, let from = movedOut.removeValue(forKey: cookie), from.isDirectory == isDirectory,
                  isDirectory || DirectoryWalker.accepts(name: name) {
            onMove?(from.path, path, isDirectory)
        }
        if isDirectory {
            if mask & Self.directoryEvents != 0 { watchTree(path, listFiles: true) }
            if mask & UInt32(IN_MOVED_FROM) != 0 { forgetTree(path) }
        } else if mask & Self.leaveEvents != 0 {
            seen[path] = nil
            dangling.remove(path)
        } else if DirectoryWalker.accepts(name: name) {
            if mask & Self.fileEvents != 0 {
                ready.append(path)
            } else if mask & UInt32(IN_CREATE) != 0 {
                created(path)
            }
        }
    }

    /// A new directory entry that is not a directory: a link is ready now (nothing will write it
    /// here), a regular file with one link is being written (ready when closed).
    private func created(_ path: String) {
        var info = stat()
        guard PathText.withCString(path, { lstat($0, &info) }) == 0 else { return }  // gone already
        switch info.st_mode & S_IFMT {
        case S_IFLNK:
            switch FileKind.of(path, followLinks: false) {
            case .regularFile: ready.append(path)
            case .danglingLink(let reason):
                errors.append(.notFound(path: path, reason: reason))
                dangling.insert(path)
            case .directory, .special, .other, .missing: break  // links to directories are not followed, as in a walk
            }
        case S_IFREG where info.st_nlink > 1:
            ready.append(path)
        default:
            break
        }
    }

    /// Watches `directory` and every subdirectory; with `listFiles`, queues the files already there
    /// (sorted, as ``DirectoryWalker`` walks). Returns the watch on `directory`, nil if it cannot be watched.
    @discardableResult
    private func watchTree(_ directory: String, listFiles: Bool) -> Int32? {
        let wd = PathText.withCString(directory) {
            inotify_add_watch(inotify, $0, Self.fileEvents | Self.directoryEvents | Self.leaveEvents | Self.selfEvents | UInt32(IN_ONLYDIR))
        }
        if wd < 0 {
            errors.append(.file(.cannotOpen(path: directory, reason: "cannot watch: " + String(cString: strerror(errno)))))
            return nil
        }
        if let previous = directories[wd], previous != directory {
            // inotify gives a directory one watch whatever its path: this one was at `previous`.
            relocatedDirectories[previous] = directory
        }
        directories[wd] = directory
        let walker = DirectoryWalker(root: directory)
        // The walker visits subdirectories as it goes; watch each one it enters.
        switch DirectoryWalker.list(directory) {
        case .success(let names):
            for name in names where !name.hasPrefix(".") {
                let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
                if case .directory = FileKind.of(path, followLinks: false) { watchTree(path, listFiles: false) }
            }
        case .failure(let error):
            errors.append(error)
            return wd
        }
        guard listFiles else { return wd }
        while let item = walker.next() {
            switch item {
            case .success(let path):
                ready.append(path)
                newlyListed.append(path)
            case .failure(let error):
                errors.append(error)
                if case .danglingLink = FileKind.of(error.path, followLinks: false) { dangling.insert(error.path) }
            }
        }
        return wd
    }

    /// Pairs the renames whose `IN_MOVED_TO` was never raised with the new names listings found, and
    /// reports them (``onMove``) before those files are handed out; drops unpaired entries that expired.
    ///
    /// A directory made inside the tree and a file renamed into it straight away (`os.makedirs` then
    /// `os.rename`, as archivers do): the new directory is watched only once its `IN_CREATE` is read,
    /// after the rename, so the rename raised only the old directory's `IN_MOVED_FROM`, and the listing
    /// that follows the new watch finds the file under its new name. Both are read in the same drain:
    /// the kernel queues a rename's events before the rename returns, so before a listing can see the
    /// new name. A file is known by the device and inode it had when handed out under the old name; a
    /// directory (a whole tree moved into a new one) by its watch, which inotify keeps for the
    /// directory whatever its path. The checkpoint that follows is still judged by size and
    /// fingerprint before anything is skipped, so a mistaken pairing could only cause a read.
    private func pairUnpairedRenames(now: Double) {
        defer {
            newlyListed.removeAll()
            relocatedDirectories.removeAll()
        }
        if !movedOut.isEmpty { movedOut = movedOut.filter { $0.value.expires > now } }
        guard !movedOut.isEmpty, !newlyListed.isEmpty || !relocatedDirectories.isEmpty else { return }
        var files: [FileIdentity: UInt32] = [:]
        for (cookie, entry) in movedOut.sorted(by: { $0.value.path.utf8.lexicographicallyPrecedes($1.value.path.utf8) }) {
            if entry.isDirectory {
                guard let destination = relocatedDirectories[entry.path] else { continue }
                movedOut[cookie] = nil
                onMove?(entry.path, destination, true)
            } else if let identity = entry.identity {
                files[identity] = cookie
            }
        }
        guard !files.isEmpty else { return }
        for path in newlyListed {
            var info = stat()
            guard PathText.withCString(path, { stat($0, &info) }) == 0,
                  let cookie = files.removeValue(forKey: FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))),
                  let entry = movedOut.removeValue(forKey: cookie), entry.path != path else { continue }
            onMove?(entry.path, path, false)
            if files.isEmpty { return }
        }
    }

    /// Forgets the files handed out under `directory`, which left the tree or was renamed within it
    /// (its files are listed under the new name).
    private func forgetTree(_ directory: String) {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        for path in seen.keys where path.hasPrefix(prefix) { seen[path] = nil }
        for path in dangling where path.hasPrefix(prefix) { dangling.remove(path) }
    }

    /// Queues the dangling links whose target is a file now; forgets those that are gone.
    private func recheckDangling() {
        for path in dangling {
            switch FileKind.of(path, followLinks: false) {
            case .regularFile:
                dangling.remove(path)
                ready.append(path)
            case .danglingLink:
                continue
            case .directory, .special, .other, .missing:
                dangling.remove(path)
            }
        }
    }

    /// Records `path` as handed out; false if it is unchanged since last time, no longer a regular
    /// file, or empty.
    ///
    /// An empty file has nothing to read, and is what a file just created looks like before its first
    /// write: the listing of a new directory can find it between the writer's `open` and `write`. It is
    /// not recorded, so the `IN_CLOSE_WRITE` that follows (the directory is watched before it is listed)
    /// hands it out once, written, instead of it being read empty and then read again.
    private func take(_ path: String) -> Bool {
        var info = stat()
        guard PathText.withCString(path, { stat($0, &info) }) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0 else { return false }
        let stamp = FileStamp(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                              modifiedSeconds: Int(info.st_mtim.tv_sec), modifiedNanoseconds: Int(info.st_mtim.tv_nsec))
        if seen[path] == stamp { return false }
        seen[path] = stamp
        return true
    }
}
