import Foundation
import HealthdCore
import LeenAPI

/// Encodes an organization's state file (``StateStore``) and keeps each connection's bytes, so the next file
/// of the same organization re-encodes only the connections that changed since.
///
/// The file is rewritten after every poll that made an event (it is the poll's commit point, see ``Outbox``),
/// and `JSONEncoder` over every connection of the organization was the largest share of the daemon's CPU at
/// 10k connections in a changing fleet (31%, docs/benchmarks.md), though a poll changes few of them.
///
/// The output is the JSON `JSONEncoder` would write for the file (sorted keys, ISO 8601 dates), except that
/// `connections` comes first in `state`: readers decode it with `JSONDecoder` as before.
struct OrganizationFileEncoder {
    private struct Fragment {
        /// The connection as encoded in `member`; reused only when equal, so a file never holds stale bytes.
        var connection: TrackedConnection
        /// `"<identifier>":{…}`
        var member: [UInt8]
    }

    private var fragments: [String: Fragment] = [:]
    private let encoder: JSONEncoder
    private let headerEncoder: JSONEncoder

    init() {
        func make() -> JSONEncoder {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            return encoder
        }
        encoder = make()
        headerEncoder = make()
        headerEncoder.userInfo[OrganizationState.omitsConnections] = true
    }

    /// The file for `state` and `delivery`, remembering the bytes of every connection in `state` (and
    /// forgetting those no longer in it).
    mutating func encode(
        _ state: OrganizationState, delivery: StateStore.Delivery, for organization: OrganizationID
    ) throws -> Data {
        var members: [[UInt8]] = []
        members.reserveCapacity(state.connections.count)
        var size = 0
        for identifier in state.connections.keys.sorted() {
            let connection = state.connections[identifier]!
            if let fragment = fragments[identifier], fragment.connection == connection {
                members.append(fragment.member)
            } else {
                var member = Array(try encoder.encode(identifier))
                member.append(UInt8(ascii: ":"))
                member.append(contentsOf: try encoder.encode(connection))
                fragments[identifier] = Fragment(connection: connection, member: member)
                members.append(member)
            }
            size += members[members.count - 1].count + 1
        }
        if fragments.count > state.connections.count {
            fragments = fragments.filter { state.connections[$0.key] != nil }
        }

        let header = try headerEncoder.encode(state)
        let deliveryBytes = try encoder.encode(delivery)
        let organizationBytes = try encoder.encode(organization)
        var file = Data()
        file.reserveCapacity(size + header.count + deliveryBytes.count + organizationBytes.count + 64)
        file.append(contentsOf: #"{"delivery":"#.utf8)
        file.append(deliveryBytes)
        file.append(contentsOf: #","organizationID":"#.utf8)
        file.append(organizationBytes)
        file.append(contentsOf: #","state":{"connections":{"#.utf8)
        for (index, member) in members.enumerated() {
            if index > 0 { file.append(UInt8(ascii: ",")) }
            file.append(contentsOf: member)
        }
        file.append(UInt8(ascii: "}"))
        // The header is an object (`api` is always there): its members follow `connections`.
        if header.count > 2 { file.append(UInt8(ascii: ",")) }
        file.append(header.dropFirst())
        file.append(contentsOf: #","version":\#(StateStore.organizationVersions.upperBound)}"#.utf8)
        return file
    }
}
