import Foundation
import LeenAPI
import LeenSimulator
import Testing

@Suite("Connection lifecycle: create, OAuth, first job, PATCH, DELETE, test")
struct ConnectionLifecycleTests {
    /// Distinctive intervals so the test can tell the configuration is what shows up.
    static func config(_ configure: (inout SimulatorConfiguration) -> Void = { _ in }) -> SimulatorConfiguration {
        .frozen {
            $0.refreshIntervalSecs = 3600
            $0.timeoutSecs = 900
            $0.firstJobDelaySecs = 60
            $0.failureRate = 0
            configure(&$0)
        }
    }

    @Test("Create returns PENDING, is_active false, configured intervals, identifier, no health")
    func createCredentialed() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let organization = try await sim.createOrganization()
            let reply = try await sim.post(connectionsPath(organization), tenableBody(identifier: "tenable-prod"))
            #expect(reply.status == 200)
            let json = try #require(reply.json)
            #expect(OrganizationTests.isUUIDv4(json["id"]?.stringValue ?? ""))
            #expect(json["vendor"]?.stringValue == "TENABLE")
            #expect(json["state"]?.stringValue == "PENDING")
            #expect(json["is_active"]?.boolValue == false)
            #expect(json["refresh_interval_secs"]?.intValue == 3600)
            #expect(json["timeout_secs"]?.intValue == 900)
            #expect(json["organization_id"]?.stringValue == organization)
            #expect(json["identifier"]?.stringValue == "tenable-prod")
            // Nullable fields are sent as null.
            #expect(json["oauth2_authorize_url"]?.isNull == true)
            #expect(json["health"]?.isNull == true)
            #expect(json["created_at"]?.stringValue == timestamp())
            #expect(json["updated_at"]?.stringValue == timestamp())
            // organization_name is only on Get Connection by ID.
            #expect(json["organization_name"] == nil)
            #expect(json["credentials"] == nil)

            let noIdentifier = try await sim.createConnection(organization, tenableBody())
            #expect(noIdentifier["identifier"]?.isNull == true)
        }
    }

    @Test("Default intervals are Leen's documented 14400 and 1800")
    func defaultIntervals() async throws {
        try await withSimulator { sim async throws in
            let organization = try await sim.createOrganization()
            let json = try await sim.createConnection(organization, tenableBody())
            #expect(json["refresh_interval_secs"]?.intValue == 14400)
            #expect(json["timeout_secs"]?.intValue == 1800)
        }
    }

    @Test("The first job runs firstJobDelaySecs after creation: ACTIVE, is_active, health")
    func firstJob() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let organization = try await sim.createOrganization()
            let id = try await sim.createTenable(organization)
            sim.advance(59)
            let before = try await sim.connection(organization, id)
            #expect(before["state"]?.stringValue == "PENDING")
            #expect(before["health"]?.isNull == true)
            sim.advance(1)
            let after = try await sim.connection(organization, id)
            #expect(after["state"]?.stringValue == "ACTIVE")
            #expect(after["is_active"]?.boolValue == true)
            let health = try #require(after["health"])
            #expect(health.keys == ["name", "status", "description", "resolution_owner", "details"])
            #expect(health["name"]?.stringValue == "HEALTHY")
            #expect(health["status"]?.stringValue == "HEALTHY")
            #expect(health["resolution_owner"]?.stringValue == "LEEN")
            #expect(health["description"]?.stringValue == "Connection is healthy")
            #expect(health["details"]?.isNull == true)
            #expect(after["updated_at"]?.stringValue == timestamp(60))
        }
    }

    @Test("OAuth: authorize URL under /_sim, opening it authorises, the first job activates and clears it")
    func oauthFlow() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let organization = try await sim.createOrganization()
            let created = try await sim.createConnection(organization, #"{"vendor":"MS_ENTRA"}"#)
            let id = try #require(created["id"]?.stringValue)
            let url = try #require(created["oauth2_authorize_url"]?.stringValue)
            #expect(url == "\(sim.baseURL)/_sim/oauth/authorize?connection_id=\(id)")
            #expect(created["state"]?.stringValue == "PENDING")
            #expect(created["is_active"]?.boolValue == false)

            // Without authorisation no job ever runs.
            sim.advance(10 * 3600)
            let waiting = try await sim.connection(organization, id)
            #expect(waiting["state"]?.stringValue == "PENDING")
            #expect(waiting["health"]?.isNull == true)
            #expect(waiting["oauth2_authorize_url"]?.stringValue == url)

            // Open the URL as an administrator would (a browser sends no API key).
            let grant = try await sim.get(String(url.dropFirst(sim.baseURL.count)), key: nil)
            #expect(grant.status == 200)
            #expect(grant.text.contains(id))

            let authorised = try await sim.connection(organization, id)
            #expect(authorised["oauth2_authorize_url"]?.isNull == true)
            #expect(authorised["state"]?.stringValue == "PENDING")
            #expect(authorised["health"]?.isNull == true)

            sim.advance(60)
            let active = try await sim.connection(organization, id)
            #expect(active["state"]?.stringValue == "ACTIVE")
            #expect(active["is_active"]?.boolValue == true)
            #expect(active["health"]?["name"]?.stringValue == "HEALTHY")
            #expect(active["oauth2_authorize_url"]?.isNull == true)
        }
    }

    @Test("clearOAuthURLWhenAuthorized=false keeps the URL after authorisation")
    func oauthKeepURL() async throws {
        try await withSimulator(Self.config { $0.clearOAuthURLWhenAuthorized = false }) { sim async throws in
            let organization = try await sim.createOrganization()
            let created = try await sim.createConnection(organization, #"{"vendor":"MS_DEFENDER_VMS"}"#)
            let id = try #require(created["id"]?.stringValue)
            let url = try #require(created["oauth2_authorize_url"]?.stringValue)
            try sim.state.authorize(id)
            sim.advance(61)
            let active = try await sim.connection(organization, id)
            #expect(active["state"]?.stringValue == "ACTIVE")
            #expect(active["oauth2_authorize_url"]?.stringValue == url)
        }
    }

    @Test("oauthAutoAuthorizeAfterSecs authorises by itself")
    func oauthAutoAuthorize() async throws {
        try await withSimulator(Self.config { $0.oauthAutoAuthorizeAfterSecs = 300 }) { sim async throws in
            let organization = try await sim.createOrganization()
            let created = try await sim.createConnection(organization, #"{"vendor":"MS_ENTRA"}"#)
            let id = try #require(created["id"]?.stringValue)
            sim.advance(299)
            let before = try await sim.connection(organization, id)
            #expect(before["oauth2_authorize_url"]?.stringValue != nil)
            #expect(try await sim.get(connectionPath(organization, id) + "/test").json?["is_valid"]?.boolValue == false)
            sim.advance(1)
            let authorised = try await sim.connection(organization, id)
            #expect(authorised["oauth2_authorize_url"]?.isNull == true)
            #expect(authorised["state"]?.stringValue == "PENDING")
            // The first job comes firstJobDelaySecs after the authorisation, not after creation.
            sim.advance(59)
            #expect(try await sim.connection(organization, id)["state"]?.stringValue == "PENDING")
            sim.advance(1)
            let active = try await sim.connection(organization, id)
            #expect(active["state"]?.stringValue == "ACTIVE")
            #expect(active["health"]?["name"]?.stringValue == "HEALTHY")
        }
    }

    @Test("SNYK is OAuth unless it is given an API key")
    func snyk() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let organization = try await sim.createOrganization()
            let oauth = try await sim.createConnection(
                organization, #"{"vendor":"SNYK","credentials":{"base_url":"https://app.us.snyk.io"}}"#)
            #expect(oauth["oauth2_authorize_url"]?.stringValue != nil)
            let keyed = try await sim.createConnection(organization, #"{"vendor":"SNYK","credentials":{"api_key":"k"}}"#)
            #expect(keyed["oauth2_authorize_url"]?.isNull == true)
            let tenable = try await sim.createConnection(organization, tenableBody())
            #expect(tenable["oauth2_authorize_url"]?.isNull == true)
        }
    }

    @Test("The authorize URL needs a known connection_id")
    func authorizeURLErrors() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let missing = try await sim.get("/_sim/oauth/authorize", key: nil)
            #expect(try detailMessage(missing, status: 400) == "connection_id is required")
            let unknown = try await sim.get("/_sim/oauth/authorize?connection_id=\(unknownUUID)", key: nil)
            #expect(try detailMessage(unknown, status: 404) == "Connection cannot be found")
        }
    }

    @Test("GET includes organization_name; list items do not")
    func organizationName() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let organization = try await sim.createOrganization(name: "Initech", identifier: "initech")
            let id = try await sim.createTenable(organization)
            let json = try await sim.connection(organization, id)
            #expect(json["organization_name"]?.stringValue == "Initech")
            let items = try await sim.items(connectionsPath(organization))
            #expect(items.count == 1)
            #expect(items[0]["id"]?.stringValue == id)
            #expect(items[0]["organization_name"] == nil)
            #expect(items[0].keys.isSuperset(of: [
                "id", "vendor", "is_active", "refresh_interval_secs", "timeout_secs", "organization_id", "state",
                "oauth2_authorize_url", "identifier", "health",
            ]))
        }
    }

    @Test("PATCH changes identifier and credentials and leaves the rest")
    func patchFields() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let organization = try await sim.createOrganization()
            let id = try await sim.createTenable(organization, identifier: "old")
            sim.advance(120)
            let identifier = try await sim.patch(connectionPath(organization, id), #"{"identifier":"new"}"#)
            #expect(identifier.status == 200)
            #expect(identifier.json?["identifier"]?.stringValue == "new")
            #expect(identifier.json?["state"]?.stringValue == "ACTIVE")
            #expect(identifier.json?["updated_at"]?.stringValue == timestamp(120))
            #expect(try await sim.connection(organization, id)["identifier"]?.stringValue == "new")

            let credentials = try await sim.patch(
                connectionPath(organization, id), #"{"credentials":{"client_key":"c2","secret_key":"s2"}}"#)
            #expect(credentials.status == 200)
            #expect(credentials.json?["identifier"]?.stringValue == "new")
            #expect(credentials.json?["state"]?.stringValue == "ACTIVE")

            // An empty PATCH changes nothing (patchOmittedState defaults to unchanged).
            let empty = try await sim.patch(connectionPath(organization, id), "{}")
            #expect(empty.status == 200)
            #expect(empty.json?["identifier"]?.stringValue == "new")
        }
    }

    @Test("PAUSED stops jobs; resuming ACTIVE runs them again")
    func pauseAndResume() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let organization = try await sim.createOrganization()
            let id = try await sim.createTenable(organization)
            let paused = try await sim.patch(connectionPath(organization, id), #"{"state":"PAUSED"}"#)
            #expect(paused.status == 200)
            #expect(paused.json?["state"]?.stringValue == "PAUSED")
            #expect(paused.json?["is_active"]?.boolValue == false)

            // Many scheduled jobs pass: none runs, nothing changes.
            for _ in 0..<5 {
                sim.advance(3600)
                let json = try await sim.connection(organization, id)
                #expect(json["state"]?.stringValue == "PAUSED")
                #expect(json["health"]?.isNull == true)
                #expect(json["updated_at"]?.stringValue == timestamp())
            }

            let resumed = try await sim.patch(connectionPath(organization, id), #"{"state":"ACTIVE"}"#)
            #expect(resumed.json?["state"]?.stringValue == "ACTIVE")
            #expect(resumed.json?["is_active"]?.boolValue == true)
            #expect(resumed.json?["health"]?.isNull == true)
            sim.advance(3600)
            let running = try await sim.connection(organization, id)
            #expect(running["health"]?["name"]?.stringValue == "HEALTHY")
        }
    }

    @Test("A paused connection's health stays fixed across job times")
    func pausedHealthIsFrozen() async throws {
        try await withSimulator(Self.config { $0.failureRate = 1; $0.failurePersistence = 0 }) { sim async throws in
            let organization = try await sim.createOrganization()
            var ids: [String] = []
            for _ in 0..<6 { ids.append(try await sim.createTenable(organization)) }
            sim.advance(60)
            var frozen: [String: JSONValue] = [:]
            for id in ids {
                let json = try await sim.connection(organization, id)
                let health = try #require(json["health"])
                frozen[id] = health
                #expect(try await sim.patch(connectionPath(organization, id), #"{"state":"PAUSED"}"#).status == 200)
            }
            for step in 1...6 {
                sim.advance(3600)
                for id in ids {
                    let json = try await sim.connection(organization, id)
                    #expect(json["health"] == frozen[id], "job time \(step), \(id)")
                    #expect(json["state"]?.stringValue == "PAUSED")
                }
            }
        }
    }

    @Test("patchOmittedState=.active: a PATCH without state resumes")
    func patchOmittedStateActive() async throws {
        try await withSimulator(Self.config { $0.patchOmittedState = .active }) { sim async throws in
            let organization = try await sim.createOrganization()
            let id = try await sim.createTenable(organization)
            #expect(try await sim.patch(connectionPath(organization, id), #"{"state":"PAUSED"}"#)
                .json?["state"]?.stringValue == "PAUSED")
            let reply = try await sim.patch(connectionPath(organization, id), #"{"identifier":"x"}"#)
            #expect(reply.json?["state"]?.stringValue == "ACTIVE")
            #expect(reply.json?["is_active"]?.boolValue == true)
        }
        try await withSimulator(Self.config()) { sim async throws in
            let organization = try await sim.createOrganization()
            let id = try await sim.createTenable(organization)
            _ = try await sim.patch(connectionPath(organization, id), #"{"state":"PAUSED"}"#)
            let reply = try await sim.patch(connectionPath(organization, id), #"{"identifier":"x"}"#)
            #expect(reply.json?["state"]?.stringValue == "PAUSED")
            #expect(reply.json?["identifier"]?.stringValue == "x")
        }
    }

    @Test("DELETE is a soft delete: 200 with state DELETED, is_active false, no more jobs")
    func deleteConnection() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let organization = try await sim.createOrganization()
            let id = try await sim.createTenable(organization, identifier: "doomed")
            let reply = try await sim.delete(connectionPath(organization, id))
            #expect(reply.status == 200)
            let json = try #require(reply.json)
            #expect(json["id"]?.stringValue == id)
            #expect(json["state"]?.stringValue == "DELETED")
            #expect(json["is_active"]?.boolValue == false)
            #expect(json["identifier"]?.stringValue == "doomed")
            sim.advance(10 * 3600)
            let later = try await sim.connection(organization, id)
            #expect(later["state"]?.stringValue == "DELETED")
            #expect(later["health"]?.isNull == true)
            // Deleting again is harmless under the default visibility.
            #expect(try await sim.delete(connectionPath(organization, id)).json?["state"]?.stringValue == "DELETED")
        }
    }

    @Test("deletedVisibility .visible: still fetched and listed")
    func deletedVisible() async throws {
        try await withSimulator(Self.config { $0.deletedVisibility = .visible }) { sim async throws in
            let organization = try await sim.createOrganization()
            let keep = try await sim.createTenable(organization)
            let gone = try await sim.createTenable(organization)
            _ = try await sim.delete(connectionPath(organization, gone))
            #expect(try await sim.connection(organization, gone)["state"]?.stringValue == "DELETED")
            let list = try await sim.get(connectionsPath(organization))
            #expect(list.json?["total"]?.intValue == 2)
            let items = try #require(list.json?["items"]?.arrayValue)
            #expect(items.compactMap { $0["id"]?.stringValue } == [keep, gone])
            #expect(items[1]["state"]?.stringValue == "DELETED")
        }
    }

    @Test("deletedVisibility .getOnly: fetched by id but not listed")
    func deletedGetOnly() async throws {
        try await withSimulator(Self.config { $0.deletedVisibility = .getOnly }) { sim async throws in
            let organization = try await sim.createOrganization()
            let keep = try await sim.createTenable(organization)
            let gone = try await sim.createTenable(organization)
            _ = try await sim.delete(connectionPath(organization, gone))
            let fetched = try await sim.connection(organization, gone)
            #expect(fetched["state"]?.stringValue == "DELETED")
            #expect(fetched["is_active"]?.boolValue == false)
            let list = try await sim.get(connectionsPath(organization))
            #expect(list.json?["total"]?.intValue == 1)
            #expect(list.json?["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [keep])
        }
    }

    @Test("deletedVisibility .hidden: 404 and not listed, as if gone")
    func deletedHidden() async throws {
        try await withSimulator(Self.config { $0.deletedVisibility = .hidden }) { sim async throws in
            let organization = try await sim.createOrganization()
            let keep = try await sim.createTenable(organization)
            let gone = try await sim.createTenable(organization)
            let deleted = try await sim.delete(connectionPath(organization, gone))
            #expect(deleted.status == 200)
            #expect(deleted.json?["state"]?.stringValue == "DELETED")
            let path = connectionPath(organization, gone)
            #expect(try detailMessage(try await sim.get(path), status: 404) == "Connection cannot be found")
            #expect(try await sim.patch(path, #"{"state":"ACTIVE"}"#).status == 404)
            #expect(try await sim.delete(path).status == 404)
            #expect(try await sim.get(path + "/test").status == 404)
            let list = try await sim.get(connectionsPath(organization))
            #expect(list.json?["total"]?.intValue == 1)
            #expect(list.json?["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [keep])
        }
    }

    @Test("PATCH state DELETED is the same soft delete")
    func patchDeleted() async throws {
        try await withSimulator(Self.config { $0.deletedVisibility = .getOnly }) { sim async throws in
            let organization = try await sim.createOrganization()
            let id = try await sim.createTenable(organization)
            let reply = try await sim.patch(connectionPath(organization, id), #"{"state":"DELETED"}"#)
            #expect(reply.json?["state"]?.stringValue == "DELETED")
            #expect(reply.json?["is_active"]?.boolValue == false)
            #expect(try await sim.items(connectionsPath(organization)).isEmpty)
        }
    }

    @Test("Test credentials: valid when healthy, invalid while OAuth is pending or after UNAUTHORIZED")
    func testCredentials() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let organization = try await sim.createOrganization()
            let tenable = try await sim.createTenable(organization)
            let oauth = try #require(
                try await sim.createConnection(organization, #"{"vendor":"MS_ENTRA"}"#)["id"]?.stringValue)
            sim.advance(60)

            let valid = try await sim.get(connectionPath(organization, tenable) + "/test")
            #expect(valid.status == 200)
            let validJSON = try #require(valid.json)
            #expect(validJSON.keys == ["is_valid", "message"])
            #expect(validJSON["is_valid"]?.boolValue == true)
            #expect(validJSON["message"]?.stringValue != nil)

            let pending = try await sim.get(connectionPath(organization, oauth) + "/test")
            #expect(pending.status == 200)
            #expect(pending.json?["is_valid"]?.boolValue == false)
            #expect(pending.json?["message"]?.stringValue?.contains("OAuth") == true)

            try sim.state.setHealth(tenable, try #require(ConnectionHealthStatus(documented: .unauthorized)))
            let revoked = try await sim.get(connectionPath(organization, tenable) + "/test")
            #expect(revoked.status == 200)
            #expect(revoked.json?["is_valid"]?.boolValue == false)

            // Authorised OAuth connections are valid; testing creates no job and changes nothing.
            try sim.state.authorize(oauth)
            let authorised = try await sim.get(connectionPath(organization, oauth) + "/test")
            #expect(authorised.json?["is_valid"]?.boolValue == true)
            #expect(try await sim.connection(organization, oauth)["health"]?.isNull == true)
        }
    }
}
