#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Why a line could not be appended to a `File` subscription's file (the delivery is retried).
public enum FileAppendError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened (or created) for appending: the path as written and the system's reason.
    case cannotOpen(path: String, reason: String)
    /// Writing the line failed (a full disk, a file-size limit): the path as written and the reason.
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): return "cannot open \(path): \(reason)"
        case .cannotWrite(let path, let reason): return "cannot append to \(path): \(reason)"
        }
    }
}

/// The files `File` subscriptions append to, each kept open across messages (`O_APPEND`), instead
/// of an open and a close per message.
///
/// Before each line the path is looked at again (`stat`): when it names another file than the one
/// held open (rotated away: renamed, or deleted and possibly re-created), the old descriptor is
/// closed and the path opened (created) again, so lines go where the path points, as when each
/// message opened it. A write that fails closes the descriptor too: the retry opens afresh. Nothing
/// is synced, as before: a line is in the file once `write` returned. Lines of one file are written
/// one at a time, each with one `write`, so they never interleave.
public final class AppendFiles: @unchecked Sendable {
    /// One file's descriptor and the identity of the file it was opened on; guarded by `lock`.
    private final class Handle {
        let lock = NSLock()
        var descriptor: Int32 = -1
        var device: UInt64 = 0
        var inode: UInt64 = 0
        /// The file held open did not end with a newline when opened: the next line starts one.
        var endsMidLine = false
    }

    private let lock = NSLock()
    private var handles: [String: Handle] = [:]

    public init() {}

    deinit { closeAll() }

    /// How many files are open right now (for tests).
    public var openCount: Int {
        lock.lock()
        let all = Array(handles.values)
        lock.unlock()
        return all.reduce(0) { count, handle in
            handle.lock.lock()
            defer { handle.lock.unlock() }
            return count + (handle.descriptor >= 0 ? 1 : 0)
        }
    }

    /// Appends `line` to the file at `path` (its directory created when missing) with one `write`;
    /// `pathAsWritten` names it in errors.
    public func append(_ line: [UInt8], to path: String, pathAsWritten: String) throws(FileAppendError) {
        let handle = self.handle(path)
        handle.lock.lock()
        defer { handle.lock.unlock() }
        if handle.descriptor >= 0 && !Self.names(path, device: handle.device, inode: handle.inode) {
            close(handle.descriptor)
            handle.descriptor = -1
        }
        if handle.descriptor < 0 {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            // Non-blocking only for the open: a FIFO without a reader fails (ENXIO, retried) instead of
            // holding the worker, and the run's stop, for ever; writes block as before.
            let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0o644)
            guard descriptor >= 0 else { throw .cannotOpen(path: pathAsWritten, reason: String(cString: strerror(errno))) }
            var status = stat()
            let flags = fcntl(descriptor, F_GETFL)
            guard fstat(descriptor, &status) == 0, flags >= 0, fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw .cannotOpen(path: pathAsWritten, reason: reason)
            }
            handle.descriptor = descriptor
            handle.device = UInt64(status.st_dev)
            handle.inode = UInt64(status.st_ino)
            handle.endsMidLine = Self.endsMidLine(descriptor, status)
        }
        var bytes = line
        // A line cut short before (a full disk, a crash during a write) gets its end here, so the
        // line that follows is whole; the fragment stays a line of its own.
        if handle.endsMidLine { bytes.insert(UInt8(ascii: "\n"), at: 0) }
        let failure = Self.writeAll(bytes, to: handle.descriptor).map { String(cString: strerror($0)) }
        if let failure {
            // The next attempt opens the path afresh (it may have been replaced, or the disk freed).
            close(handle.descriptor)
            handle.descriptor = -1
            throw .cannotWrite(path: pathAsWritten, reason: failure)
        }
        handle.endsMidLine = false
    }

    /// Writes all of `bytes` to `descriptor` (retrying interrupted and partial writes); the `errno` of
    /// the write that failed (`EIO` for one that wrote nothing), nil when all were written.
    static func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> Int32? {
        bytes.withUnsafeBytes { raw -> Int32? in
            var offset = 0
            while offset < raw.count {
                let n = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { return errno }
                if n == 0 { return EIO }
                offset += n
            }
            return nil
        }
    }

    /// Whether the regular file open at `descriptor` is not empty and does not end with a newline
    /// (read through a descriptor of its own: the append descriptor is write-only).
    private static func endsMidLine(_ descriptor: Int32, _ status: stat) -> Bool {
        guard (status.st_mode & S_IFMT) == S_IFREG, status.st_size > 0 else { return false }
        let reader = open("/proc/self/fd/\(descriptor)", O_RDONLY | O_CLOEXEC)
        guard reader >= 0 else { return false }
        defer { close(reader) }
        var last: UInt8 = 0
        return pread(reader, &last, 1, status.st_size - 1) == 1 && last != UInt8(ascii: "\n")
    }

    /// Closes every file held open (at the end of a run); a later append opens its file again. A file
    /// whose append is under way (a FIFO whose reader stopped reading, a hung network mount) is left
    /// to it: waiting for it could hold the run's stop for ever.
    public func closeAll() {
        lock.lock()
        let all = Array(handles.values)
        lock.unlock()
        for handle in all {
            guard handle.lock.try() else { continue }
            if handle.descriptor >= 0 {
                close(handle.descriptor)
                handle.descriptor = -1
            }
            handle.lock.unlock()
        }
    }

    private func handle(_ path: String) -> Handle {
        lock.lock()
        defer { lock.unlock() }
        if let handle = handles[path] { return handle }
        let handle = Handle()
        handles[path] = handle
        return handle
    }

    /// Whether `path` still names the file with this device and inode.
    private static func names(_ path: String, device: UInt64, inode: UInt64) -> Bool {
        var status = stat()
        guard stat(path, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }
}
