import TriplineJSON

/// One SNS message attribute: a data type and its value, as given to `Publish`.
///
/// The data type decides how filter policies see the value: `String` (and custom `String.x`
/// labels) as a string, `Number` (and `Number.x`) as a number, `String.Array` as a JSON array of
/// strings, numbers, booleans and nulls, and `Binary` not at all (SNS ignores Binary attributes
/// when filtering). See https://docs.aws.amazon.com/sns/latest/dg/sns-message-attributes.html
public struct MessageAttributeValue: Sendable, Hashable {
    /// `String`, `Number`, `String.Array`, `Binary`, or one of those with a custom `.label`.
    public var dataType: String
    /// The value for every type but Binary.
    public var stringValue: String?
    /// The value of a Binary attribute.
    public var binaryValue: [UInt8]?

    public init(dataType: String, stringValue: String? = nil, binaryValue: [UInt8]? = nil) {
        self.dataType = dataType
        self.stringValue = stringValue
        self.binaryValue = binaryValue
    }

    /// A `String` attribute.
    public static func string(_ value: String) -> MessageAttributeValue { .init(dataType: "String", stringValue: value) }
    /// A `Number` attribute; `text` is the number as published (`"210.75"`, `"3.015e2"`).
    public static func number(_ text: String) -> MessageAttributeValue { .init(dataType: "Number", stringValue: text) }
    /// A `String.Array` attribute; `json` is the array as text (`"[\"a\", 1, true]"`).
    public static func stringArray(_ json: String) -> MessageAttributeValue { .init(dataType: "String.Array", stringValue: json) }
    /// A `Binary` attribute (never matched by filter policies).
    public static func binary(_ bytes: [UInt8]) -> MessageAttributeValue { .init(dataType: "Binary", binaryValue: bytes) }

    /// How filtering reads this attribute's data type.
    enum Kind { case string, number, stringArray, ignored }

    var kind: Kind {
        if dataType == "String.Array" { return .stringArray }
        if dataType == "String" || dataType.hasPrefix("String.") { return .string }
        if dataType == "Number" || dataType.hasPrefix("Number.") { return .number }
        return .ignored
    }
}
