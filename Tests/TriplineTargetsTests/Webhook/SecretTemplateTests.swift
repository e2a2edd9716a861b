import Foundation
import Testing
import TriplineTargets

@Suite("Webhook config: ${NAME} templates, load-time errors, redaction")
struct SecretTemplateTests {
    @Test(arguments: [
        ("https://x/${A}/y", ["A"], "https://x/alpha/y"),
        ("${A}${B}${A}", ["A", "B"], "alphabetaalpha"),
        ("cost $$5 and $$${A}", ["A"], "cost $5 and $alpha"),
        ("lone $ sign and $B", [], "lone $ sign and $B"),
        ("trailing $", [], "trailing $"),
        ("${_under_9}", ["_under_9"], "u9"),
        ("no placeholders", [], "no placeholders"),
    ])
    func parsesListsAndExpands(template: String, names: [String], expanded: String) throws {
        let env = ["A": "alpha", "B": "beta", "_under_9": "u9"]
        let parsed = try SecretTemplate(parsing: template)
        #expect(parsed.variableNames == names)
        #expect(try parsed.expand(environment: env, field: "url") == expanded)
    }

    @Test(arguments: ["${", "x ${A", "${}", "${1A}", "${A-B}", "${A B}"])
    func rejectsMalformedPlaceholders(template: String) {
        #expect(throws: SecretTemplateError.self) { try SecretTemplate(parsing: template) }
    }

    @Test("${NAME:-TEXT} takes TEXT when NAME is unset or empty, and is not a required variable", arguments: [
        ("${A:-x}", ["A": "alpha"], "alpha"),
        ("${A:-x}", [:], "x"),
        ("${A:-x}", ["A": ""], "x"),
        ("${A:-}", [:], ""),
        ("p=${A:-https://h/a-b}/${B}", ["B": "beta"], "p=https://h/a-b/beta"),
    ] as [(String, [String: String], String)])
    func defaults(template: String, environment: [String: String], expanded: String) throws {
        let parsed = try SecretTemplate(parsing: template)
        #expect(try parsed.expand(environment: environment, field: "url") == expanded)
        #expect(parsed.variableNames.contains("A") && !parsed.requiredVariableNames.contains("A") && parsed.hasDefaults)
    }

    @Test("a BlockUser Environment value that comes out empty from a default is left out; a required variable still must be set")
    func blockUserEnvironmentDefaults() throws {
        let target = BlockUserTarget(principalPath: try AlertValuePath(parsing: "$.detail.userIdentity"), reason: "r", enforce: "h",
                                     environment: ["AWS_PROFILE": "${AWS_PROFILE:-}", "AWS_REGION": "${REGION:-eu-west-1}", "KEY": "${KEY}"])
        #expect(target.requiredVariables == ["KEY"])
        #expect(try target.resolvedEnvironment(from: ["KEY": "k"]) == ["AWS_REGION": "eu-west-1", "KEY": "k"])
        #expect(try target.resolvedEnvironment(from: ["KEY": "k", "AWS_PROFILE": "ops", "REGION": "us-east-1"])
                == ["AWS_PROFILE": "ops", "AWS_REGION": "us-east-1", "KEY": "k"])
        #expect(throws: SecretTemplateError.missingVariable(name: "KEY", field: "BlockUser Environment KEY")) {
            try target.resolvedEnvironment(from: [:])
        }
    }

    @Test func missingAndEmptyVariablesAreNamedWithoutValues() throws {
        let template = try SecretTemplate(parsing: "https://h/${PRESENT}/${ABSENT}")
        #expect(throws: SecretTemplateError.missingVariable(name: "ABSENT", field: "url")) {
            try template.expand(environment: ["PRESENT": "topsecret"], field: "url")
        }
        let error = SecretTemplateError.missingVariable(name: "ABSENT", field: "url")
        #expect(error.description.contains("ABSENT") && !error.description.contains("topsecret"))
        #expect(throws: SecretTemplateError.emptyVariable(name: "ABSENT", field: "url")) {
            try template.expand(environment: ["PRESENT": "x", "ABSENT": ""], field: "url")
        }
    }

    @Test func redactorHidesValuesAsWrittenAndPercentEncoded() {
        let redactor = Redactor(secrets: [("TOKEN", "s3cr3t/with space"), ("SHORT", "s3cr3t"), ("EMPTY", "")])
        let text = "a s3cr3t/with space b s3cr3t%2Fwith%20space c s3cr3t%2fwith%20space d s3cr3t/with%20space e s3cr3t"
        let out = redactor.redact(text)
        #expect(!out.contains("s3cr3t"))
        #expect(out == "a ${TOKEN} b ${TOKEN} c ${TOKEN} d ${TOKEN} e ${SHORT}")
        #expect(Redactor.none.redact(text) == text)
    }

    @Test func configurationResolvesAndRejectsAtLoadTime() throws {
        let config = WebhookConfiguration(url: "https://hooks.example/${PATH_TOKEN}?k=${QUERY_KEY}",
                                          headers: [WebhookHeader(name: "Authorization", value: "Bearer ${API_KEY}")],
                                          signingSecretVariable: "SIGNING")
        #expect(config.requiredVariables == ["PATH_TOKEN", "QUERY_KEY", "API_KEY", "SIGNING"])
        let env = ["PATH_TOKEN": "pathsecret", "QUERY_KEY": "querysecret", "API_KEY": "apisecret",
                   "SIGNING": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
        let target = try config.resolve(environment: env)
        #expect(target.url == "https://hooks.example/pathsecret?k=querysecret")
        #expect(target.headers.value(for: "Authorization") == "Bearer apisecret")
        #expect(target.headers.value(for: "Content-Type") == "application/json")
        #expect(target.signingSecret != nil)
        let leaked = "GET https://hooks.example/pathsecret?k=querysecret Bearer apisecret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        let redacted = target.redactor.redact(leaked)
        for secret in env.values { #expect(!redacted.contains(secret)) }
        #expect(!redacted.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        #expect(redacted.contains("${PATH_TOKEN}") && redacted.contains("${API_KEY}"))

        for missing in ["PATH_TOKEN", "API_KEY", "SIGNING"] {
            var partial = env
            partial[missing] = nil
            do {
                _ = try config.resolve(environment: partial)
                Issue.record("resolving without \(missing) should fail")
            } catch {
                #expect(error.description.contains(missing))
                for secret in partial.values { #expect(!error.description.contains(secret)) }
            }
        }
    }

    @Test(arguments: [
        (WebhookConfiguration(url: "ftp://h/x"), "only http:// and https:// URLs are sent, not ftp:"),
        (WebhookConfiguration(url: "https://h/x", method: "PO ST"), "method"),
        (WebhookConfiguration(url: "https://h/x", headers: [WebhookHeader(name: "Bad Name", value: "v")]), "header name"),
        (WebhookConfiguration(url: "https://h/x", headers: [WebhookHeader(name: "X-Inject", value: "${NL}")]), "line break"),
        (WebhookConfiguration(url: "https://h/x", timeoutSeconds: 0.5), "timeout"),
        (WebhookConfiguration(url: "https://h/x", timeoutSeconds: 301), "timeout"),
        (WebhookConfiguration(url: "https://h/x", rateLimitPerSecond: 0), "rate limit"),
        (WebhookConfiguration(url: "https://h/x", signingSecretVariable: "BADB64"), "base64"),
        (WebhookConfiguration(url: "https://h/x", caBundlePath: "/nonexistent/ca.pem"), "CA bundle"),
        (WebhookConfiguration(url: "https://h/x", maxResponseBytes: -1), "max response bytes"),
        (WebhookConfiguration(url: "${CR_URL}"), "a carriage return (CR, U+000D) at the end once expanded (from the value of CR_URL"),
        (WebhookConfiguration(url: "${SPACE_URL}"), "a space (U+0020) at the end once expanded"),
        (WebhookConfiguration(url: "${BASE}/${LF_PART}/x"), "a line feed (LF, U+000A) at character 26 once expanded (from the value of LF_PART"),
        (WebhookConfiguration(url: "https://h/x\r\nX-Evil: 1"), "a carriage return (CR, U+000D) at character 12"),
        (WebhookConfiguration(url: "file:///etc/passwd"), "not file:"),
        (WebhookConfiguration(url: "FTP://${HOST}/x"), "not ftp:"),
        (WebhookConfiguration(url: "https:///x"), "no host"),
        (WebhookConfiguration(url: "https://h/x", headers: [WebhookHeader(name: "Content-Length", value: "5")]), "header \"Content-Length\" cannot be set"),
        (WebhookConfiguration(url: "https://h/x", headers: [WebhookHeader(name: "host", value: "other")]), "header \"host\" cannot be set"),
        (WebhookConfiguration(url: "https://h/x", headers: [WebhookHeader(name: "Transfer-Encoding", value: "chunked")]), "desynchronise the request framing"),
        (WebhookConfiguration(url: "https://h/x", headers: [WebhookHeader(name: "CONNECTION", value: "close")]), "cannot be set"),
        (WebhookConfiguration(url: "https://h/x", headers: [WebhookHeader(name: "Upgrade", value: "h2c")]), "cannot be set"),
    ])
    func invalidConfigurationsFailWithAClearReason(config: WebhookConfiguration, expected: String) {
        if config.requiredVariables.isEmpty || config.url.hasPrefix("FTP") {
            // What does not depend on a variable's value is refused by validate (and so by `tripline validate`) too.
            #expect(throws: WebhookConfigurationError.self, "\(expected)") { try config.validate() }
        }
        let env = ["NL": "evil\r\nX-Other: 1", "BADB64": "whsec_***not base64***", "CR_URL": "https://evil.example/x\r",
                   "SPACE_URL": "https://evil.example/x ", "BASE": "https://evil.example", "LF_PART": "evil\nx", "HOST": "evil.example"]
        do {
            _ = try config.resolve(environment: env)
            Issue.record("expected a load-time error mentioning \(expected)")
        } catch {
            #expect(error.description.contains(expected), "\(error)")
            #expect(!error.description.contains("evil") && !error.description.contains("not base64***"))
        }
    }
}
