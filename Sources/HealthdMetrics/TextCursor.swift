import HealthdCore
import NIOCore

/// The uncompressed `/metrics` text of one snapshot, rendered a chunk at a time: each family's header,
/// then its lines organization by organization, then the other families.
///
/// Served as a stream (``BodyStream``), a response holds about one chunk in memory however large the fleet:
/// the text of 100,000 connections is some 280 MB, which a few concurrent uncompressed scrapes would
/// otherwise each hold whole.
struct TextCursor: Sendable {
    let input: MonitorSnapshot
    let rows: ConnectionRows
    let format: ExpositionFormat
    let process: ProcessMetrics?
    let sharedLabels: [UInt8]
    private var family = 0
    private var segment = 0
    private var headerWritten = false
    private var finished = false

    init(_ input: MonitorSnapshot, rows: ConnectionRows, format: ExpositionFormat, process: ProcessMetrics?) {
        self.input = input
        self.rows = rows
        self.format = format
        self.process = process
        sharedLabels = MetricsRenderer.sharedLabels(input.daemon)
    }

    /// The next chunk of at least `chunkSize` bytes (the last may be shorter), nil once all was written.
    mutating func next(chunkSize: Int = MetricsRenderer.chunkSize) -> ByteBuffer? {
        guard !finished else { return nil }
        let families = MetricsRenderer.ConnectionFamily.allCases
        var writer = ExpositionWriter(capacity: chunkSize + 262_144, sharedLabels: sharedLabels)
        while writer.buffer.readableBytes < chunkSize {
            guard family < families.count else {
                MetricsRenderer.writeRest(input, format: format, process: process, into: &writer)
                finished = true
                break
            }
            if !headerWritten {
                writer.family(families[family].metric, format)
                headerWritten = true
            }
            if segment < rows.segments.count {
                MetricsRenderer.writeLines(families[family], of: rows.segments[segment], into: &writer)
                segment += 1
            } else {
                family += 1
                segment = 0
                headerWritten = false
            }
        }
        return writer.buffer
    }
}
