import Foundation
import HealthdCore
import LeenAPI

/// Encodes an organization's state file (``StateStore``) and the records of its log (``ChangeRecord``), with
/// ``StateFileJSON``.
///
/// The output is the JSON `JSONEncoder` would write for the file, except that `connections` comes first in
/// `state` and `/` is not escaped: readers decode it with `JSONDecoder` as before.
enum OrganizationFileEncoder {
    static func encode(
        _ state: OrganizationState, delivery: StateStore.Delivery, for organization: OrganizationID,
        log: String = OrganizationLog.newToken()
    ) -> Data {
        var file = StateFileJSON(capacity: (state.connections.count + delivery.outbox.count * 3) * 640 + 256)
        file.append(#"{"delivery":"#)
        file.write(delivery)
        file.append(#","log":"#)
        file.string(log)
        file.append(#","organizationID":"#)
        file.string(organization.rawValue)
        file.append(#","state":"#)
        write(state, to: &file)
        file.append(#","version":\#(StateStore.organizationVersions.upperBound)}"#)
        return Data(file.bytes)
    }

    /// One line of the log: the record's JSON and a newline.
    static func encode(_ record: ChangeRecord) -> Data {
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
        write(record.state, to: &line)
        line.append("}\n")
        return Data(line.bytes)
    }

    /// `state` as an object, `connections` first.
    private static func write(_ state: OrganizationState, to file: inout StateFileJSON) {
        file.append(#"{"connections":{"#)
        // Sorted, so that the file of an unchanged state is the same bytes.
        for (index, identifier) in state.connections.keys.sorted().enumerated() {
            if index > 0 { file.append(",") }
            file.member(identifier, state.connections[identifier]!)
        }
        file.append("}")
        file.writeMembers(of: state)
        file.append("}")
    }
}
