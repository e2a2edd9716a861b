import TriplineJSON

/// How an alert's suppression or threshold key is made from an event: one path, or a template.
///
/// `"$.detail.userIdentity.arn"` keys by one value. A template mixes text and `<…>` placeholders,
/// each either a path (`<$.detail.eventName>`) or a name declared in `paths` (as in an
/// `InputPathsMap`): `"<who>|<$.detail.eventName>"`. Text without any placeholder is rejected
/// (every event would share the key). A value that is missing renders as nothing;
/// one that is not a string renders as compact JSON. Rendered keys longer than ``maxKeyLength``
/// bytes are cut and end with a hash of the whole key, so hostile events cannot grow state.
public struct AlertKey: Sendable, Equatable, CustomStringConvertible {
    /// One run of the template.
    public enum Segment: Sendable, Equatable {
        case text(String)
        case value(AlertValuePath)
    }

    /// Why a key text was rejected.
    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case empty
        case invalidPath(AlertValuePath.ParseError)
        case unknownName(String, declared: [String])
        case unclosedPlaceholder(position: Int)
        /// Text without a path or placeholder: every event would share one key.
        case noPlaceholder

        public var description: String {
            switch self {
            case .empty: return "the key is empty; give a path such as \"$.detail.userIdentity.arn\" or a template"
            case .invalidPath(let error): return error.description
            case .unknownName(let name, let declared):
                let known = declared.isEmpty ? "no names are declared" : "declared: " + declared.sorted().joined(separator: ", ")
                return "unknown placeholder <\(name)>: use a path such as <$.detail.eventName> or a declared name (\(known))"
            case .unclosedPlaceholder(let position): return "a \"<\" at character \(position + 1) has no closing \">\""
            case .noPlaceholder: return "the key has no path or <placeholder>, so every event would share it; write a path such as \"$.detail.userIdentity.arn\" or a template such as \"<$.detail.userIdentity.arn>|<$.detail.eventName>\""
            }
        }
    }

    /// Longest rendered key kept as is, in UTF-8 bytes.
    public static let maxKeyLength = 512
    /// Longest key text accepted.
    public static let maxTemplateLength = 2048

    /// The key as written.
    public let text: String
    /// The parsed template.
    public let segments: [Segment]

    public var description: String { text }

    /// Parses `text`: a lone path, or a template whose placeholders are paths or names from `paths`.
    public init(parsing text: String, paths: [String: String] = [:]) throws(ParseError) {
        guard !text.isEmpty else { throw .empty }
        guard text.utf8.count <= AlertKey.maxTemplateLength else {
            throw .invalidPath(.init(text: String(text.prefix(40)) + "…", reason: "the key is longer than \(AlertKey.maxTemplateLength) bytes"))
        }
        self.text = text
        if text.hasPrefix("$") && !text.contains("<") {
            do { self.segments = [.value(try AlertValuePath(parsing: text))] } catch { throw .invalidPath(error) }
            return
        }
        var segments: [Segment] = []
        var literal = ""
        var rest = Substring(text)
        var position = 0
        while let open = rest.firstIndex(of: "<") {
            literal += rest[..<open]
            position += rest[..<open].count
            guard let close = rest[open...].firstIndex(of: ">") else { throw .unclosedPlaceholder(position: position) }
            let name = String(rest[rest.index(after: open)..<close])
            let pathText: String
            if name.hasPrefix("$") {
                pathText = name
            } else if let declared = paths[name] {
                pathText = declared
            } else {
                throw .unknownName(name, declared: Array(paths.keys))
            }
            let path: AlertValuePath
            do { path = try AlertValuePath(parsing: pathText) } catch { throw .invalidPath(error) }
            if !literal.isEmpty { segments.append(.text(literal)); literal = "" }
            segments.append(.value(path))
            position += rest[open...close].count
            rest = rest[rest.index(after: close)...]
        }
        literal += rest
        guard !segments.isEmpty else { throw .noPlaceholder }
        if !literal.isEmpty { segments.append(.text(literal)) }
        self.segments = segments
    }

    /// The key for `event`; never fails, at most ``maxKeyLength`` bytes plus a short hash.
    public func render(_ event: JSONValue) -> String {
        var out = ""
        for segment in segments {
            switch segment {
            case .text(let s): out += s
            case .value(let path): out += path.text(in: event) ?? ""
            }
        }
        return AlertKey.bounded(out)
    }

    /// `key` when short enough, else its first ``maxKeyLength`` bytes (on a character boundary) and `#` and a hash of all of it.
    public static func bounded(_ key: String) -> String {
        guard key.utf8.count > maxKeyLength else { return key }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        var prefix = ""
        var bytes = 0
        for character in key {
            let n = character.utf8.count
            if bytes + n > maxKeyLength { break }
            prefix.append(character)
            bytes += n
        }
        let hex = String(hash, radix: 16)
        return prefix + "#" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
