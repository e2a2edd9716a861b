/// Everything wrong with a target option (`Suppress`, `Threshold`, `BlockUser`), one problem per line.
public struct TargetOptionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One problem: which option, which field, what is wrong.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// The option: `Suppress`, `Threshold` or `BlockUser`.
        public var option: String
        /// The field inside it, or nil for the option as a whole.
        public var field: String?
        /// What is wrong, as a sentence fragment after the field name.
        public var message: String

        public init(option: String, field: String?, message: String) {
            self.option = option
            self.field = field
            self.message = message
        }

        public var description: String { option + (field.map { "." + $0 } ?? "") + ": " + message }
    }

    /// The problems in the order found; never empty.
    public var problems: [Problem]

    public init(problems: [Problem]) { self.problems = problems }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
