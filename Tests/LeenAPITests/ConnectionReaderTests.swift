import Foundation
import Testing

@testable import LeenAPI

/// ``ConnectionReader`` reads a listed connection by hand: what it reads must be what `JSONDecoder` reads, it
/// must read the forms Leen and leen-sim send, and give up on the rest.
@Suite("Connection reader")
struct ConnectionReaderTests {
    func byHand(_ json: some DataProtocol) -> Connection? { Data(json).withUnsafeBytes { ConnectionReader.read($0) } }
    func decoded(_ json: some DataProtocol) -> Connection? { try? JSONDecoder().decode(Connection.self, from: Data(json)) }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Every connection in the fixtures: the documented responses, and the items of the documented pages.
    static func fixtureItems() throws -> [Data] {
        var items: [Data] = []
        for name in ["connection-create-current", "connection-create-oldest", "connection-demo-mock", "connection-get", "connection-unknown-values"] {
            items.append(try Data(contentsOf: fixtures.appendingPathComponent("\(name).json")))
        }
        for name in ["page-cursor", "page-cursor-minimal", "page-offset", "page-offset-no-total"] {
            let page = try Data(contentsOf: fixtures.appendingPathComponent("\(name).json"))
            let elements = try #require(page.withUnsafeBytes { JSONStructure($0, arrayKey: "items")?.elements })
            items += elements.map { page[$0] }
        }
        return items
    }

    @Test("the documented connections and pages read as JSONDecoder reads them")
    func fixturesReadAlike() throws {
        let items = try Self.fixtureItems()
        var read = 0
        for item in items {
            let hand = byHand(item)
            if hand != nil { read += 1 }
            #expect(hand == nil || hand == decoded(item), "\(String(decoding: item, as: UTF8.self))")
        }
        #expect(read >= items.count - 2, "read \(read) of \(items.count) by hand")
    }

    @Test("leen-sim's and the benchmarks' items are read by hand, as JSONDecoder reads them")
    func encodedItemsReadAlike() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let owners: [ResolutionOwner] = [.leen, .customer, .vendor, "SOMEONE_NEW"]
        var connections: [Connection] = []
        for index in 0..<40 {
            let health: ConnectionHealthStatus? =
                switch index % 4 {
                case 0: nil
                case 1: ConnectionHealthStatus(documented: .healthy)
                case 2:
                    ConnectionHealthStatus(
                        documented: .vendorServerError,
                        details: [
                            HealthDetail(endpoint: "https://api.vendor.example/v1/alerts?page=\(index)", dataExportType: .alerts),
                            HealthDetail(endpoint: "https://x.example/é", dataExportType: "vulnerabilities"),
                        ])
                default:
                    ConnectionHealthStatus(
                        name: "A_NAME_LEEN_ADDED_LATER", status: "DEGRADED", description: index.isMultiple(of: 3) ? nil : "ünïcode ✓",
                        resolutionOwner: owners[index % owners.count], details: [])
                }
            connections.append(
                Connection(
                    id: ConnectionID(String(format: "00000000-0000-4000-8000-%012d", index)),
                    vendor: index.isMultiple(of: 5) ? "VENDOR_NOT_YET_DOCUMENTED" : .crowdStrikeSpotlight,
                    isActive: index.isMultiple(of: 7) ? nil : index.isMultiple(of: 2),
                    refreshIntervalSecs: index * 1_000, timeoutSecs: Int.max - index,
                    organizationID: "3c90c3cc-0d44-4b50-8888-8dd25736052a",
                    state: index.isMultiple(of: 6) ? nil : (index.isMultiple(of: 4) ? .paused : "SUSPENDED"),
                    oauth2AuthorizeURL: index.isMultiple(of: 3) ? "https://auth.example/authorize?state=\(index)" : nil,
                    identifier: index.isMultiple(of: 8) ? nil : "connection-\(index)",
                    createdAt: Timestamp(rawValue: "2026-01-01T00:00:00Z"),
                    updatedAt: index.isMultiple(of: 2) ? Timestamp(rawValue: "2026-11-30T12:00:00.123456+00:00") : nil,
                    health: health, organizationName: index.isMultiple(of: 9) ? "Acme" : nil,
                    direction: index.isMultiple(of: 10) ? .source : nil))
        }
        for connection in connections {
            for data in [try encoder.encode(connection), try JSONEncoder.prettySorted(connection)] {
                let hand = try #require(byHand(data), "not read by hand: \(String(decoding: data, as: UTF8.self))")
                #expect(hand == decoded(data))
                #expect(hand == connection)
            }
        }
    }

    @Test("gives up on what only JSONDecoder should judge")
    func givesUp() throws {
        let item = #"{"id":"c","vendor":"TENABLE","refresh_interval_secs":1,"timeout_secs":2,"organization_id":"o"}"#
        #expect(byHand(Data(item.utf8)) == decoded(Data(item.utf8)))
        #expect(byHand(Data(item.utf8)) != nil)
        let refused: [String] = [
            // Escapes, an unknown member, a repeated one.
            item.replacingOccurrences(of: #""c""#, with: #""\u0063""#),
            item.replacingOccurrences(of: #""id""#, with: #""new_field":[1,{"a":null}],"id""#),
            item.replacingOccurrences(of: #""vendor":"TENABLE""#, with: #""vendor":"TENABLE","vendor":"QUALYS""#),
            // Numbers that are not plain non-negative integers, or do not fit.
            item.replacingOccurrences(of: #":1,"#, with: #":-1,"#),
            item.replacingOccurrences(of: #":1,"#, with: #":1.0,"#),
            item.replacingOccurrences(of: #":1,"#, with: #":1e3,"#),
            item.replacingOccurrences(of: #":1,"#, with: #":01,"#),
            item.replacingOccurrences(of: #":1,"#, with: #":99999999999999999999,"#),
            // Wrong types, missing or null required members, broken literals and structure.
            item.replacingOccurrences(of: #""TENABLE""#, with: "7"),
            item.replacingOccurrences(of: #""vendor":"TENABLE","#, with: ""),
            item.replacingOccurrences(of: #""TENABLE""#, with: "null"),
            item.replacingOccurrences(of: #""id""#, with: #""is_active":nul,"id""#),
            item.replacingOccurrences(of: #""id""#, with: #""is_active":truex,"id""#),
            item.replacingOccurrences(of: #""id""#, with: #""health":{"name":"HEALTHY","status":"HEALTHY"},"id""#),
            String(item.dropLast()),
            item + ",",
            "[" + item + "]",
            item.replacingOccurrences(of: #""c""#, with: "\"c\u{1}\""),
        ]
        for text in refused {
            #expect(byHand(Data(text.utf8)) == nil, "read: \(text)")
        }
        // Bytes that are not UTF-8.
        var bytes = Data(item.utf8)
        bytes[bytes.firstIndex(of: UInt8(ascii: "c"))!] = 0xFF
        #expect(byHand(bytes) == nil)
    }
}

extension ConnectionReaderTests {
    @Test("a page's count, total and cursors: null, plain integers and strings by hand, the rest left")
    func pageMembers() {
        func integer(_ text: String) -> Int?? { Data(text.utf8).withUnsafeBytes { ConnectionReader.optionalInteger($0) } }
        func string(_ text: String) -> String?? { Data(text.utf8).withUnsafeBytes { ConnectionReader.optionalString($0) } }
        #expect(integer("123") == .some(123))
        #expect(integer(" 0 ") == .some(0))
        #expect(integer("null") == .some(nil))
        for refused in ["-1", "1.5", "1e2", "01", "\"5\"", "nul", "", "5 6", "true"] {
            #expect(integer(refused) == nil, "\(refused)")
        }
        #expect(string(#""eyJjIjoxfQ==""#) == .some("eyJjIjoxfQ=="))
        #expect(string("null") == .some(nil))
        for refused in [#""a\"b""#, "5", #""a"#, #""a" "b""#, ""] {
            #expect(string(refused) == nil, "\(refused)")
        }
    }
}

extension JSONEncoder {
    /// `value` pretty-printed: whitespace between every token.
    static func prettySorted<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        return try encoder.encode(value)
    }
}
