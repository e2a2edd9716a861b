/// One HTTP request for ``WebhookClient``: everything resolved, secrets included.
public struct WebhookRequest: Sendable {
    /// Standard Webhooks signing: the client adds `webhook-id`, `webhook-timestamp` and `webhook-signature`.
    public struct Signing: Sendable {
        public var messageID: String
        public var secret: StandardWebhookSignature.Secret
        /// Unix seconds to sign with; nil for the wall clock when the request starts (after any rate-limit wait).
        public var timestamp: Int?

        public init(messageID: String, secret: StandardWebhookSignature.Secret, timestamp: Int? = nil) {
            self.messageID = messageID
            self.secret = secret
            self.timestamp = timestamp
        }
    }

    /// The expanded URL (`http` or `https` only; other schemes fail with a permanent error).
    public var url: String
    public var method: String
    public var headers: [WebhookHeader]
    public var body: [UInt8]
    /// Whole-transfer timeout, counted from when the transfer starts (not while held by the rate limiter).
    public var timeoutSeconds: Double
    /// Most response-body bytes read; the rest of a longer body is not read and the connection is dropped.
    public var maxResponseBytes: Int
    /// CA certificates to verify against instead of the system's. Verification is always on.
    public var caBundlePath: String?
    public var signing: Signing?
    /// When set, the client takes a token before starting and holds the request until its slot.
    public var rateLimiter: TokenBucket?
    /// When set and paused, the client holds the request until the pause ends (taking a new slot from `rateLimiter`).
    public var pause: DeliveryPause?
    /// Applied to every text in the ``WebhookResult``.
    public var redactor: Redactor

    public init(url: String, method: String = "POST", headers: [WebhookHeader] = [], body: [UInt8] = [],
                timeoutSeconds: Double = WebhookConfiguration.defaultTimeoutSeconds,
                maxResponseBytes: Int = WebhookConfiguration.defaultMaxResponseBytes,
                caBundlePath: String? = nil, signing: Signing? = nil, rateLimiter: TokenBucket? = nil,
                pause: DeliveryPause? = nil, redactor: Redactor = .none) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeoutSeconds = timeoutSeconds
        self.maxResponseBytes = maxResponseBytes
        self.caBundlePath = caBundlePath
        self.signing = signing
        self.rateLimiter = rateLimiter
        self.pause = pause
        self.redactor = redactor
    }
}
