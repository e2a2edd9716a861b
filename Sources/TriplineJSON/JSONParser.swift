/// Reads JSON text into a ``JSONValue`` tree, strictly, within limits.
///
/// Used for rule files, patterns and other documents a person wrote. With `recordLocations` it also
/// returns where each value started, so later validation can report `file:line:column`.
public struct JSONParser {
    public enum DuplicateKeys: Sendable {
        /// Reject the document (events: a duplicate key is ambiguous input).
        case reject
        /// Keep the last value, at the first one's position.
        case lastWins
        /// Keep every member in document order (event patterns, whose meaning depends on it).
        case keepAll
    }

    public struct Options: Sendable {
        public var maxDepth: Int
        public var maxBytes: Int
        public var duplicateKeys: DuplicateKeys
        public var recordLocations: Bool

        public init(maxDepth: Int = JSONLimits.defaultMaxDepth, maxBytes: Int = 64 * 1024 * 1024,
                    duplicateKeys: DuplicateKeys = .reject, recordLocations: Bool = false) {
            self.maxDepth = maxDepth
            self.maxBytes = maxBytes
            self.duplicateKeys = duplicateKeys
            self.recordLocations = recordLocations
        }
    }

    /// A parsed document and, when asked for, the location of every value by path.
    public struct Document: Sendable {
        public var value: JSONValue
        public var locations: JSONSourceMap
    }

    public static func parse(_ text: String, options: Options = Options()) throws(JSONError) -> JSONValue {
        try parseDocument(Array(text.utf8), options: options).value
    }

    public static func parse(_ bytes: [UInt8], options: Options = Options()) throws(JSONError) -> JSONValue {
        try parseDocument(bytes, options: options).value
    }

    public static func parseDocument(_ bytes: [UInt8], options: Options = Options()) throws(JSONError) -> Document {
        var path = JSONPath.root
        return try read(bytes, options: options, path: &path)
    }

    /// ``parseDocument(_:options:)`` for text a person wrote (a rule file): when it throws,
    /// `errorPath` is the path of the value it was reading, `EventPattern` for a stray comma between
    /// that object's members, `EventPattern.source[1]` for a bad element of that array (the root
    /// for an error outside every value, or at the top level itself).
    public static func parseDocument(_ bytes: [UInt8], options: Options = Options(),
                                     errorPath: inout JSONPath) throws(JSONError) -> Document {
        errorPath = .root
        return try read(bytes, options: options, path: &errorPath)
    }

    /// The parse itself. The tree builder keeps the path it is at anyway (for duplicate-key messages
    /// and locations); left where it was when an error is thrown, it says where that was.
    @inline(__always)
    private static func read(_ bytes: [UInt8], options: Options, path: inout JSONPath) throws(JSONError) -> Document {
        guard bytes.count <= options.maxBytes else { throw .tooLarge(size: bytes.count, limit: options.maxBytes) }
        return try bytes.withUnsafeBufferPointer { (buffer) throws(JSONError) -> Document in
            var builder = TreeBuilder(cursor: JSONCursor(bytes: buffer, maxDepth: options.maxDepth), options: options)
            let start = builder.skipByteOrderMark()
            builder.cursor.index = start
            let value = try builder.readValue(depth: 0, path: &path)
            try builder.cursor.expectEnd()
            return Document(value: value, locations: builder.locations)
        }
    }
}

/// Where each value of a parsed document started, keyed by its path.
public struct JSONSourceMap: Sendable {
    public var byPath: [JSONPath: JSONLocation] = [:]
    public init() {}

    /// The location of `path`, or of its nearest recorded ancestor.
    public func location(of path: JSONPath) -> JSONLocation? {
        var components = path.components
        while true {
            if let found = byPath[JSONPath(components)] { return found }
            if components.isEmpty { return nil }
            components.removeLast()
        }
    }
}

struct TreeBuilder {
    var cursor: JSONCursor
    let options: JSONParser.Options
    var locations = JSONSourceMap()
    /// Values are visited in document order, so each recorded location continues the count
    /// instead of rescanning from the start (quadratic in the text).
    private var lines = JSONLineCounter()

    init(cursor: JSONCursor, options: JSONParser.Options) {
        self.cursor = cursor
        self.options = options
    }

    /// Skips a UTF-8 byte-order mark, which editors sometimes write at the start of a file.
    func skipByteOrderMark() -> Int {
        let b = cursor.bytes
        if b.count >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF { return 3 }
        return 0
    }

    /// The location of the cursor, counting lines on from the previous call.
    private mutating func locationHere() -> JSONLocation {
        lines.location(of: cursor.index, in: cursor.bytes)
    }

    mutating func readValue(depth: Int, path: inout JSONPath) throws(JSONError) -> JSONValue {
        cursor.skipWhitespace()
        guard cursor.index < cursor.bytes.count else { throw cursor.unexpected(expected: "a JSON value") }
        if options.recordLocations { locations.byPath[path] = locationHere() }
        switch cursor.bytes[cursor.index] {
        case UInt8(ascii: "\""):
            let token = try cursor.scanString()
            return .string(cursor.string(token))
        case UInt8(ascii: "{"):
            guard depth < options.maxDepth else { throw .tooDeep(limit: options.maxDepth, at: cursor.location(cursor.index)) }
            cursor.index += 1
            var object = JSONObject()
            if cursor.peekToken() == UInt8(ascii: "}") { cursor.index += 1; return .object(object) }
            let mark = cursor.keyMark
            defer { cursor.releaseKeys(to: mark) }
            repeat {
                cursor.skipWhitespace()
                let token = try cursor.scanString()
                let key = cursor.string(token)
                if options.duplicateKeys == .reject {
                    do {
                        try cursor.checkDuplicate(token, since: mark)
                    } catch .duplicateKey(let key, _, let at) {
                        // The path is only rendered when there is an error to report.
                        throw .duplicateKey(key: key, path: path.isRoot ? "" : path.description, at: at)
                    }
                }
                try cursor.expect(UInt8(ascii: ":"), "':' after an object key")
                path.components.append(.key(key))
                let value = try readValue(depth: depth + 1, path: &path)
                path.components.removeLast()
                if options.duplicateKeys == .lastWins, object[key] != nil {
                    object[key] = value
                } else {
                    object.members.append(JSONMember(key: key, value: value))
                }
            } while try cursor.nextMember(close: UInt8(ascii: "}"))
            return .object(object)
        case UInt8(ascii: "["):
            guard depth < options.maxDepth else { throw .tooDeep(limit: options.maxDepth, at: cursor.location(cursor.index)) }
            cursor.index += 1
            var elements: [JSONValue] = []
            if cursor.peekToken() == UInt8(ascii: "]") { cursor.index += 1; return .array(elements) }
            repeat {
                path.components.append(.index(elements.count))
                elements.append(try readValue(depth: depth + 1, path: &path))
                path.components.removeLast()
            } while try cursor.nextMember(close: UInt8(ascii: "]"))
            return .array(elements)
        case UInt8(ascii: "t"): try cursor.scanLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try cursor.scanLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try cursor.scanLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let range = try cursor.scanNumber()
            let slice = UnsafeBufferPointer(rebasing: cursor.bytes[range])
            return .number(JSONNumber(text: String(decoding: slice, as: UTF8.self), value: JSONNumber.parseDouble(buffer: slice)))
        default:
            throw cursor.unexpected(expected: "a JSON value")
        }
    }
}
