import Foundation

/// One header field as received or sent by ``LoopbackHTTPServer``.
public struct LoopbackHeader: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// One request as ``LoopbackHTTPServer`` received it.
public struct LoopbackRequest: Sendable, CustomStringConvertible {
    public var method: String
    /// The request target as sent: path plus `?query`.
    public var target: String
    /// `HTTP/1.1` or `HTTP/1.0`.
    public var version: String
    /// In order, repeats kept.
    public var headers: [LoopbackHeader]
    /// The body, de-chunked when it came chunked.
    public var body: [UInt8]
    /// Which accepted connection it came on, counting from 1: equal ids mean a kept-alive connection was reused.
    public var connectionID: Int
    /// Its position among all requests the server received, counting from 1.
    public var sequence: Int
    public var receivedAt: Date

    public init(method: String, target: String, version: String = "HTTP/1.1", headers: [LoopbackHeader] = [],
                body: [UInt8] = [], connectionID: Int = 0, sequence: Int = 0, receivedAt: Date = Date()) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.connectionID = connectionID
        self.sequence = sequence
        self.receivedAt = receivedAt
    }

    /// The target without its query.
    public var path: String {
        target.firstIndex(of: "?").map { String(target[..<$0]) } ?? target
    }

    /// The query after `?`, if any (still percent-encoded).
    public var query: String? {
        target.firstIndex(of: "?").map { String(target[target.index(after: $0)...]) }
    }

    /// The value of the last header named `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.last { $0.name.lowercased() == lower }?.value
    }

    /// The body as UTF-8 text (invalid bytes replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// `POST /path (123 bytes)`.
    public var description: String { "\(method) \(target) (\(body.count) bytes)" }
}
