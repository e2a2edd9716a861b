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

        // Strict, fast JSON reading and writing for untrusted events and rule files.
        .target(name: "TriplineJSON"),
        // The EventBridge pattern language: parsing, validation, the compiled shared matcher. Pure: no I/O.
        .target(name: "EventPattern", dependencies: ["TriplineJSON"]),
        // Rules, ingestion, normalization, delivery: owns I/O, time and state.
        .target(name: "TriplineRouter", dependencies: ["EventPattern", "TriplineJSON", "CZlib"]),
        // A seeded generator for reproducible random tests and benchmark inputs.
        .target(name: "SeededRandom"),
        // Matcher and pipeline benchmarks behind `tripline bench`.
        .target(name: "TriplineBench", dependencies: ["EventPattern", "TriplineJSON", "TriplineRouter", "SeededRandom"]),
        // The command line: argument parsing and calls into the libraries.
        .executableTarget(name: "tripline", dependencies: ["TriplineRouter", "EventPattern", "TriplineJSON", "TriplineBench"]),

        .testTarget(name: "TriplineJSONTests", dependencies: ["TriplineJSON", "SeededRandom"]),
        .testTarget(name: "EventPatternTests", dependencies: ["EventPattern", "TriplineJSON", "SeededRandom"]),
        .testTarget(name: "EndToEndTests", dependencies: ["TriplineJSON"]),
        .testTarget(name: "TriplineRouterTests", dependencies: ["TriplineRouter", "TriplineJSON"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
