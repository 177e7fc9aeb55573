import Foundation
import HealthdCore
import LeenAPI
import NIOCore

/// Renders one ``MonitorSnapshot`` snapshot as `/metrics` text.
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
        /// The body's bytes in order: chunks of about 1 MiB (of text, or of one gzip stream).
        public var chunks: [ByteBuffer]
        /// True when `chunks` is gzip-compressed.
        public var gzip: Bool
        /// The size of the text before compression.
        public var uncompressedBytes: Int
        /// The size of the body as sent.
        public var bytes: Int { chunks.reduce(0) { $0 + $1.readableBytes } }
    }

    /// The label pairs every sample of `daemon`'s exposition carries: `shard="K"` on a sharded instance
    /// (``ExpositionWriter/sharedLabels``), nothing otherwise. K alone, not `K/N`: a connection that stays
    /// on its shard when N changes keeps its series; `leen_shard_info` says N.
    static func sharedLabels(_ daemon: DaemonCounters) -> [UInt8] {
        daemon.shard.map { ExpositionWriter.labelPairs([("shard", String($0.index))]) } ?? []
    }

    /// Chunk size of ``render(_:format:process:gzip:)``.
    public static let chunkSize = 1 << 20

    /// The exposition text of `input` in `format` for serving, in chunks of about 1 MiB, gzip-compressed
    /// when `gzip`. `process` adds the `process_*` families.
    public static func render(
        _ input: MonitorSnapshot, format: ExpositionFormat, process: ProcessMetrics?, gzip: Bool
    ) throws -> Body {
        try render(input, format: format, process: process, gzip: gzip, cache: ConnectionRowsCache())
    }

    /// - Parameter cache: the flattened (and compressed) organizations of earlier scrapes
    ///   (``ConnectionRowsCache``); updated to this snapshot's.
    ///
    /// Uncompressed, the text is written in chunks of about 1 MiB from the flattened rows (``TextCursor``;
    /// the endpoint streams them instead of collecting them). Compressed, the
    /// per-connection lines come from each organization's runs compressed once per change of its state
    /// (``DeflatedText``), and only the small rest (headers, organization, daemon and process families) is
    /// compressed per scrape: at 100,000 connections that is about 0.1% of the text.
    package static func render(
        _ input: MonitorSnapshot, format: ExpositionFormat, process: ProcessMetrics?, gzip: Bool,
        cache: ConnectionRowsCache
    ) throws -> Body {
        guard gzip else {
            // What the endpoint streams (BodyStream), collected.
            let rows = try cache.refresh(input.organizations, deflated: false, sharedLabels: sharedLabels(input.daemon))
            var cursor = TextCursor(input, rows: rows, format: format, process: process)
            var chunks: [ByteBuffer] = []
            while let chunk = cursor.next() { chunks.append(chunk) }
            return Body(chunks: chunks, gzip: false, uncompressedBytes: chunks.reduce(0) { $0 + $1.readableBytes })
        }
        let member = try gzipMember(input, format: format, process: process, cache: cache)
        return Body(chunks: member.chunks(), gzip: true, uncompressedBytes: member.length)
    }

    /// The gzip body of `input` as the runs it splices (what the endpoint streams, ``GzipMember/Cursor``):
    /// each family's header, then every organization's run of its lines as the cache keeps them; then the
    /// per-organization families, whose poll-duration histograms (most of their text) are also kept
    /// compressed per organization while unchanged, and the rest, compressed here.
    static func gzipMember(
        _ input: MonitorSnapshot, format: ExpositionFormat, process: ProcessMetrics?, cache: ConnectionRowsCache
    ) throws -> GzipMember {
        let shared = sharedLabels(input.daemon)
        let rows = try cache.refresh(input.organizations, deflated: true, sharedLabels: shared)
        let deflater = Deflater()
        var scratch = ExpositionWriter(capacity: 65_536, sharedLabels: shared)
        func deflate(_ write: (inout ExpositionWriter) -> Void) throws -> DeflatedText {
            scratch.buffer.clear()
            write(&scratch)
            return try deflater.deflate(scratch.buffer)
        }

        var body = GzipMember()
        for (index, family) in ConnectionFamily.allCases.enumerated() {
            body.append(try deflate { $0.family(family.metric, format) })
            for segment in rows.segments { body.append(segment.deflated![index]) }
        }

        let organizations = OrganizationLabels(input)
        body.append(try deflate { writeOrganizationsHead(input, organizations, format: format, into: &$0) })
        let keptDurations = cache.pollDurations
        var durations: [OrganizationID: (histogram: Histogram, run: DeflatedText)] = [:]
        var bounds = HistogramBounds(Histogram.pollDurationBounds)
        for (organization, labels) in zip(organizations.organizations, organizations.labels) {
            let histogram = input.daemon.pollDurations[organization.id] ?? Histogram()
            let run: DeflatedText
            if let kept = keptDurations[organization.id], kept.histogram == histogram {
                run = kept.run
            } else {
                run = try deflate { writePollDurations(histogram, labels: labels, bounds: &bounds, into: &$0) }
            }
            durations[organization.id] = (histogram, run)
            body.append(run)
        }
        cache.keepPollDurations(durations)
        body.append(try deflate { writer in
            writeAPI(input.daemon, format: format, into: &writer)
            writeTail(input, format: format, process: process, into: &writer)
        })
        return body
    }

    /// The whole text in one buffer (tests, small inputs).
    public static func render(
        _ input: MonitorSnapshot, format: ExpositionFormat = .text, process: ProcessMetrics? = nil
    ) -> ByteBuffer {
        let connections = input.organizations.reduce(0) { $0 + $1.state.connections.count }
        var writer = ExpositionWriter(capacity: connections * 3_000 + 65_536, sharedLabels: sharedLabels(input.daemon))
        write(input, format: format, process: process, into: &writer)
        return writer.buffer
    }

    /// ``render(_:format:process:)`` as a `String` (tests, debugging).
    public static func renderString(
        _ input: MonitorSnapshot, format: ExpositionFormat = .text, process: ProcessMetrics? = nil
    ) -> String {
        String(buffer: render(input, format: format, process: process))
    }

    package static func write(
        _ input: MonitorSnapshot, rows: ConnectionRows? = nil, format: ExpositionFormat, process: ProcessMetrics?,
        into writer: inout ExpositionWriter
    ) {
        writeConnections(rows ?? ConnectionRows(input.organizations), format: format, into: &writer)
        writeRest(input, format: format, process: process, into: &writer)
    }

    /// Everything after the per-connection families: organizations, daemon, process, and OpenMetrics' end.
    static func writeRest(
        _ input: MonitorSnapshot, format: ExpositionFormat, process: ProcessMetrics?, into writer: inout ExpositionWriter
    ) {
        writeOrganizations(input, format: format, into: &writer)
        writeTail(input, format: format, process: process, into: &writer)
    }

    /// What follows the organizations' poll durations: API, daemon and process families, `# EOF`.
    static func writeTail(
        _ input: MonitorSnapshot, format: ExpositionFormat, process: ProcessMetrics?, into writer: inout ExpositionWriter
    ) {
        writeDaemon(input.daemon, format: format, into: &writer)
        if let process { writeProcess(process, format: format, into: &writer) }
        if format == .openMetrics { writer.write("# EOF\n") }
    }

    // MARK: - Per organization and API

    /// The organizations in id order, each with its `organization_id="…"` escaped once.
    struct OrganizationLabels {
        let organizations: [MonitorSnapshot.Organization]
        let labels: [[UInt8]]

        init(_ input: MonitorSnapshot) {
            organizations = input.organizations.sorted { $0.id < $1.id }
            labels = organizations.map { ExpositionWriter.labelPairs([("organization_id", $0.id.rawValue)]) }
        }
    }

    static func writeOrganizations(_ input: MonitorSnapshot, format: ExpositionFormat, into writer: inout ExpositionWriter) {
        let organizations = OrganizationLabels(input)
        writeOrganizationsHead(input, organizations, format: format, into: &writer)
        var bounds = HistogramBounds(Histogram.pollDurationBounds)
        for (organization, labels) in zip(organizations.organizations, organizations.labels) {
            writePollDurations(
                input.daemon.pollDurations[organization.id] ?? Histogram(), labels: labels, bounds: &bounds,
                into: &writer)
        }
        writeAPI(input.daemon, format: format, into: &writer)
    }

    /// The per-organization families up to `leen_poll_duration_seconds`'s header (its samples follow, one
    /// organization at a time: ``writePollDurations(_:labels:bounds:into:)``).
    static func writeOrganizationsHead(
        _ input: MonitorSnapshot, _ organizations: OrganizationLabels, format: ExpositionFormat,
        into writer: inout ExpositionWriter
    ) {
        let daemon = input.daemon
        // Counters of organizations no longer configured are dropped with them (no stale series).
        var polls: [OrganizationID: Int] = [:]
        var failures: [OrganizationID: [(String, Int)]] = [:]
        for (key, count) in daemon.polls {
            polls[key.organization, default: 0] += count
            if key.result != "success" { failures[key.organization, default: []].append((key.result, count)) }
        }
        let labeled = zip(organizations.organizations, organizations.labels)
        writer.family(.apiUp, format)
        for (organization, labels) in labeled {
            writer.sample(MetricFamily.apiUp.name, escaped: labels, organization.state.api.isOK ? 1 : 0)
        }
        writer.family(.apiDownConfirmed, format)
        for (organization, labels) in labeled {
            writer.sample(
                MetricFamily.apiDownConfirmed.name, escaped: labels, organization.state.apiConfirmedAt != nil ? 1 : 0)
        }
        writer.family(.pollLastSuccess, format)
        for (organization, labels) in labeled {
            guard let last = organization.state.lastSuccessfulPoll else { continue }
            writer.sample(MetricFamily.pollLastSuccess.name, escaped: labels, timestamp: last)
        }
        writer.family(.polls, format)
        for (organization, labels) in labeled {
            writer.sample(MetricFamily.polls.name, escaped: labels, Double(polls[organization.id] ?? 0))
        }
        writer.family(.pollFailures, format)
        for organization in organizations.organizations {
            for (reason, count) in (failures[organization.id] ?? []).sorted(by: { $0.0 < $1.0 }) {
                writer.sample(
                    MetricFamily.pollFailures.name,
                    [("organization_id", organization.id.rawValue), ("reason", reason)], Double(count))
            }
        }
        writer.family(.pollDuration, format)
    }

    /// One organization's `leen_poll_duration_seconds` samples. `bounds` is reused while the histograms'
    /// bounds are the same.
    static func writePollDurations(
        _ histogram: Histogram, labels: [UInt8], bounds: inout HistogramBounds, into writer: inout ExpositionWriter
    ) {
        if histogram.upperBounds != bounds.values { bounds = HistogramBounds(histogram.upperBounds) }
        writer.histogram(MetricFamily.pollDuration.name, escaped: labels, histogram, bounds: bounds)
    }

    /// The families after the per-organization ones: poll interval and API requests.
    static func writeAPI(_ daemon: DaemonCounters, format: ExpositionFormat, into writer: inout ExpositionWriter) {
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
        if let shard = daemon.shard {
            // Its `shard` label is the shared one (``sharedLabels(_:)``).
            writer.family(.shardInfo, format)
            writer.sample(MetricFamily.shardInfo.name, [("shards", String(shard.count))], 1)
        }
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
        writer.family(.webConfigReloadSuccessful, format)
        writer.sample(MetricFamily.webConfigReloadSuccessful.name, [], daemon.webConfigLastReloadSuccessful ? 1 : 0)
        writer.family(.webConfigReloadFailures, format)
        writer.sample(MetricFamily.webConfigReloadFailures.name, [], Double(daemon.webConfigReloadFailures))
        writer.family(.events, format)
        for kind in EventKind.allCases {
            writer.sample(MetricFamily.events.name, [("event", kind.rawValue)], Double(daemon.eventsEmitted[kind] ?? 0))
        }
        writer.family(.eventsPending, format)
        writer.sample(MetricFamily.eventsPending.name, [], Double(daemon.eventsPending))
        writer.family(.eventsOldestPendingAge, format)
        writer.sample(MetricFamily.eventsOldestPendingAge.name, [], daemon.oldestPendingEventAge)
        writer.family(.stateWriteErrors, format)
        writer.sample(MetricFamily.stateWriteErrors.name, [], Double(daemon.stateWriteErrors))
        writer.family(.unreadableItems, format)
        writer.sample(MetricFamily.unreadableItems.name, [], Double(daemon.unreadableItems))
        writer.family(.journalSendErrors, format)
        writer.sample(MetricFamily.journalSendErrors.name, [], Double(daemon.journalSendErrors))
        writer.family(.eventsSuppressed, format)
        writer.sample(MetricFamily.eventsSuppressed.name, [], Double(daemon.eventsSuppressed))
        writer.family(.incidentsOpen, format)
        writer.sample(MetricFamily.incidentsOpen.name, [], Double(daemon.openIncidents))
        writer.family(.credentialVerifications, format)
        // Every result is written, 0 included, so a rate or an alert on `invalid` works from the start.
        for result in ["valid", "invalid", "error"] {
            writer.sample(
                MetricFamily.credentialVerifications.name, [("result", result)],
                Double(daemon.credentialVerifications[result] ?? 0))
        }
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
        sample(name, escaped: labels.isEmpty ? [] : Self.labelPairs(labels), value)
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], timestamp: Date) {
        sample(name, escaped: labels.isEmpty ? [] : Self.labelPairs(labels), timestamp: timestamp)
    }

    /// A sample whose label pairs are already escaped and joined (``labelPairs(_:)``; empty: no braces).
    mutating func sample(_ name: String, escaped labels: [UInt8], _ value: Double) {
        start(name, labels)
        if let integer = Self.exactInteger(value) {
            withCursor(reserving: 22) { cursor in
                cursor.integer(integer)
                cursor.byte(UInt8(ascii: "\n"))
            }
        } else {
            write(Self.format(value))
            write("\n")
        }
    }

    mutating func sample(_ name: String, escaped labels: [UInt8], timestamp: Date) {
        start(name, labels)
        write(Self.format(timestamp: timestamp))
        write("\n")
    }

    /// `name{shared,labels} ` (without braces when there are no labels at all).
    private mutating func start(_ name: String, _ labels: [UInt8]) {
        write(name)
        if !labels.isEmpty || !sharedLabels.isEmpty {
            write("{")
            write(sharedLabels)
            if !labels.isEmpty, !sharedLabels.isEmpty { write(",") }
            write(labels)
            write("}")
        }
        write(" ")
    }

    /// `_bucket` lines (cumulative, `+Inf` last and equal to the count), then `_sum` and `_count`.
    mutating func histogram(_ name: String, _ labels: [(String, String)], _ histogram: Histogram) {
        self.histogram(
            name, escaped: labels.isEmpty ? [] : Self.labelPairs(labels), histogram,
            bounds: HistogramBounds(histogram.upperBounds))
    }

    /// The same with escaped labels and the `le` pairs made once for many histograms with these bounds.
    mutating func histogram(_ name: String, escaped labels: [UInt8], _ histogram: Histogram, bounds: HistogramBounds) {
        let bucket = name + "_bucket"
        let separator: [UInt8] = labels.isEmpty ? [] : [UInt8(ascii: ",")]
        var running = 0
        for (le, count) in zip(bounds.pairs, histogram.cumulativeCounts) {
            // Cumulative by construction; max() keeps it so even for a hand-made value.
            running = max(running, count)
            sample(bucket, escaped: labels + separator + le, Double(running))
        }
        sample(bucket, escaped: labels + separator + HistogramBounds.infinity, Double(max(running, histogram.count)))
        sample(name + "_sum", escaped: labels, histogram.sum)
        sample(name + "_count", escaped: labels, Double(max(running, histogram.count)))
    }
}

/// A histogram's `le="…"` label pairs, made once per set of bounds.
struct HistogramBounds {
    let values: [Double]
    let pairs: [[UInt8]]
    static let infinity = ExpositionWriter.labelPairs([("le", "+Inf")])

    init(_ values: [Double]) {
        self.values = values
        pairs = values.map { ExpositionWriter.labelPairs([("le", ExpositionWriter.formatBound($0))]) }
    }
}
