#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Turns SIGHUP into a call of a handler on a Dispatch queue, the daemon convention for "read the
/// configuration again".
///
/// As with ``StopSignal``, the signal is blocked in the creating thread (threads started later
/// inherit that) and received by a Dispatch signal source, so no signal handler touches Swift state;
/// without it, SIGHUP would end the process on the spot. Handlers that ``FunctionRunner`` spawns get
/// SIGHUP's default action back. Create it before starting threads, one per process.
public final class HangupSignal: @unchecked Sendable {
    private let source: any DispatchSourceSignal

    /// Calls `handler` once per SIGHUP received (signals arriving together may count once), on a
    /// serial queue of its own.
    public init(handler: @escaping @Sendable () -> Void) {
        var mask = sigset_t()
        sigemptyset(&mask)
        sigaddset(&mask, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &mask, nil)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "tripline.hangup-signal"))
        source.setEventHandler(handler: handler)
        source.resume()
    }

    deinit { source.cancel() }
}
