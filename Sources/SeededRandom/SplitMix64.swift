/// SplitMix64: a tiny, fast, seeded random number generator.
///
/// Tests and benchmarks draw from it so every random run reproduces from its seed (Swift's
/// system generator cannot be seeded). Not for anything security-related.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with the given probability in percent.
    public mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &self) < percent }
    /// One of `options`, which must not be empty.
    public mutating func pick<T>(_ options: [T]) -> T { options[Int.random(in: 0..<options.count, using: &self)] }
    /// A number in `0..<n`; `n` must be positive.
    public mutating func below(_ n: Int) -> Int { Int.random(in: 0..<n, using: &self) }
}
