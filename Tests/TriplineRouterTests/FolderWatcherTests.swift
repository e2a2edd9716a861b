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
