import ArgumentParser
import HealthdBenchmarks
import HealthdMetrics
import Logging

/// `leen-healthd-bench`: benchmarks kept out of the daemon's executable, so that the daemon does not link
/// swift-prometheus (the peer the /metrics benchmark is measured against). `metrics` is the default
/// subcommand, so `leen-healthd-bench --connections N` (scripts/bench-metrics.sh) keeps working.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leen-healthd-bench",
        abstract: "Benchmarks of leen-healthd's parts (scripts/bench-metrics.sh, scripts/bench.sh).",
        subcommands: [BenchMetrics.self, BenchJournal.self, BenchState.self],
        defaultSubcommand: BenchMetrics.self)
}

struct BenchMetrics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Measure /metrics rendering on a synthetic fleet, or serve it for a load test (scripts/bench-metrics.sh).")

    @Option(help: "Monitored connections in the synthetic fleet.") var connections = 10_000
    @Option(help: "Runs per measurement (the median is reported).") var iterations = 5
    @Option(help: "Serve the synthetic fleet's endpoint on HOST:PORT instead of measuring.") var serve: String?

    func run() async throws {
        if let serve {
            let (host, port) = try MetricsServer.parseListen(serve)
            var logger = Logger(label: "leen-healthd.bench-metrics")
            logger.logLevel = .warning
            let server = MetricsBenchmark.server(connections: connections, host: host, port: port, logger: logger) {
                print("serving \(connections) connections on \(host):\($0)")
            }
            try await server.run()
        } else {
            print(MetricsBenchmark.table(MetricsBenchmark.run(connections: connections, iterations: iterations)))
        }
    }
}
