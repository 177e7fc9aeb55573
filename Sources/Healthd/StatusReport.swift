import Foundation
import HealthdCore
import LeenAPI

/// `leen-healthd status`: the monitored connections from the state directory, as a table or JSON.
public enum StatusReport {
    public struct Row: Codable, Sendable, Hashable {
        public var organization: String
        public var identifier: String
        public var vendor: String
        public var state: String
        public var status: String
        public var health: String
        public var owner: String
        public var since: String
        public var api: String
    }

    /// One row per monitored connection, by organization then identifier. `names` labels organizations.
    public static func rows(
        _ organizations: [OrganizationID: OrganizationState], names: [OrganizationID: String] = [:]
    ) -> [Row] {
        organizations.sorted { $0.key < $1.key }.flatMap { id, state in
            state.connections.sorted { $0.key < $1.key }.map { identifier, tracked in
                let observation = tracked.observation
                return Row(
                    organization: names[id] ?? id.rawValue, identifier: identifier,
                    vendor: observation.vendor.rawValue, state: observation.state?.rawValue ?? "-",
                    status: EffectiveStatus(tracked, organizationStale: state.isStale).rawValue,
                    health: observation.health?.name.rawValue ?? "-",
                    owner: observation.health?.resolutionOwner.rawValue ?? "-",
                    since: tracked.healthSince.formatted(Date.ISO8601FormatStyle()), api: state.api.name)
            }
        }
    }

    /// A fixed-width table with a header line.
    public static func table(_ rows: [Row]) -> String {
        let header = ["ORGANIZATION", "IDENTIFIER", "VENDOR", "STATE", "STATUS", "HEALTH", "OWNER", "SINCE", "API"]
        let cells = rows.map {
            [$0.organization, $0.identifier, $0.vendor, $0.state, $0.status, $0.health, $0.owner, $0.since, $0.api]
        }
        return columns(header, cells)
    }

    /// Left-aligned columns two spaces apart, the last one unpadded.
    static func columns(_ header: [String], _ cells: [[String]]) -> String {
        let widths = header.indices.map { column in
            ([header] + cells).map { $0[column].count }.max() ?? 0
        }
        return ([header] + cells).map { line in
            line.enumerated().map { index, cell in
                index == line.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    public static func json(_ rows: [Row]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(rows), as: UTF8.self)
    }
}
