import EventPattern
import TriplineJSON

/// Formats pattern and JSON errors as `file:line:column: path: message`.
enum Diagnostics {
    /// One pattern error; `file` falls back to the one recorded in the error.
    static func describe(_ error: PatternError, file: String? = nil) -> String {
        let prefix = JSONLocation.prefix(file: file ?? error.file, location: error.location)
        if case .invalidJSON(let json) = error.problem {
            return prefix + (error.path.isRoot ? "" : "\(error.path): ") + "invalid JSON: " + json.message
        }
        return prefix + "\(error.path): \(error.problem)"
    }

    /// One JSON error, prefixed with `file:line:column: ` as far as known, and `label: ` when given.
    static func describe(_ error: JSONError, file: String?, label: String? = nil) -> String {
        JSONLocation.prefix(file: file, location: error.location) + (label.map { $0 + ": " } ?? "") + error.message
    }
}
