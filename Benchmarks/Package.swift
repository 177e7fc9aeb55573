// swift-tools-version:6.1
// Micro-benchmarks of the daemon's hot paths (ordo-one/benchmark): allocations and, where the machine has
// a PMU, instructions, so a regression shows as a count rather than a noisy time. A package of its own,
// depending on leen-healthd by path, so the project's build and tests never compile the benchmark
// framework. `make bench-micro` runs it (docs/benchmarks.md, "Hot paths").
import PackageDescription

let package = Package(
    name: "leen-healthd-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "leen-healthd", path: ".."),
        // The malloc interposer counts allocations; the default traits would also pull in a runtime
        // interposer that is not among the offline packages.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HotPaths",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LeenAPI", package: "leen-healthd"),
                .product(name: "HealthdCore", package: "leen-healthd"),
            ],
            path: "Benchmarks/HotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ])
