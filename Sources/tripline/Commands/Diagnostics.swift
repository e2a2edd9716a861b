import EventPattern
import TriplineJSON

/// Formats pattern and JSON errors as `file:line:column: path: message`.
enum Diagnostics {
    /// One pattern error; `file` falls back to the one recorded in the error.
    static func describe(_ error: PatternError, file: String? = nil) -> String {
        let prefix = locationPrefix(file: file ?? error.file, location: error.location)
        if case .invalidJSON(let json) = error.problem {
            return prefix + "invalid JSON: " + json.message
        }
        return prefix + "\(error.path): \(error.problem)"
    }

    /// One JSON error, prefixed with `file:line:column: ` as far as known, and `label: ` when given.
    static func describe(_ error: JSONError, file: String?, label: String? = nil) -> String {
        locationPrefix(file: file, location: error.location) + (label.map { $0 + ": " } ?? "") + error.message
    }

    static func locationPrefix(file: String?, location: JSONLocation?) -> String {
        var prefix = file.map { $0 + ":" } ?? ""
        if let location { prefix += "\(location.line):\(location.column):" }
        return prefix.isEmpty ? "" : prefix + " "
    }
}
