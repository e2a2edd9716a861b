import Testing
import TriplineTargets
@testable import TriplineRouter

/// Rules with one webhook target posting to `url` at `rate` deliveries per second.
private func rules(rate: Int, url: String = "http://127.0.0.1:9/hook") -> RuleSet {
    let text = #"{"Name":"r","EventPattern":{"source":["aws.s3"]},"Targets":[{"Id":"w","Webhook":{"Url":"\#(url)","RateLimitPerSecond":\#(rate)}}]}"#
    let (parsed, errors) = RuleFile.parse(bytes: Array(text.utf8), file: "r.json")
    precondition(errors.isEmpty, "\(errors)")
    return RuleSet(rules: parsed)
}

@Suite("Webhook registry: what a reload's registry takes over from the one in force")
struct WebhookRegistryCarryOverTests {
    @Test("a URL keeps its Retry-After pause and, with the same limit, its rate-limit bucket; a changed limit gets a new bucket")
    func pauseAndBucketCarryOver() throws {
        let first = WebhookRegistry.resolve(rules: rules(rate: 2), environment: [:]).registry
        let target = try #require(first.target("r/w"))
        target.pauseDeliveries(forSeconds: 8)

        let same = WebhookRegistry.resolve(rules: rules(rate: 2), environment: [:], previous: first).registry
        let kept = try #require(same.target("r/w"))
        #expect(kept.pause === target.pause)
        #expect(kept.pause.remainingSeconds > 7, "the receiver's Retry-After still holds")
        #expect(kept.rateLimiter === target.rateLimiter)

        let changed = WebhookRegistry.resolve(rules: rules(rate: 5), environment: [:], previous: first).registry
        let retuned = try #require(changed.target("r/w"))
        #expect(retuned.pause === target.pause, "the pause is the receiver's, whatever the limit")
        #expect(retuned.rateLimiter !== target.rateLimiter)
        #expect(retuned.rateLimiter?.ratePerSecond == 5)

        let fresh = WebhookRegistry.resolve(rules: rules(rate: 2), environment: [:]).registry
        #expect(fresh.target("r/w")?.pause.remainingSeconds == 0, "without a previous registry nothing is carried over")
    }
}
