#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A buffered writer for a file descriptor (standard output or standard error).
///
/// Commands that print one line per input (`test-pattern --batch`) would spend most of their time in
/// system calls if every line were written on its own; this collects output in a 64 KB buffer and
/// writes it with `write(2)` when full, on `flush()` and when the writer is released. Not thread-safe:
/// one writer per stream, used from one thread.
final class StandardOutput {
    /// The descriptor written to.
    let fileDescriptor: Int32
    private var buffer: [UInt8] = []
    private let capacity: Int
    /// Set once a write fails (for example a closed pipe); later output is dropped.
    private(set) var failed = false

    /// Creates a writer for `fileDescriptor`; `capacity` is the buffer size in bytes.
    init(fileDescriptor: Int32, capacity: Int = 64 * 1024) {
        self.fileDescriptor = fileDescriptor
        self.capacity = capacity
        buffer.reserveCapacity(capacity)
    }

    /// A writer for standard output.
    static func standardOutput() -> StandardOutput { StandardOutput(fileDescriptor: STDOUT_FILENO) }

    /// A writer for standard error, with a small buffer: diagnostics should not wait long.
    static func standardError() -> StandardOutput { StandardOutput(fileDescriptor: STDERR_FILENO, capacity: 4 * 1024) }

    deinit { flush() }

    /// Appends raw bytes.
    func write<C: Collection>(bytes: C) where C.Element == UInt8 {
        buffer.append(contentsOf: bytes)
        if buffer.count >= capacity { flush() }
    }

    /// Appends the UTF-8 of `text`.
    func write(_ text: String) {
        write(bytes: text.utf8)
    }

    /// Appends `text` and a newline.
    func line(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        buffer.append(0x0A)
        if buffer.count >= capacity { flush() }
    }

    /// Writes out everything buffered, retrying short and interrupted writes.
    func flush() {
        guard !buffer.isEmpty else { return }
        defer { buffer.removeAll(keepingCapacity: true) }
        guard !failed else { return }
        buffer.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = writeToDescriptor(fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failed = true
                    return
                }
                offset += n
            }
        }
    }
}

/// `write(2)`, at file scope so the writer's own `write` methods do not shadow it.
private func writeToDescriptor(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, pointer, count)
}
