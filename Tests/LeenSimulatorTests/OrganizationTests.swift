import Foundation
import LeenAPI
import LeenSimulator
import Testing

@Suite("Organizations")
struct OrganizationTests {
    /// A lower-case version-4 UUID, like the ids in Leen's examples.
    static func isUUIDv4(_ text: String) -> Bool {
        text.wholeMatch(of: /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/) != nil
    }

    @Test("Create returns 200 with id, name and identifier")
    func create() async throws {
        try await withSimulator { sim async throws in
            let reply = try await sim.post(organizationsPath, #"{"name":"Acme Corp","identifier":"acme-1"}"#)
            #expect(reply.status == 200)
            #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true)
            let json = try #require(reply.json)
            let id = try #require(json["id"]?.stringValue)
            #expect(Self.isUUIDv4(id), "\(id)")
            #expect(json["name"]?.stringValue == "Acme Corp")
            #expect(json["identifier"]?.stringValue == "acme-1")
            #expect(json["created_at"]?.stringValue == timestamp())
            #expect(json["updated_at"]?.stringValue == timestamp())
            #expect(json.keys.isSuperset(of: ["id", "name", "identifier"]))
            // Each create gets a new id.
            let second = try await sim.createOrganization(name: "Acme Corp", identifier: "acme-1")
            #expect(second != id)
        }
    }

    @Test("List returns every organization in creation order in the offset envelope")
    func list() async throws {
        try await withSimulator { sim async throws in
            var ids: [String] = []
            for n in 1...3 { ids.append(try await sim.createOrganization(name: "Org \(n)", identifier: "org-\(n)")) }
            let reply = try await sim.get(organizationsPath)
            #expect(reply.status == 200)
            let json = try #require(reply.json)
            #expect(json.keys == ["count", "total", "items"])
            #expect(json["count"]?.intValue == 3)
            #expect(json["total"]?.intValue == 3)
            let items = try #require(json["items"]?.arrayValue)
            #expect(items.compactMap { $0["id"]?.stringValue } == ids)
            #expect(items.compactMap { $0["name"]?.stringValue } == ["Org 1", "Org 2", "Org 3"])
            #expect(sim.state.organizationIDs().map(\.rawValue) == ids)
        }
    }

    @Test("Get returns the same organization as create")
    func get() async throws {
        try await withSimulator { sim async throws in
            let created = try await sim.post(organizationsPath, #"{"name":"Globex","identifier":"globex"}"#)
            let id = try #require(created.json?["id"]?.stringValue)
            let reply = try await sim.get(organizationPath(id))
            #expect(reply.status == 200)
            #expect(reply.json == created.json)
        }
    }

    @Test("Soft delete: 200 with the organization, then 404 everywhere and gone from the list")
    func softDelete() async throws {
        try await withSimulator { sim async throws in
            let keep = try await sim.createOrganization(name: "Keep", identifier: "keep")
            let gone = try await sim.createOrganization(name: "Gone", identifier: "gone")
            let connection = try await sim.createTenable(gone)

            let deleted = try await sim.delete(organizationPath(gone))
            #expect(deleted.status == 200)
            #expect(deleted.json?["id"]?.stringValue == gone)
            #expect(deleted.json?["name"]?.stringValue == "Gone")

            #expect(try detailMessage(try await sim.get(organizationPath(gone)), status: 404)
                == "Organization cannot be found")
            #expect(try await sim.get(connectionsPath(gone)).status == 404)
            #expect(try await sim.get(connectionPath(gone, connection)).status == 404)
            #expect(try await sim.post(connectionsPath(gone), tenableBody()).status == 404)
            #expect(try await sim.delete(organizationPath(gone)).status == 404)

            let list = try await sim.get(organizationsPath)
            #expect(list.json?["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [keep])
            #expect(list.json?["total"]?.intValue == 1)
            #expect(sim.state.organizationIDs().map(\.rawValue) == [keep])
            #expect(sim.state.summary().organizations == 1)
            #expect(try await sim.get(organizationPath(keep)).status == 200)
        }
    }

    @Test("The pre-populated fleet's organizations are listed with names and identifiers")
    func prepopulated() async throws {
        try await withSimulator(.frozen { $0.organizations = 4 }) { sim async throws in
            let items = try await sim.items(organizationsPath)
            #expect(items.count == 4)
            #expect(items.compactMap { $0["identifier"]?.stringValue } == ["org-1", "org-2", "org-3", "org-4"])
            #expect(items.allSatisfy { Self.isUUIDv4($0["id"]?.stringValue ?? "") })
            #expect(Set(items.compactMap { $0["id"]?.stringValue }).count == 4)
        }
    }
}
