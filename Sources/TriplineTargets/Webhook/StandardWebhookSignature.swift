import COpenSSL
import Foundation

/// Signing per the Standard Webhooks scheme (standardwebhooks.com): `webhook-id`, `webhook-timestamp`, `webhook-signature`.
///
/// The signature is `v1,` + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")), where the body is the
/// exact bytes sent. The receiver recomputes it and also checks the timestamp is recent.
public enum StandardWebhookSignature {
    /// An HMAC key, from a `whsec_<base64>` secret (as the spec issues them) or a raw secret.
    public struct Secret: Sendable, Equatable {
        /// The HMAC-SHA256 key bytes.
        public let key: [UInt8]

        /// `whsec_` + base64: the base64 part is decoded and used as the key (the spec's form).
        /// Anything else: the secret's UTF-8 bytes are the key as-is (for receivers that take a plain shared secret).
        /// Throws when the secret is empty or its `whsec_` part is not valid base64. Errors never contain the secret.
        public init(parsing secret: String) throws(WebhookSignatureError) {
            if secret.hasPrefix(StandardWebhookSignature.secretPrefix) {
                let encoded = String(secret.dropFirst(StandardWebhookSignature.secretPrefix.count))
                guard !encoded.isEmpty else { throw .emptySecret }
                guard let data = Data(base64Encoded: encoded) ?? Data(base64Encoded: StandardWebhookSignature.padded(encoded)),
                      !data.isEmpty else { throw .invalidBase64 }
                key = [UInt8](data)
            } else {
                guard !secret.isEmpty else { throw .emptySecret }
                key = Array(secret.utf8)
            }
        }

        /// Uses `key` directly.
        public init(key: [UInt8]) { self.key = key }
    }

    /// The prefix of secrets in the spec's format.
    public static let secretPrefix = "whsec_"
    public static let idHeader = "webhook-id"
    public static let timestampHeader = "webhook-timestamp"
    public static let signatureHeader = "webhook-signature"

    /// `v1,<base64 signature>` for this message.
    public static func signature(id: String, timestamp: Int, body: [UInt8], secret: Secret) -> String {
        var message = Array("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        return "v1," + Data(hmacSHA256(key: secret.key, message: message)).base64EncodedString()
    }

    /// The three headers to add to the request, in the order `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    public static func headers(id: String, timestamp: Int, body: [UInt8], secret: Secret) -> [WebhookHeader] {
        [WebhookHeader(name: idHeader, value: id),
         WebhookHeader(name: timestampHeader, value: String(timestamp)),
         WebhookHeader(name: signatureHeader, value: signature(id: id, timestamp: timestamp, body: body, secret: secret))]
    }

    /// Receiver side: true when one of the space-separated signatures in `signatureHeader` is a valid `v1` signature
    /// for this message and `timestamp` is within `toleranceSeconds` of `now` (Unix seconds).
    public static func verify(id: String, timestamp: String, signatureHeader: String, body: [UInt8], secret: Secret,
                              now: Int, toleranceSeconds: Int = 300) -> Bool {
        guard let ts = Int(timestamp), abs(now - ts) <= toleranceSeconds else { return false }
        let expected = Array(signature(id: id, timestamp: ts, body: body, secret: secret).utf8)
        var matched = false
        for candidate in signatureHeader.split(separator: " ") {
            let bytes = Array(candidate.utf8)
            guard bytes.count == expected.count else { continue }
            var diff: UInt8 = 0
            for i in 0..<bytes.count { diff |= bytes[i] ^ expected[i] }
            if diff == 0 { matched = true }
        }
        return matched
    }

    /// HMAC-SHA256 through libcrypto.
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // Empty inputs still need a valid pointer; the lengths passed are the real ones.
        let keyBytes = key.isEmpty ? [UInt8(0)] : key
        let messageBytes = message.isEmpty ? [UInt8(0)] : message
        let ok = HMAC(EVP_sha256(), keyBytes, Int32(key.count), messageBytes, message.count, &out, &length) != nil
        precondition(ok && length == 32, "HMAC-SHA256 failed in libcrypto")
        return Array(out.prefix(Int(length)))
    }

    private static func padded(_ base64: String) -> String {
        let remainder = base64.utf8.count % 4
        return remainder == 0 ? base64 : base64 + String(repeating: "=", count: 4 - remainder)
    }
}

/// Why a signing secret cannot be used. Never contains the secret.
public enum WebhookSignatureError: Error, Sendable, Equatable, CustomStringConvertible {
    case emptySecret
    case invalidBase64

    public var description: String {
        switch self {
        case .emptySecret: return "the signing secret is empty"
        case .invalidBase64: return "the signing secret starts with whsec_ but the rest is not valid base64"
        }
    }
}
