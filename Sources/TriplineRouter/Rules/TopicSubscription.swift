import TriplineTargets

/// One subscription of a ``Topic``: where its messages go, which ones (``filterPolicy``), in which
/// form (``rawMessageDelivery``), and its own delivery settings.
public struct TopicSubscription: Sendable, Equatable {
    /// Where a subscription delivers.
    public enum Kind: Sendable, Equatable {
        /// Runs a program with the message on stdin.
        case function(FunctionTarget)
        /// Posts the message.
        case webhook(WebhookTargetSpec)
        /// Appends the message to a file as one JSON line.
        case file(FileSubscription)
        /// Publishes the message to another topic (inside the same publish; cycles are rejected at load).
        case topic(String)

        /// The key the kind is declared with.
        public var key: String {
            switch self {
            case .function: return "Function"
            case .webhook: return "Webhook"
            case .file: return "File"
            case .topic: return "Topic"
            }
        }
    }

    /// Unique within its topic; `[.\-_A-Za-z0-9]+`, at most 64 characters.
    public var id: String
    public var kind: Kind
    /// Which messages this subscription receives; nil for all.
    public var filterPolicy: FilterPolicy?
    /// False (SNS's default): the message is wrapped in SNS's notification envelope; true: delivered as published.
    public var rawMessageDelivery: Bool
    public var retryPolicy: RetryPolicy
    public var deadLetterConfig: DeadLetterConfig?

    public init(id: String, kind: Kind, filterPolicy: FilterPolicy? = nil, rawMessageDelivery: Bool = false,
                retryPolicy: RetryPolicy = RetryPolicy(), deadLetterConfig: DeadLetterConfig? = nil) {
        self.id = id
        self.kind = kind
        self.filterPolicy = filterPolicy
        self.rawMessageDelivery = rawMessageDelivery
        self.retryPolicy = retryPolicy
        self.deadLetterConfig = deadLetterConfig
    }

    /// Runs of this subscription at once.
    public var maxConcurrency: Int {
        switch kind {
        case .function(let function): return function.maxConcurrency
        case .webhook(let webhook): return webhook.maxConcurrency
        case .file: return 1
        case .topic: return 1
        }
    }
}

/// A file subscription: each message is appended as one JSON line (NDJSON), with `O_APPEND`.
public struct FileSubscription: Sendable, Equatable {
    /// The file, resolved like a function handler (relative to the project root).
    public var path: String
    /// `Path` as written.
    public var pathAsWritten: String
    /// `TimeoutSeconds`: how long a line waits for a FIFO, socket or device to take it.
    public var timeoutSeconds: Double

    /// `TimeoutSeconds` when omitted, as for `Function` targets.
    public static let defaultTimeoutSeconds: Double = 30

    public init(path: String, pathAsWritten: String? = nil, timeoutSeconds: Double = FileSubscription.defaultTimeoutSeconds) {
        self.path = path
        self.pathAsWritten = pathAsWritten ?? path
        self.timeoutSeconds = timeoutSeconds
    }
}
