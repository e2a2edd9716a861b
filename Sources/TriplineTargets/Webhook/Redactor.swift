import Foundation

/// Replaces secret values with `${NAME}` in any text: every error, log line and dead-letter reason of the webhook code.
///
/// Each secret is matched in the forms a server, proxy or libcurl may echo it in: as written, and with
/// percent escapes, JSON string escapes (`\/`, `\u002F`…) and HTML character references undone, in any
/// mixture (see ``EscapedText``). A secret URL also hides its path and query parts (``urlParts(of:)``) and
/// its `user:password`, including the `Basic` base64 form libcurl sends. Longer secrets win where two
/// start at the same place, so a secret containing another is hidden whole. Empty values are ignored.
public struct Redactor: Sendable, Equatable {
    private struct Pattern: Sendable, Equatable {
        /// Decoded bytes to find in the decoded text.
        var bytes: [UInt8]
        var marker: String
    }

    /// Longest first.
    private let patterns: [Pattern]
    /// For each first byte, the indices into `patterns` that start with it, longest first.
    private let byFirstByte: [[Int]]

    /// A redactor that hides nothing.
    public static let none = Redactor(secrets: [])

    /// Hides each `value`, showing `${name}` in its place.
    public init(secrets: [(name: String, value: String)]) {
        var patterns: [Pattern] = []
        for (name, value) in secrets where !value.isEmpty {
            let marker = "${\(name)}"
            for part in [value] + Redactor.urlParts(of: value) {
                let raw = Array(part.utf8)
                patterns.append(Pattern(bytes: raw, marker: marker))
                patterns.append(Pattern(bytes: EscapedText(raw).bytes, marker: marker))
            }
        }
        self.init(patterns: patterns)
    }

    /// This redactor plus `other`'s secrets.
    public func merging(_ other: Redactor) -> Redactor {
        Redactor(patterns: patterns + other.patterns)
    }

    private init(patterns: [Pattern]) {
        var seen = Set<[UInt8]>()
        let unique = patterns.filter { !$0.bytes.isEmpty && seen.insert($0.bytes).inserted }
        self.patterns = unique.sorted {
            $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.bytes.lexicographicallyPrecedes($1.bytes)
        }
        var table = [[Int]](repeating: [], count: 256)
        for (index, pattern) in self.patterns.enumerated() { table[Int(pattern.bytes[0])].append(index) }
        byFirstByte = table
    }

    public static func == (lhs: Redactor, rhs: Redactor) -> Bool { lhs.patterns == rhs.patterns }

    /// True when there is nothing to hide.
    public var isEmpty: Bool { patterns.isEmpty }

    /// `text` with every secret replaced by its `${NAME}` marker.
    ///
    /// A match covers whole escapes of the original text: `AbC\/dEf` is replaced entirely, never in part.
    public func redact(_ text: String) -> String {
        guard !patterns.isEmpty, !text.isEmpty else { return text }
        let original = Array(text.utf8)
        let decoded = EscapedText(original)
        let bytes = decoded.bytes
        var out: [UInt8] = []
        var copied = 0
        var at = 0
        while at < bytes.count {
            var length = 0
            var marker = ""
            for index in byFirstByte[Int(bytes[at])] {
                let pattern = patterns[index].bytes
                if pattern.count <= bytes.count - at, bytes[at..<(at + pattern.count)].elementsEqual(pattern) {
                    length = pattern.count
                    marker = patterns[index].marker
                    break
                }
            }
            guard length > 0 else { at += 1; continue }
            let start = decoded.sources[at].lowerBound
            let end = decoded.sources[at + length - 1].upperBound
            if start >= copied {
                out += original[copied..<start]
                out += Array(marker.utf8)
            }
            copied = max(copied, end)
            at += length
            // Bytes decoded from an escape already replaced are part of it.
            while at < bytes.count, decoded.sources[at].lowerBound < copied { at += 1 }
        }
        guard copied > 0 else { return text }
        out += original[copied...]
        return String(decoding: out, as: UTF8.self)
    }

    /// For a secret that is a URL (a Slack webhook: the secret is its path), the parts a server or
    /// proxy may echo on their own: path plus query, each path segment or query value of
    /// ``minimumPartLength`` characters or more (shorter ones, like `services`, are not secret), and
    /// its credentials: `user:password`, the base64 of it that libcurl sends as `Authorization: Basic`,
    /// and the password alone (or a user given without a password) of ``minimumCredentialLength`` or more.
    static func urlParts(of value: String) -> [String] {
        guard let components = URLComponents(string: value), components.scheme != nil, components.host != nil else { return [] }
        var parts: [String] = []
        let path = components.percentEncodedPath
        let query = components.percentEncodedQuery.map { "?" + $0 } ?? ""
        if path.utf8.count + query.utf8.count >= minimumPartLength { parts.append(path + query) }
        for segment in path.split(separator: "/") where segment.utf8.count >= minimumPartLength { parts.append(String(segment)) }
        for item in components.percentEncodedQueryItems ?? [] {
            if let value = item.value, value.utf8.count >= minimumPartLength { parts.append(value) }
        }
        if let user = components.user {
            let password = components.password
            let credentials = user + ":" + (password ?? "")
            parts.append(credentials)
            if let encodedUser = components.percentEncodedUser {
                parts.append(encodedUser + ":" + (components.percentEncodedPassword ?? ""))
            }
            let basic = Data(credentials.utf8).base64EncodedString()
            parts.append(basic)
            if let unpadded = basic.split(separator: "=").first, unpadded.utf8.count != basic.utf8.count { parts.append(String(unpadded)) }
            let alone = password ?? user
            if alone.utf8.count >= minimumCredentialLength { parts.append(alone) }
        }
        return parts
    }

    /// Shortest URL part hidden on its own.
    static let minimumPartLength = 12
    /// Shortest URL password (or password-less user) hidden on its own; `user:password` is always hidden.
    static let minimumCredentialLength = 6
}
