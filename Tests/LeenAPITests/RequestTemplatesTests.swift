import AsyncHTTPClient
import Foundation
import LeenAPI
import LeenSimulator
import NIOHTTP1
import Testing

@testable import LeenAPIClient

@Suite("Requests parsed once for the URLs a monitor asks for again")
struct RequestTemplatesTests {
    @Test("Repeated GETs reuse a kept request, without its headers or body; cursors and writes are never kept")
    func keptRequests() async throws {
        try await withClient(frozenFleet(organizations: 1, connections: 12)) { client, simulator, recorder in
            let org = simulator.state.organizationIDs()[0]
            // Offset pages: each URL kept once, the same items read through them the second time.
            let first = try await client.allConnections(organizationID: org, pageSize: 5, mode: .offset).items
            let kept = client.templates.kept
            #expect(kept.count == 3)
            #expect(kept.keys.allSatisfy { $0.contains("offset=") && $0.contains("limit=5") })
            let again = try await client.allConnections(organizationID: org, pageSize: 5, mode: .offset).items
            #expect(again.map(\.id) == first.map(\.id))
            #expect(client.templates.kept.keys.sorted() == kept.keys.sorted())
            #expect(recorder.count("list_connections") == 6)

            // A cursor walk: its first page (no cursor yet) only.
            let walked = try await client.allConnections(organizationID: org, pageSize: 5, mode: .cursor).items
            #expect(Set(walked.map(\.id)) == Set(first.map(\.id)))
            let afterCursor = client.templates.kept
            #expect(afterCursor.count == 4)
            #expect(!afterCursor.keys.contains { $0.contains("cursor=") })

            // Writes are never kept; a GET by id is.
            let created = try await client.createConnection(organizationID: org, 
                .init(
                    vendor: .tenable, credentials: VendorCredentials(["client_key": "ck", "secret_key": "sk"]),
                    identifier: "kept-test"))
            _ = try await client.getConnection(organizationID: org, connectionID: created.id)
            _ = try await client.deleteConnection(organizationID: org, connectionID: created.id)
            let final = client.templates.kept
            #expect(final.count == 5)
            #expect(final.values.allSatisfy { $0.method == .GET })
            // Nothing secret is kept: the key goes on each attempt's copy.
            #expect(final.values.allSatisfy { $0.headers.isEmpty && $0.body == nil })
        }
    }

    @Test("At most the limit of URLs are kept; beyond it requests are made as before")
    func bounded() throws {
        let templates = RequestTemplates()
        for index in 0..<(RequestTemplates.limit + 10) {
            _ = try templates.request(url: "http://localhost/v1/x?offset=\(index)", method: .GET, keep: true)
        }
        #expect(templates.kept.count == RequestTemplates.limit)
        let beyond = try templates.request(url: "http://localhost/v1/x?offset=999999", method: .GET, keep: true)
        #expect(beyond.url.absoluteString == "http://localhost/v1/x?offset=999999")
        _ = try templates.request(url: "http://localhost/v1/y", method: .GET, keep: false)
        #expect(templates.kept["http://localhost/v1/y"] == nil)
    }
}
