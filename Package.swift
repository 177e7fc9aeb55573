// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "leen-healthd",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LeenAPI", targets: ["LeenAPI"]),
        .library(name: "LeenSimulator", targets: ["LeenSimulator"]),
        .executable(name: "leen-sim", targets: ["leen-sim"]),
        .executable(name: "leen-healthd", targets: ["leen-healthd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    ],
    targets: [
        // Codable models of the Leen provisioning API and a typed client over AsyncHTTPClient.
        .target(
            name: "LeenAPI",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // leen-sim as a library: the fleet, health evolution, faults and the HTTP front end.
        .target(
            name: "LeenSimulator",
            dependencies: [
                "LeenAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "leen-sim",
            dependencies: [
                "LeenAPI", "LeenSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // libsystemd (sd_journal_sendv, sd_notify) for Swift.
        .systemLibrary(
            name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // zlib for gzip answers. Used directly rather than through a wrapper package because /metrics splices
        // runs compressed ahead of time (raw deflate, sync flush, crc32_combine), which wrappers do not expose.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // The only importer of CSystemd: journal sinks, the journal log handler, sd_notify.
        .target(
            name: "SystemdSupport",
            dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")]
        ),
        // The monitor's pure logic: configuration, diff, events, provisioning plans, poll outcomes. No I/O.
        .target(
            name: "HealthdCore",
            dependencies: ["LeenAPI", .product(name: "Yams", package: "Yams")]
        ),
        // The Prometheus endpoint: metric rendering from monitor snapshots and the HTTP server.
        .target(
            name: "HealthdMetrics",
            dependencies: [
                "CZlib", "HealthdCore", "LeenAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The daemon: provisioner, pollers, state file, event emission, services, commands, demo.
        .target(
            name: "Healthd",
            dependencies: [
                "HealthdCore", "HealthdMetrics", "LeenAPI", "LeenSimulator", "SystemdSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "leen-healthd",
            dependencies: [
                "Healthd", "HealthdCore", "HealthdMetrics", "LeenAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SystemdSupportTests",
            dependencies: ["SystemdSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "HealthdCoreTests",
            dependencies: ["HealthdCore", "LeenAPI"]
        ),
        .testTarget(
            name: "HealthdMetricsTests",
            dependencies: [
                "HealthdMetrics", "HealthdCore", "LeenAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "HealthdTests",
            dependencies: [
                "Healthd", "HealthdCore", "LeenAPI", "LeenSimulator", "SystemdSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "LeenAPITests",
            dependencies: [
                "LeenAPI", "LeenSimulator",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "LeenSimulatorTests",
            dependencies: [
                "LeenSimulator", "LeenAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + [
        .swiftLanguageMode(.v6),
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
    ]
}
