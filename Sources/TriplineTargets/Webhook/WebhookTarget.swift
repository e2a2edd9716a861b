import Foundation

/// A webhook target ready to deliver to: its configuration with every secret filled in, plus the shared rate limiter.
///
/// Made by ``WebhookConfiguration/resolve(environment:clock:)``. Holds secrets: never print ``url`` or
/// ``headers``; show ``displayURL`` and pass any text through ``redactor``.
public final class WebhookTarget: Sendable {
    public let configuration: WebhookConfiguration
    /// The expanded URL. Secret.
    public let url: String
    /// The expanded headers, defaults included. Secret.
    public let headers: [WebhookHeader]
    /// Hides every value taken from the environment.
    public let redactor: Redactor
    public let signingSecret: StandardWebhookSignature.Secret?
    /// Shared by every delivery to this target; nil without a rate limit.
    public let rateLimiter: TokenBucket?
    /// Set by a `Retry-After`; shared by every target posting to the same URL (see ``sharing(rateLimiter:pause:)``).
    public let pause: DeliveryPause

    init(configuration: WebhookConfiguration, url: String, headers: [WebhookHeader], redactor: Redactor,
         signingSecret: StandardWebhookSignature.Secret?, rateLimiter: TokenBucket?, pause: DeliveryPause = DeliveryPause()) {
        self.configuration = configuration
        self.url = url
        self.headers = headers
        self.redactor = redactor
        self.signingSecret = signingSecret
        self.rateLimiter = rateLimiter
        self.pause = pause
    }

    /// This target with `limiter` as its rate limiter: targets posting to one URL (one Slack webhook
    /// used by many rules) share one limit, as the receiving service counts per URL.
    public func sharingRateLimiter(_ limiter: TokenBucket?) -> WebhookTarget {
        sharing(rateLimiter: limiter, pause: pause)
    }

    /// This target with `limiter` and `pause` shared with the other targets posting to its URL.
    public func sharing(rateLimiter limiter: TokenBucket?, pause: DeliveryPause) -> WebhookTarget {
        WebhookTarget(configuration: configuration, url: url, headers: headers, redactor: redactor,
                      signingSecret: signingSecret, rateLimiter: limiter, pause: pause)
    }

    /// Holds every delivery to this URL for `seconds` (a 429 or 503 `Retry-After`, already bounded), then
    /// lets them resume at the rate limit. Deliveries already in flight are not affected.
    public func pauseDeliveries(forSeconds seconds: Double) {
        pause.pause(forSeconds: seconds)
        rateLimiter?.pause(forSeconds: seconds)
    }

    /// The URL as configured, placeholders unexpanded: safe for logs.
    public var displayURL: String { configuration.url }

    /// The header carrying how many matches `Suppress` held back since the previous alert of the same key.
    public static let suppressedCountHeader = "Tripline-Suppressed-Count"

    /// A request delivering `body` to this target.
    ///
    /// `messageID` is the Standard Webhooks `webhook-id` when signing: keep it the same across retries of one
    /// delivery (the idempotency key) so receivers can deduplicate. The timestamp is taken when the request starts.
    /// `suppressedCount`, when above 0, is sent as ``suppressedCountHeader`` (the body stays as it is).
    public func request(body: [UInt8], messageID: String, suppressedCount: Int = 0) -> WebhookRequest {
        var headers = self.headers
        if suppressedCount > 0 { headers.append(WebhookHeader(name: Self.suppressedCountHeader, value: String(suppressedCount))) }
        return WebhookRequest(url: url, method: configuration.method, headers: headers, body: body,
                       timeoutSeconds: configuration.timeoutSeconds, maxResponseBytes: configuration.maxResponseBytes,
                       caBundlePath: configuration.caBundlePath,
                       signing: signingSecret.map { WebhookRequest.Signing(messageID: messageID, secret: $0) },
                       rateLimiter: rateLimiter, pause: pause, redactor: redactor)
    }
}
