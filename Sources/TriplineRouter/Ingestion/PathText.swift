#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Paths as text that keeps every byte: a file whose name is not valid UTF-8 (`caf\xE9.json` in
/// Latin-1) is read, checkpointed and shown like any other.
///
/// Paths are `String`s throughout Tripline (sources, messages, checkpoints keyed by path, the pruner's
/// presence checks), and a `String` cannot hold bytes that are not UTF-8: decoded with replacement
/// characters, such a name becomes a path that names no file, and the file was passed over. Rather
/// than a byte-path type through every layer, each path component whose bytes are not valid UTF-8 is
/// written as text that can be turned back into exactly those bytes, and every system call on an
/// input path (`open`, `stat`, `lstat`, `opendir`, `inotify_add_watch`, `readlink`) goes through
/// ``withCString(_:_:)``, which does that. The text is also what messages, logs and checkpoints show.
///
/// The written form of a component (``text(ofName:)``): its valid UTF-8 characters as they are, each
/// byte that is not part of a valid UTF-8 sequence as `\xNN` (two upper-case hex digits), and each
/// backslash as `\x5C`, so that every backslash in it starts an escape. A component that is valid
/// UTF-8 keeps its own text (so checkpoints of such files are keyed exactly as before) unless that
/// text would read back as other bytes: a name that is itself such an escaped form (a file literally
/// named `caf\xE9.json`, vanishingly rare) is written escaped (`caf\x5CxE9.json`). Reading back
/// (``bytes(of:)``) undoes the escapes of a component only when it is exactly the written form of the
/// bytes they give; otherwise (`a\x41.json`, `C:\logs\x.json`) the text is the name. The mapping
/// from names to text is therefore one-to-one, and a path's text is the same on every run, so a
/// checkpoint keyed by it holds across runs. `/` is never escaped, so the text of a path is the texts
/// of its components joined by `/`, and prefixes, `directory(of:)` and joins work on the text.
public enum PathText {
    /// The text of one path component (a directory entry's name) from its raw bytes.
    public static func text(ofName bytes: some Collection<UInt8>) -> String {
        if let text = String(validating: bytes, as: UTF8.self), !text.utf8.contains(backslash) || bytesOfName(Array(text.utf8)) == Array(bytes) {
            return text
        }
        return escaped(Array(bytes))
    }

    /// The text of a whole path from its raw bytes (a command-line argument), component by component.
    public static func text(ofPath bytes: [UInt8]) -> String {
        bytes.split(separator: slash, omittingEmptySubsequences: false).map { text(ofName: $0) }.joined(separator: "/")
    }

    /// The text of a command-line argument: the argument itself when it is valid UTF-8, else the
    /// ``text(ofPath:)`` of its bytes (what `CommandLine.arguments` would turn into replacement
    /// characters, so a path given there would name no file).
    public static func text(ofArgument argument: UnsafePointer<CChar>) -> String {
        let bytes = UnsafeRawBufferPointer(start: argument, count: strlen(argument))
        return String(validating: bytes, as: UTF8.self) ?? text(ofPath: Array(bytes))
    }

    /// The raw bytes `path` names (the inverse of ``text(ofPath:)``), without a terminating NUL.
    public static func bytes(of path: String) -> [UInt8] {
        let utf8 = Array(path.utf8)
        guard utf8.contains(backslash) else { return utf8 }
        // Split on the byte, not the Character: a `/` followed by a combining mark is one Character.
        return Array(utf8.split(separator: slash, omittingEmptySubsequences: false).map { bytesOfName(Array($0)) }.joined(separator: [slash]))
    }

    /// Calls `body` with the path as the C string a system call takes: its raw bytes.
    public static func withCString<Result>(_ path: String, _ body: (UnsafePointer<CChar>) throws -> Result) rethrows -> Result {
        // Fast path: no backslash, no escape (almost every path).
        guard path.utf8.contains(backslash) else { return try path.withCString(body) }
        let raw = bytes(of: path).map { CChar(bitPattern: $0) } + [0]
        return try raw.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    // MARK: - Private

    private static let backslash = UInt8(ascii: "\\")
    private static let slash = UInt8(ascii: "/")

    /// The bytes of one component's text (given as its UTF-8): its escapes undone when it is exactly
    /// the escaped form of those bytes, else that UTF-8.
    private static func bytesOfName(_ utf8: [UInt8]) -> [UInt8] {
        // Compared byte for byte: String's == would also take a canonically equivalent text for it.
        guard utf8.contains(backslash), let unescaped = unescaped(utf8), escaped(unescaped).utf8.elementsEqual(utf8) else { return utf8 }
        return unescaped
    }

    /// The escaped form: valid UTF-8 sequences kept (a backslash as `\x5C`), other bytes as `\xNN`.
    private static func escaped(_ bytes: [UInt8]) -> String {
        var text = ""
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length = lead < 0x80 ? 1 : (0xC2...0xDF).contains(lead) ? 2 : (0xE0...0xEF).contains(lead) ? 3 : (0xF0...0xF4).contains(lead) ? 4 : 0
            if lead != backslash, length > 0, index + length <= bytes.count,
               let scalar = String(validating: bytes[index..<(index + length)], as: UTF8.self) {
                text += scalar
                index += length
            } else {
                text += "\\x" + hexDigits(lead)
                index += 1
            }
        }
        return text
    }

    private static func hexDigits(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }

    /// `utf8` with each `\xNN` replaced by its byte; nil unless every backslash starts one (an escaped
    /// form has no other backslash).
    private static func unescaped(_ utf8: [UInt8]) -> [UInt8]? {
        var result: [UInt8] = []
        result.reserveCapacity(utf8.count)
        var index = 0
        while index < utf8.count {
            guard utf8[index] == backslash else {
                result.append(utf8[index])
                index += 1
                continue
            }
            guard index + 3 < utf8.count, utf8[index + 1] == UInt8(ascii: "x"),
                  let high = hexValue(utf8[index + 2]), let low = hexValue(utf8[index + 3]) else { return nil }
            result.append(high << 4 | low)
            index += 4
        }
        return result
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil  // The escaped form writes upper case only.
        }
    }
}
