import Foundation
import LoopbackHTTP
import Testing
import TriplineTargets

@Suite("Webhook redaction: secrets echoed back escaped or encoded")
struct RedactorTests {
    static let token = "AbC/dEf+GhI/jKl0123456789="

    @Test("a token echoed with JSON or HTML escapes, in any mixture, is hidden whole", arguments: [
        #"{"error":"invalid token AbC\/dEf+GhI\/jKl0123456789="}"#,
        #"{"error":"invalid token AbC\u002FdEf\u002BGhI\u002fjKl0123456789\u003D"}"#,
        #"{"error":"invalid token \u0041\u0062C\/dEf+GhI/jKl0123456789="}"#,
        "<p>invalid token AbC&#x2F;dEf&#43;GhI&#47;jKl0123456789&#61;</p>",
        "invalid token AbC%2fdEf%2BGhI/jKl0123456789%3d",
    ])
    func escapedTokenIsHidden(text: String) {
        let redactor = Redactor(secrets: [("TOKEN", Self.token)])
        let out = redactor.redact(text)
        #expect(out.contains("invalid token ${TOKEN}"), "\(out)")
        #expect(!out.contains("jKl0123456789") && !out.contains("dEf"), "\(out)")
    }

    @Test("text without a secret, or with broken escapes, comes back unchanged")
    func unrelatedTextIsUnchanged() {
        let redactor = Redactor(secrets: [("TOKEN", Self.token)])
        for text in [#"{"a":"\/\u00e9 %zz &#xZZ; &bogus; \u12"}"#, "AbC/dEf+GhI/jKl012345678", "", "%", "\\", "&#;"] {
            #expect(redactor.redact(text) == text)
        }
    }

    @Test("a non-ASCII secret echoed as \\u escapes (surrogate pairs too) is hidden")
    func unicodeEscapesAreHidden() {
        let redactor = Redactor(secrets: [("PASS", "pä💥ss-word-long")])
        #expect(redactor.redact(#"got "p\u00e4\ud83d\udca5ss-word-long""#) == #"got "${PASS}""#)
        #expect(redactor.redact("got p%C3%A4%F0%9F%92%A5ss-word-long") == "got ${PASS}")
    }

    @Test("the credentials of a secret URL are hidden, including the Basic base64 libcurl sends")
    func urlCredentialsAreHidden() {
        let url = "http://svc:SecretPassw0rd12345@127.0.0.1:18720/x"
        let redactor = Redactor(secrets: [("HOOK_URL", url)])
        let basic = Data("svc:SecretPassw0rd12345".utf8).base64EncodedString()
        let echoed = "Authorization: Basic \(basic); json: \(basic.replacingOccurrences(of: "/", with: "\\/")); "
            + "unpadded \(basic.replacingOccurrences(of: "=", with: "")); userinfo svc:SecretPassw0rd12345; pw SecretPassw0rd12345"
        let out = redactor.redact(echoed)
        #expect(!out.contains(basic.prefix(20)) && !out.contains("SecretPassw0rd"), "\(out)")
        #expect(out == "Authorization: Basic ${HOOK_URL}; json: ${HOOK_URL}; unpadded ${HOOK_URL}; userinfo ${HOOK_URL}; pw ${HOOK_URL}")
        // Percent-encoded credentials are sent decoded, so their Basic form is of the decoded text.
        let encoded = Redactor(secrets: [("U", "https://bot%40corp:p%3Ass-word@hooks.example/x")])
        #expect(encoded.redact(Data("bot@corp:p:ss-word".utf8).base64EncodedString()) == "${U}")
    }

    @Test("end to end: a server echoing the token JSON-escaped and the Basic credentials leaks neither")
    func echoingServerLeaksNothing() throws {
        let server = try LoopbackHTTPServer { request in
            let auth = request.header("Authorization") ?? ""
            let token = request.header("X-Token") ?? ""
            return .text(401, #"{"error":"invalid token \#(token.replacingOccurrences(of: "/", with: "\\/"))","auth":"\#(auth.replacingOccurrences(of: "/", with: "\\/"))"}"#,
                         contentType: "application/json", headers: [LoopbackHeader(name: "X-Echo", value: auth)])
        }
        let client = try WebhookClient()
        defer { client.shutdown(); server.stop() }
        let password = "SecretPassw0rd12345/+/"
        let env = ["TOKEN": Self.token, "HOOK_URL": "http://svc:\(password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)@127.0.0.1:\(server.port)/x"]
        let config = WebhookConfiguration(url: "${HOOK_URL}", headers: [WebhookHeader(name: "X-Token", value: "${TOKEN}")])
        let result = client.sendAndWait(try config.resolve(environment: env).request(body: Array("{}".utf8), messageID: "m"))
        let sent = try #require(server.requests.first)
        #expect(sent.header("Authorization") == "Basic " + Data("svc:\(password)".utf8).base64EncodedString(), "libcurl sent Basic auth")
        let texts = [result.description, result.bodyPrefix, WebhookOutcome.classify(result).description] + result.headers.map(\.description)
        let basic = Data("svc:\(password)".utf8).base64EncodedString()
        for text in texts {
            #expect(!text.contains("jKl0123456789") && !text.contains("SecretPassw0rd"), "leaked in: \(text)")
            #expect(!text.contains(basic.prefix(16)) && !text.contains(basic.prefix(16).replacingOccurrences(of: "/", with: "\\/")), "leaked in: \(text)")
        }
        #expect(result.bodyPrefix.contains("invalid token ${TOKEN}") && result.bodyPrefix.contains("Basic ${HOOK_URL}"), "\(result.bodyPrefix)")
    }
}
