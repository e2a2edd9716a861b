import Foundation
import LoopbackHTTP
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A raw TCP client, to send exactly the bytes a test wants.
struct RawClient {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if rc != 0 { _ = Glibc.close(fd); throw POSIXError(.ECONNREFUSED) }
    }

    func send(_ text: String) { _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }

    /// Reads until `marker` has been seen `count` times, the peer closes, or a read fails; returns the text and errno of a failed read.
    func read(until marker: String? = nil, count: Int = 1) -> (text: String, error: Int32) {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { return (String(decoding: data, as: UTF8.self), errno) }
            if n == 0 { return (String(decoding: data, as: UTF8.self), 0) }
            data += buffer[0..<n]
            let text = String(decoding: data, as: UTF8.self)
            if let marker, text.components(separatedBy: marker).count - 1 >= count { return (text, 0) }
        }
    }

    func close() { _ = Glibc.close(fd) }
}

@Suite("Loopback HTTP server: framing, keep-alive and misbehaviour on demand", .serialized)
struct LoopbackHTTPServerTests {
    @Test func chunkedAndPipelinedRequestsOnOneConnection() throws {
        let server = try LoopbackHTTPServer { request in .text(200, "got \(request.body.count)") }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        defer { client.close() }
        client.send("POST /a?x=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
                    + "PUT /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
        let (text, _) = client.read()
        #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count - 1 == 2, "\(text)")
        #expect(text.contains("got 11") && text.contains("got 3") && text.contains("Connection: close"))
        let requests = server.requests
        #expect(requests.map(\.method) == ["POST", "PUT"])
        #expect(requests.map(\.bodyText) == ["hello world", "abc"])
        #expect(requests[0].path == "/a" && requests[0].query == "x=1")
        #expect(requests.map(\.connectionID) == [1, 1] && requests.map(\.sequence) == [1, 2])
        #expect(server.connectionCount == 1)
    }

    @Test func expectContinueGetsAnInterimResponse() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        defer { client.close() }
        client.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        #expect(client.read(until: "\r\n\r\n").text.hasPrefix("HTTP/1.1 100 Continue"))
        client.send("body")
        #expect(client.read(until: "ok").text.hasPrefix("HTTP/1.1 200 OK"))
        #expect(server.requests.first?.bodyText == "body")
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 70_000))\r\n\r\n", "431"),
        ("NONSENSE\r\n\r\n", "400"),
        ("POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n", "400"),
        ("GET / HTTP/1.0\r\n\r\n", "200"),
    ])
    func badOrOldRequestsGetAnAnswerAndAClose(request: String, status: String) throws {
        let server = try LoopbackHTTPServer(options: .init(maxHeaderBytes: 64 * 1024))
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        defer { client.close() }
        client.send(request)
        let (text, _) = client.read()  // returns at close
        #expect(text.hasPrefix("HTTP/1.1 \(status)"), "\(text.prefix(80))")
    }

    @Test func resetAndDelayAreDoneOnDemand() throws {
        let server = try LoopbackHTTPServer { request in request.path == "/reset" ? .reset : LoopbackResponse.ok().delayed(by: 0.3) }
        defer { server.stop() }
        let resetClient = try RawClient(port: server.port)
        defer { resetClient.close() }
        resetClient.send("GET /reset HTTP/1.1\r\n\r\n")
        #expect(resetClient.read().error == ECONNRESET)

        let slowClient = try RawClient(port: server.port)
        defer { slowClient.close() }
        let started = Date()
        slowClient.send("GET /slow HTTP/1.1\r\n\r\n")
        #expect(slowClient.read(until: "ok").text.hasPrefix("HTTP/1.1 200"))
        #expect(Date().timeIntervalSince(started) >= 0.28)
    }

    @Test func stopEndsWaitingConnectionsPromptly() throws {
        let server = try LoopbackHTTPServer { _ in LoopbackResponse.ok().delayed(by: 30) }
        let client = try RawClient(port: server.port)
        defer { client.close() }
        client.send("GET / HTTP/1.1\r\n\r\n")
        #expect(server.waitForRequests(1, timeoutSeconds: 5))
        let started = Date()
        server.stop()
        #expect(Date().timeIntervalSince(started) < 10, "not held up by the 30 s response")
        #expect(server.openConnectionCount == 0)
        #expect((try? RawClient(port: server.port)) == nil, "no longer listening")
    }
}
