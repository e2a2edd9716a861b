import Foundation

/// What to do after a webhook attempt: done, try again later, or give up (dead letter).
public enum WebhookOutcome: Sendable, Equatable, CustomStringConvertible {
    /// A 2xx response.
    case delivered(status: Int)
    /// 429, 5xx, 408, or a network failure: retry with backoff, waiting at least `retryAfterSeconds` when the server said so.
    case retry(reason: String, retryAfterSeconds: Double?)
    /// Any other final response (other 4xx, 3xx) or a request that can never work: straight to dead letters.
    case permanent(reason: String)
    /// The request never left the client: no attempt was made, so none may be counted. It goes out once
    /// `retryAfterSeconds` have passed (the URL's `Retry-After` pause), or, when nil, in the next run (the
    /// run stopped while it waited for its rate-limit slot).
    case notSent(reason: String, retryAfterSeconds: Double?)

    /// Longest `Retry-After` honoured; a larger value is cut to this.
    public static let defaultMaxRetryAfterSeconds: Double = 3600

    /// Classifies `result`. Pure: the same result and `now` always give the same outcome.
    ///
    /// - A final status line decides when one arrived, even if the transfer then failed (the server has answered):
    ///   2xx delivered; 429, 408 and 5xx retry; anything else permanent. A 1xx is interim, not an answer:
    ///   with nothing after it, the attempt failed at the network level and is retried.
    /// - `Retry-After` (seconds or HTTP-date, measured from `now`) is honoured on 429 and 5xx, clamped to
    ///   `0…maxRetryAfterSeconds`; an unparseable value is ignored.
    /// - Without a status: transport errors retry, except a request that can never work (unsupported scheme,
    ///   malformed URL), which is permanent, and one the client never sent (held for its rate-limit slot or a
    ///   `Retry-After` pause), which is ``notSent(reason:retryAfterSeconds:)``.
    /// - Reasons carry the status and the first part of the body (already redacted in the result); a 3xx
    ///   also its `Location` (redacted too) and that redirects are not followed.
    public static func classify(_ result: WebhookResult, now: Date = Date(),
                                maxRetryAfterSeconds: Double = WebhookOutcome.defaultMaxRetryAfterSeconds) -> WebhookOutcome {
        let status = result.status
        if (100...199).contains(status) {
            var reason = "HTTP \(status) (an interim response) and then no final response"
            if let error = result.error { reason += ": \(error)" }
            return .retry(reason: reason, retryAfterSeconds: nil)
        }
        if status > 0 {
            var reason = "HTTP \(status)"
            if let phrase = reasonPhrase(status) { reason += " \(phrase)" }
            if (300...399).contains(status) {
                // Redirects are never followed (the body and its secrets would go to wherever Location says).
                if let location = result.headers.value(for: "Location") {
                    reason += " to \(PrintableText.escapingControls(location)) (redirects are not followed: point Url at it)"
                } else {
                    reason += " (redirects are not followed)"
                }
            }
            if !result.bodyPrefix.isEmpty { reason += ": \(result.bodyPrefix)" }
            switch status {
            case 200...299: return .delivered(status: status)
            case 429, 500...599:
                let wait = result.retryAfter.flatMap {
                    RetryAfter.seconds(from: $0, now: now.timeIntervalSince1970, maxSeconds: maxRetryAfterSeconds)
                }
                return .retry(reason: reason, retryAfterSeconds: wait)
            case 408: return .retry(reason: reason, retryAfterSeconds: nil)
            default: return .permanent(reason: reason)
            }
        }
        guard let error = result.error else { return .retry(reason: "no response", retryAfterSeconds: nil) }
        switch error.kind {
        case .invalidRequest: return .permanent(reason: error.description)
        case .paused(let seconds): return .notSent(reason: error.message, retryAfterSeconds: min(seconds, maxRetryAfterSeconds))
        case .notSent: return .notSent(reason: error.message, retryAfterSeconds: nil)
        default: return .retry(reason: error.description, retryAfterSeconds: nil)
        }
    }

    public var description: String {
        switch self {
        case .delivered(let status): return "delivered (HTTP \(status))"
        case .retry(let reason, let after):
            if let after { return "retry after \(formatSeconds(after)): \(reason)" }
            return "retry: \(reason)"
        case .permanent(let reason): return "failed permanently: \(reason)"
        case .notSent(let reason, let after):
            if let after { return "not sent, to send after \(formatSeconds(after)): \(reason)" }
            return "not sent: \(reason)"
        }
    }

    /// The outcome is a success.
    public var isDelivered: Bool { if case .delivered = self { return true }; return false }

    private static func reasonPhrase(_ status: Int) -> String? {
        switch status {
        case 300: return "Multiple Choices"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 303: return "See Other"
        case 307: return "Temporary Redirect"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 410: return "Gone"
        case 413: return "Content Too Large"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return nil
        }
    }
}
