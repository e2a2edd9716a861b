#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import Testing
@testable import TriplineRouter

@Suite("--follow: FolderWatcher hands out files once they hold something to read")
struct FolderWatcherTests {
    /// A file created in a new directory, listed while still empty (created, not yet written), is
    /// handed out once, after it was written and closed, not first empty and then again.
    ///
    /// The race `run --follow` met when a test did `createDirectory` then `Data.write` (open, write,
    /// close): the watcher lists a new directory's files when it sees the directory appear, and could
    /// list the file between its `open` and its `write`. Here the file is held open empty until the
    /// watcher has waited a tick, so the listing always sees it empty.
    @Test("a file still empty when its new directory is listed is handed out once, when written")
    func emptyFileInNewDirectory() throws {
        try withRouterTempDirectory { dir in
            let stop = StopSignal(signals: [])
            let watcher = try FolderWatcher(directory: dir.path, stop: stop)
            let day = dir.appendingPathComponent("2024/03/02")
            try FileManager.default.createDirectory(at: day, withIntermediateDirectories: true)
            let path = day.appendingPathComponent("new.json").path
            var fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            try #require(fd >= 0)
            defer { if fd >= 0 { _ = close(fd) } }
            let content = Array(#"{"Records":[{"eventName":"DeleteTrail","eventSource":"cloudtrail.amazonaws.com"}]}"#.utf8)
            var ticks = 0
            watcher.onWait = {
                ticks += 1
                if ticks == 1 {
                    _ = content.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
                    _ = close(fd)
                    fd = -1
                } else {
                    stop.request()
                }
            }
            var handedOut: [(path: String, size: Int)] = []
            while let item = watcher.nextFile() {
                let found = try item.get()
                var info = stat()
                _ = stat(found, &info)
                handedOut.append((found, Int(info.st_size)))
            }
            #expect(handedOut.map(\.path) == [path], "\(handedOut)")
            #expect(handedOut.map(\.size) == [content.count], "\(handedOut)")
        }
    }

    /// prune.md F2: when more changes arrive at once than the kernel queues (`IN_Q_OVERFLOW`), the
    /// rescan cannot pair renames any more; the watcher says so instead of re-reading silently.
    @Test("an inotify queue overflow is reported as a note about the followed folder, then the folder is rescanned")
    func queueOverflowIsNoted() throws {
        let limitText = (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8)) ?? ""
        guard let limit = Int(limitText.trimmingCharacters(in: .whitespacesAndNewlines)), limit <= 200_000 else {
            print("skipped: fs.inotify.max_queued_events is \(limitText.isEmpty ? "unknown" : limitText), too many events to overflow in a test")
            return
        }
        try withRouterTempDirectory { dir in
            let stop = StopSignal(signals: [])
            let watcher = try FolderWatcher(directory: dir.path, stop: stop)
            let paths = ["a.json", "b.json"].map { dir.appendingPathComponent($0).path }
            let content = Array(#"{"Records":[]}"#.utf8)
            // Alternating between two files, so the kernel cannot merge an event into the one before.
            for k in 0..<(limit + 64) {
                let fd = open(paths[k % 2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                try #require(fd >= 0)
                _ = content.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
                _ = close(fd)
            }
            watcher.onWait = { stop.request() }
            var notes: [FollowedFolderChange] = []
            var handedOut: Set<String> = []
            while let item = watcher.nextFile() {
                switch item {
                case .success(let path): handedOut.insert(path)
                case .failure(.followedFolder(_, let change)): notes.append(change)
                case .failure(let error): Issue.record("unexpected \(error)")
                }
            }
            #expect(notes == [.eventsLost])
            #expect(handedOut == Set(paths), "the rescan hands out the files: \(handedOut)")
        }
    }

    @Test("files deleted or moved out of the folder are forgotten: a long --follow remembers the files present, not every file seen")
    func deletedFilesAreForgotten() throws {
        try withRouterTempDirectory { dir in
            let stop = StopSignal(signals: [])
            let watcher = try FolderWatcher(directory: dir.path, stop: stop)
            let content = Data(#"{"Records":[]}"#.utf8)
            let outside = try FileManager.default.url(for: .itemReplacementDirectory, in: .userDomainMask, appropriateFor: dir, create: true)
            defer { try? FileManager.default.removeItem(at: outside) }
            var ticks = 0
            var remembered: [Int] = []
            watcher.onWait = {
                ticks += 1
                switch ticks {
                case 1:
                    for i in 0..<6 { try? content.write(to: dir.appendingPathComponent("f\(i).json")) }
                case 2:
                    remembered.append(watcher.rememberedFiles)
                    for i in 0..<3 { try? FileManager.default.removeItem(at: dir.appendingPathComponent("f\(i).json")) }
                    try? FileManager.default.moveItem(at: dir.appendingPathComponent("f3.json"), to: outside.appendingPathComponent("f3.json"))
                case 3:
                    remembered.append(watcher.rememberedFiles)
                    stop.request()
                default:
                    stop.request()
                }
            }
            var handedOut: [String] = []
            while let item = watcher.nextFile() { handedOut.append(try item.get()) }
            #expect(handedOut.count == 6, "\(handedOut)")
            #expect(remembered == [6, 2], "remembered after writing 6 files, then after 4 left: \(remembered)")
        }
    }

    /// Watches `drop/` holding `a.json`, `sub/b.json` and `c.json` (with `elsewhere/` beside it), runs
    /// `renames` at the watcher's first wait and stops at the next: what was handed out (`file …`) and
    /// reported renamed (`move … -> …`), in order, with the watched folder's path.
    static func renameEvents(in dir: URL, renames: @escaping (_ path: (String) -> String, _ outside: URL, _ content: Data) -> Void) throws -> (events: [String], root: String) {
        let watched = dir.appendingPathComponent("drop"), outside = dir.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: watched.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        let content = Data(#"{"Records":[]}"#.utf8)
        for name in ["a.json", "sub/b.json", "c.json"] { try content.write(to: watched.appendingPathComponent(name)) }
        let stop = StopSignal(signals: [])
        let watcher = try FolderWatcher(directory: watched.path, stop: stop)
        var events: [String] = []
        watcher.onMove = { from, to, isDirectory in events.append("move \(from) -> \(to)\(isDirectory ? " (directory)" : "")") }
        var ticks = 0
        watcher.onWait = {
            ticks += 1
            if ticks == 1 {
                renames({ watched.appendingPathComponent($0).path }, outside, content)
            } else {
                stop.request()
            }
        }
        while let item = watcher.nextFile() { events.append("file " + (try item.get())) }
        return (events, watched.path)
    }

    @Test("renames within the folder are reported, with both names, before the file is handed out under its new one; moves in and out are not")
    func renamesWithinTheFolderAreReported() throws {
        try withRouterTempDirectory { dir in
            let (events, p) = try Self.renameEvents(in: dir) { path, outside, content in
                _ = rename(path("a.json"), path("a2.json"))
                _ = rename(path("sub"), path("sub2"))
                _ = rename(path("c.json"), outside.appendingPathComponent("c.json").path)
                try? content.write(to: outside.appendingPathComponent("in.json"))
                _ = rename(outside.appendingPathComponent("in.json").path, path("in.json"))
                try? content.write(to: URL(fileURLWithPath: path("x.tmp")))
                _ = rename(path("x.tmp"), path("x.json"))
            }
            #expect(events == ["file \(p)/a.json", "file \(p)/c.json", "file \(p)/sub/b.json",
                               "move \(p)/a.json -> \(p)/a2.json", "move \(p)/sub -> \(p)/sub2 (directory)",
                               "file \(p)/a2.json", "file \(p)/sub2/b.json", "file \(p)/in.json", "file \(p)/x.json"], "\(events)")
        }
    }

    /// A directory made and a file (or a directory) renamed into it at once, as `os.makedirs` then
    /// `os.rename` do (prune.md F1): the rename happens before the new directory is watched, so it
    /// raises only the old directory's `IN_MOVED_FROM`. Done within one `onWait`, while the watcher
    /// reads nothing, so every rename here is of that kind.
    @Test("a file or directory renamed into a directory made just before is reported as renamed, before it is handed out under its new name")
    func renamesIntoNewDirectoriesAreReported() throws {
        try withRouterTempDirectory { dir in
            let (events, p) = try Self.renameEvents(in: dir) { path, outside, content in
                try? FileManager.default.createDirectory(atPath: path("archive/day1"), withIntermediateDirectories: true)
                _ = rename(path("a.json"), path("archive/day1/a.json"))
                try? FileManager.default.createDirectory(atPath: path("archive/day2/x"), withIntermediateDirectories: true)
                _ = rename(path("sub"), path("archive/day2/x/sub"))
                // Left the tree, and a new file under a fresh directory: not a rename within it.
                _ = rename(path("c.json"), outside.appendingPathComponent("c.json").path)
                try? FileManager.default.createDirectory(atPath: path("archive/day3"), withIntermediateDirectories: true)
                try? content.write(to: URL(fileURLWithPath: path("archive/day3/d.json")))
            }
            #expect(events == ["file \(p)/a.json", "file \(p)/c.json", "file \(p)/sub/b.json",
                               "move \(p)/sub -> \(p)/archive/day2/x/sub (directory)", "move \(p)/a.json -> \(p)/archive/day1/a.json",
                               "file \(p)/archive/day1/a.json", "file \(p)/archive/day2/x/sub/b.json", "file \(p)/archive/day3/d.json"], "\(events)")
        }
    }

    @Test("a dangling link is reported, then read once its target (outside the watched tree) appears")
    func danglingLinkIsReadWhenItsTargetAppears() throws {
        try withRouterTempDirectory { dir in
            let watched = dir.appendingPathComponent("drop"), outside = dir.appendingPathComponent("elsewhere")
            try FileManager.default.createDirectory(at: watched, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
            let target = outside.appendingPathComponent("later.ndjson").path
            let link = watched.appendingPathComponent("link.ndjson").path
            let stop = StopSignal(signals: [])
            let watcher = try FolderWatcher(directory: watched.path, stop: stop)
            #expect(symlink(target, link) == 0)
            var ticks = 0
            watcher.onWait = {
                ticks += 1
                if ticks == 1 { FileManager.default.createFile(atPath: target, contents: Data("{}\n".utf8)) }
                if ticks > 5 { stop.request() }
            }
            var items: [String] = []
            while let item = watcher.nextFile() {
                switch item {
                case .success(let path):
                    items.append("read " + path)
                    stop.request()
                case .failure(let error): items.append("error " + error.path)
                }
            }
            #expect(items == ["error " + link, "read " + link], "\(items)")
        }
    }
}

@Suite("--follow: the followed folder moved, deleted or replaced")
struct FolderWatcherRootTests {
    /// What a watcher hands out until `stop`: files as `file PATH`, problems and notes as their text.
    private static func drain(_ watcher: FolderWatcher) -> [String] {
        var items: [String] = []
        while let item = watcher.nextFile() {
            switch item {
            case .success(let path): items.append("file " + path)
            case .failure(let error): items.append(error.description)
            }
        }
        return items
    }

    @Test("root moved away, then a new folder made at its path: the note says so, the new folder's files are handed out, the old one's are not")
    func rootMovedAwayAndRecreated() throws {
        try withRouterTempDirectory { dir in
            let watched = dir.appendingPathComponent("in"), old = dir.appendingPathComponent("in.old")
            try FileManager.default.createDirectory(at: watched, withIntermediateDirectories: true)
            let content = Data(#"{"Records":[]}"#.utf8)
            try content.write(to: watched.appendingPathComponent("r0.json"))
            let stop = StopSignal(signals: [])
            let watcher = try FolderWatcher(directory: watched.path, stop: stop)
            var ticks = 0
            watcher.onWait = {
                ticks += 1
                switch ticks {
                case 1:
                    _ = rename(watched.path, old.path)
                case 2:
                    // Written to the moved-away folder: not a file of the followed folder any more.
                    try? content.write(to: old.appendingPathComponent("late.json"))
                    try? FileManager.default.createDirectory(at: watched, withIntermediateDirectories: true)
                    try? content.write(to: watched.appendingPathComponent("new1.json"))
                case 3:
                    try? content.write(to: old.appendingPathComponent("later.json"))
                    try? content.write(to: watched.appendingPathComponent("new2.json"))
                default:
                    stop.request()
                }
            }
            let p = watched.path
            #expect(Self.drain(watcher) == [
                "file \(p)/r0.json",
                "tripline run: the followed folder \(p) was moved or deleted; waiting for it to reappear",
                "tripline run: the followed folder \(p) is there again; following it and reading its files",
                "file \(p)/new1.json", "file \(p)/new2.json",
            ])
            #expect(watcher.watchedDirectories == 1)
        }
    }

    @Test("root deleted and made again at once: noted as replaced, and the new folder's files (subfolders included) are handed out")
    func rootDeletedAndRecreatedAtOnce() throws {
        try withRouterTempDirectory { dir in
            let watched = dir.appendingPathComponent("in")
            try FileManager.default.createDirectory(at: watched.appendingPathComponent("sub"), withIntermediateDirectories: true)
            let content = Data(#"{"Records":[]}"#.utf8)
            let stop = StopSignal(signals: [])
            let watcher = try FolderWatcher(directory: watched.path, stop: stop)
            var ticks = 0
            watcher.onWait = {
                ticks += 1
                switch ticks {
                case 1:
                    try? FileManager.default.removeItem(at: watched)
                    try? FileManager.default.createDirectory(at: watched.appendingPathComponent("sub"), withIntermediateDirectories: true)
                    try? content.write(to: watched.appendingPathComponent("sub/a.json"))
                case 2:
                    try? content.write(to: watched.appendingPathComponent("sub/b.json"))
                default:
                    stop.request()
                }
            }
            let p = watched.path
            let items = Self.drain(watcher)
            #expect(items.contains("file \(p)/sub/a.json") && items.contains("file \(p)/sub/b.json"), "\(items)")
            #expect(items.first?.hasPrefix("tripline run: the followed folder \(p) ") == true, "\(items)")
            #expect(watcher.watchedDirectories == 2)
        }
    }

    @Test("root a symbolic link pointed at another folder: the folder it points to now is followed, the old one is not")
    func rootLinkSwapped() throws {
        try withRouterTempDirectory { dir in
            let a = dir.appendingPathComponent("a"), b = dir.appendingPathComponent("b"), link = dir.appendingPathComponent("in")
            for folder in [a, b] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
            let content = Data(#"{"Records":[]}"#.utf8)
            try content.write(to: a.appendingPathComponent("a1.json"))
            try content.write(to: b.appendingPathComponent("b1.json"))
            #expect(symlink(a.path, link.path) == 0)
            let stop = StopSignal(signals: [])
            let watcher = try FolderWatcher(directory: link.path, stop: stop)
            var ticks = 0
            watcher.onWait = {
                ticks += 1
                switch ticks {
                case 1:
                    let temporary = dir.appendingPathComponent("in.tmp").path
                    _ = symlink(b.path, temporary)
                    _ = rename(temporary, link.path)
                case 2:
                    try? content.write(to: a.appendingPathComponent("a2.json"))
                    try? content.write(to: b.appendingPathComponent("b2.json"))
                default:
                    stop.request()
                }
            }
            let p = link.path
            #expect(Self.drain(watcher) == [
                "file \(p)/a1.json",
                "tripline run: the followed folder \(p) was replaced by another folder; following that one and reading its files",
                "file \(p)/b1.json", "file \(p)/b2.json",
            ])
        }
    }
}
