import Foundation

/// Replaces secret values with `${NAME}` in any text: every error, log line and dead-letter reason of the webhook code.
///
/// Each secret is matched as written and in its percent-encoded forms (as it may appear inside a URL
/// that libcurl or a server echoes back). Longer secrets are replaced first, so a secret containing
/// another is hidden whole. Empty values are ignored. Matching is exact and case-sensitive.
public struct Redactor: Sendable, Equatable {
    /// (text to hide, replacement), longest text first.
    private let replacements: [(String, String)]

    public static func == (lhs: Redactor, rhs: Redactor) -> Bool {
        lhs.replacements.map(\.0) == rhs.replacements.map(\.0) && lhs.replacements.map(\.1) == rhs.replacements.map(\.1)
    }

    /// A redactor that hides nothing.
    public static let none = Redactor(secrets: [])

    /// Hides each `value`, showing `${name}` in its place.
    public init(secrets: [(name: String, value: String)]) {
        var pairs: [String: String] = [:]
        for (name, value) in secrets where !value.isEmpty {
            let marker = "${\(name)}"
            for part in [value] + Redactor.urlParts(of: value) {
                for form in Redactor.forms(of: part) where pairs[form] == nil { pairs[form] = marker }
            }
        }
        replacements = pairs.sorted { $0.key.utf8.count != $1.key.utf8.count ? $0.key.utf8.count > $1.key.utf8.count : $0.key < $1.key }
            .map { ($0.key, $0.value) }
    }

    /// This redactor plus `other`'s secrets.
    public func merging(_ other: Redactor) -> Redactor {
        Redactor(replacements: replacements + other.replacements)
    }

    private init(replacements: [(String, String)]) {
        var seen = Set<String>()
        self.replacements = replacements.filter { seen.insert($0.0).inserted }
            .sorted { $0.0.utf8.count != $1.0.utf8.count ? $0.0.utf8.count > $1.0.utf8.count : $0.0 < $1.0 }
    }

    /// True when there is nothing to hide.
    public var isEmpty: Bool { replacements.isEmpty }

    /// `text` with every secret replaced by its `${NAME}` marker.
    public func redact(_ text: String) -> String {
        guard !replacements.isEmpty, !text.isEmpty else { return text }
        var out = text
        for (secret, marker) in replacements where out.contains(secret) {
            out = out.replacingOccurrences(of: secret, with: marker)
        }
        return out
    }

    /// For a secret that is a URL (a Slack webhook: the secret is its path), the parts a server or
    /// proxy may echo on their own: path plus query, and each path segment or query value of
    /// ``minimumPartLength`` characters or more (shorter ones, like `services`, are not secret).
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
        return parts
    }

    /// Shortest URL part hidden on its own.
    static let minimumPartLength = 12

    /// The value as written, percent-encoded for a URL path or query, and fully percent-encoded (upper and lower case hex).
    private static func forms(of value: String) -> [String] {
        var forms = [value]
        var unreserved = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        unreserved.insert(charactersIn: "-._~")
        for allowed in [CharacterSet.urlPathAllowed, .urlQueryAllowed, unreserved] {
            if let encoded = value.addingPercentEncoding(withAllowedCharacters: allowed), encoded != value {
                forms.append(encoded)
                forms.append(lowercasedPercentEscapes(encoded))
            }
        }
        return Array(Set(forms))
    }

    private static func lowercasedPercentEscapes(_ text: String) -> String {
        var out = ""
        var remaining = 0
        for c in text {
            if c == "%" { remaining = 2; out.append(c); continue }
            if remaining > 0 { remaining -= 1; out += c.lowercased(); continue }
            out.append(c)
        }
        return out
    }
}
