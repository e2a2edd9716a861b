import Foundation

/// Where state lives when `--state-dir` is not given: `.tripline` beside the rules.
enum StateDirectory {
    /// `.tripline` in the directory that holds the rules path (`Rules` → `./.tripline`).
    static func defaultPath(rules: String) -> String {
        let parent = ((rules as NSString).standardizingPath as NSString).deletingLastPathComponent
        return ((parent.isEmpty ? "." : parent) as NSString).appendingPathComponent(".tripline")
    }
}
