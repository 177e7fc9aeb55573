import Foundation
import HealthdCore
import LeenAPI

/// Encodes an organization's state file (``StateStore``): its connections and delivery with ``StateFileJSON``,
/// the rest with `JSONEncoder`.
///
/// The output is the JSON `JSONEncoder` would write for the file, except that `connections` comes first in
/// `state`: readers decode it with `JSONDecoder` as before.
enum OrganizationFileEncoder {
    static func encode(
        _ state: OrganizationState, delivery: StateStore.Delivery, for organization: OrganizationID
    ) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let organizationBytes = try encoder.encode(organization)
        encoder.userInfo[OrganizationState.omitsConnections] = true
        let header = try encoder.encode(state)

        var file = StateFileJSON(capacity: (state.connections.count + delivery.outbox.count * 3) * 640 + 256)
        file.append(#"{"delivery":"#)
        file.write(delivery)
        file.append(#","organizationID":"#)
        file.append(organizationBytes)
        file.append(#","state":{"connections":{"#)
        // Sorted, so that the file of an unchanged state is the same bytes.
        for (index, identifier) in state.connections.keys.sorted().enumerated() {
            if index > 0 { file.append(",") }
            file.member(identifier, state.connections[identifier]!)
        }
        file.append("}")
        // The header is an object (`api` is always there): its members follow `connections`.
        if header.count > 2 { file.append(",") }
        file.append(header.dropFirst())
        file.append(#","version":\#(StateStore.organizationVersions.upperBound)}"#)
        return Data(file.bytes)
    }
}
