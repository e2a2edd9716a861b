import CCurl
import Foundation

/// One request on its way through libcurl: the easy handle's callbacks write here. Used on the client's thread only.
final class WebhookTransfer {
    let easy: UnsafeMutableRawPointer
    let request: WebhookRequest
    let completion: @Sendable (WebhookResult) -> Void
    let queuedSeconds: Double
    var headerList: UnsafeMutablePointer<curl_slist>?
    let errorBuffer: UnsafeMutablePointer<CChar>

    private(set) var body: [UInt8] = []
    private(set) var bodyTruncated = false
    private(set) var headers: [WebhookHeader] = []
    private var headerBytes = 0

    init(easy: UnsafeMutableRawPointer, request: WebhookRequest, completion: @escaping @Sendable (WebhookResult) -> Void,
         queuedSeconds: Double) {
        self.easy = easy
        self.request = request
        self.completion = completion
        self.queuedSeconds = queuedSeconds
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        if let headerList { curl_slist_free_all(headerList) }
        errorBuffer.deallocate()
    }

    /// Body bytes from libcurl. Past the cap, keeps what fits and returns a short count, which makes libcurl
    /// stop the transfer (CURLE_WRITE_ERROR) so a huge body is never read to its end.
    func receiveBody(_ chunk: UnsafeRawBufferPointer) -> Int {
        let room = request.maxResponseBytes - body.count
        if chunk.count <= room {
            body.append(contentsOf: chunk)
            return chunk.count
        }
        if room > 0 { body.append(contentsOf: chunk.prefix(room)) }
        bodyTruncated = true
        return 0
    }

    /// One header line from libcurl (status lines included). A status line starts a new response
    /// (after a 100 Continue, say), so only the final response's headers are kept.
    func receiveHeader(_ line: UnsafeRawBufferPointer) -> Int {
        let count = line.count
        if count >= 5, line[0] == UInt8(ascii: "H"), line[1] == UInt8(ascii: "T"), line[2] == UInt8(ascii: "T"),
           line[3] == UInt8(ascii: "P"), line[4] == UInt8(ascii: "/") {
            headers.removeAll(keepingCapacity: true)
            headerBytes = 0
            return count
        }
        guard headerBytes + count <= WebhookClient.maxResponseHeaderBytes,
              let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return count }
        headerBytes += count
        let name = String(decoding: line[..<colon], as: UTF8.self)
        var value = String(decoding: line[(colon + 1)...], as: UTF8.self)
        value = value.trimmingCharacters(in: .whitespacesAndNewlines)
        headers.append(WebhookHeader(name: name, value: value))
        return count
    }

    /// libcurl's detail message, if it wrote one.
    var errorDetail: String {
        errorBuffer[Int(CURL_ERROR_SIZE)] = 0
        return String(cString: errorBuffer)
    }
}
