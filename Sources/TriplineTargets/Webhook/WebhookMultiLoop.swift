import CCurl
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `curl_global_init` once per process, before the first handle (thread-safe lazy global).
private let curlGlobalInitCode: UInt32 = tripline_curl_global_init_default().rawValue

/// The thread behind ``WebhookClient``: owns the multi handle, the queue of requests and every transfer.
///
/// Shared with submitters: `inbox`, `stopMode`, `interruptReason`, `closed`, `wakePending` and `outstanding`, under `lock`.
/// Everything else is touched only by the loop thread.
final class WebhookMultiLoop: @unchecked Sendable {
    private struct Pending {
        var request: WebhookRequest
        var completion: @Sendable (WebhookResult) -> Void
        var submittedAt: Double
        var dueAt: Double
    }

    /// Longest `Retry-After` pause a request waits out inside the client. A longer one hands the
    /// request back unsent (``WebhookTransportError/Kind/paused(seconds:)``), to be retried when the
    /// pause ends, as the delivery told to wait is: held, it would keep a worker, and a run at the end
    /// of its input, waiting for up to the hour `Retry-After` may ask.
    static let maxPauseHoldSeconds: Double = 10

    static func notSentWhilePaused(_ wait: Double) -> WebhookResult {
        WebhookResult(status: 0, error: WebhookTransportError(
            kind: .paused(seconds: wait), curlCode: -1,
            message: "not sent: the URL asked every delivery to wait (Retry-After) \(Int(wait.rounded(.up)))s more"))
    }

    private let multi: UnsafeMutableRawPointer
    private let maxConcurrent: Int
    private let lock = NSLock()
    private var inbox: [Pending] = []
    private var stopMode: WebhookClient.ShutdownMode?
    /// Why ``requestInterrupt(reason:)`` asked to end every transfer, until the loop has.
    private var interruptReason: String?
    private var closed = false
    private var wakePending = false
    private var outstanding = 0
    private var loopThread: pthread_t?
    private let stopped = DispatchGroup()

    // Loop thread only.
    private var ready: [Pending] = []
    private var readyHead = 0
    /// Held by a rate limiter; sorted by `dueAt`, latest first, so the next due is `last`.
    private var held: [Pending] = []
    private var active: [UnsafeMutableRawPointer: WebhookTransfer] = [:]
    private var idleHandles: [UnsafeMutableRawPointer] = []

    init(options: WebhookClient.Options) throws(WebhookClientError) {
        guard curlGlobalInitCode == CURLE_OK.rawValue else {
            throw .curlInitFailed("curl_global_init returned \(curlGlobalInitCode)")
        }
        guard let multi = curl_multi_init() else { throw .curlInitFailed("curl_multi_init returned NULL") }
        self.multi = multi
        let connections = max(1, options.maxConnections)
        maxConcurrent = max(1, options.maxConcurrentTransfers ?? connections)
        _ = tripline_curl_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, connections)
        _ = tripline_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(1, options.maxHostConnections ?? connections))
        _ = tripline_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(connections, 4))
        _ = tripline_curl_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
    }

    func start() {
        stopped.enter()
        let thread = Thread { [self] in
            lock.lock(); loopThread = pthread_self(); lock.unlock()
            run()
            stopped.leave()
        }
        thread.name = "tripline-webhook"
        thread.start()
    }

    var isLoopThread: Bool {
        lock.lock(); defer { lock.unlock() }
        guard let loopThread else { return false }
        return pthread_equal(loopThread, pthread_self()) != 0
    }

    var pendingCount: Int {
        lock.lock(); defer { lock.unlock() }
        return outstanding
    }

    func submit(_ request: WebhookRequest, completion: @escaping @Sendable (WebhookResult) -> Void) {
        let now = monotonicSeconds()
        lock.lock()
        guard stopMode == nil else {
            lock.unlock()
            completion(WebhookResult(status: 0, error: WebhookTransportError(kind: .notSent, curlCode: -1,
                                                                             message: "not sent: the webhook client is shut down")))
            return
        }
        if let wait = request.pause?.remainingSeconds, wait > WebhookMultiLoop.maxPauseHoldSeconds {
            lock.unlock()
            completion(WebhookMultiLoop.notSentWhilePaused(wait))
            return
        }
        // Reserve under the lock so reservation order is queue order.
        let delay = request.rateLimiter?.reserve() ?? 0
        inbox.append(Pending(request: request, completion: completion, submittedAt: now, dueAt: now + max(0, delay)))
        outstanding += 1
        if !wakePending {
            wakePending = true
            _ = curl_multi_wakeup(multi)
        }
        lock.unlock()
    }

    func requestStop(_ mode: WebhookClient.ShutdownMode) {
        lock.lock()
        if stopMode == nil || mode == .cancel { stopMode = mode }
        if !closed { _ = curl_multi_wakeup(multi) }
        lock.unlock()
    }

    /// Asks the loop to end every transfer it holds now (see ``WebhookClient/interruptInFlight(reason:)``).
    func requestInterrupt(reason: String) {
        lock.lock()
        interruptReason = reason
        if !closed { _ = curl_multi_wakeup(multi) }
        lock.unlock()
    }

        func waitUntilStopped() { stopped.wait() }

    // MARK: - The loop

    private func run() {
        while true {
            lock.lock()
            let arrived = inbox
            inbox.removeAll(keepingCapacity: true)
            wakePending = false
            let mode = stopMode
            let interrupt = interruptReason
            interruptReason = nil
            lock.unlock()

            var now = monotonicSeconds()
            for pending in arrived {
                if pending.dueAt > now { hold(pending) } else { ready.append(pending) }
            }
            if mode == .cancel { cancelEverything(); break }
            if let interrupt {
                endEverything(started: WebhookTransportError(kind: .cancelled, curlCode: -1, message: "interrupted: " + interrupt),
                              waiting: WebhookTransportError(kind: .notSent, curlCode: -1, message: "not sent: " + interrupt))
                continue
            }
            while let next = held.last, next.dueAt <= now { ready.append(held.removeLast()) }
            startReady()

            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            collectFinished()
            startReady()

            if mode == .finish, active.isEmpty, held.isEmpty, readyHead >= ready.count {
                lock.lock()
                let empty = inbox.isEmpty
                lock.unlock()
                if empty { break }
            }

            now = monotonicSeconds()
            var timeoutMs: Int32 = 1000
            if let next = held.last { timeoutMs = WebhookMultiLoop.pollTimeout(untilDue: next.dueAt - now, atMost: timeoutMs) }
            if readyHead < ready.count, active.count < maxConcurrent { timeoutMs = 0 }
            _ = curl_multi_poll(multi, nil, 0, timeoutMs, nil)
        }
        lock.lock()
        closed = true
        lock.unlock()
        for handle in idleHandles { curl_easy_cleanup(handle) }
        idleHandles.removeAll()
        curl_multi_cleanup(multi)
    }

    /// Milliseconds to wait for a hold that ends in `seconds`, at most `limit`: 0 when already due.
    ///
    /// Compared as a Double before converting, so no wait (however long, infinite or NaN) can trap.
    static func pollTimeout(untilDue seconds: Double, atMost limit: Int32) -> Int32 {
        let milliseconds = (seconds * 1000).rounded(.up)
        guard milliseconds < Double(limit) else { return limit }
        return milliseconds > 0 ? Int32(milliseconds) : 0
    }

    private func hold(_ pending: Pending) {
        // Binary search for the insertion point in a latest-first array.
        var low = 0, high = held.count
        while low < high {
            let mid = (low + high) / 2
            if held[mid].dueAt >= pending.dueAt { low = mid + 1 } else { high = mid }
        }
        held.insert(pending, at: low)
    }

    private func startReady() {
        while readyHead < ready.count, active.count < maxConcurrent {
            var pending = ready[readyHead]
            readyHead += 1
            // A Retry-After for this URL arrived since the request was queued: hold it again, with a fresh
            // rate-limit slot (the paused bucket counts slots from the end of the pause).
            if let wait = pending.request.pause?.remainingSeconds, wait > 0 {
                if wait > WebhookMultiLoop.maxPauseHoldSeconds {
                    complete(pending.completion, WebhookMultiLoop.notSentWhilePaused(wait))
                    continue
                }
                pending.dueAt = monotonicSeconds() + max(wait, pending.request.rateLimiter?.reserve() ?? 0)
                hold(pending)
                continue
            }
            start(pending)
        }
        if readyHead == ready.count {
            ready.removeAll(keepingCapacity: true)
            readyHead = 0
        } else if readyHead > 4096, readyHead * 2 > ready.count {
            ready.removeFirst(readyHead)
            readyHead = 0
        }
    }

    private func start(_ pending: Pending) {
        let queued = monotonicSeconds() - pending.submittedAt
        guard let easy = idleHandles.popLast() ?? curl_easy_init() else {
            complete(pending.completion, WebhookResult(status: 0, error: WebhookTransportError(
                kind: .other, curlCode: -1, message: "curl_easy_init failed"), queuedSeconds: queued))
            return
        }
        let transfer = WebhookTransfer(easy: easy, request: pending.request, completion: pending.completion, queuedSeconds: queued)
        if let problem = configure(transfer) {
            recycle(easy)
            complete(transfer.completion, WebhookResult(status: 0, error: problem, queuedSeconds: queued))
            return
        }
        let added = curl_multi_add_handle(multi, easy)
        guard added == CURLM_OK else {
            recycle(easy)
            let text = String(cString: curl_multi_strerror(added))
            complete(transfer.completion, WebhookResult(status: 0, error: WebhookTransportError(
                kind: .other, curlCode: -1, message: "curl_multi_add_handle: \(text)"), queuedSeconds: queued))
            return
        }
        active[easy] = transfer
    }

    /// Sets every option for one transfer; returns an error when the request can never be sent.
    private func configure(_ transfer: WebhookTransfer) -> WebhookTransportError? {
        let request = transfer.request
        let easy = transfer.easy
        func invalid(_ message: String) -> WebhookTransportError {
            WebhookTransportError(kind: .invalidRequest, curlCode: -1, message: request.redactor.redact(message))
        }
        guard WebhookHeader.isToken(request.method) else { return invalid("invalid HTTP method") }
        // Checked here, so that libcurl's CURLE_UNSUPPORTED_PROTOCOL after a transfer can only mean a reply it
        // could not read as HTTP (HTTP/0.9, a bad status line): a network-level failure, retried.
        guard WebhookMultiLoop.hasHTTPScheme(request.url) else { return invalid("unsupported URL scheme: only http:// and https:// are sent") }
        if let reserved = request.headers.first(where: { WebhookHeader.isReserved($0.name) }) {
            return invalid("header \(reserved.name) is set by the client itself and cannot be given")
        }
        var headers = request.headers
        if let signing = request.signing {
            let timestamp = signing.timestamp ?? Int(Date().timeIntervalSince1970)
            headers += StandardWebhookSignature.headers(id: signing.messageID, timestamp: timestamp,
                                                        body: request.body, secret: signing.secret)
        }
        // No `Expect: 100-continue` round trip before larger bodies.
        headers.append(WebhookHeader(name: "Expect", value: ""))
        var list: UnsafeMutablePointer<curl_slist>?
        for header in headers {
            guard WebhookHeader.isToken(header.name) else { return invalid("invalid header name \"\(header.name)\"") }
            guard !WebhookConfiguration.hasLineBreak(header.value) else {
                return invalid("header \(header.name) contains a line break or NUL")
            }
            // "Name;" sends an empty value ("Name:" would remove the header); Expect is meant to be removed.
            let line = header.value.isEmpty && header.name != "Expect" ? "\(header.name);" : "\(header.name): \(header.value)"
            guard let appended = curl_slist_append(list, line) else { return invalid("out of memory building headers") }
            list = appended
        }
        transfer.headerList = list

        let userdata = Unmanaged.passUnretained(transfer).toOpaque()
        var failed: CURLcode = CURLE_OK
        func set(_ code: CURLcode) { if failed == CURLE_OK && code != CURLE_OK { failed = code } }
        set(tripline_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, transfer.errorBuffer))
        set(tripline_curl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        set(tripline_curl_easy_setopt_string(easy, CURLOPT_URL, request.url))
        set(tripline_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        set(tripline_curl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0))
        set(tripline_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1))
        set(tripline_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2))
        if let ca = request.caBundlePath { set(tripline_curl_easy_setopt_string(easy, CURLOPT_CAINFO, ca)) }
        _ = tripline_curl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        // Over TLS, wait for ALPN to say whether a connection multiplexes (HTTP/2) rather than opening more.
        // Never over plain HTTP: it is HTTP/1.1 there, and waiting would serialise on the first response.
        if request.url.utf8.count >= 8, request.url.prefix(8).lowercased() == "https://" {
            _ = tripline_curl_easy_setopt_long(easy, CURLOPT_PIPEWAIT, 1)
        }
        _ = tripline_curl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        let seconds = request.timeoutSeconds.isFinite ? min(max(request.timeoutSeconds, 0.001), 86_400)
                                                      : WebhookConfiguration.defaultTimeoutSeconds
        let timeoutMs = max(1, Int((seconds * 1000).rounded()))
        set(tripline_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, timeoutMs))
        set(tripline_curl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list))
        set(tripline_curl_easy_setopt_writefunction(easy) { buffer, size, count, userdata in
            guard let buffer, let userdata else { return 0 }
            let transfer = Unmanaged<WebhookTransfer>.fromOpaque(userdata).takeUnretainedValue()
            return transfer.receiveBody(UnsafeRawBufferPointer(start: buffer, count: size * count))
        })
        set(tripline_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, userdata))
        set(tripline_curl_easy_setopt_headerfunction(easy) { buffer, size, count, userdata in
            guard let buffer, let userdata else { return 0 }
            let transfer = Unmanaged<WebhookTransfer>.fromOpaque(userdata).takeUnretainedValue()
            return transfer.receiveHeader(UnsafeRawBufferPointer(start: buffer, count: size * count))
        })
        set(tripline_curl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, userdata))

        let method = request.method.uppercased()
        if method == "GET" && request.body.isEmpty {
            set(tripline_curl_easy_setopt_long(easy, CURLOPT_HTTPGET, 1))
        } else {
            set(tripline_curl_easy_setopt_long(easy, CURLOPT_POST, 1))
            set(tripline_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
            // COPYPOSTFIELDS copies the bytes, so the request need not outlive this call.
            let code = request.body.isEmpty
                ? tripline_curl_easy_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, "")
                : request.body.withUnsafeBytes { tripline_curl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress)) }
            set(code)
            if method != "POST" { set(tripline_curl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method)) }
        }
        guard failed == CURLE_OK else {
            return WebhookTransportError(kind: WebhookMultiLoop.kind(of: failed), curlCode: Int(failed.rawValue),
                                         message: request.redactor.redact(WebhookMultiLoop.message(failed, detail: transfer.errorDetail)))
        }
        return nil
    }

    private func collectFinished() {
        var queued: Int32 = 0
        while let message = curl_multi_info_read(multi, &queued) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            guard let transfer = active.removeValue(forKey: easy) else {
                curl_multi_remove_handle(multi, easy)
                continue
            }
            curl_multi_remove_handle(multi, easy)
            finish(transfer, code: code)
        }
    }

    private func finish(_ transfer: WebhookTransfer, code: CURLcode) {
        let easy = transfer.easy
        var status = 0
        _ = tripline_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        var total = 0.0
        _ = tripline_curl_easy_getinfo_double(easy, CURLINFO_TOTAL_TIME, &total)
        var connects = 0
        _ = tripline_curl_easy_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &connects)
        let redactor = transfer.request.redactor
        var error: WebhookTransportError?
        let cutAtCap = code == CURLE_WRITE_ERROR && transfer.bodyTruncated
        if code != CURLE_OK && !cutAtCap {
            error = WebhookTransportError(kind: WebhookMultiLoop.kind(of: code), curlCode: Int(code.rawValue),
                                          message: redactor.redact(WebhookMultiLoop.message(code, detail: transfer.errorDetail)))
        }
        let headers = transfer.headers.map { WebhookHeader(name: $0.name, value: redactor.redact($0.value)) }
        let result = WebhookResult(status: status, headers: headers, body: transfer.body, bodyTruncated: transfer.bodyTruncated,
                                   error: error, durationSeconds: total, queuedSeconds: transfer.queuedSeconds,
                                   newConnections: connects, redactor: redactor)
        recycle(easy)
        complete(transfer.completion, result)
    }

    /// Resets a handle (dropping every pointer into the finished transfer) and keeps it for reuse.
    private func recycle(_ easy: UnsafeMutableRawPointer) {
        curl_easy_reset(easy)
        if idleHandles.count < maxConcurrent { idleHandles.append(easy) } else { curl_easy_cleanup(easy) }
    }

    private func complete(_ completion: @Sendable (WebhookResult) -> Void, _ result: WebhookResult) {
        lock.lock(); outstanding -= 1; lock.unlock()
        completion(result)
    }

    private func cancelEverything() {
        let unsent = WebhookTransportError(kind: .notSent, curlCode: -1, message: "not sent: the webhook client was shut down")
        endEverything(started: WebhookTransportError(kind: .cancelled, curlCode: -1, message: "cancelled: the webhook client was shut down"),
                      waiting: unsent)
        // Submissions racing with the stop: stopMode is set, so nothing new arrives after this drain.
        lock.lock()
        let late = inbox
        inbox.removeAll()
        lock.unlock()
        for pending in late { complete(pending.completion, WebhookResult(status: 0, error: unsent)) }
    }

    /// Completes every transfer without a response: those handed to libcurl with `started`, those still
    /// waiting for their rate-limit slot or a free transfer (never sent) with `waiting`.
    private func endEverything(started: WebhookTransportError, waiting: WebhookTransportError) {
        for (easy, transfer) in active {
            curl_multi_remove_handle(multi, easy)
            recycle(easy)
            var result = WebhookResult(status: 0, error: started)
            result.queuedSeconds = transfer.queuedSeconds
            complete(transfer.completion, result)
        }
        active.removeAll()
        let now = monotonicSeconds()
        for pending in ready[readyHead...] + held.reversed() {
            var result = WebhookResult(status: 0, error: waiting)
            result.queuedSeconds = now - pending.submittedAt
            complete(pending.completion, result)
        }
        ready.removeAll(); readyHead = 0
        held.removeAll()
    }

    // MARK: - libcurl codes

    static func message(_ code: CURLcode, detail: String) -> String {
        let text = String(cString: curl_easy_strerror(code))
        return detail.isEmpty || detail == text ? text : "\(text): \(detail)"
    }

    /// Whether `url` starts with `http://` or `https://` (any case): the only schemes a webhook sends to.
    static func hasHTTPScheme(_ url: String) -> Bool {
        let lowered = url.prefix(8).lowercased()
        return lowered.hasPrefix("http://") || lowered.hasPrefix("https://")
    }

    /// The broad kind of a libcurl result code, which decides retry or dead letter.
    ///
    /// Only what can never work as configured is `.invalidRequest` (permanent): a malformed URL, an option
    /// or feature libcurl refuses, a CA file or TLS engine it cannot load. Everything the server or the
    /// network can cause, garbled replies included, is retried. CURLE_UNSUPPORTED_PROTOCOL is a reply
    /// libcurl could not read as HTTP (HTTP/0.9, a bad status line): the scheme was checked before the
    /// transfer started (``hasHTTPScheme(_:)``), so it cannot mean a wrong scheme here.
    static func kind(of code: CURLcode) -> WebhookTransportError.Kind {
        switch code {
        case CURLE_OPERATION_TIMEDOUT: return .timeout
        case CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_PROXY: return .connect
        case CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_PARTIAL_FILE, CURLE_WEIRD_SERVER_REPLY,
             CURLE_UNSUPPORTED_PROTOCOL, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_WRITE_ERROR, CURLE_READ_ERROR,
             CURLE_HTTP3, CURLE_QUIC_CONNECT_ERROR, CURLE_BAD_CONTENT_ENCODING, CURLE_HTTP_RETURNED_ERROR,
             CURLE_FILESIZE_EXCEEDED, CURLE_AGAIN, CURLE_UNRECOVERABLE_POLL:
            return .connection
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CIPHER, CURLE_SSL_SHUTDOWN_FAILED,
             CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT,
             CURLE_USE_SSL_FAILED:
            return .tls
        case CURLE_URL_MALFORMAT, CURLE_BAD_FUNCTION_ARGUMENT, CURLE_UNKNOWN_OPTION, CURLE_NOT_BUILT_IN,
             CURLE_SETOPT_OPTION_SYNTAX, CURLE_FUNCTION_NOT_FOUND, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CRL_BADFILE, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED:
            return .invalidRequest
        default: return .other
        }
    }
}
