import Foundation
import LeenAPI
import LeenSimulator
import Testing

@Suite("Authentication and generic errors")
struct AuthAndErrorsTests {
    @Test("A request without X-API-KEY gets 401 {\"detail\": ...}")
    func missingKeyIs401() async throws {
        try await withSimulator { sim async throws in
            let reply = try await sim.get(organizationsPath, key: nil)
            let message = try detailMessage(reply, status: 401)
            #expect(message == "Not authenticated")
            #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true)
            // An empty header counts as missing.
            #expect(try detailMessage(try await sim.get(organizationsPath, key: ""), status: 401) == "Not authenticated")
        }
    }

    @Test("A wrong key gets 401 Invalid API key")
    func wrongKeyIs401() async throws {
        try await withSimulator { sim async throws in
            let reply = try await sim.get(organizationsPath, key: "not-the-key")
            #expect(try detailMessage(reply, status: 401) == "Invalid API key")
            // The key is compared exactly: no case folding, no trimming.
            let upper = try await sim.get(organizationsPath, key: defaultAPIKey.uppercased())
            #expect(upper.status == 401)
        }
    }

    @Test("An expired key gets 401 while other keys keep working")
    func expiredKey() async throws {
        try await withSimulator(.frozen { $0.apiKeys = [defaultAPIKey, "second-key"] }) { sim async throws in
            #expect(try await sim.get(organizationsPath).status == 200)
            sim.state.expireAPIKey(defaultAPIKey)
            let reply = try await sim.get(organizationsPath)
            #expect(try detailMessage(reply, status: 401) == "API key has expired")
            #expect(try await sim.get(organizationsPath, key: "second-key").status == 200)
            // Adding the key again revives it.
            sim.state.addAPIKey(defaultAPIKey)
            #expect(try await sim.get(organizationsPath).status == 200)
        }
    }

    @Test("A key added at runtime is accepted")
    func addedKey() async throws {
        try await withSimulator { sim async throws in
            #expect(try await sim.get(organizationsPath, key: "new-key").status == 401)
            sim.state.addAPIKey("new-key")
            #expect(try await sim.get(organizationsPath, key: "new-key").status == 200)
            #expect(try await sim.get(organizationsPath).status == 200)
        }
    }

    @Test("Configured apiKeys replace the default key")
    func configuredKeys() async throws {
        try await withSimulator(.frozen { $0.apiKeys = ["only-this"] }) { sim async throws in
            #expect(try await sim.get(organizationsPath, key: "only-this").status == 200)
            #expect(try await sim.get(organizationsPath).status == 401)
        }
    }

    @Test("Every /v1 endpoint requires the key, before validation or lookup")
    func everyEndpointNeedsKey() async throws {
        try await withSimulator { sim async throws in
            let organization = try await sim.createOrganization()
            let connection = try await sim.createTenable(organization)
            let requests: [(String, String, String?)] = [
                ("POST", organizationsPath, #"{"name":"x","identifier":"y"}"#),
                ("GET", organizationsPath, nil),
                ("GET", organizationPath(organization), nil),
                ("DELETE", organizationPath(organization), nil),
                ("POST", connectionsPath(organization), tenableBody()),
                ("GET", connectionsPath(organization), nil),
                ("GET", connectionPath(organization, connection), nil),
                ("PATCH", connectionPath(organization, connection), #"{"state":"PAUSED"}"#),
                ("DELETE", connectionPath(organization, connection), nil),
                ("GET", connectionPath(organization, connection) + "/test", nil),
                // Invalid input and unknown ids: still 401 first.
                ("GET", organizationPath("not-a-uuid"), nil),
                ("GET", organizationPath(unknownUUID), nil),
                ("POST", connectionsPath(organization), "{not json"),
            ]
            for (method, path, body) in requests {
                let reply = try await sim.send(method, path, body: body, key: nil)
                #expect(reply.status == 401, "\(method) \(path): \(reply)")
                #expect(reply.json?.keys == ["detail"], "\(method) \(path)")
            }
            // Nothing was changed by the refused requests.
            let organizationReply = try await sim.get(organizationPath(organization))
            #expect(organizationReply.status == 200)
            let connectionJSON = try await sim.connection(organization, connection)
            #expect(connectionJSON["state"]?.stringValue == "PENDING")
            #expect(try await sim.items(connectionsPath(organization)).count == 1)
        }
    }

    @Test("The control API under /_sim needs no key")
    func controlAPINeedsNoKey() async throws {
        try await withSimulator(.frozen { $0.organizations = 1 }) { sim async throws in
            for path in ["/_sim/state", "/_sim/organizations", "/_sim/faults"] {
                let reply = try await sim.get(path, key: nil)
                #expect(reply.status == 200, "\(path): \(reply)")
                #expect(reply.json != nil, "\(path) is not JSON")
            }
            let advanced = try await sim.post("/_sim/clock/advance", #"{"seconds":30}"#, key: nil)
            #expect(advanced.status == 200)
            #expect(advanced.json?["simulated_time"]?.stringValue == timestamp(30))
            // A wrong key does not matter there either.
            #expect(try await sim.get("/_sim/state", key: "wrong").status == 200)
        }
    }

    @Test("An unknown /v1 route is 404 {\"detail\":\"Not Found\"}")
    func unknownRoute() async throws {
        try await withSimulator { sim async throws in
            for path in ["/v1/provisioning/nothing", "/v1/unknown", "/v2/provisioning/organizations", "/"] {
                let reply = try await sim.get(path)
                #expect(try detailMessage(reply, status: 404) == "Not Found", "\(path)")
                #expect(reply.text == #"{"detail":"Not Found"}"#, "\(path)")
            }
        }
    }

    @Test("404 for an unknown organization, with Leen's documented message")
    func unknownOrganization() async throws {
        try await withSimulator { sim async throws in
            for path in [
                organizationPath(unknownUUID), connectionsPath(unknownUUID),
                connectionPath(unknownUUID, unknownUUID), connectionPath(unknownUUID, unknownUUID) + "/test",
            ] {
                let reply = try await sim.get(path)
                #expect(try detailMessage(reply, status: 404) == "Organization cannot be found", "\(path)")
            }
            let create = try await sim.post(connectionsPath(unknownUUID), tenableBody())
            #expect(try detailMessage(create, status: 404) == "Organization cannot be found")
            let delete = try await sim.delete(organizationPath(unknownUUID))
            #expect(try detailMessage(delete, status: 404) == "Organization cannot be found")
        }
    }

    @Test("404 for an unknown connection and for one that belongs to another organization")
    func unknownConnection() async throws {
        try await withSimulator { sim async throws in
            let first = try await sim.createOrganization(name: "First", identifier: "first")
            let second = try await sim.createOrganization(name: "Second", identifier: "second")
            let connection = try await sim.createTenable(first)
            #expect(try await sim.get(connectionPath(first, connection)).status == 200)

            let unknown = try await sim.get(connectionPath(first, unknownUUID))
            #expect(try detailMessage(unknown, status: 404) == "Connection cannot be found")

            // The right connection id under the wrong organization: every operation refuses it.
            let path = connectionPath(second, connection)
            for (method, body) in [("GET", nil), ("PATCH", #"{"state":"PAUSED"}"#), ("DELETE", nil)] as [(String, String?)] {
                let reply = try await sim.send(method, path, body: body)
                #expect(try detailMessage(reply, status: 404) == "Connection cannot be found", "\(method)")
            }
            let test = try await sim.get(path + "/test")
            #expect(try detailMessage(test, status: 404) == "Connection cannot be found")
            #expect(try await sim.items(connectionsPath(second)).isEmpty)
            // And the connection is untouched in its own organization.
            let json = try await sim.connection(first, connection)
            #expect(json["state"]?.stringValue == "PENDING")
        }
    }
}
