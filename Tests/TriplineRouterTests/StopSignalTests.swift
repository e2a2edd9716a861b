import Testing
import TriplineRouter

/// (What a signal does is tested on the binary, `RuleReloadTests`: a test process has threads that
/// would take a signal this suite sent before `StopSignal` blocked it for them.)
@Suite("StopSignal: stops asked for from within")
struct StopSignalTests {
    @Test("a stop asked for from within is taken back by rearm, and the descriptor waits again")
    func requestIsRearmed() {
        let stop = StopSignal(signals: [])
        #expect(!stop.isRequested)
        stop.request()
        stop.request()
        #expect(stop.isRequested)
        #expect(!stop.wasSignalled)
        #expect(stop.rearm(), "only request() asked for it")
        #expect(!stop.isRequested, "every byte the requests wrote was drained")
        stop.request()
        #expect(stop.isRequested, "a later request stops again")
    }
}
