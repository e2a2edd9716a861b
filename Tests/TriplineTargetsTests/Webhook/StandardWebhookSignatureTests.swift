import Foundation
import Testing
import TriplineTargets

@Suite("Webhook signing: Standard Webhooks")
struct StandardWebhookSignatureTests {
    // The example from the Standard Webhooks specification and its reference libraries.
    static let specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let specID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    static let specTimestamp = 1614265330
    static let specBody = Array(#"{"test": 2432232314}"#.utf8)
    static let specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

    @Test func matchesTheSpecificationTestVector() throws {
        let secret = try StandardWebhookSignature.Secret(parsing: Self.specSecret)
        #expect(StandardWebhookSignature.signature(id: Self.specID, timestamp: Self.specTimestamp, body: Self.specBody, secret: secret)
                == Self.specSignature)
        #expect(IndependentHMAC.standardWebhookSignature(secret: Self.specSecret, id: Self.specID,
                                                         timestamp: String(Self.specTimestamp), body: Self.specBody) == Self.specSignature)
        let headers = StandardWebhookSignature.headers(id: Self.specID, timestamp: Self.specTimestamp, body: Self.specBody, secret: secret)
        #expect(headers.map(\.name) == ["webhook-id", "webhook-timestamp", "webhook-signature"])
        #expect(headers.map(\.value) == [Self.specID, "1614265330", Self.specSignature])
    }

    @Test func independentHMACAgreesWithKnownAnswers() {
        // RFC 4231 test case 2.
        let mac = IndependentHMAC.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(mac.map { String(format: "%02x", $0) }.joined() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test(arguments: ["plain-shared-secret", "whsec_c2hvcnQ=", "whsec_c2hvcnQ", String(repeating: "k", count: 200)])
    func libcryptoAgreesWithTheIndependentImplementation(secretText: String) throws {
        let secret = try StandardWebhookSignature.Secret(parsing: secretText)
        for body in [[], Self.specBody, [UInt8](repeating: 0xFF, count: 1000)] {
            let ours = StandardWebhookSignature.signature(id: "id-1", timestamp: 42, body: body, secret: secret)
            #expect(ours == IndependentHMAC.standardWebhookSignature(secret: secretText, id: "id-1", timestamp: "42", body: body))
        }
    }

    @Test func rawSecretsAreUsedAsTheKeyAndBadSecretsAreRejected() throws {
        #expect(try StandardWebhookSignature.Secret(parsing: "abc").key == Array("abc".utf8))
        #expect(throws: WebhookSignatureError.emptySecret) { try StandardWebhookSignature.Secret(parsing: "") }
        #expect(throws: WebhookSignatureError.emptySecret) { try StandardWebhookSignature.Secret(parsing: "whsec_") }
        #expect(throws: WebhookSignatureError.invalidBase64) { try StandardWebhookSignature.Secret(parsing: "whsec_!!!") }
    }

    @Test func verifyAcceptsTheRightSignatureOnlyWithinTolerance() throws {
        let secret = try StandardWebhookSignature.Secret(parsing: Self.specSecret)
        let now = Self.specTimestamp + 10
        #expect(StandardWebhookSignature.verify(id: Self.specID, timestamp: "1614265330", signatureHeader: "v1,bogus " + Self.specSignature,
                                                body: Self.specBody, secret: secret, now: now))
        #expect(!StandardWebhookSignature.verify(id: Self.specID, timestamp: "1614265330", signatureHeader: Self.specSignature,
                                                 body: Self.specBody + [32], secret: secret, now: now))
        #expect(!StandardWebhookSignature.verify(id: Self.specID, timestamp: "1614265330", signatureHeader: Self.specSignature,
                                                 body: Self.specBody, secret: secret, now: now + 1000))
    }
}
