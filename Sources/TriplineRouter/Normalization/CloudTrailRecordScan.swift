import TriplineJSON

/// What normalization needs of a CloudTrail record, read from its text without building a tree.
///
/// Building the record's tree and writing it out again for its id were most of the cost of reading
/// CloudTrail input, and most events match no rule, so nothing else needs the tree. The scan
/// validates the whole text as `JSONParser` does (RFC 8259, UTF-8, duplicate keys, depth) and
/// reads only the top-level fields the envelope is made of. It declines (nil) whatever it does not
/// settle alone: invalid JSON (the parser words the error), a top-level key with escapes, a field
/// an envelope or a digest has, and a value that is not a record; ``EventNormalizer`` then takes
/// the tree path, which handles every shape, so a declined text costs what it cost before.
struct CloudTrailRecordScan {
    enum Category { case absent, management, other }

    var eventSource: String?
    var eventName: String?
    var eventType: String?
    var eventTime: String?
    var awsRegion: String?
    var recipientAccountId: String?
    var eventVersion: String?
    var userIdentityIsObject = false
    var userIdentityAccountId: String?
    /// The `ARN` of each `resources` entry that has a string one, in order.
    var resourceARNs: [String] = []
    var readOnlyIsTrue = false
    var managementEventIsFalse = false
    var eventCategory = Category.absent

    /// Whether the parser would take the text for a CloudTrail record (``CloudTrailNormalizer/classify(_:)``).
    var isRecord: Bool {
        eventSource != nil || eventName != nil || (eventVersion != nil && (userIdentityIsObject || eventType != nil))
    }

    /// Scans `text` (one JSON document, whitespace and a byte order mark allowed around it).
    static func scan(_ text: UnsafeBufferPointer<UInt8>) -> CloudTrailRecordScan? {
        var scan = CloudTrailRecordScan()
        var cursor = JSONCursor(bytes: text)
        do throws(JSONError) {
            if text.count >= 3 && text[0] == 0xEF && text[1] == 0xBB && text[2] == 0xBF { cursor.index = 3 }
            guard cursor.peekToken() == UInt8(ascii: "{") else { return nil }
            cursor.index += 1
            if cursor.peekToken() == UInt8(ascii: "}") { return nil }   // {} is no record
            let mark = cursor.keyMark
            repeat {
                cursor.skipWhitespace()
                let key = try cursor.scanString()
                guard !key.hasEscapes else { return nil }
                try cursor.checkDuplicate(key, since: mark)
                try cursor.expect(UInt8(ascii: ":"), "':' after an object key")
                let name = UnsafeBufferPointer(rebasing: text[key.start..<key.end])
                guard try scan.read(member: name, cursor: &cursor) else { return nil }
            } while try cursor.nextMember(close: UInt8(ascii: "}"))
            cursor.releaseKeys(to: mark)
            try cursor.expectEnd()
        } catch {
            return nil
        }
        return scan.isRecord ? scan : nil
    }

    /// Reads the value of top-level member `name` at the cursor; false to decline the text.
    private mutating func read(member name: UnsafeBufferPointer<UInt8>, cursor: inout JSONCursor) throws(JSONError) -> Bool {
        func named(_ literal: StaticString) -> Bool {
            name.elementsEqual(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
        }
        switch name.count {
        case 8 where named("readOnly"):
            readOnlyIsTrue = try Self.readLiteral(&cursor) == .true
        case 9 where named("eventName"): eventName = try Self.readString(&cursor)
        case 9 where named("eventType"): eventType = try Self.readString(&cursor)
        case 9 where named("eventTime"): eventTime = try Self.readString(&cursor)
        case 9 where named("awsRegion"): awsRegion = try Self.readString(&cursor)
        case 9 where named("resources"): try readResources(&cursor)
        case 11 where named("eventSource"): eventSource = try Self.readString(&cursor)
        case 12 where named("eventVersion"): eventVersion = try Self.readString(&cursor)
        case 12 where named("userIdentity"): try readUserIdentity(&cursor)
        case 13 where named("eventCategory"):
            cursor.skipWhitespace()
            if cursor.index < cursor.bytes.count, cursor.bytes[cursor.index] == UInt8(ascii: "\"") {
                let token = try cursor.scanString()
                eventCategory = cursor.string(token) == "Management" ? .management : .other
            } else {
                try cursor.skipValue(depth: 1)
                eventCategory = .other
            }
        case 15 where named("managementEvent"):
            managementEventIsFalse = try Self.readLiteral(&cursor) == .false
        case 18 where named("recipientAccountId"): recipientAccountId = try Self.readString(&cursor)
        // Names that make the text something else (an envelope, a digest): the tree path judges.
        case 6 where named("source") || named("detail"): return false
        case 8 where named("logFiles"): return false
        case 11 where named("detail-type"): return false
        case 13 where named("digestEndTime"): return false
        case 14 where named("digestS3Bucket"): return false
        case 15 where named("digestStartTime"): return false
        default:
            try cursor.skipValue(depth: 1)
        }
        return true
    }

    /// `userIdentity`: whether it is an object, and its string `accountId`.
    private mutating func readUserIdentity(_ cursor: inout JSONCursor) throws(JSONError) {
        cursor.skipWhitespace()
        guard cursor.index < cursor.bytes.count, cursor.bytes[cursor.index] == UInt8(ascii: "{") else {
            try cursor.skipValue(depth: 1)
            return
        }
        userIdentityIsObject = true
        userIdentityAccountId = try Self.readObjectString(&cursor, key: "accountId", depth: 1)
    }

    /// `resources`: the string `ARN` of each entry that is an object with one.
    private mutating func readResources(_ cursor: inout JSONCursor) throws(JSONError) {
        cursor.skipWhitespace()
        guard cursor.index < cursor.bytes.count, cursor.bytes[cursor.index] == UInt8(ascii: "[") else {
            try cursor.skipValue(depth: 1)
            return
        }
        cursor.index += 1
        if cursor.peekToken() == UInt8(ascii: "]") { cursor.index += 1; return }
        repeat {
            cursor.skipWhitespace()
            if cursor.index < cursor.bytes.count, cursor.bytes[cursor.index] == UInt8(ascii: "{") {
                if let arn = try Self.readObjectString(&cursor, key: "ARN", depth: 2) { resourceARNs.append(arn) }
            } else {
                try cursor.skipValue(depth: 2)
            }
        } while try cursor.nextMember(close: UInt8(ascii: "]"))
    }

    /// Reads the object at the cursor (at `depth`), returning its member `key` when that is a string.
    /// A key with escapes is compared decoded, as the tree would hold it.
    private static func readObjectString(_ cursor: inout JSONCursor, key wanted: String, depth: Int) throws(JSONError) -> String? {
        guard depth < cursor.maxDepth else { throw .tooDeep(limit: cursor.maxDepth, at: cursor.location(cursor.index)) }
        cursor.index += 1
        if cursor.peekToken() == UInt8(ascii: "}") { cursor.index += 1; return nil }
        let mark = cursor.keyMark
        var found: String?
        repeat {
            cursor.skipWhitespace()
            let key = try cursor.scanString()
            try cursor.checkDuplicate(key, since: mark)
            try cursor.expect(UInt8(ascii: ":"), "':' after an object key")
            if cursor.string(key) == wanted {
                found = try readString(&cursor, depth: depth + 1)
            } else {
                try cursor.skipValue(depth: depth + 1)
            }
        } while try cursor.nextMember(close: UInt8(ascii: "}"))
        cursor.releaseKeys(to: mark)
        return found
    }

    /// The string at the cursor, or nil after skipping a value of another type.
    private static func readString(_ cursor: inout JSONCursor, depth: Int = 1) throws(JSONError) -> String? {
        cursor.skipWhitespace()
        guard cursor.index < cursor.bytes.count, cursor.bytes[cursor.index] == UInt8(ascii: "\"") else {
            try cursor.skipValue(depth: depth)
            return nil
        }
        return cursor.string(try cursor.scanString())
    }

    private enum Literal { case `true`, `false`, other }

    /// Which literal is at the cursor (`other` for any other value, skipped).
    private static func readLiteral(_ cursor: inout JSONCursor) throws(JSONError) -> Literal {
        cursor.skipWhitespace()
        guard cursor.index < cursor.bytes.count else { throw cursor.unexpected(expected: "a JSON value") }
        switch cursor.bytes[cursor.index] {
        case UInt8(ascii: "t"): try cursor.scanLiteral("true"); return .true
        case UInt8(ascii: "f"): try cursor.scanLiteral("false"); return .false
        default: try cursor.skipValue(depth: 1); return .other
        }
    }
}
