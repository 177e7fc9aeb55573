import Foundation
import HealthdCore
import LeenAPI

/// Encodes an organization's state file (``StateStore``) and the records of its log (``ChangeRecord``): their
/// connections and delivery with ``StateFileJSON``, the rest with `JSONEncoder`.
///
/// The output is the JSON `JSONEncoder` would write for the file, except that `connections` comes first in
/// `state`: readers decode it with `JSONDecoder` as before.
enum OrganizationFileEncoder {
    static func encode(
        _ state: OrganizationState, delivery: StateStore.Delivery, for organization: OrganizationID,
        log: String = OrganizationLog.newToken()
    ) throws -> Data {
        let organizationBytes = try encoder().encode(organization)
        var file = StateFileJSON(capacity: (state.connections.count + delivery.outbox.count * 3) * 640 + 256)
        file.append(#"{"delivery":"#)
        file.write(delivery)
        file.append(#","log":"#)
        file.string(log)
        file.append(#","organizationID":"#)
        file.append(organizationBytes)
        file.append(#","state":"#)
        try write(state, to: &file)
        file.append(#","version":\#(StateStore.organizationVersions.upperBound)}"#)
        return Data(file.bytes)
    }

    /// One line of the log: the record's JSON and a newline.
    static func encode(_ record: ChangeRecord) throws -> Data {
        var line = StateFileJSON(
            capacity: (record.state.connections.count + record.delivery.outbox.count * 3) * 640 + 512)
        line.append(#"{"delivery":"#)
        line.write(record.delivery)
        line.append(#","log":"#)
        line.string(record.log)
        line.append(#","record":\#(record.record),"removed":["#)
        for (index, identifier) in record.removed.enumerated() {
            if index > 0 { line.append(",") }
            line.string(identifier)
        }
        line.append(#"],"state":"#)
        try write(record.state, to: &line)
        line.append("}\n")
        return Data(line.bytes)
    }

    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    /// `state` as an object, `connections` first.
    private static func write(_ state: OrganizationState, to file: inout StateFileJSON) throws {
        let encoder = encoder()
        encoder.userInfo[OrganizationState.omitsConnections] = true
        let header = try encoder.encode(state)
        file.append(#"{"connections":{"#)
        // Sorted, so that the file of an unchanged state is the same bytes.
        for (index, identifier) in state.connections.keys.sorted().enumerated() {
            if index > 0 { file.append(",") }
            file.member(identifier, state.connections[identifier]!)
        }
        file.append("}")
        // The header is an object (`api` is always there): its members follow `connections`.
        if header.count > 2 { file.append(",") }
        file.append(header.dropFirst())
    }
}
