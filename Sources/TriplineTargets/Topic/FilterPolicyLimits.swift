/// The limits SNS documents for filter policies, enforced when a policy is loaded.
///
/// Source: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
public enum FilterPolicyLimits {
    /// "The maximum size of a filter policy is 256 KB." Measured on the policy text as given.
    public static let maxPolicyBytes = 256 * 1024
    /// "A filter policy can have a maximum of five keys." In nested (body) policies the leaf keys
    /// count, through every level, and a key holding an object does not; an `$or` group adds the
    /// largest key count among its alternatives.
    public static let maxKeys = 5
    /// "The total combination of values in a filter policy must not exceed 150."
    public static let maxCombinations = 150
    /// "For numeric matching, the value can range from -10^9 to 10^9."
    public static let numericMagnitude = 1_000_000_000.0
    /// "… with five digits of accuracy after the decimal point."
    public static let decimalDigits = 5
    /// Deepest JSON nesting read from a policy text (the combination limit already bounds the
    /// useful depth; this guards the reader against hostile input).
    public static let maxPolicyJSONDepth = 200
    /// Largest message body read for `MessageBody` matching (SNS's message size limit, 256 KB).
    public static let maxBodyBytes = 256 * 1024
    /// Deepest JSON nesting read from a message body or a `String.Array` attribute.
    public static let maxBodyDepth = 100
}
