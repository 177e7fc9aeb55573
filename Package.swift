// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "leen-healthd",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LeenAPI", targets: ["LeenAPI", "LeenAPIClient"]),
        .library(name: "LeenSimulator", targets: ["LeenSimulator"]),
        .executable(name: "leen-sim", targets: ["leen-sim"]),
        .executable(name: "leen-healthd", targets: ["leen-healthd"]),
        .executable(name: "leen-healthd-bench", targets: ["leen-healthd-bench"]),
        // For the fuzz targets only (Fuzz/Package.swift depends on this package by path and can use only
        // products); nothing here builds them.
        .library(name: "HealthdCore", targets: ["HealthdCore"]),
        .library(name: "HealthdMetrics", targets: ["HealthdMetrics"]),
        .library(name: "Healthd", targets: ["Healthd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        // Codable models of the Leen provisioning API: pure values, no networking.
        .target(name: "LeenAPI"),
        // The typed client over AsyncHTTPClient: retries, timeouts, pagination, `LeenAPIError`.
        .target(
            name: "LeenAPIClient",
            dependencies: [
                "LeenAPI",
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
                "LeenAPI", "LeenAPIClient",
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
                "LeenAPI", "LeenAPIClient", "LeenSimulator",
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
        // zlib for gzip answers' trailers (`crc32_combine`). Used directly rather than through a wrapper
        // package because /metrics splices runs compressed ahead of time, which wrappers do not expose.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // Intel's ISA-L (igzip) compresses those runs: raw deflate with a sync flush, like zlib's, three and a
        // half times as fast as zlib's fastest level and 7% smaller on /metrics text (docs/benchmarks.md).
        .systemLibrary(name: "CIsal", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        // OpenSSL's libcrypto for the credential fingerprints' HMAC-SHA-256 and the basic-auth cache's SHA-256.
        // Not swift-crypto: for one HMAC it compiled a second BoringSSL (NIOSSL, under AsyncHTTPClient, has
        // one), a large share of a first build.
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // jemalloc's options for leen-healthd (`malloc_conf`), linked into the executable only.
        .target(name: "CJemallocOptions"),
        // glibc's malloc.h (mallopt, malloc_trim), which the Glibc module leaves out: the daemon's allocator
        // tuning (Healthd/Allocator.swift).
        .systemLibrary(name: "CMalloc"),
        // The only importer of CSystemd: journal sinks, the journal log handler, sd_notify.
        .target(
            name: "SystemdSupport",
            dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")]
        ),
        // The monitor's pure logic: configuration, diff, events, the scheduler state machine, the connection
        // view, provisioning plans. Depends on the API models only: no I/O, no networking, no clock.
        .target(
            name: "HealthdCore",
            dependencies: [
                "LeenAPI", .product(name: "Yams", package: "Yams"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]
        ),
        // The Prometheus endpoint: metric rendering from monitor snapshots and the HTTP server. TLS is NIOSSL's,
        // directly rather than through HummingbirdTLS, whose context is fixed at start: a reloaded certificate
        // must serve the next connection. Passwords are checked with HummingbirdBcrypt.
        .target(
            name: "HealthdMetrics",
            dependencies: [
                "CCrypto", "CIsal", "CZlib", "HealthdCore", "LeenAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The daemon: provisioner, poll driver, monitor actor, state files, event emission, services, commands.
        .target(
            name: "Healthd",
            dependencies: [
                "CCrypto", "CMalloc", "HealthdCore", "HealthdMetrics", "LeenAPI", "LeenAPIClient", "SystemdSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // `leen-healthd demo`: the daemon against an embedded leen-sim. Kept out of `Healthd` so the daemon's
        // library does not link the simulator.
        .target(
            name: "HealthdDemo",
            dependencies: [
                "Healthd", "HealthdCore", "HealthdMetrics", "LeenAPI", "LeenAPIClient", "LeenSimulator",
                "SystemdSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "leen-healthd",
            dependencies: [
                "CJemallocOptions", "Healthd", "HealthdCore", "HealthdDemo", "HealthdMetrics", "LeenAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            // jemalloc serves the daemon's malloc: at 100k connections a third less memory and a fifth less CPU
            // than glibc (Healthd/Allocator.swift). Linked here only, so tests and benchmarks keep glibc.
            linkerSettings: [.linkedLibrary("jemalloc")]
        ),
        // Benchmark-only code: a synthetic fleet and the /metrics benchmark, with swift-prometheus as the
        // peer it is measured against. Nothing the daemon links depends on it.
        .target(
            name: "HealthdBenchmarks",
            dependencies: [
                "HealthdCore", "HealthdMetrics", "LeenAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "leen-healthd-bench",
            // Healthd and SystemdSupport for `journal`: the daemon's own journal writer, measured as it runs.
            dependencies: [
                "Healthd", "HealthdBenchmarks", "HealthdCore", "HealthdMetrics", "LeenAPI", "SystemdSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What several test targets share: a daemon workspace, a daemon child process, the journal reader,
        // system tools and the rule for a missing real part.
        .target(
            name: "HealthdTestSupport",
            dependencies: [
                "Healthd", "HealthdCore", "LeenAPI", "LeenAPIClient", "LeenSimulator",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/HealthdTestSupport"
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
                "HealthdMetrics", "HealthdBenchmarks", "HealthdCore", "HealthdTestSupport", "LeenAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Unit tests of the daemon's library: no real system part, run in parallel.
        .testTarget(
            name: "HealthdTests",
            dependencies: [
                "HealthdTestSupport",
                "Healthd", "HealthdCore", "HealthdMetrics", "LeenAPI", "LeenAPIClient", "LeenSimulator",
                "SystemdSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Suites that need real system parts (systemd as PID 1, Prometheus, promtool, systemd-analyze) or run
        // the built executables on real time: `make test` runs this target one suite at a time.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "HealthdTestSupport",
                "Healthd", "HealthdCore", "HealthdDemo", "HealthdMetrics", "LeenAPI", "LeenAPIClient", "LeenSimulator",
                "SystemdSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Suites that write to and read a real journald: `make test` runs this target next to a private
        // journald (scripts/with-journald.sh).
        .testTarget(
            name: "JournalTests",
            dependencies: [
                "HealthdTestSupport",
                "Healthd", "HealthdCore", "LeenAPI", "LeenSimulator", "SystemdSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "LeenAPITests",
            dependencies: [
                "LeenAPI", "LeenAPIClient", "LeenSimulator",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "LeenSimulatorTests",
            dependencies: [
                "LeenSimulator", "LeenAPI", "LeenAPIClient",
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
