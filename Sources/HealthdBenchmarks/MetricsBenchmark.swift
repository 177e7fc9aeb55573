import Foundation
import HealthdCore
import HealthdMetrics
import LeenAPI
import Logging
import NIOCore
import Prometheus

/// What `leen-healthd bench-metrics` measures: the cost of one `/metrics` scrape for a fleet of a given
/// size (``SyntheticFleet``), by this package's renderer and, for comparison, by swift-prometheus.
///
/// Timings are the median of `iterations` runs on the calling thread; run it from a release build.
public enum MetricsBenchmark {
    public struct Measurement: Sendable, Hashable {
        /// What was measured, e.g. `text 0.0.4`.
        public var name: String
        public var connections: Int
        /// Median wall-clock time of one run.
        public var seconds: Double
        /// Size of the output (compressed size for gzip).
        public var bytes: Int
    }

    /// Measures rendering `/metrics` for `connections` monitored connections.
    ///
    /// - Parameters:
    ///   - iterations: runs per measurement (the median is reported).
    ///   - includeSwiftPrometheus: also measure a swift-prometheus registry built from the same snapshot,
    ///     the comparison the renderer's design rests on. Building it is quadratic in the series of a family
    ///     (each new label set copies the family's dictionary), about 2 minutes for 10k connections, so the
    ///     default is to include it up to 10k.
    ///   - includeStatus: also measure the `/status` JSON.
    public static func run(
        connections: Int, iterations: Int = 5, includeSwiftPrometheus: Bool? = nil, includeStatus: Bool = true
    ) -> [Measurement] {
        let includeSwiftPrometheus = includeSwiftPrometheus ?? (connections <= 10_000)
        let input = SyntheticFleet.input(connections: connections)
        let process = ProcessMetrics.current()
        var results: [Measurement] = []
        func measure(_ name: String, runs: Int = iterations, _ body: () -> Int) {
            var times: [Double] = []
            var bytes = 0
            for _ in 0..<max(1, runs) {
                let start = ContinuousClock.now
                bytes = body()
                times.append((ContinuousClock.now - start).seconds)
            }
            results.append(Measurement(name: name, connections: connections, seconds: times.sorted()[times.count / 2], bytes: bytes))
        }

        measure("flattening the snapshot (included below)") {
            ConnectionRows(input.organizations).segments.reduce(0) { $0 + $1.bytes.count }
        }
        measure("rendering into a reused 1 MiB buffer") { renderOnly(input, process: process, rows: nil) }
        // Later scrapes: organizations not polled since the previous scrape come from the endpoint's cache.
        let cache = ConnectionRowsCache()
        let kept = try! cache.refresh(input.organizations, deflated: true)
        measure("rendering, organizations unchanged") {
            renderOnly(input, process: process, rows: try! cache.refresh(input.organizations, deflated: false))
        }
        for (name, format, gzip) in [
            ("text, 1 MiB chunks (served)", ExpositionFormat.text, false),
            ("OpenMetrics, 1 MiB chunks", .openMetrics, false),
            ("gzip, organizations unchanged (served)", .text, true),
        ] {
            measure(name) {
                (try? MetricsRenderer.render(input, format: format, process: process, gzip: gzip, cache: cache))?
                    .bytes ?? -1
            }
        }
        // After a wave of polls: a share of the organizations changed since the cache was last refreshed.
        for percent in [1, 10, 100] {
            let changed = changedOrganizations(input, percent: percent)
            measure("gzip, \(percent)% of organizations changed") {
                cache.replace(kept)
                return (try? MetricsRenderer.render(changed, format: .text, process: process, gzip: true, cache: cache))?
                    .bytes ?? -1
            }
        }
        // After a wave of polls in a changing fleet: every organization with three connections changed.
        let polled = changedConnections(input, perOrganization: 3)
        measure("gzip, every organization with 3 connections changed") {
            cache.replace(kept)
            return (try? MetricsRenderer.render(polled, format: .text, process: process, gzip: true, cache: cache))?
                .bytes ?? -1
        }
        measure("text, one buffer") {
            MetricsRenderer.render(input, format: .text, process: process).readableBytes
        }
        if includeStatus {
            measure("/status JSON", runs: min(iterations, 3)) { StatusDocument(input).encoded().count }
        }
        if includeSwiftPrometheus {
            var registry = PrometheusCollectorRegistry()
            measure("swift-prometheus: new registry + emit", runs: min(iterations, 3)) {
                registry = PrometheusCollectorRegistry()
                fill(registry, from: input)
                return registry.emitToBuffer().count
            }
            measure("swift-prometheus: emit kept registry") { registry.emitToBuffer().count }
        }
        return results
    }

    /// Renders into one reused chunk buffer, dropping the text: the cost of rendering alone.
    static func renderOnly(_ input: MonitorSnapshot, process: ProcessMetrics?, rows: ConnectionRows?) -> Int {
        var writer = ExpositionWriter(
            capacity: MetricsRenderer.chunkSize + 262_144, discardAt: MetricsRenderer.chunkSize)
        MetricsRenderer.write(input, rows: rows, format: .text, process: process, into: &writer)
        return writer.bytesWritten
    }

    /// `input` with `percent`% of its organizations (at least one) polled again: each has a new
    /// `lastSuccessfulPoll`, which makes its state differ from the cached one.
    static func changedOrganizations(_ input: MonitorSnapshot, percent: Int) -> MonitorSnapshot {
        var changed = input
        let count = max(1, changed.organizations.count * percent / 100)
        for index in changed.organizations.indices.prefix(count) {
            let last = changed.organizations[index].state.lastSuccessfulPoll ?? Date(timeIntervalSince1970: 0)
            changed.organizations[index].state.lastSuccessfulPoll = last.addingTimeInterval(60)
        }
        return changed
    }

    /// `input` with `count` connections of every organization changed as a poll changes them: a new health
    /// (UNHEALTHY, or HEALTHY again), one more transition, new change times. Poll `poll` changes the
    /// `count` connections after those of the poll before it (by identifier).
    public static func changedConnections(_ input: MonitorSnapshot, perOrganization count: Int, poll: Int = 0) -> MonitorSnapshot {
        var changed = input
        let at = Date(timeIntervalSince1970: 1_900_000_000 + Double(poll) * 20)
        for index in changed.organizations.indices {
            let keys = changed.organizations[index].state.connections.keys.sorted()
            for offset in 0..<min(count, keys.count) {
                let key = keys[(poll * count + offset) % keys.count]
                var tracked = changed.organizations[index].state.connections[key]!
                let healthy = tracked.observation.health?.status == .healthy
                tracked.observation.health = ConnectionObservation.Health(
                    status: healthy ? .unhealthy : .healthy, name: healthy ? "VENDOR_SERVER_ERROR" : "HEALTHY",
                    resolutionOwner: healthy ? .vendor : .leen, description: "changed")
                tracked.transitions += 1
                tracked.healthSince = at
                tracked.changedAt = at
                changed.organizations[index].state.connections[key] = tracked
            }
        }
        return changed
    }

    /// The per-connection families of `input` in a swift-prometheus registry, the way a registry-based
    /// design would hold them (one `Gauge`/`Counter` per series).
    static func fill(_ registry: PrometheusCollectorRegistry, from input: MonitorSnapshot) {
        func descriptor(_ family: MetricFamily) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: family.name, unitName: "", helpText: family.help)
        }
        let healthy = descriptor(.connectionHealthy)
        let status = descriptor(.connectionStatus)
        let reason = descriptor(.connectionReason)
        let state = descriptor(.connectionState)
        let details = descriptor(.connectionFailingDetails)
        let oauth = descriptor(.connectionOAuthPending)
        let transitions = descriptor(.connectionTransitions)
        let healthChange = descriptor(.connectionHealthChange)
        let lastChange = descriptor(.connectionLastChange)
        let confirmed = descriptor(.connectionUnhealthyConfirmed)
        let flapping = descriptor(.connectionFlapping)
        for organization in input.organizations {
            for tracked in organization.state.connections.values where !tracked.missing {
                let observation = tracked.observation
                let labels = [
                    ("organization_id", organization.id.rawValue), ("connection_id", observation.connectionID.rawValue),
                    ("identifier", observation.identifier), ("vendor", observation.vendor.rawValue),
                ]
                let effective = EffectiveStatus(tracked, organizationStale: organization.state.isStale).exported
                registry.makeGauge(descriptor: healthy, labels: labels).set(to: effective == .healthy ? 1.0 : 0.0)
                for member in EffectiveStatus.Exported.allCases {
                    registry.makeGauge(descriptor: status, labels: labels + [("status", member.rawValue)])
                        .set(to: member == effective ? 1.0 : 0.0)
                }
                if let health = observation.health {
                    let extra = [("health_name", health.name.rawValue), ("resolution_owner", health.resolutionOwner.rawValue)]
                    registry.makeGauge(descriptor: reason, labels: labels + extra).set(to: 1.0)
                }
                for member in ConnectionState.documentedValues {
                    registry.makeGauge(descriptor: state, labels: labels + [("state", member.rawValue)])
                        .set(to: member == observation.state ? 1.0 : 0.0)
                }
                registry.makeGauge(descriptor: details, labels: labels).set(to: Double(observation.health?.details.count ?? 0))
                registry.makeGauge(descriptor: oauth, labels: labels).set(to: observation.oauthPending ? 1.0 : 0.0)
                registry.makeCounter(descriptor: transitions, labels: labels).increment(by: Int64(tracked.transitions))
                registry.makeGauge(descriptor: healthChange, labels: labels).set(to: tracked.healthSince.timeIntervalSince1970)
                registry.makeGauge(descriptor: lastChange, labels: labels).set(to: tracked.changedAt.timeIntervalSince1970)
                registry.makeGauge(descriptor: confirmed, labels: labels)
                    .set(to: effective == .unhealthy && tracked.alert.isConfirmed ? 1.0 : 0.0)
                registry.makeGauge(descriptor: flapping, labels: labels).set(to: tracked.alert.flappingSince != nil ? 1.0 : 0.0)
            }
        }
    }

    /// A table of measurements (Markdown), as `leen-healthd bench-metrics` prints it.
    public static func table(_ measurements: [Measurement]) -> String {
        var lines = [
            "| connections | measurement                              |   time (ms) |         bytes |",
            "|------------:|------------------------------------------|------------:|--------------:|",
        ]
        for m in measurements {
            let name = m.name.padding(toLength: 40, withPad: " ", startingAt: 0)
            let milliseconds = String(format: "%11.1f", m.seconds * 1000)
            let bytes = String(repeating: " ", count: max(0, 13 - String(m.bytes).count)) + String(m.bytes)
            let count = String(repeating: " ", count: max(0, 11 - String(m.connections).count)) + String(m.connections)
            lines.append("| \(count) | \(name) | \(milliseconds) | \(bytes) |")
        }
        return lines.joined(separator: "\n")
    }

    /// A metrics server over a synthetic fleet of `connections`, for load tests (`wrk`) of the real HTTP
    /// path: `leen-healthd bench-metrics --serve HOST:PORT --connections N`. The snapshot is built once.
    public static func server(
        connections: Int, host: String = "127.0.0.1", port: Int = 0,
        logger: Logger = Logger(label: "leen-healthd.bench-metrics"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> MetricsServer {
        let input = SyntheticFleet.input(connections: connections)
        return MetricsServer(host: host, port: port, provider: { input }, logger: logger, onListening: onListening)
    }
}
