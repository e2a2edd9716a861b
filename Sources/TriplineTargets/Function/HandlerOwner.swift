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

    /// This process.
    public static func current() -> ProcessIdentity? { ProcessStatus.read(pid: getpid(), procRoot: "/proc")?.identity }

    /// Whether the process still runs (a zombie, already exited, does not).
    public func isRunning(procRoot: String = "/proc") -> Bool {
        guard let status = ProcessStatus.read(pid: pid, procRoot: procRoot) else { return false }
        return status.identity == self && status.state != UInt8(ascii: "Z") && status.state != UInt8(ascii: "X")
    }
}

/// The run a handler was started by: the state directory it delivers for and the `tripline`
/// process, carried in the handler's environment as `TRIPLINE_OWNER`.
///
/// A run killed with SIGKILL cannot stop its handlers, and the next run on the same state directory
/// retries their deliveries; the variable lets that run find the ones still running and stop them
/// first, so two copies of one delivery do not run side by side (``LeftoverHandlers``). The state
/// directory is named by device and inode, which no spelling of its path changes.
public struct HandlerOwner: Sendable, Equatable {
    public var stateDevice: UInt64
    public var stateInode: UInt64
    public var process: ProcessIdentity

    /// The environment variable that carries ``tag``.
    public static let variable = "TRIPLINE_OWNER"

    public init(stateDevice: UInt64, stateInode: UInt64, process: ProcessIdentity) {
        self.stateDevice = stateDevice
        self.stateInode = stateInode
        self.process = process
    }

    /// This process as the owner of handlers delivering for `stateDirectory`; nil when the directory
    /// or this process's start time cannot be read.
    public static func current(stateDirectory: String) -> HandlerOwner? {
        var info = stat()
        guard stat(stateDirectory, &info) == 0, let process = ProcessIdentity.current() else { return nil }
        return HandlerOwner(stateDevice: UInt64(info.st_dev), stateInode: UInt64(info.st_ino), process: process)
    }

    /// `DEVICE:INODE:PID:START`, all decimal.
    public var tag: String { "\(stateDevice):\(stateInode):\(process.pid):\(process.startTicks)" }

    /// Reads a ``tag``; nil for anything else.
    public init?(tag: String) {
        let parts = tag.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 4, let device = UInt64(parts[0]), let inode = UInt64(parts[1]),
              let pid = Int32(parts[2]), pid > 0, let start = UInt64(parts[3]) else { return nil }
        self.init(stateDevice: device, stateInode: inode, process: ProcessIdentity(pid: pid, startTicks: start))
    }

    /// Whether both deliver for the same state directory.
    public func sharesState(with other: HandlerOwner) -> Bool {
        stateDevice == other.stateDevice && stateInode == other.stateInode
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
