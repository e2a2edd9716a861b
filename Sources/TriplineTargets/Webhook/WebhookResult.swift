/// What one webhook attempt came back with: a response (status, headers, capped body), a transport error, or both
/// (a status line arrived, then the transfer failed). Every text in it has been redacted.
public struct WebhookResult: Sendable, CustomStringConvertible {
    /// The final HTTP status, or 0 when no response status arrived.
    public var status: Int
    /// Headers of the final response, in order (at most ``WebhookClient/maxResponseHeaderBytes`` of them). Redacted.
    public var headers: [WebhookHeader]
    /// The response body as received, at most the request's `maxResponseBytes`. Not redacted: may echo secrets
    /// the server was sent, so never log it; use ``bodyPrefix``.
    public var body: [UInt8]
    /// The body was longer than the cap and reading stopped there.
    public var bodyTruncated: Bool
    /// The first ``bodyPrefixLimit`` bytes of the body as text (invalid UTF-8 replaced, control characters as spaces), redacted.
    public var bodyPrefix: String
    /// Why the transfer failed, when it did.
    public var error: WebhookTransportError?
    /// Seconds from start of the transfer to its end (not counting a rate-limit wait).
    public var durationSeconds: Double
    /// Seconds the request was held for the rate limiter before it started.
    public var queuedSeconds: Double
    /// New connections opened for this transfer: 0 when a kept-alive connection was reused.
    public var newConnections: Int

    /// Bytes kept in ``bodyPrefix``.
    public static let bodyPrefixLimit = 512

    public init(status: Int, headers: [WebhookHeader] = [], body: [UInt8] = [], bodyTruncated: Bool = false,
                bodyPrefix: String? = nil, error: WebhookTransportError? = nil, durationSeconds: Double = 0,
                queuedSeconds: Double = 0, newConnections: Int = 0, redactor: Redactor = .none) {
        self.status = status
        self.headers = headers
        self.body = body
        self.bodyTruncated = bodyTruncated
        self.bodyPrefix = bodyPrefix ?? WebhookResult.prefixText(body, redactor: redactor)
        self.error = error
        self.durationSeconds = durationSeconds
        self.queuedSeconds = queuedSeconds
        self.newConnections = newConnections
    }

    /// The raw `Retry-After` header of the response, if any.
    public var retryAfter: String? { headers.value(for: "Retry-After") }

    /// One line, redacted: `HTTP 503 in 0.012s: <body prefix>` or `transport error 7 (...)`.
    public var description: String {
        var text = status > 0 ? "HTTP \(status)" : "no response"
        text += " in \(formatSeconds(durationSeconds))"
        if let error { text += ", \(error)" }
        if !bodyPrefix.isEmpty { text += ": \(bodyPrefix)" }
        return text
    }

    /// The first ``bodyPrefixLimit`` bytes as single-line text, redacted.
    ///
    /// The whole body is redacted before it is cut, so a secret straddling the cut cannot leak in part.
    public static func prefixText(_ body: [UInt8], redactor: Redactor) -> String {
        guard !body.isEmpty else { return "" }
        var text = String(decoding: body, as: UTF8.self)
        text = String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
        text = redactor.redact(text)
        guard text.utf8.count > bodyPrefixLimit else { return text }
        var cut = ""
        var used = 0
        for scalar in text.unicodeScalars {
            let size = String(scalar).utf8.count
            if used + size > bodyPrefixLimit { break }
            cut.unicodeScalars.append(scalar)
            used += size
        }
        return cut + "…"
    }
}

/// Why a webhook transfer failed below HTTP: libcurl's code and message, or the client's own reasons. Redacted.
public struct WebhookTransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Broad kinds, for classification and tests.
    public enum Kind: Sendable, Equatable {
        /// CURLE_OPERATION_TIMEDOUT.
        case timeout
        /// DNS, connect or proxy failure.
        case connect
        /// The connection broke while sending or receiving (reset, closed early, bad framing).
        case connection
        /// TLS handshake or certificate verification failed.
        case tls
        /// The request could never work as given (unsupported scheme, malformed URL, bad option).
        case invalidRequest
        /// The transfer had started (some of the request may have reached the URL) when the client was
        /// shut down or interrupted.
        case cancelled
        /// Never sent: the request still waited for its rate-limit slot or a free transfer when the client
        /// was shut down or interrupted (a run's shutdown deadline), or it came after the shutdown.
        /// Nothing reached the URL, so it is no attempt.
        case notSent
        /// Not sent: the URL asked every delivery to wait this many seconds more (`Retry-After`), longer
        /// than the client holds a request; to be retried once the wait is over.
        case paused(seconds: Double)
        /// Anything else libcurl reports.
        case other
    }

    public var kind: Kind
    /// The CURLcode, or -1 for the client's own errors.
    public var curlCode: Int
    /// libcurl's description and detail, redacted.
    public var message: String

    public init(kind: Kind, curlCode: Int, message: String) {
        self.kind = kind
        self.curlCode = curlCode
        self.message = message
    }

    public var description: String {
        curlCode >= 0 ? "transport error \(curlCode) (\(message))" : "transport error (\(message))"
    }
}
