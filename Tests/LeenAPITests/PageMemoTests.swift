import Foundation
import Testing

@testable import LeenAPI

/// ``PageMemo`` must read every page exactly as `JSONDecoder` reads ``Page`` (items, unreadable items, page
/// fields, errors), and decode only the items whose bytes it has not seen in the walk before.
@Suite("Page memo")
struct PageMemoTests {
    /// What a page says, for comparing two readings.
    struct Reading: Equatable {
        var items: [Connection]
        var undecodable: [UndecodableItem]
        var count: Int?
        var total: Int?
        var nextCursor: String?
        var previousCursor: String?
        var isCursorPage: Bool

        init(_ page: Page<Connection>) {
            (items, undecodable, count, total) = (page.items, page.undecodable, page.count, page.total)
            (nextCursor, previousCursor, isCursorPage) = (page.nextCursor, page.previousCursor, page.isCursorPage)
        }
    }

    /// Both readings of `body`: the memo's (twice, the second from memory) and `JSONDecoder`'s; equal results
    /// or both errors with the same description.
    func expectSameReading(_ body: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let data = Data(body.utf8)
        let memo = PageMemo()
        let whole = Result { Reading(try JSONDecoder().decode(Page<Connection>.self, from: data)) }
        for pass in 1...2 {
            let split = Result { Reading(try memo.decode(data)) }
            switch (whole, split) {
            case (.success(let a), .success(let b)): #expect(a == b, "pass \(pass)", sourceLocation: sourceLocation)
            case (.failure(let a), .failure(let b)):
                #expect(String(describing: a) == String(describing: b), "pass \(pass)", sourceLocation: sourceLocation)
            default: Issue.record("pass \(pass): JSONDecoder \(whole), memo \(split)", sourceLocation: sourceLocation)
            }
            memo.finishWalk()
        }
    }

    static func connection(_ n: Int, health: String = "HEALTHY") -> String {
        let owner = health == "HEALTHY" ? "LEEN" : "CUSTOMER"
        return """
            {"id":"3c90c3cc-0d44-4b50-8888-8dd2573605\(String(format: "%02d", n))","vendor":"TENABLE","is_active":true,\
            "refresh_interval_secs":14400,"timeout_secs":1800,"organization_id":"5d2f4c1e-8a7b-4c3d-9e0f-1a2b3c4d5e6f",\
            "state":"ACTIVE","oauth2_authorize_url":null,"identifier":"c\(n)","created_at":"2023-11-07T05:31:56Z",\
            "health":{"name":"\(health)","status":"\(health == "HEALTHY" ? "HEALTHY" : "UNHEALTHY")",\
            "description":"d \\"quoted\\" [x] {y}","resolution_owner":"\(owner)","details":null}}
            """
    }

    @Test("Pages read the same as with JSONDecoder: fixtures, odd items, odd page fields, broken documents")
    func sameReading() throws {
        for name in ["page-cursor", "page-cursor-minimal", "page-offset", "page-offset-no-total"] {
            expectSameReading(String(decoding: try Fixture.data(name), as: UTF8.self))
        }
        let (a, b) = (Self.connection(1), Self.connection(2, health: "UNAUTHORIZED"))
        for body in [
            #"{"count":2,"total":2,"items":[\#(a),\#(b)]}"#,
            #" { "items" : [ \#(a) , \#(b) ] , "next_cursor" : "ab\"c" , "previous_cursor" : null } "#,
            #"{"items":[]}"#,
            #"{"items":[\#(a),{"id":"x","identifier":"y"},[1,2],null,"s",3]}"#,  // unreadable items, as a page reads them
            #"{"items":[\#(a)],"count":"2"}"#,  // a page field of the wrong type fails the page
            #"{"items":[\#(a)],"extra":{"nested":[1,{"a":"]"}]}}"#,  // unknown members are ignored
            #"{"items":[\#(a)],"extra":{bad}}"#,  // but must be JSON
            #"{"items":[],"extra":{"x":1,"x":2}}"#,  // and JSONDecoder's to judge
            #"{"items":[\#(a.dropLast()),"refresh_interval_secs":1}]}"#,  // a repeated key in an item
            #"{"items":[\#(a),{"id":}]}"#,  // an item that is not JSON fails the page
            #"{"items":[\#(a)]"#, #"{"items":[\#(a)]} x"#, #"{"items":[\#(a) \#(b)]}"#, #"[\#(a)]"#, "", "{}",
            #"{"items":{"a":1}}"#, #"{"count":1}"#, "{\"items\":[\u{0}0]\n}", "{\"items\":[\"a\u{0}\"]}", #"{"items":[0,"x",true]}"#,
            #"{"items":[\#(a)],"items":[\#(b)]}"#,  // a repeated key is JSONDecoder's to read
            #"{"it\u0065ms":[\#(a)]}"#,  // so is an escaped one
        ] {
            expectSameReading(body)
        }
    }

    @Test("Only new or changed items are decoded; a failed walk keeps what it read")
    func onlyChangedItemsAreDecoded() throws {
        let memo = PageMemo()
        let items = (1...10).map { Self.connection($0) }
        func page(_ items: [String]) -> Data { Data(#"{"items":[\#(items.joined(separator: ","))]}"#.utf8) }

        #expect(try memo.decode(page(items)).items.count == 10)
        memo.finishWalk()
        #expect(memo.itemsDecoded == 10)
        #expect(memo.count == 10)

        var changed = items
        changed[3] = Self.connection(4, health: "UNAUTHORIZED")
        let read = try memo.decode(page(changed))
        #expect(memo.itemsDecoded == 11)
        #expect(read.items[3].health?.name == .unauthorized)
        #expect(read.items == (try JSONDecoder().decode(Page<Connection>.self, from: page(changed)).items))
        memo.finishWalk()

        // A walk that fails after its first page: its items still serve the next walk, and so do the last
        // completed walk's.
        _ = try memo.decode(page(Array(changed[0..<5])))
        _ = try memo.decode(page(Array(changed[0..<5])))
        _ = try memo.decode(page(Array(changed[5...])))
        memo.finishWalk()
        #expect(memo.itemsDecoded == 11)
        #expect(memo.count == 10)
        // The memo holds the last walk only: the item as it was two walks ago is decoded again.
        _ = try memo.decode(page(items))
        #expect(memo.itemsDecoded == 12)
    }

    @Test("A walk's first page that lists the last walk exactly is that walk's array; what follows reads on")
    func unchangedWalkIsShared() throws {
        let memo = PageMemo()
        let items = (1...12).map { Self.connection($0) }
        func page(_ items: some Collection<String>) -> Data { Data(#"{"items":[\#(items.joined(separator: ","))]}"#.utf8) }
        func expected(_ items: some Collection<String>) throws -> [Connection] {
            try JSONDecoder().decode(Page<Connection>.self, from: page(items)).items
        }
        func storage(_ items: [Connection]) -> UnsafeRawPointer? {
            items.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        }
        let first = Array(items[0..<10])
        #expect(try memo.decode(page(first)).items == (try expected(first)))
        memo.finishWalk()

        // Unchanged twice: the same array both times, nothing decoded, the memo as it was.
        let again = try memo.decode(page(first)).items
        memo.finishWalk()
        let once = try memo.decode(page(first)).items
        memo.finishWalk()
        #expect(again == (try expected(first)))
        #expect(storage(again) == storage(once))
        #expect(memo.itemsDecoded == 10)
        #expect(memo.count == 10)

        // The same first page, then one more: the walk holds both, only the new items decoded.
        #expect(try memo.decode(page(first)).items == (try expected(first)))
        #expect(try memo.decode(page(items[10...])).items == (try expected(items[10...])))
        memo.finishWalk()
        #expect(memo.itemsDecoded == 12)
        #expect(memo.count == 12)

        // A first page that is part of the last walk only, or that repeats an item, is read item by item.
        let repeated = first + [first[0]]
        let read = try memo.decode(page(repeated)).items
        #expect(read == (try expected(repeated)))
        #expect(storage(read) != storage(once))
        memo.finishWalk()
        #expect(memo.itemsDecoded == 12)
        #expect(memo.count == 10)

        // A walk that fails after a shared page leaves the memo able to read on: a changed item is the only
        // one decoded, and the completed walk after it is what the next one compares with.
        _ = try memo.decode(page(first))
        var changed = first
        changed[2] = Self.connection(3, health: "UNAUTHORIZED")
        #expect(try memo.decode(page(changed)).items == (try expected(changed)))
        memo.finishWalk()
        #expect(memo.itemsDecoded == 13)
        _ = try memo.decode(page(changed))
        memo.finishWalk()
        #expect(memo.itemsDecoded == 13)
    }

    @Test("Decoded items of a page share one copy of the strings they repeat")
    func repeatedStringsAreHeldOnce() throws {
        func storage(_ text: String?) -> UnsafeRawPointer? {
            text?.utf8.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress) } ?? nil
        }
        let other = Self.connection(4).replacingOccurrences(of: #"d \"quoted\" [x] {y}"#, with: "another description here")
        let body = #"{"items":[\#(Self.connection(1)),\#(Self.connection(2)),\#(Self.connection(3)),\#(other)]}"#
        let items = try PageMemo().decode(Data(body.utf8)).items
        #expect(items == (try JSONDecoder().decode(Page<Connection>.self, from: Data(body.utf8)).items))
        let descriptions = items.map { $0.health?.description }
        #expect(descriptions[0] == #"d "quoted" [x] {y}"#)
        #expect(descriptions[3] == "another description here")
        #expect(storage(descriptions[0]) != nil)
        #expect(storage(descriptions[1]) == storage(descriptions[0]))
        #expect(storage(descriptions[2]) == storage(descriptions[0]))
        #expect(storage(descriptions[3]) != storage(descriptions[0]))
        let organizationIDs = items.map(\.organizationID.rawValue)
        #expect(Set(organizationIDs.map(storage)).count == 1)
    }

    @Test("A decoded item's identifier is the configuration's string when declared, else its own")
    func declaredIdentifiersAreShared() throws {
        func storage(_ text: String?) -> UnsafeRawPointer? {
            text?.utf8.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress) } ?? nil
        }
        // Longer than 15 bytes, so each string has storage of its own.
        func long(_ n: Int) -> String { "declared-identifier-\(n)" }
        let body = #"{"items":[\#(Self.connection(1)),\#(Self.connection(2)),\#(Self.connection(3))]}"#
            .replacingOccurrences(of: #""identifier":"c1""#, with: #""identifier":"\#(long(1))""#)
            .replacingOccurrences(of: #""identifier":"c2""#, with: #""identifier":"\#(long(2))""#)
            .replacingOccurrences(of: #""identifier":"c3""#, with: #""identifier":"\#(long(3))""#)
        let declared = [long(1), long(2)].map { String(decoding: Array($0.utf8), as: UTF8.self) }
        let memo = PageMemo()
        memo.shareIdentifiers(sorted: declared)
        // The list itself is kept as given, not copied.
        #expect(memo.declaredIdentifiers.withUnsafeBufferPointer(\.baseAddress)
            == declared.withUnsafeBufferPointer(\.baseAddress))
        let items = try memo.decode(Data(body.utf8)).items
        #expect(items.map(\.identifier) == [long(1), long(2), long(3)])
        #expect(storage(items[0].identifier) == storage(declared[0]))
        #expect(storage(items[1].identifier) == storage(declared[1]))
        #expect(storage(items[2].identifier) != nil)
        #expect(!declared.map(storage).contains(storage(items[2].identifier)))
    }

    @Test("A connection is compact: equal healths on a page share one value, rare fields take no room when unset")
    func compactConnections() throws {
        // An organization's 100 connections in jemalloc's 14 KiB class.
        #expect(MemoryLayout<Connection>.stride <= 128)
        // A sealed walk keeps one key and position per item.
        #expect(MemoryLayout<(key: PageMemo.Key, position: Int32)>.stride == 16)
        let unhealthy = Self.connection(3, health: "UNAUTHORIZED")
        let body = #"{"items":[\#(Self.connection(1)),\#(Self.connection(2)),\#(unhealthy),\#(Self.connection(4))]}"#
        let items = try PageMemo().decode(Data(body.utf8)).items
        #expect(items == (try JSONDecoder().decode(Page<Connection>.self, from: Data(body.utf8)).items))
        #expect(items[0].sharedHealth != nil && items[0].sharedHealth === items[1].sharedHealth)
        #expect(items[3].sharedHealth === items[0].sharedHealth)
        #expect(items[2].sharedHealth !== items[0].sharedHealth && items[2].health?.name == .unauthorized)

        var changed = items[0]
        // Intervals are kept in 32 bits; a value beyond reads as the largest they hold.
        changed.refreshIntervalSecs = 86_400
        #expect(changed.refreshIntervalSecs == 86_400)
        changed.timeoutSecs = .max
        #expect(changed.timeoutSecs == Int(Int32.max))
        changed = items[0]
        #expect(changed.rare == nil)
        changed.direction = .source
        changed.oauth2AuthorizeURL = "https://example.com/authorize"
        #expect(changed.direction == .source && changed.oauth2AuthorizeURL == "https://example.com/authorize")
        #expect(changed.organizationName == nil && changed != items[0])
        var same = items[0]
        same.oauth2AuthorizeURL = "https://example.com/authorize"
        same.direction = .source
        #expect(same == changed && same.hashValue == changed.hashValue)
        changed.direction = nil
        changed.oauth2AuthorizeURL = nil
        #expect(changed.rare == nil && changed == items[0])
        changed.health = nil
        #expect(changed.sharedHealth == nil && changed != items[0])
        changed.health = items[0].health
        #expect(changed == items[0] && changed.hashValue == items[0].hashValue)
    }
}
