import Dispatch
import Foundation

/// Sends webhook requests through one libcurl multi handle driven by its own thread: many transfers in flight,
/// kept-alive connections reused, HTTP/2 when the server offers it over TLS.
///
/// Thread-safe: call ``send(_:completion:)`` from any thread. Requests start in submission order (after any
/// rate-limit hold) as long as fewer than ``Options/maxConcurrentTransfers`` are in flight.
/// Completions run on the client's thread: keep them short, and never call ``sendAndWait(_:)`` or
/// ``shutdown(_:)`` waiting from inside one. TLS verification is always on; proxies come from the usual
/// environment variables (`https_proxy`, `no_proxy`, …) as libcurl reads them. Redirects are not followed.
/// Call ``shutdown(_:)`` when done; dropping the last reference cancels whatever is still in flight.
public final class WebhookClient: Sendable {
    /// Connection and concurrency limits.
    public struct Options: Sendable, Equatable {
        /// Most connections open at once, all hosts together (CURLMOPT_MAX_TOTAL_CONNECTIONS).
        public var maxConnections: Int
        /// Most connections to one host (CURLMOPT_MAX_HOST_CONNECTIONS); nil for `maxConnections`.
        public var maxHostConnections: Int?
        /// Most transfers handed to libcurl at once; the rest wait in the client's queue, their timeout not yet
        /// running. nil for `maxConnections` (one request per HTTP/1.1 connection); raise it to use HTTP/2 multiplexing.
        public var maxConcurrentTransfers: Int?

        public init(maxConnections: Int = 64, maxHostConnections: Int? = nil, maxConcurrentTransfers: Int? = nil) {
            self.maxConnections = maxConnections
            self.maxHostConnections = maxHostConnections
            self.maxConcurrentTransfers = maxConcurrentTransfers
        }
    }

    /// What ``shutdown(_:)`` does with transfers already submitted.
    public enum ShutdownMode: Sendable, Equatable {
        /// Let every submitted request run to its end (rate-limit holds included), then stop.
        case finish
        /// Stop now: everything not finished completes with a ``WebhookTransportError/Kind/cancelled`` error (or
        /// ``WebhookTransportError/Kind/notSent`` when it had not started).
        case cancel
    }

    /// Most bytes of response headers kept per response; further headers are dropped.
    public static let maxResponseHeaderBytes = 32 * 1024

    public let options: Options
    private let loop: WebhookMultiLoop

    /// Starts the client's thread. Throws when libcurl cannot be initialised.
    public init(options: Options = Options()) throws(WebhookClientError) {
        self.options = options
        loop = try WebhookMultiLoop(options: options)
        loop.start()
    }

    deinit { loop.requestStop(.cancel) }

    /// Queues `request`; `completion` runs once, on the client's thread, with the result.
    ///
    /// With a rate limiter on the request, a token is reserved now and the request is held (without
    /// blocking any thread) until its slot. After ``shutdown(_:)`` the completion runs at once, on the
    /// caller's thread, with a `notSent` error.
    public func send(_ request: WebhookRequest, completion: @escaping @Sendable (WebhookResult) -> Void) {
        loop.submit(request, completion: completion)
    }

    /// Sends `request` and blocks the calling thread until its result.
    ///
    /// Called from a completion (the client's own thread) it would deadlock, so it returns an error result instead.
    public func sendAndWait(_ request: WebhookRequest) -> WebhookResult {
        if loop.isLoopThread {
            return WebhookResult(status: 0, error: WebhookTransportError(kind: .invalidRequest, curlCode: -1,
                message: "sendAndWait was called from a completion handler on the client's thread"))
        }
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        send(request) { result in
            box.result = result
            done.signal()
        }
        done.wait()
        return box.result!
    }

    /// Stops accepting requests, finishes or cancels what was submitted (see ``ShutdownMode``), and waits for
    /// the client's thread to end (unless called from it). Safe to call more than once; `.cancel` overrides an
    /// earlier `.finish`.
    public func shutdown(_ mode: ShutdownMode = .finish) {
        loop.requestStop(mode)
        if !loop.isLoopThread { loop.waitUntilStopped() }
    }

    /// Ends every request submitted so far, in flight, queued or held by a rate limiter, without waiting for it.
    ///
    /// For a run stopping at its shutdown deadline. A transfer already handed to libcurl completes at once
    /// with a ``WebhookTransportError/Kind/cancelled`` error, which ``WebhookOutcome`` retries (the attempt is
    /// booked as failed: part of it may have reached the URL); one still waiting for its rate-limit slot or a
    /// free transfer completes with ``WebhookTransportError/Kind/notSent``, which counts as no attempt.
    /// `reason` ends each message (`interrupted: <reason>`, `not sent: <reason>`). Unlike ``shutdown(_:)`` the
    /// client keeps working: requests sent afterwards go out as usual. Returns immediately; the completions run
    /// on the client's thread.
    public func interruptInFlight(reason: String) { loop.requestInterrupt(reason: reason) }

    /// Transfers started and not yet completed, plus those queued or held by a rate limiter.
    public var pendingCount: Int { loop.pendingCount }
}

private final class ResultBox: @unchecked Sendable {
    var result: WebhookResult?
}

/// Why a ``WebhookClient`` could not start.
public enum WebhookClientError: Error, Sendable, Equatable, CustomStringConvertible {
    case curlInitFailed(String)
    case threadStartFailed

    public var description: String {
        switch self {
        case .curlInitFailed(let detail): return "webhook client: libcurl could not be initialised: \(detail)"
        case .threadStartFailed: return "webhook client: its thread could not be started"
        }
    }
}
