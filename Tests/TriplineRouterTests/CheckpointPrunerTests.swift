#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import Testing
@testable import TriplineRouter
import TriplineState

@Suite("Checkpoints of files gone from a walked or watched directory are forgotten, and only on proof")
struct CheckpointPrunerTests {
    private let now: Double = 1_700_000_000

    /// Saves a checkpoint for each of `paths`, with the device of its directory as a run records it.
    private func read(_ paths: [String], store: StateStore, device: UInt64? = nil) throws {
        let marks = paths.map { path in
            Checkpoint(source: path, size: 10, modificationTime: 1, fingerprint: "f", items: 1, complete: true, updatedAt: now - 100,
                       directoryDevice: device ?? CheckpointPruner.device(ofDirectory: CheckpointPruner.directory(of: path)) ?? 0)
        }
        _ = try DeliveryJournal(store: store).accept([], checkpoints: marks)
    }

    private func sources(_ store: StateStore) throws -> [String] {
        try CheckpointStore(store: store).checkpoints(prefix: "/").map(\.source)
    }

    @Test("deleted files, and a whole day directory removed, lose their checkpoints; files present keep theirs")
    func goneFilesAreForgotten() throws {
        try withRouterTempDirectory { dir in
            let root = dir.appendingPathComponent("in").path
            let a = try writeFile("{}", "in/a.json", in: dir), b = try writeFile("{}", "in/b.json", in: dir)
            let c = try writeFile("{}", "in/2024/01/02/c.json", in: dir), d = try writeFile("{}", "in/2024/01/03/d.json", in: dir)
            let outside = try writeFile("{}", "elsewhere/e.json", in: dir)
            let store = try StateStore.inMemory()
            try read([a, b, c, d, outside], store: store)
            try FileManager.default.removeItem(atPath: a)
            try FileManager.default.removeItem(atPath: dir.appendingPathComponent("in/2024/01/02").path)
            try FileManager.default.removeItem(atPath: outside)

            let pruner = CheckpointPruner(store: CheckpointStore(store: store), roots: [root], grace: 0)
            let sweep = try pruner.sweep(now: now)
            #expect(sweep.checked == 4 && sweep.forgotten == 2 && sweep.rootsSkipped.isEmpty, "\(sweep)")
            #expect(try sources(store) == [d, b, outside].sorted(), "a file outside the roots is never looked at")
        }
    }

    @Test("a checkpoint goes only once two checks grace apart found its file gone; a file put back in between keeps it")
    func graceBetweenTwoFindings() throws {
        try withRouterTempDirectory { dir in
            let root = dir.appendingPathComponent("in").path + "/"
            let a = try writeFile("{}", "in/a.json", in: dir)
            let store = try StateStore.inMemory()
            let checkpoints = CheckpointStore(store: store)
            try read([a], store: store)
            let pruner = CheckpointPruner(store: checkpoints, roots: [root], grace: 600)

            try FileManager.default.removeItem(atPath: a)
            #expect(try pruner.sweep(now: now).markedMissing == 1)
            #expect(try checkpoints.checkpoint(for: a)?.missingSince == now)
            #expect(try pruner.sweep(now: now + 599).forgotten == 0)
            // Put back (a sync tool fetching it again): judged by its checkpoint as before.
            try writeFile("{}", "in/a.json", in: dir)
            #expect(try pruner.sweep(now: now + 700).forgotten == 0)
            #expect(try checkpoints.checkpoint(for: a)?.missingSince == nil)

            try FileManager.default.removeItem(atPath: a)
            #expect(try pruner.sweep(now: now + 800).markedMissing == 1)
            #expect(try pruner.sweep(now: now + 1_399).forgotten == 0)
            #expect(try pruner.sweep(now: now + 1_400).forgotten == 1)
            #expect(try checkpoints.checkpoint(for: a) == nil)
        }
    }

    @Test("a root that is missing, not a directory or a dangling link is not checked: nothing under it is forgotten")
    func unavailableRootPrunesNothing() throws {
        try withRouterTempDirectory { dir in
            let store = try StateStore.inMemory()
            let missing = dir.appendingPathComponent("gone").path
            let file = try writeFile("{}", "file", in: dir)
            let link = dir.appendingPathComponent("link").path
            #expect(symlink(dir.appendingPathComponent("nowhere").path, link) == 0)
            let rows = [missing + "/a.json", missing + "/2024/b.json", file + "/c.json", link + "/d.json"]
            try read(rows, store: store, device: 0)
            let pruner = CheckpointPruner(store: CheckpointStore(store: store), roots: [missing, file, link], grace: 0)
            let sweep = try pruner.sweep(now: now)
            #expect(sweep.forgotten == 0 && sweep.markedMissing == 0 && sweep.checked == 0, "\(sweep)")
            #expect(sweep.rootsSkipped == [missing, file, link])
            #expect(try sources(store) == rows.sorted())
        }
    }

    @Test("a root that cannot be listed is not checked", .enabled(if: getuid() != 0, "root lists any directory"))
    func unreadableRootPrunesNothing() throws {
        try withRouterTempDirectory { dir in
            let root = dir.appendingPathComponent("in").path
            let a = try writeFile("{}", "in/a.json", in: dir)
            let store = try StateStore.inMemory()
            try read([a, root + "/gone.json"], store: store)
            #expect(chmod(root, 0o311) == 0)
            defer { chmod(root, 0o755) }
            let sweep = try CheckpointPruner(store: CheckpointStore(store: store), roots: [root], grace: 0).sweep(now: now)
            #expect(sweep.forgotten == 0 && sweep.rootsSkipped == [root], "\(sweep)")
            #expect(try sources(store).count == 2)
        }
    }

    @Test("a directory on another device than its files were read on (an unmounted mount point, left empty), or of no recorded device, proves nothing")
    func directoryOnAnotherDeviceProvesNothing() throws {
        try withRouterTempDirectory { dir in
            let root = dir.appendingPathComponent("in").path
            try FileManager.default.createDirectory(atPath: root + "/day", withIntermediateDirectories: true)
            let device = try #require(CheckpointPruner.device(ofDirectory: root))
            let store = try StateStore.inMemory()
            try read([root + "/mounted.json", root + "/day/mounted.json"], store: store, device: device &+ 1)
            try read([root + "/local.json"], store: store, device: device)
            try read([root + "/old.json"], store: store, device: 0)
            let sweep = try CheckpointPruner(store: CheckpointStore(store: store), roots: [root], grace: 0).sweep(now: now)
            #expect(sweep.checked == 4 && sweep.forgotten == 1, "\(sweep)")
            #expect(try sources(store) == [root + "/day/mounted.json", root + "/mounted.json", root + "/old.json"],
                    "only rows read on this device go; one of unknown device (an older schema's) stays")
        }
    }

    @Test("a row of no recorded device (v6 schema) is kept however long its file is missing; once a check sees the file it records the device, and the row can go")
    func unknownDeviceIsKeptUntilSeen() throws {
        try withRouterTempDirectory { dir in
            let root = dir.appendingPathComponent("in").path
            let a = try writeFile("{}", "in/a.json", in: dir)
            let store = try StateStore.inMemory()
            let checkpoints = CheckpointStore(store: store)
            try read([a], store: store, device: 0)
            let pruner = CheckpointPruner(store: checkpoints, roots: [root], grace: 600)

            // Gone (as behind a mount point left empty right after the upgrade): never marked, never forgotten.
            try FileManager.default.removeItem(atPath: a)
            for later: Double in [0, 700, 86_400 * 30] {
                let sweep = try pruner.sweep(now: now + later)
                #expect(sweep.checked == 1 && sweep.markedMissing == 0 && sweep.forgotten == 0, "\(sweep)")
            }
            #expect(try checkpoints.checkpoint(for: a)?.missingSince == nil)
            #expect(try checkpoints.checkpoint(for: a)?.directoryDevice == 0)

            // Seen present: the device is filled in, and the row is judged like any other from then on.
            try writeFile("{}", "in/a.json", in: dir)
            #expect(try pruner.sweep(now: now + 86_400 * 31).forgotten == 0)
            #expect(try checkpoints.checkpoint(for: a)?.directoryDevice == CheckpointPruner.device(ofDirectory: root))
            try FileManager.default.removeItem(atPath: a)
            #expect(try pruner.sweep(now: now + 86_400 * 32).markedMissing == 1)
            #expect(try pruner.sweep(now: now + 86_400 * 32 + 600).forgotten == 1)
            #expect(try checkpoints.checkpoint(for: a) == nil)
        }
    }

    @Test("paths: directory parts, slashes, the device of a file's directory")
    func pathHelpers() {
        #expect(CheckpointPruner.directory(of: "in/a.json") == "in")
        #expect(CheckpointPruner.directory(of: "a.json") == ".")
        #expect(CheckpointPruner.directory(of: "/a.json") == "/")
        #expect(CheckpointPruner.directory(of: "./x/y/") == "./x")
        #expect(CheckpointPruner.trimmingSlashes("in//") == "in" && CheckpointPruner.trimmingSlashes("/") == "/")
        #expect(CheckpointPruner.device(ofDirectory: "/nonexistent-\(UUID().uuidString)") == nil)
    }
}
