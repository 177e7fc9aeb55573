import Foundation

extension MetricsRenderer {
    /// The per-connection families, one row of ``ConnectionRows`` at a time within each family (a family's
    /// samples must be contiguous). Each line is three copies: `name{`, the row's labels, and the end.
    static func writeConnections(_ rows: ConnectionRows, format: ExpositionFormat, into writer: inout ExpositionWriter) {
        rows.bytes.withUnsafeBytes { all in
            func each(_ family: MetricFamily, _ end: (ConnectionRows.Row, inout ExpositionWriter) -> Void) {
                writer.family(family, format)
                let open = Array((family.name + "{").utf8)
                for row in rows.rows {
                    writer.write(open)
                    writer.write(UnsafeRawBufferPointer(rebasing: all[row.labels]))
                    end(row, &writer)
                }
            }

            /// A one-hot set: one line per member, `1` on the row's member. Members after `optionalFrom`
            /// are written only when set (`leen_connection_state`'s UNKNOWN).
            func oneHot(
                _ family: MetricFamily, label: String, members: [String], optionalFrom: Int? = nil,
                member: (ConnectionRows.Row) -> Int
            ) {
                let ends = members.map { name in
                    [0, 1].map { Array(",\(label)=\"\(name)\"} \($0)\n".utf8) }
                }
                writer.family(family, format)
                let open = Array((family.name + "{").utf8)
                for row in rows.rows {
                    let set = member(row)
                    for index in members.indices where index < optionalFrom ?? members.count || index == set {
                        writer.write(open)
                        writer.write(UnsafeRawBufferPointer(rebasing: all[row.labels]))
                        writer.write(ends[index][index == set ? 1 : 0])
                    }
                }
            }

            each(.connectionHealthy) { row, writer in writer.writeClose(row.status == .healthy ? 1 : 0) }
            let statuses = EffectiveStatus.allCases
            oneHot(.connectionStatus, label: "status", members: statuses.map(\.rawValue)) {
                statuses.firstIndex(of: $0.status)!
            }

            writer.family(.connectionReason, format)
            let reasonOpen = Array((MetricFamily.connectionReason.name + "{").utf8)
            let reasonEnd = Array("} 1\n".utf8)
            for row in rows.rows {
                guard let reason = row.reason else { continue }
                writer.write(reasonOpen)
                writer.write(UnsafeRawBufferPointer(rebasing: all[row.labels]))
                writer.write(UnsafeRawBufferPointer(rebasing: all[reason]))
                writer.write(reasonEnd)
            }

            oneHot(
                .connectionState, label: "state", members: ConnectionRows.states,
                optionalFrom: ConnectionRows.unknownState
            ) { $0.stateIndex }
            each(.connectionFailingDetails) { row, writer in writer.writeClose(row.failingDetails) }
            each(.connectionOAuthPending) { row, writer in writer.writeClose(row.oauthPending ? 1 : 0) }
            each(.connectionTransitions) { row, writer in writer.writeClose(row.transitions) }
            each(.connectionHealthChange) { row, writer in writer.writeClose(timestamp: row.healthChange) }
            each(.connectionLastChange) { row, writer in writer.writeClose(timestamp: row.lastChange) }
        }
    }
}
