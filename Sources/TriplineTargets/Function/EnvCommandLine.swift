/// What `env` does with the one argument the system gives it after a `#!/usr/bin/env` line's
/// interpreter, as far as that can be told without running it: the command it runs, and the `PATH`
/// it looks that command up on.
///
/// Follows GNU coreutils `env`: options first (`-i`, `-u NAME`, `-C DIR`, `-S STRING`, …; a
/// `-S` string is split at whitespace, carriage returns included, and read on as options,
/// assignments and the command), then `NAME=VALUE` assignments (which env applies before it looks
/// the command up, so a `PATH=` assignment is the `PATH` searched), then the command. Without
/// `-S` the whole argument is one word: the command's name, spaces and all.
struct EnvCommandLine: Equatable {
    /// Where env looks the command up.
    enum SearchPath: Equatable {
        /// The `PATH` the handler gets.
        case inherited
        /// None: the line clears the environment (`-i`) or unsets `PATH`; env searches its default.
        case cleared
        /// The value a `PATH=…` assignment in the line gives it.
        case assigned(String)
    }

    var command: String
    var path: SearchPath
    /// The argument was split (`-S`).
    var splitsArguments: Bool
    /// The line changes env's working directory (`-C`) before it runs the command.
    var changesDirectory: Bool

    /// What env does with `argument`; nil when that cannot be told without running it: an option
    /// env may not know, escapes, quotes, `${…}` or comments in a split string, nothing to run.
    static func parse(_ argument: String) -> EnvCommandLine? {
        var line = EnvCommandLine(command: "", path: .inherited, splitsArguments: false, changesDirectory: false)
        var words: [Substring] = [Substring(argument)]
        var index = 0
        func next() -> Substring? {
            guard index < words.count else { return nil }
            defer { index += 1 }
            return words[index]
        }
        /// An option `letter` (its short form) given `value`; false when it cannot be followed.
        func apply(_ letter: Character, _ value: Substring) -> Bool {
            switch letter {
            case "u": if value == "PATH" { line.path = .cleared }
            case "C": line.changesDirectory = true
            case "a": break  // argv0 (coreutils 9.5): the name the command is given, not looked up
            case "S":
                guard !line.splitsArguments else { return false }  // a -S inside a -S string
                line.splitsArguments = true
                words.insert(contentsOf: value.split(whereSeparator: isSplitSeparator), at: index)
            default: return false
            }
            return true
        }
        var optionsDone = false
        while let word = next() {
            if line.splitsArguments && index > 1 {
                // Words of a split string: quotes, escapes, ${NAME} and comments change them.
                if word.contains(where: { $0 == "\\" || $0 == "$" || $0 == "\"" || $0 == "'" }) || word.hasPrefix("#") { return nil }
            }
            if !optionsDone && word.hasPrefix("-") && word != "-" {
                if word == "--" { optionsDone = true; continue }
                if word.hasPrefix("--") {
                    let parts = word.dropFirst(2).split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    let letters: [Substring: Character] = ["unset": "u", "chdir": "C", "argv0": "a", "split-string": "S"]
                    switch parts[0] {
                    case "ignore-environment": line.path = .cleared
                    case "null", "debug", "list-signal-handling", "block-signal", "default-signal", "ignore-signal": break
                    default:
                        let value: Substring? = parts.count > 1 ? parts[1] : next()
                        guard let letter = letters[parts[0]], let value, apply(letter, value) else { return nil }
                    }
                    continue
                }
                var rest = word.dropFirst()
                while let letter = rest.first {
                    rest = rest.dropFirst()
                    switch letter {
                    case "i": line.path = .cleared
                    case "0", "v": break
                    case "u", "C", "a", "S":
                        let value = rest.isEmpty ? next() : rest
                        rest = ""
                        guard let value, apply(letter, value) else { return nil }
                    default: return nil
                    }
                }
                continue
            }
            if !optionsDone && word == "-" { line.path = .cleared; optionsDone = true; continue }
            optionsDone = true
            if let equals = word.firstIndex(of: "=") {
                if word[..<equals] == "PATH" { line.path = .assigned(String(word[word.index(after: equals)...])) }
                continue
            }
            line.command = String(word)
            return line
        }
        return nil
    }

    /// What env's `-S` splits at.
    static func isSplitSeparator(_ c: Character) -> Bool {
        c == " " || c == "\t" || c == "\n" || c == "\u{0B}" || c == "\u{0C}" || c == "\r"
    }
}
