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
/// out in time order). A missing path is reported in its place and the rest still run. An argument's
/// bytes that are not UTF-8 arrive as ``PathText`` (``PathText/text(ofArgument:)``).
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
            let argument = Self.path(ofArgument: pending.removeFirst())
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

    /// The ``PathText`` of a path typed on the command line. An argument that is valid UTF-8 came as
    /// typed, so one that reads as an escape (a file literally named `caf\xE9.json`, where the escape
    /// names `caf` + byte E9) is ambiguous: it means the escaped bytes when they name something, else
    /// the literal name when that does (written in its own escaped form, `caf\x5CxE9.json`).
    static func path(ofArgument argument: String) -> String {
        let literal = Array(argument.utf8)
        guard PathText.bytes(of: argument) != literal else { return argument }
        var info = stat()
        if PathText.withCString(argument, { lstat($0, &info) }) == 0 { return argument }
        let literalText = PathText.text(ofPath: literal)
        return PathText.withCString(literalText, { lstat($0, &info) }) == 0 ? literalText : argument
    }
}

/// Walks a directory tree for input files: regular files only, sorted by name within each directory.
///
/// Skips hidden entries (names starting with `.`), CloudTrail digest files (names containing
/// `CloudTrail-Digest`) and files whose names do not end in `.json`, `.json.gz`, `.ndjson`, `.jsonl`
/// or `.gz`. Symbolic links to files are followed; symbolic links to directories are not (no loops);
/// a dangling symbolic link with an input's name is reported, not skipped in silence, and a FIFO,
/// socket or device with an input's name is skipped with a note (``InputError/notARegularFile(path:kind:)``).
/// A name that is not valid UTF-8 is walked and read like any other, under its ``PathText``
/// (`caf\xE9.json`).
/// Lazy: holds one sorted listing per directory level, never the whole tree.
public final class DirectoryWalker {
    private struct Frame {
        var directory: String
        var names: [String]
        var next = 0
    }

    private var stack: [Frame] = []
    private var pendingRoot: String?

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
        while !stack.isEmpty {
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
        switch Self.list(directory) {
        case .success(let names):
            stack.append(Frame(directory: directory, names: names.filter { !$0.hasPrefix(".") }))
            return nil
        case .failure(let error):
            return error
        }
    }

    /// The names in `directory` (without `.` and `..`) as ``PathText`` (a name that is not valid UTF-8
    /// escaped, so it still names its file), sorted by their raw bytes.
    public static func list(_ directory: String) -> Result<[String], InputError> {
        guard let handle = PathText.withCString(directory, { opendir($0) }) else {
            return .failure(.file(.cannotOpen(path: directory, reason: String(cString: strerror(errno)))))
        }
        defer { closedir(handle) }
        var entries: [(raw: [UInt8], name: String)] = []
        while let entry = readdir(handle) {
            let raw = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                    Array(UnsafeRawBufferPointer(start: $0, count: strlen($0)))
                }
            }
            if raw == [0x2E] || raw == [0x2E, 0x2E] { continue }
            entries.append((raw, PathText.text(ofName: raw)))
        }
        entries.sort { $0.raw.lexicographicallyPrecedes($1.raw) }
        return .success(entries.map(\.name))
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
            guard PathText.withCString(path, { stat($0, &info) }) == 0 else { return .missing(reason: String(cString: strerror(errno))) }
            return kind(info.st_mode)
        }
        guard PathText.withCString(path, { lstat($0, &info) }) == 0 else { return .missing(reason: String(cString: strerror(errno))) }
        if (info.st_mode & S_IFMT) == S_IFLNK {
            guard PathText.withCString(path, { stat($0, &info) }) == 0 else {
                let reason = String(cString: strerror(errno))
                return .danglingLink(reason: "dangling symbolic link to '\(linkTarget(path) ?? "?")' (\(reason)); skipped")
            }
            return (info.st_mode & S_IFMT) == S_IFREG ? .regularFile : .other
        }
        return kind(info.st_mode)
    }

    /// Where the symbolic link `path` points, as written in the link (as ``PathText``).
    static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = PathText.withCString(path) { readlink($0, &buffer, buffer.count - 1) }
        guard count >= 0 else { return nil }
        return PathText.text(ofPath: buffer[0..<count].map { UInt8(bitPattern: $0) })
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
