import Foundation
import HealthdCore
import LeenAPI
import NIOCore

/// Renders one ``MetricsInput`` snapshot as `/metrics` text.
///
/// Every family is rendered from the snapshot on each scrape, so a connection that stops being monitored
/// (removed from the config, deleted, disappeared) has no series at the next scrape, and a long run with
/// churn leaks no series.
///
/// **Why by hand and not through swift-prometheus's registry.** Measured with ``MetricsBenchmark``
/// (`leen-healthd bench-metrics`, release build; figures in `docs/metrics.md`, Performance): building a
/// fresh `PrometheusCollectorRegistry` from the snapshot took 1.3 s for 1,000 connections and 113 s for
/// 10,000 (each new label set copies its family's dictionary: quadratic), against milliseconds here; and
/// even the registry's emit of an already built registry was slower than this whole rendering. Keeping one
/// registry in step with the monitor instead needs a kept `Gauge` per series and an `unregister` per
/// departed series: the bookkeeping (and cardinality leak when it slips) that rendering each scrape from
/// the snapshot rules out. The registry also writes only text 0.0.4 (no OpenMetrics). Families are few and
/// fixed, so a small catalog (``MetricFamily``) and a byte writer are simpler and faster.
public enum MetricsRenderer {
    /// A rendered `/metrics` body.
    public struct Body: Sendable {
        /// The body's bytes in order: chunks of about 1 MiB, or one gzip stream.
        public var chunks: [ByteBuffer]
        /// True when `chunks` is gzip-compressed.
        public var gzip: Bool
        /// The size of the text before compression.
        public var uncompressedBytes: Int
        /// The size of the body as sent.
        public var bytes: Int { chunks.reduce(0) { $0 + $1.readableBytes } }
    }

    /// Chunk size of ``render(_:format:process:gzip:)``.
    public static let chunkSize = 1 << 20

    /// The exposition text of `input` in `format` for serving: in chunks of about 1 MiB, or gzip-compressed
    /// chunk by chunk into one stream (the whole text is never in memory at once). `process` adds the
    /// `process_*` families.
    public static func render(
        _ input: MetricsInput, format: ExpositionFormat, process: ProcessMetrics?, gzip: Bool
    ) throws -> Body {
        try render(input, format: format, process: process, gzip: gzip, cache: nil)
    }

    /// - Parameter cache: the flattened organizations of the previous scrape (``ConnectionRowsCache``).
    static func render(
        _ input: MetricsInput, format: ExpositionFormat, process: ProcessMetrics?, gzip: Bool,
        cache: ConnectionRowsCache?
    ) throws -> Body {
        var writer = ExpositionWriter(capacity: chunkSize + 262_144, chunkSize: chunkSize, gzip: gzip)
        write(input, format: format, process: process, cache: cache, into: &writer)
        let (chunks, uncompressed) = try writer.finish()
        return Body(chunks: chunks, gzip: gzip, uncompressedBytes: uncompressed)
    }

    /// The whole text in one buffer (tests, small inputs).
    public static func render(
        _ input: MetricsInput, format: ExpositionFormat = .text, process: ProcessMetrics? = nil
    ) -> ByteBuffer {
        let connections = input.organizations.reduce(0) { $0 + $1.state.connections.count }
        var writer = ExpositionWriter(capacity: connections * 3_000 + 65_536)
        write(input, format: format, process: process, into: &writer)
        return writer.buffer
    }

    /// ``render(_:format:process:)`` as a `String` (tests, debugging).
    public static func renderString(
        _ input: MetricsInput, format: ExpositionFormat = .text, process: ProcessMetrics? = nil
    ) -> String {
        String(buffer: render(input, format: format, process: process))
    }

    static func write(
        _ input: MetricsInput, format: ExpositionFormat, process: ProcessMetrics?, cache: ConnectionRowsCache? = nil,
        into writer: inout ExpositionWriter
    ) {
        writeConnections(ConnectionRows(input.organizations, cache: cache), format: format, into: &writer)
        writeOrganizations(input, format: format, into: &writer)
        writeDaemon(input.daemon, format: format, into: &writer)
        if let process { writeProcess(process, format: format, into: &writer) }
        if format == .openMetrics { writer.write("# EOF\n") }
    }

    // MARK: - Per organization and API

    static func writeOrganizations(_ input: MetricsInput, format: ExpositionFormat, into writer: inout ExpositionWriter) {
        let organizations = input.organizations.sorted { $0.id < $1.id }
        let daemon = input.daemon
        // Counters of organizations no longer configured are dropped with them (no stale series).
        var polls: [OrganizationID: Int] = [:]
        var failures: [OrganizationID: [(String, Int)]] = [:]
        for (key, count) in daemon.polls {
            polls[key.organization, default: 0] += count
            if key.result != "success" { failures[key.organization, default: []].append((key.result, count)) }
        }

        writer.family(.apiUp, format)
        for organization in organizations {
            writer.sample(
                MetricFamily.apiUp.name, [("organization_id", organization.id.rawValue)],
                organization.state.api.isOK ? 1 : 0)
        }
        writer.family(.pollLastSuccess, format)
        for organization in organizations {
            guard let last = organization.state.lastSuccessfulPoll else { continue }
            writer.sample(
                MetricFamily.pollLastSuccess.name, [("organization_id", organization.id.rawValue)], timestamp: last)
        }
        writer.family(.polls, format)
        for organization in organizations {
            writer.sample(
                MetricFamily.polls.name, [("organization_id", organization.id.rawValue)],
                Double(polls[organization.id] ?? 0))
        }
        writer.family(.pollFailures, format)
        for organization in organizations {
            for (reason, count) in (failures[organization.id] ?? []).sorted(by: { $0.0 < $1.0 }) {
                writer.sample(
                    MetricFamily.pollFailures.name,
                    [("organization_id", organization.id.rawValue), ("reason", reason)], Double(count))
            }
        }
        writer.family(.pollDuration, format)
        for organization in organizations {
            writer.histogram(
                MetricFamily.pollDuration.name, [("organization_id", organization.id.rawValue)],
                daemon.pollDurations[organization.id] ?? Histogram())
        }
        writer.family(.pollInterval, format)
        if let interval = daemon.pollInterval { writer.sample(MetricFamily.pollInterval.name, [], interval.seconds) }

        writer.family(.apiRequests, format)
        for (key, count) in daemon.requests.sorted(by: { ($0.key.operation, $0.key.code) < ($1.key.operation, $1.key.code) }) {
            writer.sample(
                MetricFamily.apiRequests.name, [("operation", key.operation), ("code", key.code)], Double(count))
        }
        writer.family(.apiRetries, format)
        for (operation, count) in daemon.retries.sorted(by: { $0.key < $1.key }) {
            writer.sample(MetricFamily.apiRetries.name, [("operation", operation)], Double(count))
        }
        writer.family(.apiRetryAfter, format)
        writer.sample(MetricFamily.apiRetryAfter.name + "_sum", [], daemon.retryAfterSeconds)
        writer.sample(MetricFamily.apiRetryAfter.name + "_count", [], Double(daemon.retryAfterWaits))
    }

    // MARK: - Daemon and process

    static func writeDaemon(_ daemon: DaemonCounters, format: ExpositionFormat, into writer: inout ExpositionWriter) {
        writer.family(.buildInfo, format)
        writer.sample(
            MetricFamily.buildInfo.name, [("version", daemon.version), ("swift_version", BuildInfo.swiftVersion)], 1)
        writer.family(.configReloadSuccessful, format)
        writer.sample(MetricFamily.configReloadSuccessful.name, [], daemon.lastReloadSuccessful ? 1 : 0)
        writer.family(.configReloadSuccessTime, format)
        // The daemon does not start without a valid configuration: until a reload, that load is the last.
        writer.sample(
            MetricFamily.configReloadSuccessTime.name, [], timestamp: daemon.lastReloadSuccess ?? daemon.startTime)
        let reloads = daemon.reloads.values.reduce(0, +)
        writer.family(.configReloads, format)
        writer.sample(MetricFamily.configReloads.name, [], Double(reloads))
        writer.family(.configReloadFailures, format)
        writer.sample(MetricFamily.configReloadFailures.name, [], Double(daemon.reloads["failure"] ?? 0))
        writer.family(.events, format)
        for kind in EventKind.allCases {
            writer.sample(MetricFamily.events.name, [("event", kind.rawValue)], Double(daemon.eventsEmitted[kind] ?? 0))
        }
        writer.family(.journalSendErrors, format)
        writer.sample(MetricFamily.journalSendErrors.name, [], Double(daemon.journalSendErrors))
        writer.family(.eventsSuppressed, format)
        writer.sample(MetricFamily.eventsSuppressed.name, [], Double(daemon.eventsSuppressed))
    }

    static func writeProcess(_ process: ProcessMetrics, format: ExpositionFormat, into writer: inout ExpositionWriter) {
        writer.family(.processCPU, format)
        writer.sample(MetricFamily.processCPU.name, [], process.cpuSeconds)
        writer.family(.processResident, format)
        writer.sample(MetricFamily.processResident.name, [], Double(process.residentMemoryBytes))
        writer.family(.processVirtual, format)
        writer.sample(MetricFamily.processVirtual.name, [], Double(process.virtualMemoryBytes))
        writer.family(.processOpenFDs, format)
        writer.sample(MetricFamily.processOpenFDs.name, [], Double(process.openFDs))
        if let maxFDs = process.maxFDs {
            writer.family(.processMaxFDs, format)
            writer.sample(MetricFamily.processMaxFDs.name, [], Double(maxFDs))
        }
        writer.family(.processStartTime, format)
        writer.sample(MetricFamily.processStartTime.name, [], timestamp: process.startTime)
    }
}

extension ExpositionWriter {
    /// The family's header lines (a family boundary: the buffer may be handed on first).
    mutating func family(_ family: MetricFamily, _ format: ExpositionFormat) {
        flushIfFull()
        write(family.header(format))
    }

    /// One sample of a family with few series (per organization, per operation, daemon-wide).
    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        sample(name, labels, text: Self.format(value))
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], timestamp: Date) {
        sample(name, labels, text: Self.format(timestamp: timestamp))
    }

    private mutating func sample(_ name: String, _ labels: [(String, String)], text: String) {
        write(name)
        if !labels.isEmpty {
            write("{")
            write(Self.labelPairs(labels))
            write("}")
        }
        write(" ")
        write(text)
        write("\n")
    }

    /// `_bucket` lines (cumulative, `+Inf` last and equal to the count), then `_sum` and `_count`.
    mutating func histogram(_ name: String, _ labels: [(String, String)], _ histogram: Histogram) {
        var running = 0
        for (bound, count) in zip(histogram.upperBounds, histogram.cumulativeCounts) {
            // Cumulative by construction; max() keeps it so even for a hand-made value.
            running = max(running, count)
            sample(name + "_bucket", labels + [("le", Self.formatBound(bound))], Double(running))
        }
        sample(name + "_bucket", labels + [("le", "+Inf")], Double(max(running, histogram.count)))
        sample(name + "_sum", labels, histogram.sum)
        sample(name + "_count", labels, Double(max(running, histogram.count)))
    }
}
