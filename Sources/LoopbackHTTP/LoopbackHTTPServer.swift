import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small HTTP/1.1 server on 127.0.0.1: the receiver for tests, benchmarks and `make demo`.
///
/// Binds a free port (see ``port``; or a fixed one, ``Options/port``), accepts on one thread and serves each connection on its own thread
/// with blocking I/O: keep-alive, `Content-Length` and chunked request bodies, `Expect: 100-continue`.
/// Every request is recorded (unless ``Options/recordRequests`` is off) and answered by the responder
/// closure, which may run on many connection threads at once and should return quickly; a slow answer is
/// asked for with ``LoopbackResponse/delaySeconds``. Call ``stop()`` when done (dropping the last reference does too).
public final class LoopbackHTTPServer: Sendable {
    public typealias Responder = @Sendable (LoopbackRequest) -> LoopbackResponse

    /// Limits and bookkeeping.
    public struct Options: Sendable {
        /// Keep every request for ``requests``; turn off for benchmarks.
        public var recordRequests: Bool
        /// Largest request head (request line and headers); larger gets 431 and the connection closed.
        public var maxHeaderBytes: Int
        /// Largest request body; larger gets 413 and the connection closed.
        public var maxBodyBytes: Int
        /// listen() backlog.
        public var backlog: Int32
        /// The port to bind on 127.0.0.1; 0 (the default) for any free port.
        public var port: Int

        public init(recordRequests: Bool = true, maxHeaderBytes: Int = 64 * 1024, maxBodyBytes: Int = 64 * 1024 * 1024,
                    backlog: Int32 = 1024, port: Int = 0) {
            self.recordRequests = recordRequests
            self.port = port
            self.maxHeaderBytes = maxHeaderBytes
            self.maxBodyBytes = maxBodyBytes
            self.backlog = backlog
        }
    }

    /// The TCP port it listens on, on 127.0.0.1.
    public let port: Int
    private let core: LoopbackServerCore

    /// Binds 127.0.0.1 on a free port and starts serving; `responder` answers every request (default: 200 "ok").
    public init(options: Options = Options(),
                responder: @escaping Responder = { _ in .ok() }) throws(LoopbackHTTPError) {
        core = try LoopbackServerCore(options: options, responder: responder)
        port = core.port
        core.start()
    }

    deinit { core.stop() }

    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// `baseURL` + `path` (which should start with `/`).
    public func url(_ path: String = "/") -> String { baseURL + path }

    /// The responder; replacing it affects requests that arrive afterwards.
    public var responder: Responder {
        get { core.responder }
        set { core.responder = newValue }
    }

    /// Every request recorded so far, in arrival order.
    public var requests: [LoopbackRequest] { core.recorded }
    /// Requests received so far (recorded or not).
    public var requestCount: Int { core.requestCount }
    /// Connections accepted so far.
    public var connectionCount: Int { core.connectionCount }
    /// Connections open now.
    public var openConnectionCount: Int { core.openConnectionCount }

    /// Forgets recorded requests (counts stay).
    public func clearRequests() { core.clearRecorded() }

    /// Waits until at least `count` requests have arrived, or `timeoutSeconds` pass; true if they arrived.
    @discardableResult
    public func waitForRequests(_ count: Int, timeoutSeconds: Double) -> Bool {
        core.waitForRequests(count, timeoutSeconds: timeoutSeconds)
    }

    /// Stops accepting, closes every connection and waits (up to a few seconds) for the server's threads. Idempotent.
    public func stop() { core.stop() }
}

/// Why the server could not start.
public enum LoopbackHTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    case systemCallFailed(call: String, errno: Int32)

    public var description: String {
        switch self {
        case .systemCallFailed(let call, let code): return "loopback HTTP server: \(call) failed: \(String(cString: strerror(code)))"
        }
    }
}

/// The server's shared state and threads; the public class wraps it so dropping the server stops it.
final class LoopbackServerCore: @unchecked Sendable {
    let options: LoopbackHTTPServer.Options
    let port: Int
    private let listenFD: Int32
    /// Readable once the server stops: every poll() in the server watches it.
    let wakeRead: Int32
    private let wakeWrite: Int32
    private let condition = NSCondition()
    private var responderValue: LoopbackHTTPServer.Responder
    private var recordedValue: [LoopbackRequest] = []
    private var requestTotal = 0
    private var connectionTotal = 0
    private var openFDs = Set<Int32>()
    private var stopping = false
    private var stoppedAll = false
    private let threads = DispatchGroup()

    init(options: LoopbackHTTPServer.Options, responder: @escaping LoopbackHTTPServer.Responder) throws(LoopbackHTTPError) {
        self.options = options
        responderValue = responder
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw .systemCallFailed(call: "socket", errno: errno) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(clamping: max(0, options.port)).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { let e = errno; close(fd); throw .systemCallFailed(call: "bind to 127.0.0.1:\(options.port)", errno: e) }
        guard listen(fd, options.backlog) == 0 else { let e = errno; close(fd); throw .systemCallFailed(call: "listen", errno: e) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { let e = errno; close(fd); throw .systemCallFailed(call: "getsockname", errno: e) }
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { let e = errno; close(fd); throw .systemCallFailed(call: "pipe", errno: e) }
        listenFD = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        wakeRead = pipeFDs[0]
        wakeWrite = pipeFDs[1]
    }

    var responder: LoopbackHTTPServer.Responder {
        get { condition.lock(); defer { condition.unlock() }; return responderValue }
        set { condition.lock(); responderValue = newValue; condition.unlock() }
    }

    var recorded: [LoopbackRequest] { condition.lock(); defer { condition.unlock() }; return recordedValue }
    var requestCount: Int { condition.lock(); defer { condition.unlock() }; return requestTotal }
    var connectionCount: Int { condition.lock(); defer { condition.unlock() }; return connectionTotal }
    var openConnectionCount: Int { condition.lock(); defer { condition.unlock() }; return openFDs.count }

    func clearRecorded() { condition.lock(); recordedValue.removeAll(); condition.unlock() }

    func waitForRequests(_ count: Int, timeoutSeconds: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeoutSeconds)
        condition.lock(); defer { condition.unlock() }
        while requestTotal < count {
            if !condition.wait(until: deadline) { return requestTotal >= count }
        }
        return true
    }

    func start() {
        threads.enter()
        let thread = Thread { [self] in
            acceptLoop()
            threads.leave()
        }
        thread.name = "loopback-http-accept"
        thread.start()
    }

    func stop() {
        condition.lock()
        if stoppedAll { condition.unlock(); return }
        let first = !stopping
        stopping = true
        if first {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
            for fd in openFDs { shutdown(fd, Int32(SHUT_RDWR)) }
        }
        condition.unlock()
        guard first else { return }
        _ = threads.wait(timeout: .now() + 5)
        condition.lock()
        stoppedAll = true
        condition.unlock()
        close(listenFD)
        // The wake pipe stays open if a thread is somehow still running, so it never polls a reused descriptor.
        if threads.wait(timeout: .now()) == .success {
            close(wakeRead)
            close(wakeWrite)
        }
    }

    var isStopping: Bool { condition.lock(); defer { condition.unlock() }; return stopping }

    private func acceptLoop() {
        var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        while true {
            let ready = poll(&fds, 2, -1)
            if ready < 0 { if errno == EINTR { continue }; return }
            if fds[1].revents != 0 { return }
            guard fds[0].revents != 0 else { continue }
            let client = accept(listenFD, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == EAGAIN || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE { usleep(10_000); continue }
                return
            }
            var one: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            #if canImport(Darwin)
            setsockopt(client, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
            #endif
            condition.lock()
            if stopping { condition.unlock(); close(client); return }
            connectionTotal += 1
            let id = connectionTotal
            openFDs.insert(client)
            threads.enter()
            condition.unlock()
            let thread = Thread { [self] in
                var connection = LoopbackConnection(fd: client, id: id, core: self)
                connection.serve()
                threads.leave()
            }
            thread.name = "loopback-http-\(id)"
            thread.start()
        }
    }

    /// Called by a connection thread just before it closes its descriptor.
    func connectionClosing(_ fd: Int32) {
        condition.lock()
        openFDs.remove(fd)
        condition.unlock()
    }

    /// Counts and records a request, then asks the responder.
    func handle(_ request: inout LoopbackRequest) -> LoopbackResponse {
        condition.lock()
        requestTotal += 1
        request.sequence = requestTotal
        if options.recordRequests { recordedValue.append(request) }
        let responder = responderValue
        condition.broadcast()
        condition.unlock()
        return responder(request)
    }
}
