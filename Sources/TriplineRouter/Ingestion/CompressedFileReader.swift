#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib

/// Streams the bytes of a file, transparently inflating it when it is gzip-compressed.
///
/// Compression is detected from the content (magic bytes `1f 8b`), never from the file name.
/// Concatenated gzip members (`cat a.gz b.gz`, CloudTrail deliveries) are read as one stream.
/// Input is read and output produced in chunks of at most `chunkSize` bytes, so memory stays
/// bounded whatever the file size. Not thread-safe: use one reader from one thread at a time.
public final class CompressedFileReader {
    /// Default size of each read from disk and of each decompressed chunk (256 KiB).
    public static let defaultChunkSize = 256 * 1024

    /// The path the reader was opened with; used in every error it reports.
    public let path: String
    /// Whether the file starts with the gzip magic bytes and is therefore inflated.
    public let isCompressed: Bool
    /// Upper bound on the size of every chunk returned by `nextChunk()`.
    public let chunkSize: Int

    private var fd: Int32
    private let input: UnsafeMutablePointer<UInt8>
    /// Plain mode only: unread bytes already in `input` (from the magic-byte probe).
    private var plainPending: Range<Int>
    /// Gzip mode only.
    private var stream: UnsafeMutablePointer<z_stream>?
    private let output: UnsafeMutablePointer<UInt8>?
    /// Total bytes read from the file so far.
    private var bytesRead: Int64
    /// The file offset of the next raw read (regular files with `onRead` only).
    private var readOffset: Int64
    private var reachedEOF = false
    /// True while inflate has been fed bytes of a gzip member whose end it has not yet seen.
    private var inMember = false
    /// Gzip mode only: zero padding was found after a member; only zeros may follow.
    private var inTrailingZeros = false
    private var finished = false
    /// An error found after some output was produced; thrown on the following call.
    private var deferredError: IngestionError?
    /// Not a regular file: hand out output before blocking for more input.
    private let isStream: Bool
    /// Streams only: called before a read that would block.
    private let beforeWaiting: (() -> Void)?
    /// Hears every raw read of a regular file: its offset in the file and the bytes.
    private let onRead: ((Int64, UnsafeBufferPointer<UInt8>) -> Void)?

    /// Opens `path` and sniffs whether it is gzip-compressed.
    ///
    /// Throws `.cannotOpen` if the file is missing, unreadable or a directory.
    public convenience init(path: String, chunkSize: Int = CompressedFileReader.defaultChunkSize) throws(IngestionError) {
        let fd = PathText.withCString(path) { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: lastErrorDescription()) }
        try self.init(descriptor: fd, path: path, chunkSize: chunkSize)
    }

    /// Reads the open `descriptor` from its current offset and sniffs whether it is gzip-compressed;
    /// takes ownership of it (closed by ``close()``, or at once if this throws). `path` names it in errors.
    ///
    /// For a descriptor that is not a regular file (a pipe, standard input), `beforeWaiting` runs
    /// before each read that would block, and inflated output is handed out as soon as the input
    /// available so far is used up, so a stream is processed as it arrives.
    ///
    /// `onRead` hears each raw read of a regular file with its offset (what ``SourceFile`` samples
    /// for checkpoint fingerprints: the bytes actually parsed, not what the path holds later).
    public init(descriptor fd: Int32, path: String, chunkSize: Int = CompressedFileReader.defaultChunkSize,
                beforeWaiting: (() -> Void)? = nil,
                onRead: ((Int64, UnsafeBufferPointer<UInt8>) -> Void)? = nil) throws(IngestionError) {
        precondition(chunkSize >= 2, "chunkSize must be at least 2 bytes")
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = lastErrorDescription()
            closeDescriptor(fd)
            throw .cannotOpen(path: path, reason: reason)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            closeDescriptor(fd)
            throw .cannotOpen(path: path, reason: "is a directory")
        }
        let isStream = (info.st_mode & S_IFMT) != S_IFREG
        let waitHook = isStream ? beforeWaiting : nil
        let readHook = isStream ? nil : onRead
        let startOffset = readHook == nil ? 0 : Int64(max(0, lseek(fd, 0, SEEK_CUR)))

        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: chunkSize)
        // Read until the two magic bytes are available (short reads are possible on pipes) or EOF.
        var probed = 0
        var probeHitEOF = false
        while probed < 2 {
            if let waitHook, !isReadable(fd) { waitHook() }
            let n = readRetryingInterrupts(fd, input + probed, chunkSize - probed)
            if n < 0 {
                let reason = lastErrorDescription()
                input.deallocate()
                closeDescriptor(fd)
                throw .readFailed(path: path, offset: Int64(probed), reason: reason)
            }
            if n == 0 { probeHitEOF = true; break }
            readHook?(startOffset + Int64(probed), UnsafeBufferPointer(start: input + probed, count: n))
            probed += n
        }
        let isGzip = probed >= 2 && input[0] == 0x1f && input[1] == 0x8b

        if isGzip {
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            // windowBits 15 + 32: accept gzip or zlib headers with the maximum window.
            let rc = inflateInit2_(stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            guard rc == Z_OK else {
                stream.deinitialize(count: 1)
                stream.deallocate()
                input.deallocate()
                closeDescriptor(fd)
                throw .decompressorFailed(path: path, detail: "inflateInit2 failed with code \(rc)")
            }
            stream.pointee.next_in = input
            stream.pointee.avail_in = UInt32(probed)
            self.stream = stream
            self.output = UnsafeMutablePointer<UInt8>.allocate(capacity: chunkSize)
            self.plainPending = 0..<0
        } else {
            self.stream = nil
            self.output = nil
            self.plainPending = 0..<probed
        }
        self.path = path
        self.chunkSize = chunkSize
        self.fd = fd
        self.input = input
        self.isCompressed = isGzip
        self.bytesRead = Int64(probed)
        self.reachedEOF = probeHitEOF
        self.isStream = isStream
        self.beforeWaiting = waitHook
        self.onRead = readHook
        self.readOffset = startOffset + Int64(probed)
    }

    deinit {
        close()
        input.deallocate()
        output?.deallocate()
    }

    /// Next chunk of decompressed bytes, or nil at end of file.
    ///
    /// Each chunk holds between 1 and `chunkSize` bytes; chunk boundaries are arbitrary (they may
    /// split lines or UTF-8 sequences). If the data turns out to be corrupt or truncated, the bytes
    /// decoded before the damage are returned first and the error is thrown by the next call.
    /// Returns nil after `close()`.
    public func nextChunk() throws(IngestionError) -> [UInt8]? {
        if let error = deferredError {
            deferredError = nil
            finished = true
            throw error
        }
        guard fd >= 0, !finished else { return nil }
        if stream != nil { return try nextInflatedChunk() }

        if !plainPending.isEmpty {
            let chunk = Array(UnsafeBufferPointer(start: input + plainPending.lowerBound, count: plainPending.count))
            plainPending = 0..<0
            return chunk
        }
        let n = try fillInput()
        guard n > 0 else {
            finished = true
            return nil
        }
        return Array(UnsafeBufferPointer(start: input, count: n))
    }

    /// Releases the file descriptor and the decompressor; safe to call more than once.
    ///
    /// Called automatically when the reader is deallocated.
    public func close() {
        if let stream {
            inflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
            self.stream = nil
        }
        if fd >= 0 {
            closeDescriptor(fd)
            fd = -1
        }
    }

    // MARK: - Private

    private func nextInflatedChunk() throws(IngestionError) -> [UInt8]? {
        guard let stream, let output else { return nil }
        stream.pointee.next_out = output
        stream.pointee.avail_out = UInt32(chunkSize)

        do throws(IngestionError) {
            while stream.pointee.avail_out > 0 {
                if stream.pointee.avail_in == 0 {
                    // A stream hands out what it has before waiting for more input.
                    if isStream, stream.pointee.avail_out < UInt32(chunkSize), !isReadable(fd) { break }
                    let n = try fillInput()
                    if n == 0 {
                        if inMember { throw .truncated(path: path) }
                        finished = true
                        break
                    }
                    stream.pointee.next_in = input
                    stream.pointee.avail_in = UInt32(n)
                }
                if !inMember, inTrailingZeros || stream.pointee.next_in[0] == 0 {
                    // Zero padding after the last member (tar, dd) is ignored, as gzip(1) does.
                    inTrailingZeros = true
                    let available = UnsafeBufferPointer(start: stream.pointee.next_in, count: Int(stream.pointee.avail_in))
                    let zeros = available.firstIndex { $0 != 0 } ?? available.count
                    stream.pointee.next_in += zeros
                    stream.pointee.avail_in -= UInt32(zeros)
                    if stream.pointee.avail_in > 0 { throw corrupt("unexpected data after trailing zero padding") }
                    continue
                }
                inMember = true
                let rc = inflate(stream, Z_NO_FLUSH)
                switch rc {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    // End of one gzip member; more input means another member follows.
                    inMember = false
                    let resetCode = inflateReset(stream)
                    guard resetCode == Z_OK else {
                        throw .decompressorFailed(path: path, detail: "inflateReset failed with code \(resetCode)")
                    }
                case Z_BUF_ERROR where stream.pointee.avail_in == 0:
                    continue  // needs more input
                case Z_NEED_DICT:
                    throw corrupt("stream requires a preset dictionary")
                case Z_DATA_ERROR:
                    throw corrupt(stream.pointee.msg.map { String(cString: $0) } ?? "invalid data")
                case Z_MEM_ERROR:
                    throw .decompressorFailed(path: path, detail: "out of memory")
                default:
                    throw .decompressorFailed(path: path, detail: "inflate failed with code \(rc)")
                }
            }
        } catch {
            let produced = chunkSize - Int(stream.pointee.avail_out)
            guard produced > 0 else {
                finished = true
                throw error
            }
            deferredError = error
            return Array(UnsafeBufferPointer(start: output, count: produced))
        }

        let produced = chunkSize - Int(stream.pointee.avail_out)
        guard produced > 0 else {
            finished = true
            return nil
        }
        return Array(UnsafeBufferPointer(start: output, count: produced))
    }

    /// Reads up to `chunkSize` bytes into `input`; returns 0 at end of file.
    private func fillInput() throws(IngestionError) -> Int {
        if reachedEOF { return 0 }
        if let beforeWaiting, !isReadable(fd) { beforeWaiting() }
        let n = readRetryingInterrupts(fd, input, chunkSize)
        guard n >= 0 else {
            throw .readFailed(path: path, offset: bytesRead, reason: lastErrorDescription())
        }
        if n == 0 { reachedEOF = true }
        if n > 0, let onRead {
            onRead(readOffset, UnsafeBufferPointer(start: input, count: n))
            readOffset += Int64(n)
        }
        bytesRead += Int64(n)
        return n
    }

    private func corrupt(_ detail: String) -> IngestionError {
        let offset = bytesRead - Int64(stream?.pointee.avail_in ?? 0)
        return .corruptCompressedData(path: path, offset: offset, detail: detail)
    }
}

/// Decompresses a whole (possibly gzipped) file into memory.
///
/// For inputs that must be held at once, such as rule files; fails with `.tooLarge` as soon as the
/// decompressed size would exceed `limit` bytes, so a small compressed file cannot exhaust memory.
public func readWholeFile(path: String, limit: Int) throws(IngestionError) -> [UInt8] {
    let reader = try CompressedFileReader(path: path)
    defer { reader.close() }
    var bytes: [UInt8] = []
    while let chunk = try reader.nextChunk() {
        guard chunk.count <= limit - bytes.count else { throw .tooLarge(path: path, limit: limit) }
        bytes.append(contentsOf: chunk)
    }
    return bytes
}

// MARK: - System call helpers (file scope so `close` is not shadowed by the method)

private func readRetryingInterrupts(_ fd: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
    while true {
        let n = read(fd, buffer, count)
        if n < 0 && errno == EINTR { continue }
        return n
    }
}

/// Whether a read of `fd` would return at once (data or end of input).
private func isReadable(_ fd: Int32) -> Bool {
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    return poll(&entry, 1, 0) > 0
}

private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}

private func lastErrorDescription() -> String {
    String(cString: strerror(errno))
}
