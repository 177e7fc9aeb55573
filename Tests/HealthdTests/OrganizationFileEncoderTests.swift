import Foundation
import HealthdCore
import LeenAPI
import Testing

@testable import Healthd

/// The state file's writer composes the file and writes connections by hand (``StateFileJSON``): what it
/// writes must read back as what it was given, and be the JSON a plain `JSONEncoder` makes of it.
@Suite("Organization file encoder")
struct OrganizationFileEncoderTests {
    /// A real organization file written by a daemon run against leen-sim (the fuzz seed).
    static func seed() throws -> (OrganizationID, StateStore.StoredOrganization) {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus/state-file/organization-1.json")
        return try StateStore.readOrganization(Data(contentsOf: url), path: url.path)
    }

    /// What a plain `JSONEncoder` makes of the file, as a JSON value (key order aside).
    static func plainJSON(_ state: OrganizationState, _ delivery: StateStore.Delivery, _ id: OrganizationID) throws -> NSDictionary {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        func json<T: Encodable>(_ value: T) throws -> Any {
            try JSONSerialization.jsonObject(with: encoder.encode(value), options: .fragmentsAllowed)
        }
        return [
            "delivery": try json(delivery), "organizationID": try json(id), "state": try json(state),
            "version": StateStore.organizationVersions.upperBound,
        ] as NSDictionary
    }

    /// Checks one write: it reads back as given, and is the plain encoding.
    static func check(_ state: OrganizationState, _ delivery: StateStore.Delivery, _ id: OrganizationID) throws {
        let file = OrganizationFileEncoder.encode(state, delivery: delivery, for: id)
        let (readID, read) = try StateStore.readOrganization(file, path: "organizations/x.json")
        #expect(readID == id)
        #expect(read.state == state)
        #expect(read.delivery == delivery)
        let written = try #require(try JSONSerialization.jsonObject(with: file, options: .mutableContainers) as? NSMutableDictionary)
        // The token its log's records carry (``OrganizationLog``): new for every file.
        let token = try #require(written["log"] as? String)
        #expect(token.count == 16 && token.allSatisfy(\.isHexDigit))
        written["log"] = nil
        #expect(written == (try plainJSON(state, delivery, id)))
    }

    @Test("a file reads back as the state and delivery it was made of, through changes, additions and removals")
    func changesReadBack() throws {
        let (id, stored) = try Self.seed()
        var state = stored.state
        var delivery = stored.delivery
        let identifiers = state.connections.keys.sorted()
        try #require(identifiers.count >= 3)
        try Self.check(state, delivery, id)

        // Connections change.
        state.connections[identifiers[0]]!.transitions += 1
        state.connections[identifiers[0]]!.missing.toggle()
        state.connections[identifiers[1]]!.observation.health = nil
        try Self.check(state, delivery, id)

        // A connection goes, one comes under an identifier that needs escaping, and the API fails with a reason
        // that looks like the file's own structure.
        let removed = state.connections.removeValue(forKey: identifiers[2])!
        var added = removed
        added.observation.identifier = "quote\" back\\slash \u{1}é \"connections\":{}"
        state.connections[added.observation.identifier] = added
        state.api = .unreachable(since: Date(timeIntervalSince1970: 1_800_000_000), reason: #"},"connections":{}"#)
        state.consecutiveFailures = 3
        delivery.outbox = [
            Outbox.Pending(
                event: HealthEvent(
                    kind: .connectionUnhealthy, priority: .warning, message: "m",
                    fields: [EventField("LEEN_EVENT_ID", "e-1")]),
                since: Date(timeIntervalSince1970: 1_800_000_001))
        ]
        try Self.check(state, delivery, id)

        // Leen refuses the key, confirmed, before any attempt time was kept.
        state.api = .rejected(since: Date(timeIntervalSince1970: 1_800_000_002), reason: "HTTP 401 \"no\"\n")
        state.apiConfirmedAt = Date(timeIntervalSince1970: 1_800_000_003)
        state.lastAttempt = nil
        try Self.check(state, delivery, id)

        // The removed identifier comes back changed.
        var back = removed
        back.transitions += 7
        state.connections[identifiers[2]] = back
        try Self.check(state, delivery, id)

        // Everything goes, then an empty state.
        state.connections = [:]
        try Self.check(state, delivery, id)
        try Self.check(OrganizationState(), StateStore.Delivery(), id)
    }

    @Test("the store's save writes a file its load reads back")
    func storeSaveReadsBack() throws {
        let (id, stored) = try Self.seed()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("leen-file-encoder-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = StateStore(directory: directory.path)
        try store.save(stored.state, delivery: stored.delivery, for: id)
        let loaded = try #require(try store.loadStoredOrganizations()[id])
        #expect(loaded.state == stored.state)
        #expect(loaded.delivery == stored.delivery)
    }
}
