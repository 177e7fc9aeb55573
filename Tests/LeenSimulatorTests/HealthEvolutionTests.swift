import Foundation
import LeenAPI
import LeenSimulator
import Testing

@Suite("Health evolution")
struct HealthEvolutionTests {
    static let interval = 3600.0

    static func config(failureRate: Double, persistence: Double, seed: UInt64 = 7) -> SimulatorConfiguration {
        .frozen {
            $0.seed = seed
            $0.refreshIntervalSecs = Int(interval)
            $0.firstJobDelaySecs = 60
            $0.failureRate = failureRate
            $0.failurePersistence = persistence
        }
    }

    /// Creates `count` credentialed connections (TENABLE and QUALYS alternately) and runs their first job.
    static func fleet(_ sim: Sim, count: Int) async throws -> (organization: String, ids: [String]) {
        let organization = try await sim.createOrganization()
        var ids: [String] = []
        for n in 0..<count {
            let body =
                n.isMultiple(of: 2)
                ? tenableBody(identifier: "c\(n)")
                : #"{"vendor":"QUALYS","credentials":{"username":"u","password":"p"},"identifier":"c\#(n)"}"#
            let json = try await sim.createConnection(organization, body)
            ids.append(try #require(json["id"]?.stringValue))
        }
        sim.advance(60)
        return (organization, ids)
    }

    /// Every connection's health by id, from one list page.
    static func healthByID(_ sim: Sim, _ organization: String) async throws -> [String: JSONValue] {
        let items = try await sim.items(connectionsPath(organization) + "?limit=1000")
        var result: [String: JSONValue] = [:]
        for item in items {
            let health = try #require(item["health"])
            result[try #require(item["id"]?.stringValue)] = health
        }
        return result
    }

    /// Checks a health object against the documented table and the details rules.
    static func checkDocumented(_ health: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(health.keys == ["name", "status", "description", "resolution_owner", "details"],
            sourceLocation: sourceLocation)
        let name = try #require(health["name"]?.stringValue, sourceLocation: sourceLocation)
        let row = try #require(documentedHealthTable[name], "undocumented name \(name)", sourceLocation: sourceLocation)
        #expect(health["status"]?.stringValue == row.status, "\(name)", sourceLocation: sourceLocation)
        #expect(health["resolution_owner"]?.stringValue == row.owner, "\(name)", sourceLocation: sourceLocation)
        #expect(health["description"]?.stringValue == row.description, "\(name)", sourceLocation: sourceLocation)
        // The library's table agrees with the contract's.
        let documented = try #require(HealthName(rawValue: name).documented, sourceLocation: sourceLocation)
        #expect(documented.status.rawValue == row.status, sourceLocation: sourceLocation)
        #expect(documented.resolutionOwner.rawValue == row.owner, sourceLocation: sourceLocation)

        let details = try #require(health["details"], sourceLocation: sourceLocation)
        switch name {
        case "HEALTHY", "EXECUTION_TIMEOUT", "INTERNAL_ERROR":
            // No vendor endpoint is involved.
            #expect(details.isNull, "\(name) has details \(details)", sourceLocation: sourceLocation)
        case "VENDOR_SERVER_ERROR", "VENDOR_CLIENT_ERROR", "RATE_LIMIT_EXCEEDED":
            let array = try #require(details.arrayValue, "\(name) without details", sourceLocation: sourceLocation)
            #expect(!array.isEmpty, sourceLocation: sourceLocation)
            try checkDetails(array, sourceLocation: sourceLocation)
        case "UNAUTHORIZED":
            // Total (null) or partial (some export types).
            if let array = details.arrayValue {
                #expect(!array.isEmpty, sourceLocation: sourceLocation)
                try checkDetails(array, sourceLocation: sourceLocation)
            } else {
                #expect(details.isNull, sourceLocation: sourceLocation)
            }
        default:
            Issue.record("unexpected health name \(name)", sourceLocation: sourceLocation)
        }
    }

    static func checkDetails(_ details: [JSONValue], sourceLocation: SourceLocation) throws {
        var types: Set<String> = []
        for detail in details {
            #expect(detail.keys == ["endpoint", "data_export_type"], sourceLocation: sourceLocation)
            let endpoint = try #require(detail["endpoint"]?.stringValue, sourceLocation: sourceLocation)
            let url = try #require(URL(string: endpoint), sourceLocation: sourceLocation)
            // Never a real vendor host.
            #expect(url.host?.hasSuffix(".example") == true, "\(endpoint)", sourceLocation: sourceLocation)
            let type = try #require(detail["data_export_type"]?.stringValue, sourceLocation: sourceLocation)
            #expect(!type.isEmpty, sourceLocation: sourceLocation)
            #expect(types.insert(type).inserted, "duplicate export type \(type)", sourceLocation: sourceLocation)
        }
    }

    @Test("failureRate 1: every job fails with a documented name, status and owner")
    func alwaysFailing() async throws {
        try await withSimulator(Self.config(failureRate: 1, persistence: 0)) { sim async throws in
            let (organization, ids) = try await Self.fleet(sim, count: 30)
            var names: Set<String> = []
            for job in 0..<5 {
                let health = try await Self.healthByID(sim, organization)
                #expect(health.count == ids.count)
                for (id, value) in health {
                    #expect(value["status"]?.stringValue == "UNHEALTHY", "job \(job) \(id): \(value)")
                    #expect(value["name"]?.stringValue != "HEALTHY")
                    try Self.checkDocumented(value)
                    names.insert(value["name"]?.stringValue ?? "")
                }
                sim.advance(Self.interval)
            }
            // Over 150 draws every failure name shows up.
            #expect(names == Set(documentedHealthTable.keys).subtracting(["HEALTHY"]))
        }
    }

    @Test("failureRate 0: always HEALTHY with null details")
    func neverFailing() async throws {
        try await withSimulator(Self.config(failureRate: 0, persistence: 1)) { sim async throws in
            let (organization, _) = try await Self.fleet(sim, count: 10)
            for _ in 0..<8 {
                for (_, value) in try await Self.healthByID(sim, organization) {
                    #expect(value["name"]?.stringValue == "HEALTHY")
                    #expect(value["status"]?.stringValue == "HEALTHY")
                    #expect(value["resolution_owner"]?.stringValue == "LEEN")
                    #expect(value["details"]?.isNull == true)
                }
                sim.advance(Self.interval)
            }
            #expect(sim.state.summary().byHealth == ["HEALTHY": 10])
        }
    }

    @Test("With persistence 1 a failure repeats on every later job")
    func fullPersistence() async throws {
        try await withSimulator(Self.config(failureRate: 1, persistence: 1)) { sim async throws in
            let (organization, _) = try await Self.fleet(sim, count: 10)
            let first = try await Self.healthByID(sim, organization)
            for _ in 0..<4 {
                sim.advance(Self.interval)
                #expect(try await Self.healthByID(sim, organization) == first)
            }
        }
    }

    @Test("With persistence 0 failures are redrawn on each job")
    func noPersistenceChanges() async throws {
        try await withSimulator(Self.config(failureRate: 1, persistence: 0)) { sim async throws in
            let (organization, _) = try await Self.fleet(sim, count: 20)
            let first = try await Self.healthByID(sim, organization)
            sim.advance(Self.interval)
            let second = try await Self.healthByID(sim, organization)
            let changed = first.keys.filter { first[$0] != second[$0] }
            #expect(!changed.isEmpty)
            // Those that did not change are exactly the latched CUSTOMER failures, or a coincidental redraw.
            let unchangedNonCustomer = first.keys.filter {
                first[$0] == second[$0] && first[$0]?["resolution_owner"]?.stringValue != "CUSTOMER"
            }
            #expect(unchangedNonCustomer.count < first.count / 2)
        }
    }

    @Test("Health changes only when a job finishes; updated_at is the job's time")
    func healthChangesAtJobTimes() async throws {
        try await withSimulator(Self.config(failureRate: 1, persistence: 0)) { sim async throws in
            let (organization, ids) = try await Self.fleet(sim, count: 12)
            let atFirstJob = try await Self.healthByID(sim, organization)
            // Between jobs nothing moves.
            sim.advance(Self.interval - 1)
            #expect(try await Self.healthByID(sim, organization) == atFirstJob)
            sim.advance(1)
            let atSecondJob = try await Self.healthByID(sim, organization)
            for id in ids where atSecondJob[id] != atFirstJob[id] {
                let json = try await sim.connection(organization, id)
                #expect(json["updated_at"]?.stringValue == timestamp(60 + Self.interval), "\(id)")
            }
            #expect(atSecondJob != atFirstJob)
        }
    }

    @Test("UNAUTHORIZED (CUSTOMER) persists across jobs until a PATCH brings new credentials")
    func customerFailureLatches() async throws {
        try await withSimulator(Self.config(failureRate: 1, persistence: 0)) { sim async throws in
            let (organization, ids) = try await Self.fleet(sim, count: 40)
            let first = try await Self.healthByID(sim, organization)
            let latched = ids.filter { first[$0]?["name"]?.stringValue == "UNAUTHORIZED" }
            try #require(!latched.isEmpty, "no connection started UNAUTHORIZED with this seed")
            for id in latched {
                #expect(first[id]?["resolution_owner"]?.stringValue == "CUSTOMER")
                let test = try await sim.get(connectionPath(organization, id) + "/test")
                #expect(test.json?["is_valid"]?.boolValue == false)
            }

            // Several jobs later (with persistence 0, so only the latch can keep them) they are unchanged.
            for _ in 0..<5 {
                sim.advance(Self.interval)
                let now = try await Self.healthByID(sim, organization)
                for id in latched { #expect(now[id] == first[id], "\(id) changed without new credentials") }
            }

            // A PATCH without credentials does not release the latch.
            for id in latched {
                #expect(try await sim.patch(connectionPath(organization, id), #"{"identifier":"renamed"}"#).status == 200)
            }
            sim.advance(Self.interval)
            let afterRename = try await Self.healthByID(sim, organization)
            for id in latched { #expect(afterRename[id] == first[id]) }

            // New credentials: health still reflects the last job until the next one runs.
            for id in latched {
                // The fleet alternates TENABLE (even) and QUALYS (odd).
                let tenable = try #require(ids.firstIndex(of: id)).isMultiple(of: 2)
                let credentials =
                    tenable
                    ? #"{"credentials":{"client_key":"new","secret_key":"new"}}"#
                    : #"{"credentials":{"username":"new","password":"new"}}"#
                let reply = try await sim.patch(connectionPath(organization, id), credentials)
                #expect(reply.status == 200, "\(reply)")
                #expect(reply.json?["health"] == first[id])
            }
            sim.advance(Self.interval)
            let afterCredentials = try await Self.healthByID(sim, organization)
            // The next job is a fresh draw: with failureRate 1 it still fails, but not all as UNAUTHORIZED again.
            for id in latched {
                let health = try #require(afterCredentials[id])
                try Self.checkDocumented(health)
                #expect(health["status"]?.stringValue == "UNHEALTHY")
            }
            #expect(latched.contains { afterCredentials[$0]?["name"]?.stringValue != "UNAUTHORIZED" })
        }
    }

    @Test("A health set through the control API is scripted: random evolution leaves it alone")
    func scriptedHealthIsKept() async throws {
        try await withSimulator(Self.config(failureRate: 1, persistence: 0)) { sim async throws in
            let (organization, ids) = try await Self.fleet(sim, count: 2)
            let healthy = try #require(ConnectionHealthStatus(documented: .healthy))
            try sim.state.setHealth(ids[0], healthy)
            for _ in 0..<4 {
                sim.advance(Self.interval)
                let json = try await sim.connection(organization, ids[0])
                #expect(json["health"]?["name"]?.stringValue == "HEALTHY")
                #expect(try await sim.connection(organization, ids[1])["health"]?["status"]?.stringValue == "UNHEALTHY")
            }
        }
    }

    @Test("A scripted credential failure clears at the first job after new credentials; other scripted failures stay")
    func scriptedCredentialFailureEndsWithNewCredentials() async throws {
        try await withSimulator(Self.config(failureRate: 0, persistence: 0)) { sim async throws in
            let (organization, ids) = try await Self.fleet(sim, count: 2)
            try sim.state.setHealth(ids[0], try #require(ConnectionHealthStatus(documented: .unauthorized)))
            try sim.state.setHealth(ids[1], try #require(ConnectionHealthStatus(documented: .vendorServerError)))
            sim.advance(Self.interval)
            #expect(try await sim.connection(organization, ids[0])["health"]?["name"]?.stringValue == "UNAUTHORIZED")

            // The fleet alternates TENABLE (even) and QUALYS (odd).
            let bodies = [
                #"{"credentials":{"client_key":"new-key","secret_key":"new-secret"}}"#,
                #"{"credentials":{"username":"new-user","password":"new-password"}}"#,
            ]
            for (id, body) in zip(ids, bodies) {
                #expect(try await sim.patch(connectionPath(organization, id), body).status == 200)
            }
            // Until the next job the health is the last job's; then the credential failure is gone.
            #expect(try await sim.connection(organization, ids[0])["health"]?["name"]?.stringValue == "UNAUTHORIZED")
            sim.advance(Self.interval)
            #expect(try await sim.connection(organization, ids[0])["health"]?["name"]?.stringValue == "HEALTHY")
            #expect(try await sim.get(connectionPath(organization, ids[0]) + "/test").json?["is_valid"]?.boolValue == true)
            #expect(
                try await sim.connection(organization, ids[1])["health"]?["name"]?.stringValue == "VENDOR_SERVER_ERROR")
        }
    }

    @Test("The documented table is what the simulator serves for every name set by control")
    func documentedMapping() async throws {
        try await withSimulator(Self.config(failureRate: 0, persistence: 0)) { sim async throws in
            let (organization, ids) = try await Self.fleet(sim, count: 1)
            for name in HealthName.documentedValues {
                let reply = try await sim.send(
                    "PUT", "/_sim/connections/\(ids[0])/health", body: #"{"name":"\#(name.rawValue)"}"#, key: nil)
                #expect(reply.status == 200)
                let health = try #require(try await sim.connection(organization, ids[0])["health"])
                #expect(health["name"]?.stringValue == name.rawValue)
                let row = try #require(documentedHealthTable[name.rawValue])
                #expect(health["status"]?.stringValue == row.status)
                #expect(health["resolution_owner"]?.stringValue == row.owner)
                #expect(health["description"]?.stringValue == row.description)
            }
        }
    }
}
