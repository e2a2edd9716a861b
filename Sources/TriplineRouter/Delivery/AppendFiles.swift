#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import TriplineTargets

/// Why a line could not be appended to a `File` subscription's file (the delivery is retried).
public enum FileAppendError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened (or created) for appending: the path as written and the system's reason.
    case cannotOpen(path: String, reason: String)
    /// Writing the line failed (a full disk, a file-size limit): the path as written and the reason.
    case cannotWrite(path: String, reason: String)
    /// A FIFO, socket or device took no more of the line within the timeout (its reader stopped
    /// reading): the path as written, the seconds waited, and how many bytes of the line went out.
    case timedOut(path: String, seconds: Double, written: Int)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): return "cannot open \(path): \(reason)"
        case .cannotWrite(let path, let reason): return "cannot append to \(path): \(reason)"
        case .timedOut(let path, let seconds, let written):
            let time = seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
            return "timed out after \(time)s appending to \(path) (its reader is not reading"
                + (written > 0 ? "; \(written) bytes of the line went out" : "") + ")"
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
        /// A FIFO, socket or character device: written without blocking, waiting with a timeout.
        var isStream = false
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
    ///
    /// When the path is a FIFO, socket or character device, the line waits at most `timeoutSeconds`
    /// for room (a reader that stopped reading would otherwise hold the worker for ever); a line cut
    /// short that way is ended before the next one. Writes to regular files cannot be timed out (a
    /// hung network mount still blocks).
    public func append(_ line: [UInt8], to path: String, pathAsWritten: String,
                       timeoutSeconds: Double = FileSubscription.defaultTimeoutSeconds) throws(FileAppendError) {
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
            guard descriptor >= 0 else {
                let code = errno
                var reason = String(cString: strerror(code))
                var status = stat()
                if code == ENXIO && stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFIFO { reason = "a FIFO with no reader (\(reason))" }
                throw .cannotOpen(path: pathAsWritten, reason: reason)
            }
            var status = stat()
            guard fstat(descriptor, &status) == 0 else {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw .cannotOpen(path: pathAsWritten, reason: reason)
            }
            let kind = status.st_mode & S_IFMT
            // Regular files block as before (they are always "ready"); streams keep O_NONBLOCK.
            let isStream = kind == S_IFIFO || kind == S_IFSOCK || kind == S_IFCHR
            let flags = fcntl(descriptor, F_GETFL)
            guard flags >= 0, isStream || fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw .cannotOpen(path: pathAsWritten, reason: reason)
            }
            handle.isStream = isStream
            handle.descriptor = descriptor
            handle.device = UInt64(status.st_dev)
            handle.inode = UInt64(status.st_ino)
            handle.endsMidLine = Self.endsMidLine(descriptor, status)
        }
        var bytes = line
        // A line cut short before (a full disk, a crash during a write) gets its end here, so the
        // line that follows is whole; the fragment stays a line of its own.
        if handle.endsMidLine { bytes.insert(UInt8(ascii: "\n"), at: 0) }
        if handle.isStream {
            let (written, failure) = Self.writeAll(bytes, to: handle.descriptor, timeoutSeconds: timeoutSeconds)
            if written > 0 && written < bytes.count { handle.endsMidLine = true }
            switch failure {
            case nil: handle.endsMidLine = false; return
            case ETIMEDOUT?: throw .timedOut(path: pathAsWritten, seconds: timeoutSeconds, written: written)
            case let error?:
                close(handle.descriptor)
                handle.descriptor = -1
                throw .cannotWrite(path: pathAsWritten, reason: String(cString: strerror(error)))
            }
        }
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

    /// Writes all of `bytes` to the non-blocking `descriptor`, waiting (`poll`) for room at most
    /// `timeoutSeconds` in all; how many bytes were written, and the `errno` that stopped it
    /// (`ETIMEDOUT` when time ran out), nil when all were written.
    static func writeAll(_ bytes: [UInt8], to descriptor: Int32, timeoutSeconds: Double) -> (written: Int, failure: Int32?) {
        let deadline = monotonicSeconds() + timeoutSeconds
        return bytes.withUnsafeBytes { raw -> (Int, Int32?) in
            var offset = 0
            while offset < raw.count {
                let n = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 { offset += n; continue }
                if n == 0 { return (offset, EIO) }
                if errno == EINTR { continue }
                guard errno == EAGAIN || errno == EWOULDBLOCK else { return (offset, errno) }
                let left = deadline - monotonicSeconds()
                if left <= 0 { return (offset, ETIMEDOUT) }
                var wait = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&wait, 1, Int32(min(left * 1000, 60_000).rounded(.up)))
                if ready < 0 && errno != EINTR { return (offset, errno) }
                // POLLERR/POLLHUP (the reader went away): the next write reports EPIPE.
            }
            return (offset, nil)
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
