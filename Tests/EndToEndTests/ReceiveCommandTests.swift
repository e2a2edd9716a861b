import Foundation
import LoopbackHTTP
import Testing

@Suite("tripline receive (end to end)")
struct ReceiveCommandTests {
    @Test("a port already in use is named in the error")
    func portInUse() throws {
        let tripline = try TriplineBinary.locate()
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let result = try tripline.run(["receive", "--port", String(server.port), "--count", "1"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("bind to 127.0.0.1:\(server.port) failed: Address already in use"), "\(result)")
    }
}
