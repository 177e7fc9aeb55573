import LeenAPI
import Testing

@testable import HealthdCore

/// `ConnectionObservation.matches(_:identifier:)` is how a poll finds a connection listed as before without
/// making its observation: it must answer exactly what making the observation and comparing would.
@Suite("Observation matches a listed connection")
struct ObservationMatchTests {
    typealias F = Fixture

    static func health(
        _ name: HealthName, description: String? = nil, owner: ResolutionOwner? = nil, details: [HealthDetail]? = nil
    ) -> ConnectionHealthStatus {
        var health = ConnectionHealthStatus(documented: name, details: details)!
        if let description { health.description = description }
        if let owner { health.resolutionOwner = owner }
        return health
    }

    /// Connections that differ from the first in one field each, and some that differ only in ways the
    /// observation does not keep (the order or repetition of details, an OAuth URL of an active connection).
    static var variants: [Connection] {
        let (d1, d2) = (F.detail("/a"), F.detail("/b"))
        let base = F.connection("tenable")
        func with(_ change: (inout Connection) -> Void) -> Connection {
            var connection = base
            change(&connection)
            return connection
        }
        return [
            base,
            with { $0.vendor = .msEntra },
            with { $0.id = ConnectionID("other-id") },
            with { $0.organizationID = OrganizationID("other-organization") },
            with { $0.state = nil },
            with { $0.state = .paused },
            with { $0.isActive = nil },
            with { $0.isActive = false },
            with { $0.health = nil },
            with { $0.health = health(.vendorServerError) },
            with { $0.health = health(.vendorServerError, details: []) },
            with { $0.health = health(.vendorServerError, details: [d1, d2]) },
            with { $0.health = health(.vendorServerError, details: [d2, d1]) },
            with { $0.health = health(.vendorServerError, details: [d1, d1, d2]) },
            with { $0.health = health(.vendorServerError, details: [d1, d1]) },
            with { $0.health = health(.vendorServerError, details: [d1]) },
            with { $0.health = health(.healthy, description: "Healthy again") },
            with { $0.health = health(.healthy, owner: .vendor) },
            with { $0.oauth2AuthorizeURL = "https://vendor.example/authorize" },
            with {
                $0.state = .pending
                $0.oauth2AuthorizeURL = "https://vendor.example/authorize"
            },
            with {
                $0.state = .pending
                $0.oauth2AuthorizeURL = "https://vendor.example/authorize?again"
            },
            with { $0.state = .pending },
            with { $0.organizationName = "Only in one example" },
        ]
    }

    @Test("matches(_:identifier:) is making the observation and comparing, for every pair of variants")
    func sameAnswerAsComparing() {
        var matched = 0
        for kept in Self.variants {
            for identifier in ["tenable", "other"] {
                let observation = ConnectionObservation(kept, identifier: identifier)
                for listed in Self.variants {
                    for listedAs in ["tenable", "other"] {
                        let expected = ConnectionObservation(listed, identifier: listedAs) == observation
                        #expect(
                            observation.matches(listed, identifier: listedAs) == expected,
                            "\(kept) as \(identifier) against \(listed) as \(listedAs)")
                        if expected { matched += 1 }
                    }
                }
            }
        }
        // Pairs that differ only in what the observation drops must have been among them.
        #expect(matched > 2 * Self.variants.count)
    }

    @Test("Details compared in place answer as a set of them would, repeated and long lists included")
    func sameDetails() {
        let universe = (0..<3).map { F.detail("/\($0)") }
        var lists: [[HealthDetail]] = [[]]
        for _ in 0..<4 { lists += lists.filter { $0.count == lists.last!.count }.flatMap { list in universe.map { list + [$0] } } }
        let sets = (0..<8).map { mask in Set(universe.indices.filter { mask & (1 << $0) != 0 }.map { universe[$0] }) }
        for list in lists {
            for kept in sets {
                #expect(ConnectionObservation.sameDetails(list, kept) == (Set(list) == kept), "\(list) against \(kept)")
            }
        }
        let long = (0..<12).map { F.detail("/long\($0)") }
        #expect(ConnectionObservation.sameDetails(long + long, Set(long)))
        #expect(!ConnectionObservation.sameDetails(long, Set(long.dropLast())))
    }
}
