import Foundation

/// How to reach one webhook target, as written in the rules file: templates, not yet resolved.
///
/// `url` and header values may use `${NAME}` placeholders (see ``SecretTemplate``); they are filled from the
/// environment by ``resolve(environment:)`` at load time, where a missing variable is an error. Every
/// filled-in value, and the signing secret, is then treated as a secret and redacted from all output.
public struct WebhookConfiguration: Sendable, Equatable {
    /// The URL template: `http` or `https` once expanded.
    public var url: String
    /// The HTTP method; default `POST`.
    public var method: String
    /// Extra request headers in order; values are templates. `Content-Type: application/json` and a
    /// `User-Agent` are added unless given here.
    public var headers: [WebhookHeader]
    /// Whole-request timeout in seconds, 1…300; default 10.
    public var timeoutSeconds: Double
    /// Most deliveries per second to this target, shared by all of its in-flight deliveries; nil for no limit.
    public var rateLimitPerSecond: Double?
    /// Deliveries allowed at once before the rate applies; default 1 (strict spacing, as Slack wants).
    public var rateLimitBurst: Double
    /// Name of the environment variable holding the Standard Webhooks signing secret; nil to send unsigned.
    public var signingSecretVariable: String?
    /// A PEM file of CA certificates to verify the server against, instead of the system bundle.
    /// Verification itself is always on.
    public var caBundlePath: String?
    /// Most response-body bytes read; a longer body is cut off there (the status still counts).
    public var maxResponseBytes: Int

    public static let defaultTimeoutSeconds: Double = 10
    public static let timeoutRange: ClosedRange<Double> = 1...300
    /// Allowed `RateLimitPerSecond`: from one delivery every 1000 seconds to 100,000 a second.
    ///
    /// A slower rate would hold a queued delivery for weeks (and every restart would hold it again);
    /// the rule file and ``validate()`` refuse values outside this range.
    public static let rateLimitRange: ClosedRange<Double> = 0.001...100_000
    public static let defaultMaxResponseBytes = 64 * 1024
    public static let maxResponseBytesRange: ClosedRange<Int> = 0...(16 * 1024 * 1024)
    public static let defaultUserAgent = "tripline-webhook/1"

    public init(url: String, method: String = "POST", headers: [WebhookHeader] = [],
                timeoutSeconds: Double = WebhookConfiguration.defaultTimeoutSeconds,
                rateLimitPerSecond: Double? = nil, rateLimitBurst: Double = 1,
                signingSecretVariable: String? = nil, caBundlePath: String? = nil,
                maxResponseBytes: Int = WebhookConfiguration.defaultMaxResponseBytes) {
        self.url = url
        self.method = method
        self.headers = headers
        self.timeoutSeconds = timeoutSeconds
        self.rateLimitPerSecond = rateLimitPerSecond
        self.rateLimitBurst = rateLimitBurst
        self.signingSecretVariable = signingSecretVariable
        self.caBundlePath = caBundlePath
        self.maxResponseBytes = maxResponseBytes
    }

    /// Every environment variable the target needs (URL, headers, signing secret), each once.
    public var requiredVariables: [String] {
        var names: [String] = []
        var templates: [SecretTemplate] = []
        if let t = try? SecretTemplate(parsing: url) { templates.append(t) }
        for header in headers { if let t = try? SecretTemplate(parsing: header.value) { templates.append(t) } }
        for t in templates { for n in t.requiredVariableNames where !names.contains(n) { names.append(n) } }
        if let s = signingSecretVariable, !names.contains(s) { names.append(s) }
        return names
    }

    /// Checks everything that does not need the environment: template syntax, the URL's written parts,
    /// method, header names, ranges, and that a `CaBundle` file can be read.
    ///
    /// What is written in `url` is checked as `resolve` checks the expanded URL: no control character or
    /// space, an `http`/`https` scheme when the scheme is written out, and, for a URL without `${NAME}`,
    /// a host. `validate` thus refuses what `run` would refuse, except what depends on variables' values.
    public func validate() throws(WebhookConfigurationError) {
        let urlTemplate: SecretTemplate
        do { urlTemplate = try SecretTemplate(parsing: url) } catch { throw .template(error) }
        if let (character, position) = WebhookConfiguration.unusableCharacter(in: url) {
            throw .invalidURL(template: url, reason: "it contains \(character) \(position)")
        }
        let writtenPrefix = url.range(of: "${").map { String(url[..<$0.lowerBound]) } ?? url
        if let colon = writtenPrefix.firstIndex(of: ":") {
            let scheme = writtenPrefix[..<colon].lowercased()
            if scheme != "http" && scheme != "https" {
                throw .invalidURL(template: url, reason: "only http:// and https:// URLs are sent, not \(scheme):")
            }
        }
        if urlTemplate.isLiteral { try WebhookConfiguration.checkExpandedURL(url, template: url) }
        if let path = caBundlePath {
            guard FileManager.default.isReadableFile(atPath: path) else { throw .caBundleUnreadable(path: path) }
        }
        guard WebhookHeader.isToken(method) else { throw .invalidMethod(method) }
        for header in headers {
            guard WebhookHeader.isToken(header.name) else { throw .invalidHeaderName(header.name) }
            guard !WebhookHeader.isReserved(header.name) else { throw .reservedHeader(header.name) }
            guard !WebhookConfiguration.hasLineBreak(header.value) else {
                throw .invalidHeaderValue(name: header.name, reason: "it contains a line break or NUL")
            }
            do { _ = try SecretTemplate(parsing: header.value) } catch { throw .template(error) }
        }
        guard timeoutSeconds.isFinite, WebhookConfiguration.timeoutRange.contains(timeoutSeconds) else {
            throw .timeoutOutOfRange(timeoutSeconds)
        }
        if let rate = rateLimitPerSecond, !(rate.isFinite && WebhookConfiguration.rateLimitRange.contains(rate)) { throw .invalidRateLimit(rate) }
        guard rateLimitBurst >= 1, rateLimitBurst.isFinite, rateLimitBurst <= 1_000_000 else { throw .invalidRateLimitBurst(rateLimitBurst) }
        if let name = signingSecretVariable, !SecretTemplate.isValidName(name) { throw .invalidSigningSecretVariable(name) }
        guard WebhookConfiguration.maxResponseBytesRange.contains(maxResponseBytes) else {
            throw .maxResponseBytesOutOfRange(maxResponseBytes)
        }
    }

    /// Validates, then fills every placeholder and reads the signing secret from `environment`.
    ///
    /// Throws naming the first missing or unusable variable, never a value. The returned target holds the
    /// resolved URL and headers, the redactor for their secrets, and the target's shared rate limiter.
    public func resolve(environment: [String: String],
                        clock: @escaping TokenBucket.Clock = { monotonicSeconds() }) throws(WebhookConfigurationError) -> WebhookTarget {
        try validate()
        var secrets: [(name: String, value: String)] = []
        let urlTemplate: SecretTemplate
        let resolvedURL: String
        do {
            urlTemplate = try SecretTemplate(parsing: url)
            resolvedURL = try urlTemplate.expand(environment: environment, field: "url")
        } catch { throw .template(error) }
        secrets += urlTemplate.secrets(in: environment)

        var resolvedHeaders: [WebhookHeader] = []
        for header in headers {
            let template: SecretTemplate
            let value: String
            do {
                template = try SecretTemplate(parsing: header.value)
                value = try template.expand(environment: environment, field: "header \(header.name)")
            } catch { throw .template(error) }
            for (name, secret) in template.secrets(in: environment) where WebhookConfiguration.hasLineBreak(secret) {
                throw .invalidHeaderValue(name: header.name, reason: "environment variable \(name) contains a line break or NUL")
            }
            secrets += template.secrets(in: environment)
            resolvedHeaders.append(WebhookHeader(name: header.name, value: value))
        }
        if resolvedHeaders.value(for: "Content-Type") == nil {
            resolvedHeaders.append(WebhookHeader(name: "Content-Type", value: "application/json"))
        }
        if resolvedHeaders.value(for: "User-Agent") == nil {
            resolvedHeaders.append(WebhookHeader(name: "User-Agent", value: WebhookConfiguration.defaultUserAgent))
        }

        var signingSecret: StandardWebhookSignature.Secret?
        if let variable = signingSecretVariable {
            guard let text = environment[variable] else {
                throw .template(.missingVariable(name: variable, field: "signing secret"))
            }
            do { signingSecret = try StandardWebhookSignature.Secret(parsing: text) } catch {
                throw .signingSecret(variable: variable, error)
            }
            secrets.append((variable, text))
            if text.hasPrefix(StandardWebhookSignature.secretPrefix) {
                secrets.append((variable, String(text.dropFirst(StandardWebhookSignature.secretPrefix.count))))
            }
        }
        let redactor = Redactor(secrets: secrets)

        if let (character, position) = WebhookConfiguration.unusableCharacter(in: resolvedURL) {
            // Name the variable that brought the character in (never its value): often a .env file with CRLF endings.
            let culprit = urlTemplate.secrets(in: environment).first { WebhookConfiguration.unusableCharacter(in: $0.value) != nil }
            let origin = culprit.map { " (from the value of \($0.name): a CRLF line ending or stray space in a .env file?)" } ?? ""
            throw .invalidURL(template: url, reason: "it contains \(character) \(position) once expanded\(origin)")
        }
        try WebhookConfiguration.checkExpandedURL(resolvedURL, template: url)
        let limiter = rateLimitPerSecond.map { TokenBucket(ratePerSecond: $0, burst: rateLimitBurst, clock: clock) }
        return WebhookTarget(configuration: self, url: resolvedURL, headers: resolvedHeaders, redactor: redactor,
                             signingSecret: signingSecret, rateLimiter: limiter)
    }

    /// Throws unless `expanded` is an absolute http(s) URL with a host.
    private static func checkExpandedURL(_ expanded: String, template: String) throws(WebhookConfigurationError) {
        let once = template == expanded ? "" : " once expanded"
        guard let components = URLComponents(string: expanded),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw .invalidURL(template: template, reason: "it is not an absolute http:// or https:// URL\(once)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw .invalidURL(template: template, reason: "it has no host\(once)")
        }
    }

    /// The first character a URL cannot hold as it is (a control character, space, DEL, C1 control), named
    /// for people, with where it is ("at the end" or "at character N"); nil when there is none.
    static func unusableCharacter(in url: String) -> (String, String)? {
        let scalars = Array(url.unicodeScalars)
        guard let index = scalars.firstIndex(where: { $0.value <= 0x20 || (0x7F...0x9F).contains($0.value) }) else { return nil }
        let scalar = scalars[index]
        let code = String(format: "U+%04X", scalar.value)
        let name: String
        switch scalar.value {
        case 0x0D: name = "a carriage return (CR, \(code))"
        case 0x0A: name = "a line feed (LF, \(code))"
        case 0x09: name = "a tab (\(code))"
        case 0x20: name = "a space (\(code))"
        case 0x00: name = "a NUL (\(code))"
        default: name = "a control character (\(code))"
        }
        let trailing = scalars[index...].allSatisfy { $0.value <= 0x20 || (0x7F...0x9F).contains($0.value) }
        return (name, trailing ? "at the end" : "at character \(index + 1)")
    }

    static func hasLineBreak(_ text: String) -> Bool {
        text.utf8.contains { $0 == 10 || $0 == 13 || $0 == 0 }
    }
}

/// Why a webhook configuration cannot be loaded. Descriptions name variables and templates, never secret values.
public enum WebhookConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    case template(SecretTemplateError)
    case invalidURL(template: String, reason: String)
    case invalidMethod(String)
    case invalidHeaderName(String)
    case invalidHeaderValue(name: String, reason: String)
    /// A header the client sets itself (framing or hop-by-hop; see ``WebhookHeader/reservedNames``).
    case reservedHeader(String)
    case timeoutOutOfRange(Double)
    case invalidRateLimit(Double)
    case invalidRateLimitBurst(Double)
    case invalidSigningSecretVariable(String)
    case signingSecret(variable: String, WebhookSignatureError)
    case caBundleUnreadable(path: String)
    case maxResponseBytesOutOfRange(Int)

    /// The rule-file field the problem is in (`Url`, `Headers`, `CaBundle`…); nil when it is not one field.
    public var field: String? {
        switch self {
        case .template, .signingSecret, .maxResponseBytesOutOfRange: return nil
        case .invalidURL: return "Url"
        case .invalidMethod: return "Method"
        case .invalidHeaderName, .invalidHeaderValue, .reservedHeader: return "Headers"
        case .timeoutOutOfRange: return "TimeoutSeconds"
        case .invalidRateLimit: return "RateLimitPerSecond"
        case .invalidRateLimitBurst: return "RateLimitBurst"
        case .invalidSigningSecretVariable: return "SigningSecretVariable"
        case .caBundleUnreadable: return "CaBundle"
        }
    }

    /// Whether an environment variable the target needs is unset (what `Optional` forgives).
    public var isMissingVariable: Bool {
        if case .template(.missingVariable) = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .template(let error): return "webhook: \(error)"
        case .invalidURL(let template, let reason):
            return "webhook url \"\(PrintableText.escapingControls(template))\" is not usable: \(reason)"
        case .invalidMethod(let method): return "webhook method \"\(method)\" is not a valid HTTP method"
        case .invalidHeaderName(let name): return "webhook header name \"\(name)\" is not a valid HTTP header name"
        case .invalidHeaderValue(let name, let reason): return "webhook header \(name) is not usable: \(reason)"
        case .reservedHeader(let name):
            return "webhook header \"\(name)\" cannot be set: the client frames each request and manages the connection itself, "
                + "and a second or wrong value could desynchronise the request framing (Content-Length, Transfer-Encoding, Host, "
                + "Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade and Expect are refused)"
        case .timeoutOutOfRange(let seconds):
            return "webhook timeout \(seconds)s is out of range (\(Int(WebhookConfiguration.timeoutRange.lowerBound))…\(Int(WebhookConfiguration.timeoutRange.upperBound)) seconds)"
        case .invalidRateLimit(let rate):
            return "webhook rate limit \(rate)/s is out of range (\(WebhookConfiguration.rateLimitRange.lowerBound)…\(Int(WebhookConfiguration.rateLimitRange.upperBound)) deliveries per second)"
        case .invalidRateLimitBurst(let burst): return "webhook rate limit burst \(burst) must be at least 1"
        case .invalidSigningSecretVariable(let name): return "webhook signing secret variable \"\(name)\" is not a valid environment variable name"
        case .signingSecret(let variable, let error): return "webhook signing secret from \(variable) is not usable: \(error)"
        case .caBundleUnreadable(let path): return "webhook CA bundle \(path) does not exist or cannot be read"
        case .maxResponseBytesOutOfRange(let n):
            return "webhook max response bytes \(n) is out of range (0…\(WebhookConfiguration.maxResponseBytesRange.upperBound))"
        }
    }
}
