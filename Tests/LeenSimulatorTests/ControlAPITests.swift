import Foundation
import LeenAPI
import LeenSimulator
import Testing

@Suite("Control API and summary")
struct ControlAPITests {
    @Test("/_sim/state has every summary field with the fleet's counts")
    func stateShape() async throws {
        try await withSimulator(.frozen { $0.organizations = 2; $0.connections = 10; $0.oauthPendingShare = 0 }) { sim async throws in
            _ = try await sim.createOrganization()
            let reply = try await sim.get("/_sim/state", key: nil)
            #expect(reply.status == 200)
            let json = try #require(reply.json)
            #expect(json.keys == [
                "simulated_time", "time_scale", "organizations", "connections", "by_state", "by_health",
                "responses_by_status", "faults", "queued_faults",
            ])
            #expect(json["simulated_time"]?.stringValue == timestamp())
            #expect(json["time_scale"]?.doubleValue == 0)
            #expect(json["organizations"]?.intValue == 3)
            #expect(json["connections"]?.intValue == 10)
            let byState = try #require(json["by_state"]?.objectValue)
            #expect(byState.values.compactMap(\.intValue).reduce(0, +) == 10)
            let byHealth = try #require(json["by_health"]?.objectValue)
            #expect(byHealth.values.compactMap(\.intValue).reduce(0, +) == 10)
            #expect(json["queued_faults"]?.arrayValue?.isEmpty == true)
            #expect(json["faults"]?["error_rate"]?.doubleValue == 0)
            // The summary agrees with the API's own lists.
            var listed = 0
            for id in sim.state.organizationIDs() {
                listed += try await sim.items(connectionsPath(id.rawValue)).count
            }
            #expect(listed == 10)
        }
    }

    @Test("responses_by_status counts every response by status")
    func responsesByStatus() async throws {
        try await withSimulator { sim async throws in
            for _ in 0..<3 { _ = try await sim.get(organizationsPath) }
            for _ in 0..<2 { _ = try await sim.get(organizationsPath, key: "wrong") }
            _ = try await sim.get(organizationPath(unknownUUID))
            _ = try await sim.get(organizationPath("bad"))
            #expect(sim.state.summary().responsesByStatus == ["200": 3, "401": 2, "404": 1, "422": 1])

            // Through HTTP: the /_sim/state response itself is counted afterwards.
            let first = try #require(try await sim.get("/_sim/state", key: nil).json)
            #expect(first["responses_by_status"] == .object([
                "200": .integer(3), "401": .integer(2), "404": .integer(1), "422": .integer(1),
            ]))
            let second = try #require(try await sim.get("/_sim/state", key: nil).json)
            #expect(second["responses_by_status"]?["200"]?.intValue == 4)
            // Injected faults count too.
            sim.state.enqueueFaults([QueuedFault(kind: .status, status: 503)])
            _ = try await sim.get(organizationsPath)
            #expect(sim.state.summary().responsesByStatus["503"] == 1)
        }
    }

    @Test("by_state and by_health follow the fleet")
    func stateAndHealthCounts() async throws {
        try await withSimulator(.frozen { $0.failureRate = 0 }) { sim async throws in
            let organization = try await sim.createOrganization()
            let a = try await sim.createTenable(organization)
            let b = try await sim.createTenable(organization)
            _ = try await sim.createConnection(organization, #"{"vendor":"MS_ENTRA"}"#)
            var summary = sim.state.summary()
            #expect(summary.byState == ["PENDING": 3])
            #expect(summary.byHealth == ["none": 3])
            sim.advance(60)
            summary = sim.state.summary()
            #expect(summary.byState == ["ACTIVE": 2, "PENDING": 1])
            #expect(summary.byHealth == ["HEALTHY": 2, "none": 1])
            _ = try await sim.patch(connectionPath(organization, a), #"{"state":"PAUSED"}"#)
            _ = try await sim.delete(connectionPath(organization, b))
            summary = sim.state.summary()
            #expect(summary.byState == ["PAUSED": 1, "DELETED": 1, "PENDING": 1])
            #expect(summary.organizations == 1)
            #expect(summary.connections == 3)
        }
    }

    @Test("The clock: frozen until advanced, by method or by POST /_sim/clock/advance")
    func clock() async throws {
        try await withSimulator { sim async throws in
            #expect(sim.state.summary().simulatedTime == timestamp())
            try await Task.sleep(for: .milliseconds(50))
            #expect(sim.state.summary().simulatedTime == timestamp())
            sim.advance(3600)
            #expect(sim.state.summary().simulatedTime == timestamp(3600))
            let reply = try await sim.post("/_sim/clock/advance", #"{"seconds":90}"#, key: nil)
            #expect(reply.json?["simulated_time"]?.stringValue == timestamp(3690))
            // Negative advances are ignored: time never goes back.
            sim.advance(-500)
            #expect(sim.state.summary().simulatedTime == timestamp(3690))
            #expect(try await sim.post("/_sim/clock/advance", "{}", key: nil).status == 400)
        }
    }

    @Test("A time scale makes simulated time run; PUT /_sim/clock freezes it again")
    func timeScale() async throws {
        try await withSimulator { sim async throws in
            sim.state.setTimeScale(10_000)
            try await Task.sleep(for: .milliseconds(200))
            let running = try #require(Timestamp(rawValue: sim.state.summary().simulatedTime).date)
            #expect(running.timeIntervalSince(testEpoch) >= 1000)
            #expect(try await sim.send("PUT", "/_sim/clock", body: #"{"time_scale":0}"#, key: nil).status == 200)
            let frozen = sim.state.summary().simulatedTime
            try await Task.sleep(for: .milliseconds(100))
            #expect(sim.state.summary().simulatedTime == frozen)
            #expect(sim.state.summary().timeScale == 0)
        }
    }

    @Test("Connection control routes: health, state, authorize, remove, by id or identifier")
    func connectionControls() async throws {
        try await withSimulator(.frozen { $0.failureRate = 0 }) { sim async throws in
            let organization = try await sim.createOrganization()
            let tenable = try await sim.createTenable(organization, identifier: "tenable-prod")
            let entra = try #require(
                try await sim.createConnection(organization, #"{"vendor":"MS_ENTRA"}"#)["id"]?.stringValue)

            let health = try await sim.send(
                "PUT", "/_sim/connections/tenable-prod/health",
                body: #"{"name":"VENDOR_SERVER_ERROR","details":[{"endpoint":"https://v.example/x","data_export_type":"devices"}]}"#,
                key: nil)
            #expect(health.status == 200)
            let after = try await sim.connection(organization, tenable)
            #expect(after["health"]?["name"]?.stringValue == "VENDOR_SERVER_ERROR")
            #expect(after["health"]?["resolution_owner"]?.stringValue == "VENDOR")
            #expect(after["health"]?["details"]?[0]?["data_export_type"]?.stringValue == "devices")

            // Undocumented names are accepted with explicit fields.
            let custom = try await sim.send(
                "PUT", "/_sim/connections/\(tenable)/health",
                body: #"{"name":"QUOTA_EXHAUSTED","status":"UNHEALTHY","resolution_owner":"CUSTOMER","description":"Quota"}"#,
                key: nil)
            #expect(custom.status == 200)
            let customHealth = try #require(try await sim.connection(organization, tenable)["health"])
            #expect(customHealth["name"]?.stringValue == "QUOTA_EXHAUSTED")
            #expect(customHealth["resolution_owner"]?.stringValue == "CUSTOMER")
            #expect(customHealth["description"]?.stringValue == "Quota")

            let state = try await sim.send(
                "PUT", "/_sim/connections/\(tenable)/state", body: #"{"state":"PAUSED"}"#, key: nil)
            #expect(state.status == 200)
            #expect(try await sim.connection(organization, tenable)["state"]?.stringValue == "PAUSED")

            let authorize = try await sim.post("/_sim/connections/\(entra)/authorize", "", key: nil)
            #expect(authorize.status == 200)
            #expect(authorize.json?["oauth2_authorize_url"]?.isNull == true)

            #expect(try await sim.delete("/_sim/connections/\(tenable)", key: nil).status == 200)
            #expect(try await sim.get(connectionPath(organization, tenable)).status == 404)
            #expect(try await sim.items(connectionsPath(organization)).count == 1)

            // Unknown references and bad bodies.
            let unknown = try await sim.send("PUT", "/_sim/connections/nope/state", body: #"{"state":"ACTIVE"}"#, key: nil)
            #expect(try detailMessage(unknown, status: 404) == "Connection cannot be found")
            #expect(try await sim.delete("/_sim/connections/nope", key: nil).status == 404)
            let bad = try await sim.send("PUT", "/_sim/connections/\(entra)/state", body: "{}", key: nil)
            #expect(try detailMessage(bad, status: 400).hasPrefix("invalid body"))
        }
    }

    @Test("API keys through the control API")
    func apiKeys() async throws {
        try await withSimulator { sim async throws in
            #expect(try await sim.post("/_sim/api-keys", #"{"key":"k2"}"#, key: nil).status == 200)
            #expect(try await sim.get(organizationsPath, key: "k2").status == 200)
            #expect(try await sim.post("/_sim/api-keys/expire", #"{"key":"k2"}"#, key: nil).status == 200)
            #expect(try detailMessage(try await sim.get(organizationsPath, key: "k2"), status: 401) == "API key has expired")
            #expect(try await sim.get(organizationsPath).status == 200)
        }
    }

    @Test("GET /_sim/organizations lists live organization ids in order")
    func organizationIDs() async throws {
        try await withSimulator(.frozen { $0.organizations = 3 }) { sim async throws in
            let ids = sim.state.organizationIDs().map(\.rawValue)
            #expect(ids.count == 3)
            let reply = try await sim.get("/_sim/organizations", key: nil)
            #expect(reply.json == .array(ids.map { .string($0) }))
            _ = try await sim.delete(organizationPath(ids[1]))
            #expect(try await sim.get("/_sim/organizations", key: nil).json == .array([.string(ids[0]), .string(ids[2])]))
        }
    }
}
