/// A small HTTP/1.1 server bound to 127.0.0.1, for tests, benchmarks and `make demo`'s local receiver.
///
/// Placeholder: the server itself lands with the webhook work.
public enum LoopbackHTTP {}
