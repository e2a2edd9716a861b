#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Whether a process group still runs something.
enum ProcessGroup {
    /// Whether group `pgid` has a member that is not a zombie. `kill(-pgid, 0)` succeeds for zombies
    /// too, so on Linux a group it reports is checked in `/proc`: members whose state is `Z` (zombie)
    /// or `X` (dead) do not count. Without a readable `/proc`, any member counts.
    static func hasLiveMembers(_ pgid: pid_t) -> Bool {
        guard kill(-pgid, 0) == 0 || errno == EPERM else { return false }
        guard let directory = opendir("/proc") else { return true }
        defer { closedir(directory) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let first = name.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { continue }
            let fd = open("/proc/\(name)/stat", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }  // gone since readdir
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            _ = close(fd)
            guard n > 0, let (state, group) = parseStat(buffer[0..<n]) else { continue }
            if group == pgid && state != UInt8(ascii: "Z") && state != UInt8(ascii: "X") { return true }
        }
        return false
    }

    /// The state letter and process group of a `/proc/<pid>/stat` line: `pid (comm) S ppid pgrp …`;
    /// `comm` may hold spaces and parentheses, so fields are counted after its last `)`.
    static func parseStat(_ line: ArraySlice<UInt8>) -> (state: UInt8, group: pid_t)? {
        guard let close = line.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = line[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count >= 3, let state = fields[0].first,
              let group = pid_t(String(decoding: fields[2], as: UTF8.self)) else { return nil }
        return (state, group)
    }
}
