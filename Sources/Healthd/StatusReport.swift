import Foundation
import HealthdCore
import LeenAPI

/// `leen-healthd status`: the monitored connections from the state directory, as a table or JSON.
public enum StatusReport {
    public struct Row: Codable, Sendable, Hashable {
        /// The organization's name from the configuration, else its id.
        public var organization: String
        public var organizationID: String
        public var identifier: String
        public var vendor: String
        public var state: String
        /// The effective status (``EffectiveStatus``), as every other output says it.
        public var status: String
        public var health: String
        /// Who must act: Leen's resolution owner while the connection is UNHEALTHY, else `-`.
        public var owner: String
        /// When the current health result was first seen.
        public var since: String
        public var api: String
        /// While UNHEALTHY: since when (through changes of reason), for how long, and what its owner should do.
        public var unhealthySince: String?
        public var unhealthyForSeconds: Int?
        public var action: String?

        enum CodingKeys: String, CodingKey {
            case organization, identifier, vendor, state, status, health, owner, since, api, action
            case organizationID = "organization_id"
            case unhealthySince = "unhealthy_since"
            case unhealthyForSeconds = "unhealthy_for_seconds"
        }
    }

    /// Which rows to show; every condition given must hold.
    public struct Filter: Sendable {
        /// An organization's id or its name from the configuration (any case).
        public var organization: String?
        public var unhealthyOnly = false
        /// Only UNHEALTHY connections this resolution owner must fix (any case).
        public var owner: String?
        /// Only organizations this shard owns (``Shard/owns(_:)``).
        public var shard: Shard?

        public init(organization: String? = nil, unhealthyOnly: Bool = false, owner: String? = nil) {
            self.organization = organization
            self.unhealthyOnly = unhealthyOnly
            self.owner = owner
        }

        public func matches(_ row: Row) -> Bool {
            if let shard, !shard.owns(OrganizationID(row.organizationID)) { return false }
            if let organization,
                row.organizationID != organization.lowercased(),
                row.organization.lowercased() != organization.lowercased()
            {
                return false
            }
            if unhealthyOnly, row.status != EffectiveStatus.unhealthy.rawValue { return false }
            if let owner, row.owner.uppercased() != owner.uppercased() { return false }
            return true
        }
    }

    /// One row per monitored connection, by organization then identifier. `names` labels organizations.
    public static func rows(
        _ organizations: [OrganizationID: OrganizationState], names: [OrganizationID: String] = [:],
        now: Date = Date()
    ) -> [Row] {
        let iso = Date.ISO8601FormatStyle()
        return organizations.sorted { $0.key < $1.key }.flatMap { id, state in
            state.connections.sorted { $0.key < $1.key }.map { identifier, tracked in
                let observation = tracked.observation
                let status = EffectiveStatus(tracked, organizationStale: state.isStale)
                let unhealthySince = status == .unhealthy ? tracked.alert.unhealthySince ?? tracked.healthSince : nil
                return Row(
                    organization: names[id] ?? id.rawValue, organizationID: id.rawValue, identifier: identifier,
                    vendor: observation.vendor.rawValue, state: observation.state?.rawValue ?? "-",
                    status: status.rawValue, health: observation.health?.name.rawValue ?? "-",
                    owner: status == .unhealthy ? observation.health?.resolutionOwner.rawValue ?? "-" : "-",
                    since: tracked.healthSince.formatted(iso), api: state.api.name,
                    unhealthySince: unhealthySince?.formatted(iso),
                    unhealthyForSeconds: unhealthySince.map { max(0, Int(now.timeIntervalSince($0).rounded())) },
                    action: status == .unhealthy ? OwnerAction.text(for: observation.health) : nil)
            }
        }
    }

    /// A fixed-width table with a header line; below it, for each UNHEALTHY connection, what its owner
    /// should do.
    public static func table(_ rows: [Row]) -> String {
        let header = ["ORGANIZATION", "IDENTIFIER", "VENDOR", "STATE", "STATUS", "HEALTH", "OWNER", "FOR", "SINCE", "API"]
        let cells = rows.map {
            [
                $0.organization, $0.identifier, $0.vendor, $0.state, $0.status, $0.health, $0.owner,
                $0.unhealthyForSeconds.map { Duration.seconds($0).compactText } ?? "-", $0.since, $0.api,
            ]
        }
        let actions = rows.compactMap { row in
            row.action.map { "  \(row.identifier) (\(row.organization)): \($0)" }
        }
        return columns(header, cells) + (actions.isEmpty ? "" : "\n\nWhat to do:\n" + actions.joined(separator: "\n"))
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
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(rows), as: UTF8.self)
    }
}
