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
    /// The connections of the last file, by identifier: what `members` holds the bytes of. The monitor's
    /// state shares this dictionary's storage until a poll changes a connection, so keeping it costs little;
    /// a copy of each connection beside its bytes cost about 300 bytes per connection.
    private var encoded: [String: TrackedConnection] = [:]
    /// `"<identifier>":{…}` of each connection in `encoded`.
    private var members: [String: [UInt8]] = [:]
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
        var ordered: [[UInt8]] = []
        ordered.reserveCapacity(state.connections.count)
        var size = 0
        for identifier in state.connections.keys.sorted() {
            let connection = state.connections[identifier]!
            // Reused only when equal to what it was made from, so a file never holds stale bytes.
            if let member = members[identifier], encoded[identifier] == connection {
                ordered.append(member)
            } else {
                let member: [UInt8]
                do {
                    member = try Array(encoder.encode(identifier)) + [UInt8(ascii: ":")] + encoder.encode(connection)
                } catch {
                    // `members` may now be ahead of `encoded`: start again from nothing.
                    (members, encoded) = ([:], [:])
                    throw error
                }
                members[identifier] = member
                ordered.append(member)
            }
            size += ordered[ordered.count - 1].count + 1
        }
        if members.count > state.connections.count {
            members = members.filter { state.connections[$0.key] != nil }
        }
        encoded = state.connections

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
        for (index, member) in ordered.enumerated() {
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
