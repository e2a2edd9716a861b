#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The formats Linux runs through binfmt_misc (`/proc/sys/fs/binfmt_misc`): Java jars, Python
/// zipapps, Windows programs, other architectures' ELF… Each registered entry names an interpreter
/// for files whose first bytes match a magic number (at an offset, under a mask) or whose name has
/// an extension.
///
/// Used before a file that is neither a compiled program nor a `#!` script is refused: the
/// question is only whether the system *may* run it, so anything that cannot be read or
/// understood counts as yes.
enum BinfmtMisc {
    /// Where binfmt_misc is mounted.
    static let defaultDirectory = "/proc/sys/fs/binfmt_misc"
    /// How many bytes of a file the kernel matches magic numbers against (`BINPRM_BUF_SIZE`).
    static let bufferSize = 256

    /// Whether an enabled entry in `directory` may make the system run the file at `program`
    /// (the path it is started by) whose first bytes are `head`: one matches, or what is
    /// registered cannot be read. False when binfmt_misc is disabled, and when it is not mounted
    /// there and the file is text (a script that lacks its `#!` line, the usual mistake).
    ///
    /// A binary file (a NUL among its first bytes: a jar, a zipapp, a Windows program) is given the
    /// benefit of the doubt when binfmt_misc is not mounted: a container commonly does not mount it,
    /// yet the host's registered formats still run there.
    static func mayRun(program: String, head: [UInt8], directory: String) -> Bool {
        guard let status = ProgramHeader.readFile(directory + "/status", limit: 64) else {
            if errno == ENOENT || errno == ENOTDIR { return head.prefix(bufferSize).contains(0) }
            return true  // There, but unreadable: a doubt.
        }
        switch String(decoding: status, as: UTF8.self).trimmingBlanks {
        case "disabled": return false
        case "enabled": break
        default: return true
        }
        guard let names = entryNames(in: directory) else { return true }
        var buffer = Array(head.prefix(bufferSize))
        buffer += [UInt8](repeating: 0, count: bufferSize - buffer.count)
        for name in names where name != "status" && name != "register" {
            guard let bytes = ProgramHeader.readFile(directory + "/" + name, limit: 4096),
                  let entry = Entry(parsing: String(decoding: bytes, as: UTF8.self)) else { return true }
            if entry.enabled && entry.matches(program: program, buffer: buffer) { return true }
        }
        return false
    }

    /// The names in `directory`, or nil when it cannot be listed.
    static func entryNames(in directory: String) -> [String]? {
        guard let dir = opendir(directory) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// One registered format, as its file in binfmt_misc shows it:
    /// `enabled`, `interpreter …`, `flags: …`, then `extension .EXT`, or `offset N`, `magic HEX`
    /// and maybe `mask HEX`.
    struct Entry: Equatable {
        enum Match: Equatable {
            case extensionName(String)
            case magic(offset: Int, bytes: [UInt8], mask: [UInt8]?)
        }

        var enabled: Bool
        var match: Match

        /// Parses an entry's file; nil when it does not read as one.
        init?(parsing text: String) {
            let lines = text.split(separator: "\n").map { String($0).trimmingBlanks }
            guard let first = lines.first, first == "enabled" || first == "disabled" else { return nil }
            enabled = first == "enabled"
            func value(_ key: String) -> String? {
                lines.first(where: { $0.hasPrefix(key + " ") }).map { String($0.dropFirst(key.count + 1)) }
            }
            if let name = value("extension") {
                guard name.hasPrefix(".") else { return nil }
                match = .extensionName(String(name.dropFirst()))
            } else if let offsetText = value("offset"), let offset = Int(offsetText), offset >= 0,
                      let magicText = value("magic"), let magic = Self.bytes(hex: magicText), !magic.isEmpty {
                var mask: [UInt8]?
                if let maskText = value("mask") {
                    guard let bytes = Self.bytes(hex: maskText), bytes.count == magic.count else { return nil }
                    mask = bytes
                }
                match = .magic(offset: offset, bytes: magic, mask: mask)
            } else {
                return nil
            }
        }

        /// Whether the file at `program` whose first ``BinfmtMisc/bufferSize`` bytes (NUL past
        /// its end) are `buffer` is of this format, as the kernel tells (`fs/binfmt_misc.c`: the
        /// extension is what follows the last `.` of the path the file is started by).
        func matches(program: String, buffer: [UInt8]) -> Bool {
            switch match {
            case .extensionName(let name):
                guard let dot = program.lastIndex(of: ".") else { return false }
                return program[program.index(after: dot)...] == name
            case .magic(let offset, let bytes, let mask):
                // Beyond the bytes the kernel reads, no match can be told: count it as one.
                guard offset + bytes.count <= buffer.count else { return true }
                for (i, byte) in bytes.enumerated() {
                    let m = mask?[i] ?? 0xFF
                    if (buffer[offset + i] ^ byte) & m != 0 { return false }
                }
                return true
            }
        }

        /// The bytes of an even-length hexadecimal string, or nil.
        static func bytes(hex: String) -> [UInt8]? {
            let digits = Array(hex.utf8)
            guard digits.count % 2 == 0 else { return nil }
            var bytes: [UInt8] = []
            for i in stride(from: 0, to: digits.count, by: 2) {
                guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(byte)
            }
            return bytes
        }
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and line ends.
    fileprivate var trimmingBlanks: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        guard let start = firstIndex(where: { !blank($0) }) else { return "" }
        let end = lastIndex(where: { !blank($0) })!
        return String(self[start...end])
    }
}
