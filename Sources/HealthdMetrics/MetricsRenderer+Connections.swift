import Foundation
import HealthdCore
import NIOCore

extension MetricsRenderer {
    /// Rows written per reservation of output space.
    static let batch = 128

    /// The per-connection families, in the order they are written.
    enum ConnectionFamily: CaseIterable {
        case healthy, status, reason, state, failingDetails, oauthPending, transitions, healthChange, lastChange,
            unhealthyConfirmed, flapping

        var metric: MetricFamily {
            switch self {
            case .healthy: .connectionHealthy
            case .status: .connectionStatus
            case .reason: .connectionReason
            case .state: .connectionState
            case .failingDetails: .connectionFailingDetails
            case .oauthPending: .connectionOAuthPending
            case .transitions: .connectionTransitions
            case .healthChange: .connectionHealthChange
            case .lastChange: .connectionLastChange
            case .unhealthyConfirmed: .connectionUnhealthyConfirmed
            case .flapping: .connectionFlapping
            }
        }
    }

    /// One line's start: `name{` with the segment's label prefix, and the row's labels, from its segment's bytes.
    struct LineStart {
        let open: UnsafeRawBufferPointer
        let labels: UnsafeRawBufferPointer

        @inline(__always)
        func write(_ row: ConnectionRows.Row, to cursor: inout ExpositionWriter.Cursor) {
            cursor.copy(open)
            cursor.copy(UnsafeRawBufferPointer(rebasing: labels[row.labels]))
        }
    }

    /// The per-connection families, row by row within each family (a family's samples are contiguous):
    /// each family's header, then its lines for every organization.
    static func writeConnections(_ rows: ConnectionRows, format: ExpositionFormat, into writer: inout ExpositionWriter) {
        for family in ConnectionFamily.allCases {
            writer.family(family.metric, format)
            for segment in rows.segments { writeLines(family, of: segment, into: &writer) }
        }
    }

    /// `family`'s lines for one organization's rows (no header). Every line is `name{`, the row's labels,
    /// and the family's end, copied into reserved memory.
    static func writeLines(_ family: ConnectionFamily, of segment: ConnectionRows.Segment, into writer: inout ExpositionWriter) {
        /// Up to `linesPerRow` lines for each row through `body`.
        func lines(linesPerRow: Int, _ body: (inout ExpositionWriter.Cursor, ConnectionRows.Row, LineStart) -> Void) {
            var open = Array((family.metric.name + "{").utf8)
            // Rows always have labels, so the shared ones (if any) are followed by a comma.
            if !writer.sharedLabels.isEmpty { open += writer.sharedLabels + [UInt8(ascii: ",")] }
            open += segment.prefix
            let perRow = linesPerRow * (open.count + segment.longestLabels + 48)
            let (labelBytes, rows) = segment.rendering()
            open.withUnsafeBytes { open in
                labelBytes.withUnsafeBytes { labels in
                    let start = LineStart(open: open, labels: labels)
                    var first = 0
                    while first < rows.count {
                        let end = min(first + batch, rows.count)
                        writer.withCursor(reserving: perRow * (end - first)) { cursor in
                            for row in rows[first..<end] { body(&cursor, row, start) }
                        }
                        writer.flushIfFull()
                        first = end
                    }
                }
            }
        }

        /// A one-hot set: one line per member of `ends` (`,label="MEMBER"} 0|1\n`), `1` on the row's member.
        /// Members from `optionalFrom` on are written only when set (`leen_connection_state`'s UNKNOWN).
        func oneHot(_ ends: [[[UInt8]]], optionalFrom: Int? = nil, member: (ConnectionRows.Row) -> Int) {
            let always = optionalFrom ?? ends.count
            lines(linesPerRow: ends.count) { cursor, row, start in
                let current = member(row)
                for index in ends.indices where index < always || index == current {
                    start.write(row, to: &cursor)
                    ends[index][index == current ? 1 : 0].withUnsafeBytes { cursor.copy($0) }
                }
            }
        }

        /// One line per row: `name{labels} <integer>`.
        func integers(_ value: (ConnectionRows.Row) -> Int) {
            lines(linesPerRow: 1) { cursor, row, start in
                start.write(row, to: &cursor)
                cursor.close(value(row))
            }
        }

        /// One line per row: `name{labels} <seconds since the epoch>`.
        func timestamps(_ value: (ConnectionRows.Row) -> Date) {
            lines(linesPerRow: 1) { cursor, row, start in
                start.write(row, to: &cursor)
                cursor.close(timestamp: value(row))
            }
        }

        switch family {
        case .status: oneHot(OneHotEnds.status) { $0.integer(.status) }
        case .reason:
            lines(linesPerRow: 1) { cursor, row, start in
                guard !row.reason.isEmpty else { return }
                start.write(row, to: &cursor)
                cursor.copy(UnsafeRawBufferPointer(rebasing: start.labels[row.reason]))
                cursor.close(1)
            }
        case .state: oneHot(OneHotEnds.state, optionalFrom: ConnectionRows.unknownState) { $0.integer(.state) }
        case .healthChange, .lastChange: timestamps { $0.time(family) }
        case .healthy, .failingDetails, .oauthPending, .transitions, .unhealthyConfirmed, .flapping:
            integers { $0.integer(family) }
        }
    }

    /// The line ends of the one-hot sets, made once: `[member][0 or 1]`.
    enum OneHotEnds {
        static let status = ends("status", EffectiveStatus.Exported.allCases.map(\.rawValue))
        /// The index of `status` in `EffectiveStatus.Exported.allCases`.
        @inline(__always)
        static func index(_ status: EffectiveStatus.Exported) -> Int {
            switch status {
            case .healthy: 0
            case .unhealthy: 1
            case .unknown: 2
            }
        }
        static let state = ends("state", ConnectionRows.states)

        static func ends(_ label: String, _ members: [String]) -> [[[UInt8]]] {
            members.map { name in [0, 1].map { Array(",\(label)=\"\(name)\"} \($0)\n".utf8) } }
        }
    }

    /// One organization's per-connection lines compressed, one run per family (``ConnectionFamily`` order),
    /// for ``GzipBody``, and how many runs were compressed: a family `reusing` marks unchanged keeps its
    /// run from there. `scratch` is reused between calls.
    static func deflatedLines(
        of segment: ConnectionRows.Segment, reusing earlier: (runs: [DeflatedText], unchanged: [Bool])? = nil,
        deflater: Deflater, scratch: inout ExpositionWriter
    ) throws -> (runs: [DeflatedText], compressed: Int) {
        var compressed = 0
        deflater.startPack()
        for (index, family) in ConnectionFamily.allCases.enumerated() {
            if let earlier, earlier.unchanged[index] {
                deflater.packKept(earlier.runs[index])
                continue
            }
            compressed += 1
            scratch.buffer.clear()
            writeLines(family, of: segment, into: &scratch)
            try scratch.buffer.withUnsafeReadableBytes { try deflater.packRun($0) }
        }
        return (deflater.finishPack(), compressed)
    }
}
