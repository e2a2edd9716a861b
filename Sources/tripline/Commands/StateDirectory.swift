import Foundation

/// Where state lives when `--state-dir` is not given: `.tripline` beside the rules.
///
/// Every command that takes `--rules` and `--state-dir` (`run`, `status`, `dlq`, `blocklist`) derives
/// its default here, so they all find the same database.
enum StateDirectory {
    /// `.tripline` in the project root: the folder that holds the rules folder.
    ///
    /// The rules folder is `rules` when it is a directory, else the folder of the rule file it names,
    /// so `--rules Rules` and `--rules Rules/x.json` share `./.tripline`. When that folder is inside a
    /// folder named `Rules` (at any depth: `Rules/team/x.json`), the project root is the folder that
    /// holds `Rules`, as for handler paths (``FunctionTarget/projectRoot(ruleFile:currentDirectory:)``).
    /// A `rules` path that does not exist counts as a file when it ends in `.json`.
    static func defaultPath(rules: String) -> String {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: rules, isDirectory: &isDirectory)
        let isFile = exists ? !isDirectory.boolValue : rules.hasSuffix(".json")
        let absolute = rules.hasPrefix("/")
        var folder = rules.split(separator: "/").map(String.init).filter { $0 != "." }
        if isFile, !folder.isEmpty { folder.removeLast() }
        var root: [String]
        if let index = folder.lastIndex(of: "Rules") {
            root = Array(folder[..<index])
        } else if let last = folder.last, last != ".." {
            root = Array(folder.dropLast())
        } else {
            // The current directory, `/`, or a path of `..`: its parent is one more `..` (none above `/`).
            root = folder + (absolute ? [] : [".."])
            if folder.isEmpty { root = [] }
        }
        let joined = root.joined(separator: "/")
        let base = absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
        return (base as NSString).appendingPathComponent(".tripline")
    }
}
