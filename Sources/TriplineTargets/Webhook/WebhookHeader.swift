/// One HTTP header field, request or response; order and repetition are kept wherever headers are listed.
public struct WebhookHeader: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// `Name: value`.
    public var description: String { "\(name): \(value)" }

    /// Header names (lower case) a webhook's `Headers` may not set: libcurl frames the request and manages
    /// the connection itself, and a second or wrong value of these could desynchronise the framing
    /// (request smuggling on a kept-alive connection) or break the exchange.
    ///
    /// Framing (`Content-Length`, `Transfer-Encoding`, `Host`), hop-by-hop (RFC 9110 §7.6.1: `Connection`,
    /// `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, `Upgrade`) and `Expect`, which the client sets.
    public static let reservedNames: Set<String> = [
        "content-length", "transfer-encoding", "host", "connection", "keep-alive", "proxy-connection",
        "te", "trailer", "upgrade", "expect",
    ]

    /// Whether `name` is one of ``reservedNames`` (case-insensitive).
    public static func isReserved(_ name: String) -> Bool { reservedNames.contains(name.lowercased()) }

    /// RFC 9110 token: the characters allowed in a header name or method.
    public static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { b in
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): return true
            default: return "!#$%&'*+-.^_`|~".utf8.contains(b)
            }
        }
    }
}

extension Array where Element == WebhookHeader {
    /// The value of the last field named `name` (case-insensitive), if any.
    public func value(for name: String) -> String? {
        let lower = name.lowercased()
        return last { $0.name.lowercased() == lower }?.value
    }
}
