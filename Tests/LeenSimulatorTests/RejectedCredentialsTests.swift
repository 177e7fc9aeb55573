import Foundation
import LeenAPI
import LeenSimulator
import Testing

/// Credential values the simulated vendors refuse: how a failed rotation is tested.
@Suite("Rejected credential values")
struct RejectedCredentialsTests {
    static func config(_ rejected: Set<String> = []) -> SimulatorConfiguration {
        .frozen {
            $0.refreshIntervalSecs = 3600
            $0.firstJobDelaySecs = 60
            $0.failureRate = 0
            $0.rejectedCredentialValues = rejected
        }
    }

    @Test("a refused value tests invalid and every job ends UNAUTHORIZED until other credentials are PATCHed")
    func refusedValue() async throws {
        try await withSimulator(Self.config(["bad-secret"])) { sim async throws in
            let organization = try await sim.createOrganization()
            let id = try #require(
                try await sim.createConnection(organization, tenableBody(secret: "bad-secret"))["id"]?.stringValue)
            let test = try #require(try await sim.get(connectionPath(organization, id) + "/test").json)
            #expect(test["is_valid"]?.boolValue == false)
            #expect(test["message"]?.stringValue == "The vendor rejected the credentials")
            sim.advance(60 + 3600)
            var health = try await sim.connection(organization, id)["health"]
            #expect(health?["name"]?.stringValue == "UNAUTHORIZED")
            #expect(health?["resolution_owner"]?.stringValue == "CUSTOMER")

            // Another refused value keeps it so; a good one is valid at once, and the next job starts afresh.
            #expect(try await sim.patch(connectionPath(organization, id), #"{"credentials":{"client_key":"bad-secret","secret_key":"x"}}"#).status == 200)
            #expect(try #require(try await sim.get(connectionPath(organization, id) + "/test").json)["is_valid"]?.boolValue == false)
            #expect(try await sim.patch(connectionPath(organization, id), #"{"credentials":{"client_key":"ck","secret_key":"good"}}"#).status == 200)
            #expect(try #require(try await sim.get(connectionPath(organization, id) + "/test").json)["is_valid"]?.boolValue == true)
            sim.advance(3600)
            health = try await sim.connection(organization, id)["health"]
            #expect(health?["name"]?.stringValue == "HEALTHY")

            // The control API: what leen-sim holds, without values; the list can change under a connection.
            let view = try #require(try await sim.get("/_sim/connections/\(id)/credentials", key: nil).json)
            #expect(view["credential_updates"]?.intValue == 2)
            #expect(view["rejected"]?.boolValue == false)
            #expect(view["fields"]?.arrayValue?.compactMap(\.stringValue) == ["client_key", "secret_key"])
            #expect(!(try await sim.get("/_sim/connections/\(id)/credentials", key: nil).text.contains("good")))
            #expect(try await sim.send("PUT", "/_sim/credentials/rejected", body: #"{"values":["good"]}"#, key: nil).status == 200)
            #expect(try #require(try await sim.get(connectionPath(organization, id) + "/test").json)["is_valid"]?.boolValue == false)
            #expect(try await sim.get("/_sim/credentials/rejected", key: nil).json?["values"]?.arrayValue?.count == 1)
        }
    }
}
