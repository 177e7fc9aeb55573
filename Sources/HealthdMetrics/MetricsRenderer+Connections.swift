import Foundation
import NIOCore

extension MetricsRenderer {
    /// Rows written per reservation of output space.
    static let batch = 128

    /// One line's start: `name{` and the row's labels, from its segment's bytes.
    struct LineStart {
        let open: UnsafeRawBufferPointer
        let labels: UnsafeRawBufferPointer

        @inline(__always)
        func write(_ row: ConnectionRows.Row, to cursor: inout ExpositionWriter.Cursor) {
            cursor.copy(open)
            cursor.copy(UnsafeRawBufferPointer(rebasing: labels[row.labels]))
        }
    }

    /// The per-connection families, row by row within each family (a family's samples are contiguous).
    /// Every line is `name{`, the row's labels, and the family's end, copied into reserved memory.
    static func writeConnections(_ rows: ConnectionRows, format: ExpositionFormat, into writer: inout ExpositionWriter) {
        /// Writes `family`'s header, then up to `linesPerRow` lines for each row through `body`.
        func family(
            _ family: MetricFamily, linesPerRow: Int,
            _ body: (inout ExpositionWriter.Cursor, ConnectionRows.Row, LineStart) -> Void
        ) {
            writer.family(family, format)
            let open = Array((family.name + "{").utf8)
            let perRow = linesPerRow * (open.count + rows.longestLabels + 48)
            open.withUnsafeBytes { open in
                for segment in rows.segments {
                    segment.bytes.withUnsafeReadableBytes { labels in
                        let start = LineStart(open: open, labels: labels)
                        var first = 0
                        while first < segment.rows.count {
                            let end = min(first + batch, segment.rows.count)
                            writer.withCursor(reserving: perRow * (end - first)) { cursor in
                                for row in segment.rows[first..<end] { body(&cursor, row, start) }
                            }
                            writer.flushIfFull()
                            first = end
                        }
                    }
                }
            }
        }

        /// A one-hot set: one line per member, `1` on the row's member. Members from `optionalFrom` on are
        /// written only when set (`leen_connection_state`'s UNKNOWN).
        func oneHot(
            _ set: MetricFamily, label: String, members: [String], optionalFrom: Int? = nil,
            member: (ConnectionRows.Row) -> Int
        ) {
            let ends = members.map { name in [0, 1].map { Array(",\(label)=\"\(name)\"} \($0)\n".utf8) } }
            let always = optionalFrom ?? members.count
            family(set, linesPerRow: members.count) { cursor, row, start in
                let current = member(row)
                for index in members.indices where index < always || index == current {
                    start.write(row, to: &cursor)
                    ends[index][index == current ? 1 : 0].withUnsafeBytes { cursor.copy($0) }
                }
            }
        }

        family(.connectionHealthy, linesPerRow: 1) { cursor, row, start in
            start.write(row, to: &cursor)
            cursor.close(row.status == .healthy ? 1 : 0)
        }
        let statuses = EffectiveStatus.allCases
        oneHot(.connectionStatus, label: "status", members: statuses.map(\.rawValue)) {
            statuses.firstIndex(of: $0.status)!
        }
        family(.connectionReason, linesPerRow: 1) { cursor, row, start in
            guard !row.reason.isEmpty else { return }
            start.write(row, to: &cursor)
            cursor.copy(UnsafeRawBufferPointer(rebasing: start.labels[row.reason]))
            cursor.close(1)
        }
        oneHot(
            .connectionState, label: "state", members: ConnectionRows.states, optionalFrom: ConnectionRows.unknownState
        ) { $0.stateIndex }
        family(.connectionFailingDetails, linesPerRow: 1) { cursor, row, start in
            start.write(row, to: &cursor)
            cursor.close(row.failingDetails)
        }
        family(.connectionOAuthPending, linesPerRow: 1) { cursor, row, start in
            start.write(row, to: &cursor)
            cursor.close(row.oauthPending ? 1 : 0)
        }
        family(.connectionTransitions, linesPerRow: 1) { cursor, row, start in
            start.write(row, to: &cursor)
            cursor.close(row.transitions)
        }
        family(.connectionHealthChange, linesPerRow: 1) { cursor, row, start in
            start.write(row, to: &cursor)
            cursor.close(timestamp: row.healthChange)
        }
        family(.connectionLastChange, linesPerRow: 1) { cursor, row, start in
            start.write(row, to: &cursor)
            cursor.close(timestamp: row.lastChange)
        }
    }
}
