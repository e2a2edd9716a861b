/// How ``LoopbackHTTPServer`` answers one request: a response, possibly late, or a broken connection.
public struct LoopbackResponse: Sendable {
    /// The response body.
    public enum Body: Sendable, Equatable {
        case bytes([UInt8])
        /// `count` copies of `byte`, streamed without being held in memory: for huge-body tests.
        case generated(count: Int, byte: UInt8)

        public var count: Int {
            switch self {
            case .bytes(let bytes): return bytes.count
            case .generated(let count, _): return max(0, count)
            }
        }
    }

    /// What to do with the connection.
    public enum Action: Sendable, Equatable {
        /// Send the response; keep the connection open unless the client or ``LoopbackResponse/closeConnection`` says otherwise.
        case respond
        /// Send nothing and reset the connection (SO_LINGER 0, so the client sees ECONNRESET).
        case reset
        /// Send nothing and close the connection normally.
        case close
        /// Send exactly these bytes (no status line or headers added) and close: for broken or interim replies.
        case raw([UInt8])
    }

    public var status: Int
    /// Reason phrase; nil for the standard one.
    public var reason: String?
    /// Sent after `Content-Length` (which the server always sets itself).
    public var headers: [LoopbackHeader]
    public var body: Body
    /// Seconds to wait before answering (or resetting). The wait ends early if the server stops.
    public var delaySeconds: Double
    public var action: Action
    /// Send `Connection: close` and close after the response.
    public var closeConnection: Bool

    public init(status: Int = 200, reason: String? = nil, headers: [LoopbackHeader] = [], body: Body = .bytes([]),
                delaySeconds: Double = 0, action: Action = .respond, closeConnection: Bool = false) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.delaySeconds = delaySeconds
        self.action = action
        self.closeConnection = closeConnection
    }

    /// `status` with a text body (`text/plain`, or `contentType`) and extra headers.
    public static func text(_ status: Int, _ text: String = "", contentType: String = "text/plain; charset=utf-8",
                            headers: [LoopbackHeader] = []) -> LoopbackResponse {
        var all = text.isEmpty ? [] : [LoopbackHeader(name: "Content-Type", value: contentType)]
        all += headers
        return LoopbackResponse(status: status, headers: all, body: .bytes(Array(text.utf8)))
    }

    /// 200 with a short body.
    public static func ok(_ text: String = "ok") -> LoopbackResponse { .text(200, text) }

    /// 429 with `Retry-After: <value>`.
    public static func tooManyRequests(retryAfter: String) -> LoopbackResponse {
        .text(429, "slow down", headers: [LoopbackHeader(name: "Retry-After", value: retryAfter)])
    }

    /// Reset the connection without answering.
    public static let reset = LoopbackResponse(action: .reset)

    /// `text` sent as the whole reply, as it is, then the connection closed (a garbled or interim-only reply).
    public static func raw(_ text: String) -> LoopbackResponse { LoopbackResponse(action: .raw(Array(text.utf8))) }

    /// `status` with a body of `bytes` filler bytes, streamed.
    public static func huge(_ bytes: Int, status: Int = 200) -> LoopbackResponse {
        LoopbackResponse(status: status, headers: [LoopbackHeader(name: "Content-Type", value: "text/plain")],
                         body: .generated(count: bytes, byte: UInt8(ascii: "x")))
    }

    /// This response, sent `seconds` later.
    public func delayed(by seconds: Double) -> LoopbackResponse {
        var copy = self
        copy.delaySeconds = seconds
        return copy
    }

    static func standardReason(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "Status"
        }
    }
}
