import EventPattern

/// One member of a filter policy's value list, validated: a literal or an operator.
///
/// Strings are kept as UTF-8 bytes and compared byte for byte (no Unicode normalization), as
/// EventBridge and SNS compare them. Numbers are ``SNSNumber`` values (`floor(x × 10^5)`).
enum FilterCondition: Sendable, Hashable {
    case string([UInt8])
    case number(Int64)
    case bool(Bool)
    case null
    case prefix([UInt8])
    case suffix([UInt8])
    case equalsIgnoreCase(String)
    /// Matches a value that is none of these strings or numbers (values of other types are never excluded).
    case anythingBut(strings: [[UInt8]], numbers: [Int64])
    /// Matches a string that does not start with this prefix (non-strings are never excluded).
    case anythingButPrefix([UInt8])
    /// A range over scaled numbers; `=` is [x, x].
    case numeric(lower: Int64?, lowerInclusive: Bool, upper: Int64?, upperInclusive: Bool)
    case exists(Bool)
    case cidr(CIDRBlock)
}
