import Foundation
import LeenAPI
import LeenSimulator
import Testing

@Suite("Pagination")
struct PaginationTests {
    static func config(connections: Int = 23, _ configure: (inout SimulatorConfiguration) -> Void = { _ in })
        -> SimulatorConfiguration
    {
        .frozen {
            $0.organizations = 1
            $0.connections = connections
            configure(&$0)
        }
    }

    static func organization(_ sim: Sim) throws -> String {
        try #require(sim.state.organizationIDs().first).rawValue
    }

    static func ids(_ page: JSONValue) -> [String] {
        page["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
    }

    @Test("An offset walk covers every connection exactly once, with correct count and total")
    func offsetWalk() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let path = connectionsPath(try Self.organization(sim))
            let all = Self.ids(try #require(try await sim.get(path).json))
            #expect(all.count == 23)
            #expect(Set(all).count == 23)

            var walked: [String] = []
            var counts: [Int] = []
            var offset = 0
            while true {
                let reply = try await sim.get(path + "?limit=5&offset=\(offset)")
                #expect(reply.status == 200)
                let page = try #require(reply.json)
                #expect(page.keys == ["count", "total", "items"])
                #expect(page["total"]?.intValue == 23)
                let items = Self.ids(page)
                #expect(page["count"]?.intValue == items.count)
                if items.isEmpty { break }
                counts.append(items.count)
                walked += items
                offset += items.count
                try #require(offset <= 100, "the walk does not end")
            }
            #expect(counts == [5, 5, 5, 5, 3])
            #expect(walked == all)
        }
    }

    @Test("The default limit is 100")
    func defaultLimit() async throws {
        try await withSimulator(Self.config(connections: 150)) { sim async throws in
            let page = try #require(try await sim.get(connectionsPath(try Self.organization(sim))).json)
            #expect(page["count"]?.intValue == 100)
            #expect(page["total"]?.intValue == 150)
            let rest = try #require(try await sim.get(connectionsPath(try Self.organization(sim)) + "?offset=100").json)
            #expect(rest["count"]?.intValue == 50)
            #expect(Set(Self.ids(page)).isDisjoint(with: Self.ids(rest)))
        }
    }

    @Test("An offset past the end gives an empty page with the total")
    func offsetPastEnd() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let page = try #require(try await sim.get(connectionsPath(try Self.organization(sim)) + "?offset=500").json)
            #expect(page["count"]?.intValue == 0)
            #expect(page["items"]?.arrayValue?.isEmpty == true)
            #expect(page["total"]?.intValue == 23)
        }
    }

    @Test("excludeTotal=true sends total as null")
    func excludeTotal() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let path = connectionsPath(try Self.organization(sim))
            let page = try #require(try await sim.get(path + "?excludeTotal=true&limit=4").json)
            #expect(page.keys == ["count", "total", "items"])
            #expect(page["total"]?.isNull == true)
            #expect(page["count"]?.intValue == 4)
            let included = try #require(try await sim.get(path + "?excludeTotal=false&limit=4").json)
            #expect(included["total"]?.intValue == 23)
            let organizations = try #require(try await sim.get(organizationsPath + "?excludeTotal=true").json)
            #expect(organizations["total"]?.isNull == true)
            #expect(organizations["count"]?.intValue == 1)
        }
    }

    @Test("Cursor mode: base64 {\"offset\":N} cursors, first page without previous, last page without next")
    func cursorWalk() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let path = connectionsPath(try Self.organization(sim))
            let all = Self.ids(try #require(try await sim.get(path).json))

            let first = try #require(try await sim.get(path + "?enableCursor=true&limit=10").json)
            #expect(first.keys == ["count", "total", "items", "next_cursor", "previous_cursor"])
            #expect(first["previous_cursor"]?.isNull == true)
            #expect(first["count"]?.intValue == 10)
            #expect(first["total"]?.intValue == 23)
            let next = try #require(first["next_cursor"]?.stringValue)
            #expect(next == Data(#"{"offset":10}"#.utf8).base64EncodedString())
            #expect(decodeCursor(next) == .object(["offset": .integer(10)]))

            var walked = Self.ids(first)
            var pages: [JSONValue] = [first]
            var cursor: String? = next
            while let current = cursor {
                let encoded = try #require(current.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
                let reply = try await sim.get(path + "?enableCursor=true&limit=10&cursor=\(encoded)")
                #expect(reply.status == 200)
                let page = try #require(reply.json)
                walked += Self.ids(page)
                pages.append(page)
                cursor = page["next_cursor"]?.stringValue
                try #require(pages.count <= 10, "the walk does not end")
            }
            #expect(walked == all)
            #expect(pages.map { Self.ids($0).count } == [10, 10, 3])
            let last = try #require(pages.last)
            #expect(last["next_cursor"]?.isNull == true)
            let previous = try #require(last["previous_cursor"]?.stringValue)
            #expect(decodeCursor(previous) == .object(["offset": .integer(10)]))
            #expect(decodeCursor(try #require(pages[1]["previous_cursor"]?.stringValue)) == .object(["offset": .integer(0)]))

            // Following previous_cursor from the last page gives the middle page again.
            let encoded = try #require(previous.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
            let back = try #require(try await sim.get(path + "?enableCursor=true&limit=10&cursor=\(encoded)").json)
            #expect(Self.ids(back) == Self.ids(pages[1]))
        }
    }

    @Test("The docs' example cursor eyJvZmZzZXQiOjJ9 starts at offset 2")
    func docsExampleCursor() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let path = connectionsPath(try Self.organization(sim))
            let all = Self.ids(try #require(try await sim.get(path).json))
            let page = try #require(try await sim.get(path + "?enableCursor=true&limit=3&cursor=eyJvZmZzZXQiOjJ9").json)
            #expect(Self.ids(page) == Array(all[2..<5]))
            #expect(decodeCursor(try #require(page["previous_cursor"]?.stringValue)) == .object(["offset": .integer(0)]))
            #expect(decodeCursor(try #require(page["next_cursor"]?.stringValue)) == .object(["offset": .integer(5)]))
        }
    }

    @Test("cursorEnvelope .minimal: only items, next_cursor and previous_cursor")
    func minimalEnvelope() async throws {
        try await withSimulator(Self.config { $0.cursorEnvelope = .minimal }) { sim async throws in
            let path = connectionsPath(try Self.organization(sim))
            let page = try #require(try await sim.get(path + "?enableCursor=true&limit=10").json)
            #expect(page.keys == ["items", "next_cursor", "previous_cursor"])
            #expect(page["items"]?.arrayValue?.count == 10)
            // Offset mode is unaffected.
            let offsetPage = try #require(try await sim.get(path + "?limit=10").json)
            #expect(offsetPage.keys == ["count", "total", "items"])
        }
    }

    @Test("cursorSupport=false ignores enableCursor and cursor")
    func cursorSupportOff() async throws {
        try await withSimulator(Self.config { $0.cursorSupport = false }) { sim async throws in
            let path = connectionsPath(try Self.organization(sim))
            let plain = try #require(try await sim.get(path + "?limit=5").json)
            let cursor = Data(#"{"offset":10}"#.utf8).base64EncodedString()
            let encoded = try #require(cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
            let page = try #require(try await sim.get(path + "?enableCursor=true&limit=5&cursor=\(encoded)").json)
            #expect(page.keys == ["count", "total", "items"])
            #expect(Self.ids(page) == Self.ids(plain))
            // Even an invalid cursor is not looked at.
            #expect(try await sim.get(path + "?enableCursor=true&cursor=!!!").status == 200)
        }
    }

    @Test("Without enableCursor a cursor parameter is ignored")
    func cursorWithoutEnable() async throws {
        try await withSimulator(Self.config()) { sim async throws in
            let path = connectionsPath(try Self.organization(sim))
            let plain = try #require(try await sim.get(path + "?limit=5").json)
            let page = try #require(try await sim.get(path + "?limit=5&cursor=eyJvZmZzZXQiOjJ9").json)
            #expect(page == plain)
            #expect(page["next_cursor"] == nil)
        }
    }

    @Test("Organizations paginate the same way")
    func organizationPages() async throws {
        try await withSimulator(.frozen { $0.organizations = 7 }) { sim async throws in
            let expected = sim.state.organizationIDs().map(\.rawValue)
            var walked: [String] = []
            for offset in stride(from: 0, to: 9, by: 3) {
                let page = try #require(try await sim.get(organizationsPath + "?limit=3&offset=\(offset)").json)
                #expect(page["total"]?.intValue == 7)
                walked += Self.ids(page)
            }
            #expect(walked == expected)
            let cursorPage = try #require(try await sim.get(organizationsPath + "?limit=3&enableCursor=true").json)
            #expect(decodeCursor(try #require(cursorPage["next_cursor"]?.stringValue)) == .object(["offset": .integer(3)]))
        }
    }
}
