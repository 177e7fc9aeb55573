import HealthdCore
import LeenAPI
import Testing

@Suite("Provisioning planner")
struct ProvisioningPlannerTests {
    typealias F = Fixture

    static func declared(_ identifier: String, _ vendor: Vendor = .tenable, hash: String? = "h1") -> DeclaredConnection
    {
        DeclaredConnection(identifier: identifier, vendor: vendor, credentialsHash: hash)
    }

    static func plan(
        _ declared: [DeclaredConnection], _ existing: [Connection], applied: [String: String] = [:]
    ) -> [ProvisioningAction] {
        ProvisioningPlanner.plan(declared: declared, existing: existing, applied: applied)
    }

    @Test func missingIsCreated() {
        let actions = Self.plan([Self.declared("tenable-prod"), Self.declared("entra", .msEntra, hash: nil)], [])
        #expect(
            actions == [
                .create(identifier: "tenable-prod", vendor: .tenable), .create(identifier: "entra", vendor: .msEntra),
            ])
        #expect(actions.map(\.verb) == ["create", "create"])
    }

    @Test func anUnreadableItemThatMayBeTheConnectionBlocksItsCreation() {
        let declared = [Self.declared("a"), Self.declared("b"), Self.declared("c")]
        // Its identifier is readable: only that one is blocked; the others are created.
        let named = ProvisioningPlanner.plan(
            declared: declared, existing: [],
            unreadable: [UndecodableItem(index: 0, id: "conn-b", identifier: "b", reason: ".refresh_interval_secs: expected Int, found null")],
            applied: [:])
        #expect(named.map(\.verb) == ["create", "blocked", "create"])
        guard case .blocked(_, _, let why) = named[1] else { return }
        #expect(why.contains("connection conn-b") && why.contains("refresh_interval_secs"))
        // Its identifier is unreadable: it may be any of them, so nothing is created; what exists is adopted.
        let anonymous = ProvisioningPlanner.plan(
            declared: declared, existing: [F.connection("a")], unreadable: [UndecodableItem(index: 3, reason: ": expected object")],
            applied: [:])
        #expect(anonymous.map(\.verb) == ["adopt", "blocked", "blocked"])
    }

    @Test func presentWithoutRecordedHashIsAdopted() {
        let actions = Self.plan([Self.declared("tenable-prod")], [F.connection("tenable-prod")])
        #expect(actions == [.adopt(identifier: "tenable-prod", connectionID: F.connectionID("tenable-prod"))])
        #expect(actions.first?.verb == "adopt")
    }

    @Test(
        arguments: [
            ("h1", "h1", "unchanged"), ("h2", "h1", "update"), (nil, "h1", "unchanged"),
        ] as [(String?, String, String)])
    func recordedHashDecides(_ declaredHash: String?, _ recorded: String, _ verb: String) {
        let id = F.connectionID("x")
        let actions = Self.plan([Self.declared("x", hash: declaredHash)], [F.connection("x")], applied: ["x": recorded])
        #expect(actions.map(\.verb) == [verb])
        #expect(
            actions
                == [
                    verb == "update"
                        ? .updateCredentials(identifier: "x", connectionID: id)
                        : .unchanged(identifier: "x", connectionID: id)
                ])
    }

    @Test func otherVendorIsAConflict() {
        let actions = Self.plan(
            [Self.declared("x", .qualys)], [F.connection("x", vendor: .tenable)], applied: ["x": "h1"])
        #expect(
            actions == [
                .vendorMismatch(
                    identifier: "x", connectionID: F.connectionID("x"), declared: .qualys, existing: .tenable)
            ])
        #expect(actions.first?.verb == "conflict")
    }

    @Test func undeclaredAndAnonymousLiveConnectionsAreUnmanaged() {
        let actions = Self.plan(
            [Self.declared("x")],
            [
                F.connection("other", vendor: .snyk), F.connection("x"), F.connection(nil, id: "anon", vendor: .jira),
                F.connection("gone", state: .deleted), F.connection(nil, id: "anon-gone", state: .deleted),
            ])
        #expect(
            actions == [
                .adopt(identifier: "x", connectionID: F.connectionID("x")),
                .unmanaged(connectionID: F.connectionID("other"), identifier: "other", vendor: .snyk),
                .unmanaged(connectionID: "anon", identifier: nil, vendor: .jira),
            ])
        #expect(actions.map(\.verb) == ["adopt", "unmanaged", "unmanaged"])
    }

    @Test func deletedConnectionWithTheIdentifierMeansCreate() {
        let actions = Self.plan(
            [Self.declared("x")], [F.connection("x", state: .deleted, isActive: false)], applied: ["x": "h1"])
        #expect(actions == [.create(identifier: "x", vendor: .tenable)])
    }

    @Test(arguments: [false, true])
    func newestLiveDuplicateIsChosen(_ reversed: Bool) {
        let existing = [
            F.connection("x", id: "old", createdAt: "2024-01-01T00:00:00Z"),
            F.connection("x", id: "new", createdAt: "2024-05-01T00:00:00Z"),
            F.connection("x", id: "deleted", state: .deleted, createdAt: "2024-09-01T00:00:00Z"),
        ]
        let actions = Self.plan([Self.declared("x")], reversed ? existing.reversed() : existing, applied: ["x": "h0"])
        #expect(actions == [.updateCredentials(identifier: "x", connectionID: "new")])
    }
}
