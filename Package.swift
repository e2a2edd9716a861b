// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Tripline",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tripline", targets: ["tripline"]),
    ],
    targets: [
        // C system libraries, reached through module maps (no third-party Swift packages).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite",
                       providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL",
                       providers: [.apt(["libssl-dev"])]),

        // Strict, fast JSON reading and writing for untrusted events and rule files.
        .target(name: "TriplineJSON"),
        // The EventBridge pattern language: parsing, validation, the compiled shared matcher. Pure: no I/O.
        .target(name: "EventPattern", dependencies: ["TriplineJSON"]),
        // Durable state in one SQLite database: delivery queue, dead letters, checkpoints, blocklist.
        .target(name: "TriplineState", dependencies: ["CSQLite", "TriplineJSON"]),
        // What a delivery reaches: function handlers, webhooks (libcurl), topics, user blocking.
        .target(name: "TriplineTargets", dependencies: ["EventPattern", "TriplineJSON", "CCurl", "COpenSSL"]),
        // Rules, ingestion, normalization, delivery: owns I/O, time and state.
        .target(name: "TriplineRouter", dependencies: ["EventPattern", "TriplineJSON", "TriplineTargets", "TriplineState", "CZlib", "COpenSSL"]),
        // A small loopback HTTP server: the receiver for tests, benchmarks and the demo. Not used by `run`.
        .target(name: "LoopbackHTTP"),
        // A seeded generator for reproducible random tests and benchmark inputs.
        .target(name: "SeededRandom"),
        // Matcher and pipeline benchmarks behind `tripline bench`.
        .target(name: "TriplineBench", dependencies: ["EventPattern", "TriplineJSON", "TriplineRouter", "TriplineTargets", "SeededRandom", "LoopbackHTTP"]),
        // The command line: argument parsing and calls into the libraries.
        .executableTarget(name: "tripline", dependencies: ["TriplineRouter", "TriplineTargets", "TriplineState", "EventPattern", "TriplineJSON", "TriplineBench", "LoopbackHTTP"]),

        .testTarget(name: "TriplineJSONTests", dependencies: ["TriplineJSON", "SeededRandom"]),
        .testTarget(name: "EventPatternTests", dependencies: ["EventPattern", "TriplineJSON", "SeededRandom"]),
        .testTarget(name: "EndToEndTests", dependencies: ["TriplineJSON", "TriplineTargets", "LoopbackHTTP"]),
        .testTarget(name: "TriplineRouterTests", dependencies: ["TriplineRouter", "TriplineTargets", "TriplineState", "TriplineJSON", "SeededRandom"], exclude: ["Fixtures"]),
        .testTarget(name: "TriplineTargetsTests", dependencies: ["TriplineTargets", "TriplineJSON", "EventPattern", "LoopbackHTTP"]),
        .testTarget(name: "TriplineStateTests", dependencies: ["TriplineState", "TriplineJSON"]),
    ],
    swiftLanguageModes: [.v6]
)
