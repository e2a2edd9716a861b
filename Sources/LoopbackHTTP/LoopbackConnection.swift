import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One accepted connection, served on its own thread with blocking reads and writes.
struct LoopbackConnection {
    let fd: Int32
    let id: Int
    let core: LoopbackServerCore
    private var buffer: [UInt8] = []
    private var start = 0
    /// recv() lands here first; allocated once per connection.
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)

    init(fd: Int32, id: Int, core: LoopbackServerCore) {
        self.fd = fd
        self.id = id
        self.core = core
        buffer.reserveCapacity(16 * 1024)
    }

    private enum Ending { case close, reset }

    mutating func serve() {
        let ending = serveRequests()
        core.connectionClosing(fd)
        if ending == .reset {
            var abort = linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, socklen_t(MemoryLayout<linger>.size))
        }
        close(fd)
    }

    private mutating func serveRequests() -> Ending {
        while true {
            guard var request = readRequest() else { return .close }
            let response = core.handle(&request)
            if response.delaySeconds > 0 && !sleepUnlessStopped(response.delaySeconds) { return .close }
            switch response.action {
            case .reset: return .reset
            case .close: return .close
            case .raw(let bytes): _ = sendAll(bytes); return .close
            case .respond: break
            }
            let keepAlive = wantsKeepAlive(request) && !response.closeConnection && !core.isStopping
            guard write(response, keepAlive: keepAlive, headOnly: request.method == "HEAD") else { return .close }
            if !keepAlive { return .close }
        }
    }

    private func wantsKeepAlive(_ request: LoopbackRequest) -> Bool {
        let connection = request.header("Connection")?.lowercased() ?? ""
        if request.version == "HTTP/1.0" { return connection.contains("keep-alive") }
        return !connection.contains("close")
    }

    // MARK: Reading

    /// Reads more bytes into the buffer; false at end of stream, on error, or when the server stops.
    private mutating func fill() -> Bool {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 64 * 1024 {
            buffer.removeFirst(start)
            start = 0
        }
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: core.wakeRead, events: Int16(POLLIN), revents: 0)]
        while true {
            let ready = poll(&fds, 2, -1)
            if ready < 0 { if errno == EINTR { continue }; return false }
            if fds[1].revents != 0 { return false }
            break
        }
        let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        buffer.append(contentsOf: scratch[0..<n])
        return true
    }

    /// Index just past the next CRLF at or after `from`, if the buffer holds one.
    private func lineEnd(from: Int) -> Int? {
        var i = from
        while i + 1 < buffer.count {
            if buffer[i] == 13 && buffer[i + 1] == 10 { return i + 2 }
            i += 1
        }
        return nil
    }

    private mutating func readRequest() -> LoopbackRequest? {
        // Skip blank lines between requests (RFC 9112 §2.2).
        var headEnd: Int?
        var scanFrom = start
        while headEnd == nil {
            while buffer.count - start >= 2 && buffer[start] == 13 && buffer[start + 1] == 10 { start += 2; scanFrom = start }
            headEnd = findHeadEnd(from: scanFrom)
            if headEnd == nil {
                if buffer.count - start > core.options.maxHeaderBytes { reject(431); return nil }
                scanFrom = max(start, buffer.count - 3)
                let offset = start
                guard fill() else { return nil }
                scanFrom -= offset - start
            }
        }
        guard headEnd! - start <= core.options.maxHeaderBytes else { reject(431); return nil }
        let head = String(decoding: buffer[start..<(headEnd! - 4)], as: UTF8.self)
        start = headEnd!
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else { reject(400); return nil }
        var headers: [LoopbackHeader] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { reject(400); return nil }
            headers.append(LoopbackHeader(name: String(line[..<colon]),
                                          value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var request = LoopbackRequest(method: String(requestLine[0]), target: String(requestLine[1]), version: String(requestLine[2]),
                                      headers: headers, connectionID: id)
        if request.header("Expect")?.lowercased() == "100-continue" {
            guard sendAll(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return nil }
        }
        if let encoding = request.header("Transfer-Encoding")?.lowercased(), encoding.contains("chunked") {
            guard let body = readChunkedBody() else { return nil }
            request.body = body
        } else if let lengthText = request.header("Content-Length") {
            guard let length = Int(lengthText.trimmingCharacters(in: .whitespaces)), length >= 0 else { reject(400); return nil }
            guard length <= core.options.maxBodyBytes else { reject(413); return nil }
            while buffer.count - start < length { guard fill() else { return nil } }
            request.body = Array(buffer[start..<(start + length)])
            start += length
        }
        request.receivedAt = Date()
        return request
    }

    private func findHeadEnd(from: Int) -> Int? {
        guard buffer.count >= 4 else { return nil }
        var i = max(from, start)
        while i + 3 < buffer.count {
            if buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 { return i + 4 }
            i += 1
        }
        return nil
    }

    private mutating func readChunkedBody() -> [UInt8]? {
        var body: [UInt8] = []
        while true {
            var end = lineEnd(from: start)
            while end == nil {
                if buffer.count - start > 1024 { reject(400); return nil }
                guard fill() else { return nil }
                end = lineEnd(from: start)
            }
            let line = String(decoding: buffer[start..<(end! - 2)], as: UTF8.self)
            start = end!
            let sizeText = line.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard let size = Int(sizeText, radix: 16), size >= 0 else { reject(400); return nil }
            if size == 0 {
                // Trailers until an empty line.
                while true {
                    var trailerEnd = lineEnd(from: start)
                    while trailerEnd == nil {
                        if buffer.count - start > core.options.maxHeaderBytes { reject(431); return nil }
                        guard fill() else { return nil }
                        trailerEnd = lineEnd(from: start)
                    }
                    let empty = trailerEnd! - start == 2
                    start = trailerEnd!
                    if empty { return body }
                }
            }
            guard body.count + size <= core.options.maxBodyBytes else { reject(413); return nil }
            while buffer.count - start < size + 2 { guard fill() else { return nil } }
            body.append(contentsOf: buffer[start..<(start + size)])
            start += size + 2
        }
    }

    // MARK: Writing

    private func reject(_ status: Int) {
        let reason = LoopbackResponse.standardReason(status)
        _ = sendAll(Array("HTTP/1.1 \(status) \(reason)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
    }

    private func write(_ response: LoopbackResponse, keepAlive: Bool, headOnly: Bool) -> Bool {
        var head = "HTTP/1.1 \(response.status) \(response.reason ?? LoopbackResponse.standardReason(response.status))\r\n"
        head += "Content-Length: \(response.body.count)\r\n"
        for header in response.headers where header.name.lowercased() != "content-length" {
            head += "\(header.name): \(header.value)\r\n"
        }
        if !keepAlive { head += "Connection: close\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if headOnly { return sendAll(bytes) }
        switch response.body {
        case .bytes(let body):
            bytes += body
            return sendAll(bytes)
        case .generated(let count, let byte):
            guard sendAll(bytes) else { return false }
            let chunk = [UInt8](repeating: byte, count: 64 * 1024)
            var left = max(0, count)
            while left > 0 {
                let n = min(left, chunk.count)
                guard sendAll(chunk[0..<n]) else { return false }
                left -= n
            }
            return true
        }
    }

    private func sendAll<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        let ok: Bool? = bytes.withContiguousStorageIfAvailable { storage in
            var offset = 0
            while offset < storage.count {
                #if canImport(Glibc)
                let n = send(fd, storage.baseAddress! + offset, storage.count - offset, Int32(MSG_NOSIGNAL))
                #else
                let n = send(fd, storage.baseAddress! + offset, storage.count - offset, 0)
                #endif
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        return ok ?? sendAll(Array(bytes))
    }

    /// Sleeps `seconds`; false if the server began stopping meanwhile.
    private func sleepUnlessStopped(_ seconds: Double) -> Bool {
        var fds = [pollfd(fd: core.wakeRead, events: Int16(POLLIN), revents: 0)]
        let deadline = Date(timeIntervalSinceNow: seconds)
        while true {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return true }
            let ready = poll(&fds, 1, Int32(min(left * 1000, 60_000).rounded(.up)))
            if ready > 0 { return false }
            if ready < 0 && errno != EINTR { return true }
        }
    }
}
