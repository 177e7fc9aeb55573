// swift-tools-version:6.1
// The fuzz targets (libFuzzer), one executable each. A package of its own, depending on leen-healthd by path,
// so the project's normal build never compiles them. Built by `make fuzz-build` into ../.build-fuzz with
// `-sanitize=fuzzer` on every Swift module, so libFuzzer sees the coverage of the code under test
// (docs/reliability.md, "Fuzzing").
import PackageDescription

let package = Package(
    name: "leen-healthd-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "leen-healthd", path: ".."),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // libFuzzer's driver, which each target's main.swift calls (FuzzDriver.swift says why).
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzDriver", dependencies: ["CFuzzerDriver"]),
        // A List Connections body, decoded as the client decodes every page.
        .executableTarget(
            name: "fuzz-page",
            dependencies: ["FuzzDriver", .product(name: "LeenAPI", package: "leen-healthd")]),
        // YAML text through the configuration parser.
        .executableTarget(
            name: "fuzz-config",
            dependencies: ["FuzzDriver", .product(name: "HealthdCore", package: "leen-healthd")]),
        // A state file's bytes, read as the daemon reads them at start, then the next poll applied.
        .executableTarget(
            name: "fuzz-state-file",
            dependencies: [
                "FuzzDriver", .product(name: "Healthd", package: "leen-healthd"),
                .product(name: "HealthdCore", package: "leen-healthd"),
                .product(name: "LeenAPI", package: "leen-healthd"),
            ]),
        // A request head, planned as the metrics endpoint plans every request.
        .executableTarget(
            name: "fuzz-metrics-request",
            dependencies: [
                "FuzzDriver", .product(name: "HealthdMetrics", package: "leen-healthd"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]),
    ]
)

for target in package.targets where target.name != "CFuzzerDriver" {
    target.swiftSettings = [.swiftLanguageMode(.v6), .enableUpcomingFeature("ExistentialAny")]
}
