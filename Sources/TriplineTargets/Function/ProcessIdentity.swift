#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One process, told apart from a later process that reuses its pid by its start time.
public struct ProcessIdentity: Sendable, Equatable, Hashable {
    public var pid: Int32
    /// When the process started, in clock ticks after boot (`/proc/PID/stat`, field 22).
    public var startTicks: UInt64

    public init(pid: Int32, startTicks: UInt64) {
        self.pid = pid
        self.startTicks = startTicks
    }

    /// Whether the process still runs (a zombie, already exited, does not).
    public func isRunning(procRoot: String = "/proc") -> Bool {
        guard let status = ProcessStatus.read(pid: pid, procRoot: procRoot) else { return false }
        return status.identity == self && status.state != UInt8(ascii: "Z") && status.state != UInt8(ascii: "X")
    }
}

/// The fields of `/proc/PID/stat` that tell processes apart and group them.
struct ProcessStatus {
    var identity: ProcessIdentity
    /// `R`, `S`, `Z`, … (field 3).
    var state: UInt8
    var processGroup: Int32

    /// Reads `procRoot/PID/stat`; nil when the process is gone or the file is not as expected.
    static func read(pid: Int32, procRoot: String) -> ProcessStatus? {
        guard let bytes = ProcFile.read("\(procRoot)/\(pid)/stat", limit: 4096) else { return nil }
        // The command name, field 2, is in parentheses and may hold spaces and parentheses itself:
        // the fields after it start after the last `)`.
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        // fields[0] is field 3 (state), fields[2] field 5 (process group), fields[19] field 22 (start time).
        guard fields.count > 19, let state = fields[0].first,
              let group = Int32(String(decoding: fields[2], as: UTF8.self)),
              let start = UInt64(String(decoding: fields[19], as: UTF8.self)) else { return nil }
        return ProcessStatus(identity: ProcessIdentity(pid: pid, startTicks: start), state: state, processGroup: group)
    }
}

/// Whole small files of `/proc`, read with plain system calls (their size is not known ahead).
enum ProcFile {
    /// At most `limit` bytes of the file; nil when it cannot be opened or read.
    static func read(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, min($0.count, limit - bytes.count)) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }
}
