#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import Testing
@testable import TriplineRouter
import TriplineState

/// Creates a file whose path is given as raw bytes (a name that is not valid UTF-8), holding `content`.
private func writeRawPath(_ path: [UInt8], _ content: String) -> Bool {
    let fd = (path.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer {
        open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    }
    guard fd >= 0 else { return false }
    defer { _ = close(fd) }
    let bytes = Array(content.utf8)
    return bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) } == bytes.count
}

private func makeRawDirectory(_ path: [UInt8]) -> Bool {
    (path.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { mkdir($0.baseAddress!, 0o755) } == 0
}

/// `caf` + Latin-1 é (E9) + `suffix`: a name that is not valid UTF-8.
private func latin1(_ stem: String = "caf", _ suffix: String = ".json") -> [UInt8] {
    Array(stem.utf8) + [0xE9] + Array(suffix.utf8)
}

@Suite("PathText: every file name, UTF-8 or not, has one text that names it")
struct PathTextTests {
    @Test("names that are valid UTF-8 keep their text, even with backslashes; other bytes are written \\xNN")
    func texts() {
        #expect(PathText.text(ofName: Array("café.json".utf8)) == "café.json")
        #expect(PathText.text(ofName: Array(#"a\x41.json"#.utf8)) == #"a\x41.json"#, "reads back as itself: not an escape")
        #expect(PathText.text(ofName: Array(#"C:\logs\x.json"#.utf8)) == #"C:\logs\x.json"#)
        #expect(PathText.text(ofName: latin1()) == #"caf\xE9.json"#)
        // A surrogate's encoding (ED A0 80) is not valid UTF-8 either; a backslash beside escapes is escaped.
        #expect(PathText.text(ofName: [0xC3, 0xA9, 0xFF, 0x41, 0xED, 0xA0, 0x80, 0x5C]) == #"é\xFFA\xED\xA0\x80\x5C"#)
        // A file literally named like an escape is written escaped, so it is not taken for caf + E9.
        #expect(PathText.text(ofName: Array(#"caf\xE9.json"#.utf8)) == #"caf\x5CxE9.json"#)
        #expect(PathText.text(ofPath: Array("/in/".utf8) + latin1() ) == #"/in/caf\xE9.json"#)
    }

    @Test("a text reads back as exactly the bytes it was made from, and no two names share a text")
    func roundTrip() {
        let names: [[UInt8]] = [
            Array("café.json".utf8), latin1(), Array(#"caf\xE9.json"#.utf8), Array(#"caf\x5CxE9.json"#.utf8), Array(#"a\x41.json"#.utf8),
            Array(#"a\x5C.json"#.utf8), Array(#"a\.json"#.utf8), Array(#"\x"#.utf8), [0x5C], [0xFF], [0x5C, 0xFF], Array(#"\xff"#.utf8),
            Array(#"\xFF"#.utf8), Array(#"\x2F"#.utf8), Array(#"\x00"#.utf8), [0xC3], [0xF0, 0x9F, 0x98, 0x80], [0xF0, 0x9F, 0x98],
        ]
        // Sets of bytes: String's == takes canonically equivalent texts (U+037E and ";") as equal.
        var texts: Set<[UInt8]> = []
        for name in names {
            let text = PathText.text(ofName: name)
            #expect(PathText.bytes(of: text) == name, "\(text)")
            #expect(PathText.bytes(of: "/d/" + text + "/x") == Array("/d/".utf8) + name + Array("/x".utf8), "\(text)")
            texts.insert(Array(text.utf8))
        }
        #expect(texts.count == names.count)
        // A name starting with a combining mark makes `/` and it one Character: paths split on the byte.
        let combining = [0x64, 0xFF, 0x2F] + Array("\u{301}x.json".utf8)
        #expect(PathText.text(ofPath: combining) == "d\\xFF/\u{301}x.json")
        #expect(PathText.bytes(of: PathText.text(ofPath: combining)) == combining)
        // Every one- and two-byte name (but / and NUL, which no name holds).
        var twoByteTexts: Set<[UInt8]> = []
        for a in UInt8(1)...255 where a != 0x2F {
            for b in UInt8(0)...255 where b != 0x2F {
                let name = b == 0 ? [a] : [a, b]
                let text = PathText.text(ofName: name)
                if PathText.bytes(of: text) != name { Issue.record("\(name) -> \(text)") }
                twoByteTexts.insert(Array(text.utf8))
            }
        }
        #expect(twoByteTexts.count == 254 * 255)
    }

    @Test("an argument that is valid UTF-8 but reads as an escape names the escaped bytes, or the literal name when only that exists")
    func ambiguousArgument() throws {
        try withRouterTempDirectory { dir in
            let literal = try writeFile("{}\n", #"caf\xE9.json"#, in: dir)
            #expect(SourceList.path(ofArgument: literal) == dir.path + #"/caf\x5CxE9.json"#)
            #expect(writeRawPath(Array(dir.path.utf8) + Array("/".utf8) + latin1(), "{}\n"))
            #expect(SourceList.path(ofArgument: literal) == literal, "both exist: the escape wins")
            #expect(SourceList.path(ofArgument: dir.path + "/ok.json") == dir.path + "/ok.json")
        }
    }
}

@Suite("Input files whose names are not valid UTF-8 are read like any other")
struct NonUTF8NameTests {
    @Test("a walk hands out a file and a directory whose names are not valid UTF-8 under their escaped text, and they open")
    func walkReadsNonUTF8Names() throws {
        try withRouterTempDirectory { dir in
            let root = Array(dir.path.utf8)
            try Data("{}\n".utf8).write(to: dir.appendingPathComponent("ok.json"))
            #expect(writeRawPath(root + Array("/".utf8) + latin1(), "{\"n\":1}\n"))
            #expect(writeRawPath(root + Array("/".utf8) + latin1("caf", ".txt"), "not an input's name"))
            #expect(writeRawPath(root + Array("/.hidden".utf8) + [0xE9] + Array(".json".utf8), "{}\n"))
            #expect(makeRawDirectory(root + Array("/d".utf8) + [0xFF]))
            #expect(writeRawPath(root + Array("/d".utf8) + [0xFF] + Array("/in.json".utf8), "{}\n"))
            let walker = DirectoryWalker(root: dir.path)
            var items: [String] = []
            while let item = walker.next() {
                switch item {
                case .success(let path): items.append(path)
                case .failure(let error): items.append("error: \(error)")
                }
            }
            let p = dir.path
            #expect(items == [p + #"/caf\xE9.json"#, p + #"/d\xFF/in.json"#, p + "/ok.json"], "sorted by raw bytes: \(items)")

            let file = try SourceFile(.file(p + #"/caf\xE9.json"#))
            #expect(file.isCheckpointable && file.directoryDevice != 0)
            #expect(try CompressedFileReader(path: p + #"/caf\xE9.json"#).nextChunk() == Array("{\"n\":1}\n".utf8))
            #expect(FileKind.of(p + #"/d\xFF"#).isDirectory)
        }
    }

    @Test("--follow hands out files whose names are not valid UTF-8, there at the start or written later, and reports their renames")
    func watcherReadsNonUTF8Names() throws {
        try withRouterTempDirectory { dir in
            let root = Array(dir.path.utf8)
            #expect(writeRawPath(root + Array("/".utf8) + latin1("old"), "{}\n"))
            let stop = StopSignal(signals: [])
            let watcher = try FolderWatcher(directory: dir.path, stop: stop)
            var moves: [String] = []
            watcher.onMove = { from, to, _ in moves.append(from + " -> " + to) }
            var ticks = 0
            watcher.onWait = {
                ticks += 1
                switch ticks {
                case 1:
                    _ = writeRawPath(root + Array("/".utf8) + latin1("new"), "{}\n")
                case 2:
                    let from = (root + Array("/".utf8) + latin1("new") + [0]).map { CChar(bitPattern: $0) }
                    let to = (root + Array("/".utf8) + latin1("na", "ve.json") + [0]).map { CChar(bitPattern: $0) }
                    _ = rename(from, to)
                default:
                    stop.request()
                }
            }
            var items: [String] = []
            while let item = watcher.nextFile() {
                switch item {
                case .success(let path): items.append("file " + path)
                case .failure(let error): items.append("error: \(error)")
                }
            }
            let p = dir.path
            #expect(items == ["file " + p + #"/old\xE9.json"#, "file " + p + #"/new\xE9.json"#, "file " + p + #"/na\xE9ve.json"#], "\(items)")
            #expect(moves == [p + #"/new\xE9.json -> "# + p + #"/na\xE9ve.json"#], "the rename is paired, so the checkpoint can follow it")
        }
    }

    @Test("the pruner finds a file whose name is not valid UTF-8 present, and forgets it once gone")
    func prunerChecksNonUTF8Names() throws {
        try withRouterTempDirectory { dir in
            let root = Array(dir.path.utf8)
            #expect(writeRawPath(root + Array("/".utf8) + latin1(), "{}\n"))
            let path = dir.path + #"/caf\xE9.json"#
            let store = try StateStore.inMemory()
            let checkpoints = CheckpointStore(store: store)
            let device = try #require(CheckpointPruner.device(ofDirectory: dir.path))
            _ = try DeliveryJournal(store: store).accept([], checkpoints: [
                Checkpoint(source: path, size: 3, modificationTime: 1, items: 1, complete: true, updatedAt: 1, directoryDevice: device),
            ])
            let pruner = CheckpointPruner(store: checkpoints, roots: [dir.path], grace: 0)
            let present = try pruner.sweep(now: 1_000)
            #expect(present.checked == 1 && present.markedMissing == 0 && present.forgotten == 0, "\(present)")
            #expect(unlink((root + Array("/".utf8) + latin1()).map { CChar(bitPattern: $0) } + [0]) == 0)
            #expect(try pruner.sweep(now: 2_000).forgotten == 1)
            #expect(try checkpoints.checkpoint(for: path) == nil)
        }
    }
}

private extension FileKind {
    var isDirectory: Bool {
        if case .directory = self { return true }
        return false
    }
}
