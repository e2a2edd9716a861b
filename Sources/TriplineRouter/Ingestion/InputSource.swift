#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One place events are read from: standard input or one file.
public enum InputSource: Sendable, Hashable, CustomStringConvertible {
    /// Standard input, read like a file (its content decides how) as it arrives.
    case standardInput
    /// A file: a CloudTrail log file, one JSON document, or NDJSON (plain or gzip; decided by content).
    case file(String)

    public var description: String {
        switch self {
        case .standardInput: return EventOrigin.standardInputName
        case .file(let path): return path
        }
    }
}

/// Turns the command line's INPUT arguments into sources, lazily, in order.
///
/// `-` (or no argument at all) is standard input; a file is read whatever its name; a directory is
/// walked recursively with ``DirectoryWalker`` (sorted by name, so an `AWSLogs/…/YYYY/MM/DD/` tree comes
/// out in time order). A missing path is reported in its place and the rest still run.
public final class SourceList {
    private var pending: [String]
    private var walker: DirectoryWalker?

    /// Sources for `arguments`; an empty list means standard input.
    public init(arguments: [String]) {
        pending = arguments.isEmpty ? ["-"] : arguments
    }

    /// The next source, the error for an argument or directory entry that cannot be read, or nil at the end.
    public func next() -> Result<InputSource, InputError>? {
        while true {
            if let walker {
                if let item = walker.next() { return item.map(InputSource.file) }
                self.walker = nil
            }
            guard !pending.isEmpty else { return nil }
            let argument = pending.removeFirst()
            if argument == "-" { return .success(.standardInput) }
            switch FileKind.of(argument) {
            case .directory:
                walker = DirectoryWalker(root: argument)
            case .regularFile, .special, .other:
                // Named explicitly: read it whatever its name (FIFOs and devices included).
                return .success(.file(argument))
            case .missing(let reason), .danglingLink(let reason):
                return .failure(.notFound(path: argument, reason: reason))
            }
        }
    }
}

/// Walks a directory tree for input files: regular files only, sorted by name within each directory.
///
/// Skips hidden entries (names starting with `.`), CloudTrail digest files (names containing
/// `CloudTrail-Digest`) and files whose names do not end in `.json`, `.json.gz`, `.ndjson`, `.jsonl`
/// or `.gz`. Symbolic links to files are followed; symbolic links to directories are not (no loops);
/// a dangling symbolic link with an input's name is reported, not skipped in silence, and a FIFO,
/// socket or device with an input's name is skipped with a note (``InputError/notARegularFile(path:kind:)``),
/// and an entry whose name is not valid UTF-8 is reported (``InputError/nameNotUTF8(path:isDirectory:)``).
/// Lazy: holds one sorted listing per directory level, never the whole tree.
public final class DirectoryWalker {
    private struct Frame {
        var directory: String
        var names: [String]
        var next = 0
    }

    private var stack: [Frame] = []
    private var pendingRoot: String?
    /// Entries of the directories entered whose names are not valid UTF-8, reported before the rest.
    private var undecodable: [InputError] = []

    /// A walk of `root`, which is read on the first call to ``next()``.
    public init(root: String) {
        pendingRoot = root
    }

    /// Whether a directory entry with this name is read as input.
    public static func accepts(name: String) -> Bool {
        if name.hasPrefix(".") || name.contains("CloudTrail-Digest") { return false }
        let lower = name.lowercased()
        return [".json", ".json.gz", ".ndjson", ".jsonl", ".gz"].contains { lower.hasSuffix($0) }
    }

    /// The next file path, an error for a directory that could not be listed or a dangling link, or nil when done.
    public func next() -> Result<String, InputError>? {
        if let root = pendingRoot {
            pendingRoot = nil
            if let error = push(root) { return .failure(error) }
        }
        while !stack.isEmpty || !undecodable.isEmpty {
            if !undecodable.isEmpty { return .failure(undecodable.removeFirst()) }
            let top = stack.count - 1
            guard stack[top].next < stack[top].names.count else {
                stack.removeLast()
                continue
            }
            let name = stack[top].names[stack[top].next]
            stack[top].next += 1
            let path = join(stack[top].directory, name)
            switch FileKind.of(path, followLinks: false) {
            case .directory:
                if let error = push(path) { return .failure(error) }
            case .regularFile:
                if Self.accepts(name: name) { return .success(path) }
            case .danglingLink(let reason):
                if Self.accepts(name: name) { return .failure(.notFound(path: path, reason: reason)) }
            case .special(let kind):
                // Not read (it may never end), but not passed over in silence either.
                if Self.accepts(name: name) { return .failure(.notARegularFile(path: path, kind: kind)) }
            case .other, .missing:
                continue
            }
        }
        return nil
    }

    private func push(_ directory: String) -> InputError? {
        switch Self.listing(directory) {
        case .success(let listing):
            stack.append(Frame(directory: directory, names: listing.names.filter { !$0.hasPrefix(".") }))
            undecodable.append(contentsOf: listing.undecodable)
            return nil
        case .failure(let error):
            return error
        }
    }

    /// The names in `directory` (without `.` and `..`), sorted by their UTF-8 bytes; names that are not
    /// valid UTF-8 are left out (``listing(_:)`` has them).
    public static func list(_ directory: String) -> Result<[String], InputError> {
        listing(directory).map(\.names)
    }

    /// A directory's entries as read: the names a `String` holds, and the problems with those it cannot.
    public struct Listing: Sendable {
        /// The names that are valid UTF-8 (without `.` and `..`), sorted by their bytes.
        public var names: [String]
        /// One ``InputError/nameNotUTF8(path:isDirectory:)`` for each entry whose name is not valid
        /// UTF-8 and that would be read or walked (a directory; a file or link with an input's name;
        /// not hidden), in the order listed.
        public var undecodable: [InputError]
    }

    /// The entries of `directory` (see ``Listing``).
    ///
    /// A name that is not valid UTF-8 cannot become a `String` path without changing its bytes (a
    /// path decoded with replacement characters names no file), so it is reported, not turned into a
    /// path that silently fails to open.
    public static func listing(_ directory: String) -> Result<Listing, InputError> {
        guard let handle = opendir(directory) else {
            return .failure(.file(.cannotOpen(path: directory, reason: String(cString: strerror(errno)))))
        }
        defer { closedir(handle) }
        var listing = Listing(names: [], undecodable: [])
        while let entry = readdir(handle) {
            let raw = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                    Array(UnsafeRawBufferPointer(start: $0, count: strlen($0)))
                }
            }
            let name = Self.decodedName(raw)
            if name.valid {
                if name.text == "." || name.text == ".." { continue }
                listing.names.append(name.text)
                continue
            }
            guard raw.first != UInt8(ascii: ".") else { continue }
            var info = stat()
            let isDirectory = (raw.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer {
                fstatat(dirfd(handle), $0.baseAddress!, &info, AT_SYMLINK_NOFOLLOW) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
            }
            if isDirectory || accepts(name: name.text) {
                let path = directory.hasSuffix("/") ? directory + name.text : directory + "/" + name.text
                listing.undecodable.append(.nameNotUTF8(path: path, isDirectory: isDirectory))
            }
        }
        listing.names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return .success(listing)
    }

    /// A file name's bytes as text: the name itself when it is valid UTF-8, else (`valid` false) the
    /// name with each byte that is not part of a valid UTF-8 sequence written `\xNN` (`caf\xe9.json`),
    /// for messages only: that text names no file.
    static func decodedName(_ bytes: [UInt8]) -> (text: String, valid: Bool) {
        if let text = String(validating: bytes, as: UTF8.self) { return (text, true) }
        var text = ""
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length = lead < 0x80 ? 1 : (0xC2...0xDF).contains(lead) ? 2 : (0xE0...0xEF).contains(lead) ? 3 : (0xF0...0xF4).contains(lead) ? 4 : 0
            if length > 0, index + length <= bytes.count,
               let scalar = String(validating: bytes[index..<(index + length)], as: UTF8.self) {
                text += scalar
                index += length
            } else {
                let hex = String(lead, radix: 16)
                text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
                index += 1
            }
        }
        return (text, false)
    }

    private func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}

/// What a path names, as far as input reading cares.
enum FileKind {
    case regularFile, directory, other
    /// A FIFO, socket or device (not through a symbolic link); `kind` names which.
    case special(kind: String)
    case missing(reason: String)
    /// A symbolic link whose target cannot be reached; `reason` names the target and why.
    case danglingLink(reason: String)

    /// `stat`s the path; with `followLinks: false`, a symbolic link counts as the file it points to
    /// only when that is a regular file (links to directories are reported as `.other`).
    static func of(_ path: String, followLinks: Bool = true) -> FileKind {
        var info = stat()
        if followLinks {
            guard stat(path, &info) == 0 else { return .missing(reason: String(cString: strerror(errno))) }
            return kind(info.st_mode)
        }
        guard lstat(path, &info) == 0 else { return .missing(reason: String(cString: strerror(errno))) }
        if (info.st_mode & S_IFMT) == S_IFLNK {
            guard stat(path, &info) == 0 else {
                let reason = String(cString: strerror(errno))
                return .danglingLink(reason: "dangling symbolic link to '\(linkTarget(path) ?? "?")' (\(reason)); skipped")
            }
            return (info.st_mode & S_IFMT) == S_IFREG ? .regularFile : .other
        }
        return kind(info.st_mode)
    }

    /// Where the symbolic link `path` points, as written in the link.
    static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func kind(_ mode: mode_t) -> FileKind {
        switch mode & S_IFMT {
        case S_IFREG: return .regularFile
        case S_IFDIR: return .directory
        case S_IFIFO: return .special(kind: "a FIFO")
        case S_IFSOCK: return .special(kind: "a socket")
        case S_IFCHR: return .special(kind: "a character device")
        case S_IFBLK: return .special(kind: "a block device")
        default: return .other
        }
    }
}
