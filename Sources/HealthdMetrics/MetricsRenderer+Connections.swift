import Foundation
import NIOCore

extension MetricsRenderer {
    /// Rows written per reservation of output space.
    static let batch = 128

    /// The per-connection families, row by row within each family (a family's samples are contiguous).
    /// Every line is `name{`, the row's labels, and the family's end, copied into reserved memory.
    static func writeConnections(_ rows: ConnectionRows, format: ExpositionFormat, into writer: inout ExpositionWriter) {
        rows.bytes.withUnsafeReadableBytes { all in
            /// Writes `family`'s header, then `linesPerRow` lines at most for each row through `line`, which
            /// gets the cursor, the row, and a closure writing `name{` plus the row's labels.
            func family(
                _ family: MetricFamily, linesPerRow: Int,
                _ body: (inout ExpositionWriter.Cursor, ConnectionRows.Row, UnsafeRawBufferPointer) -> Void
            ) {
                writer.family(family, format)
                let open = Array((family.name + "{").utf8)
                open.withUnsafeBytes { open in
                    let perRow = linesPerRow * (open.count + rows.longestLabels + 48)
                    var start = 0
                    while start < rows.rows.count {
                        let end = min(start + batch, rows.rows.count)
                        writer.withCursor(reserving: perRow * (end - start)) { cursor in
                            for row in rows.rows[start..<end] { body(&cursor, row, open) }
                        }
                        writer.flushIfFull()
                        start = end
                    }
                }
            }

            @inline(__always)
            func begin(_ cursor: inout ExpositionWriter.Cursor, _ open: UnsafeRawBufferPointer, _ row: ConnectionRows.Row) {
                cursor.copy(open)
                cursor.copy(UnsafeRawBufferPointer(rebasing: all[row.labels]))
            }

            /// A one-hot set: one line per member, `1` on the row's member. Members from `optionalFrom` on
            /// are written only when set (`leen_connection_state`'s UNKNOWN).
            func oneHot(
                _ set: MetricFamily, label: String, members: [String], optionalFrom: Int? = nil,
                member: (ConnectionRows.Row) -> Int
            ) {
                let ends = members.map { name in [0, 1].map { Array(",\(label)=\"\(name)\"} \($0)\n".utf8) } }
                let always = optionalFrom ?? members.count
                family(set, linesPerRow: members.count) { cursor, row, open in
                    let current = member(row)
                    for index in members.indices where index < always || index == current {
                        begin(&cursor, open, row)
                        ends[index][index == current ? 1 : 0].withUnsafeBytes { cursor.copy($0) }
                    }
                }
            }

            family(.connectionHealthy, linesPerRow: 1) { cursor, row, open in
                begin(&cursor, open, row)
                cursor.close(row.status == .healthy ? 1 : 0)
            }
            let statuses = EffectiveStatus.allCases
            oneHot(.connectionStatus, label: "status", members: statuses.map(\.rawValue)) {
                statuses.firstIndex(of: $0.status)!
            }
            family(.connectionReason, linesPerRow: 1) { cursor, row, open in
                guard !row.reason.isEmpty else { return }
                begin(&cursor, open, row)
                cursor.copy(UnsafeRawBufferPointer(rebasing: all[row.reason]))
                cursor.close(1)
            }
            oneHot(
                .connectionState, label: "state", members: ConnectionRows.states,
                optionalFrom: ConnectionRows.unknownState
            ) { $0.stateIndex }
            family(.connectionFailingDetails, linesPerRow: 1) { cursor, row, open in
                begin(&cursor, open, row)
                cursor.close(row.failingDetails)
            }
            family(.connectionOAuthPending, linesPerRow: 1) { cursor, row, open in
                begin(&cursor, open, row)
                cursor.close(row.oauthPending ? 1 : 0)
            }
            family(.connectionTransitions, linesPerRow: 1) { cursor, row, open in
                begin(&cursor, open, row)
                cursor.close(row.transitions)
            }
            family(.connectionHealthChange, linesPerRow: 1) { cursor, row, open in
                begin(&cursor, open, row)
                cursor.close(timestamp: row.healthChange)
            }
            family(.connectionLastChange, linesPerRow: 1) { cursor, row, open in
                begin(&cursor, open, row)
                cursor.close(timestamp: row.lastChange)
            }
        }
    }
}
