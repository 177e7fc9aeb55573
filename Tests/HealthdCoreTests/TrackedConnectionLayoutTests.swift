import Foundation
import LeenAPI
import Testing

@testable import HealthdCore

/// A monitored connection's state is kept small (one box per connection, 100,000 at the largest fleets), and
/// its compact fields code as the synthesized coding did, which state files written earlier hold.
@Suite("Tracked connection: layout and coding")
struct TrackedConnectionLayoutTests {
    @Test("A tracked connection's box fits the allocator's 192-byte class")
    func layout() {
        // The box's header is 16 bytes; jemalloc's classes go 160, 192, 224, 256.
        #expect(MemoryLayout<TrackedConnection.Fields>.size + 16 <= 192)
        #expect(MemoryLayout<ConnectionAlertState>.size <= 44)
        #expect(MemoryLayout<ConnectionObservation>.size <= 98)
    }

    @Test("Observations with equal health share one value; the table of shared values stays bounded")
    func sharedHealth() throws {
        func observation(_ n: Int, description: String) -> ConnectionObservation {
            ConnectionObservation(
                organizationID: "org", connectionID: ConnectionID(rawValue: "c\(n)"), identifier: "i\(n)",
                vendor: "TENABLE", state: .active, isActive: true,
                health: .init(status: .unhealthy, name: .unauthorized, resolutionOwner: .customer, description: description))
        }
        let first = observation(1, description: "shared by two")
        let second = observation(2, description: "shared by " + "two")
        let other = observation(3, description: "its own")
        let shared = try #require(Mirror(reflecting: first).descendant("sharedHealth") as? ConnectionObservation.SharedHealth)
        #expect(Mirror(reflecting: second).descendant("sharedHealth") as? ConnectionObservation.SharedHealth === shared)
        #expect(Mirror(reflecting: other).descendant("sharedHealth") as? ConnectionObservation.SharedHealth !== shared)
        #expect(first.health == second.health && first.health != other.health)
        #expect(first.health?.description == "shared by two" && other.health?.description == "its own")
        // Values made by other tests running beside this one count too; the bound holds all the same.
        for n in 0..<(ConnectionObservation.SharedHealth.tableLimit + 10) {
            _ = observation(n, description: "description \(n)")
            #expect(ConnectionObservation.SharedHealth.tableCount <= ConnectionObservation.SharedHealth.tableLimit)
        }
        // Values made before the table started again keep reading as they did.
        #expect(first.health?.description == "shared by two" && first.health == second.health)
    }

    @Test("Compact fields read and code as before: optional dates, clamped counts, the OAuth URL")
    func coding() throws {
        var alert = ConnectionAlertState()
        #expect(alert.unhealthySince == nil && alert.confirmedAt == nil && alert.remindedAt == nil && alert.flappingSince == nil)
        let when = Date(timeIntervalSince1970: 1_764_574_472.25)
        alert.unhealthySince = when
        alert.flappingSince = Date(timeIntervalSinceReferenceDate: 0)
        alert.unhealthyPolls = 3
        alert.statusChanges = [when]
        #expect(alert.unhealthySince == when && alert.flappingSince == Date(timeIntervalSinceReferenceDate: 0))
        #expect(alert != ConnectionAlertState())
        var cleared = alert
        cleared.unhealthySince = nil
        cleared.flappingSince = nil
        cleared.unhealthyPolls = 0
        cleared.statusChanges = []
        #expect(cleared == ConnectionAlertState() && cleared.hashValue == ConnectionAlertState().hashValue)
        alert.unhealthyPolls = .max
        #expect(alert.unhealthyPolls == Int(Int32.max))
        alert.unhealthyPolls = 3

        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .secondsSince1970
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        #expect(
            String(decoding: try encoder.encode(alert), as: UTF8.self)
                == #"{"flappingSince":978307200,"statusChanges":[1764574472.25],"unhealthyPolls":3,"unhealthySince":1764574472.25}"#)
        #expect(try decoder.decode(ConnectionAlertState.self, from: encoder.encode(alert)) == alert)
        #expect(throws: DecodingError.self) { try decoder.decode(ConnectionAlertState.self, from: Data(#"{"statusChanges":[]}"#.utf8)) }

        var observation = ConnectionObservation(
            organizationID: "o-1", connectionID: "c-1", identifier: "a", vendor: "TENABLE", state: .pending,
            isActive: false, health: nil, oauthPending: true, oauthAuthorizeURL: "https://auth.example/a")
        #expect(observation.oauthAuthorizeURL == "https://auth.example/a")
        #expect(
            String(decoding: try encoder.encode(observation), as: UTF8.self)
                == #"{"connectionID":"c-1","identifier":"a","isActive":false,"oauthAuthorizeURL":"https:\/\/auth.example\/a","oauthPending":true,"organizationID":"o-1","state":"PENDING","vendor":"TENABLE"}"#)
        #expect(try decoder.decode(ConnectionObservation.self, from: encoder.encode(observation)) == observation)
        observation.oauthAuthorizeURL = nil
        let withoutURL = String(decoding: try encoder.encode(observation), as: UTF8.self)
        #expect(observation.oauthAuthorizeURL == nil && !withoutURL.contains("oauthAuthorizeURL"))

        var tracked = TrackedConnection(observation: observation, healthSince: when, changedAt: when, transitions: .max, unlistedPolls: 1)
        #expect(tracked.transitions == .max && tracked.unlistedPolls == 1 && !tracked.missing)
        tracked.unlistedPolls = 70_000
        #expect(tracked.unlistedPolls == Int(Int16.max))
        tracked.missing = true
        #expect(tracked.missing && tracked.observation == observation)
    }
}
