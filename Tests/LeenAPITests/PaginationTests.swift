import Foundation
import Testing

@testable import LeenAPI
@testable import LeenAPIClient

/// A list item small enough to make pages obvious.
fileprivate struct Row: Codable, Sendable, Hashable {
    let n: Int
}

/// Records every request a ``PageSequence`` makes and answers it.
///
/// Responses go through JSON and `Page`'s own decoder, so whether a page "is a cursor page" is decided by the
/// keys present in the body, exactly as for a real response.
fileprivate actor FakeLister {
    enum Behaviour: Sendable {
        /// An in-memory collection served like Leen serves a list endpoint.
        case server(rows: [Row], cursors: Bool, total: Bool)
        /// Canned bodies (or errors), one per request, in order.
        case script([Result<String, TestFailure>])
    }

    private let behaviour: Behaviour
    private var scriptIndex = 0
    private(set) var requests: [PageRequest] = []

    init(_ behaviour: Behaviour) { self.behaviour = behaviour }

    func fetch(_ request: PageRequest) throws -> Page<Row> {
        requests.append(request)
        let body: String
        switch behaviour {
        case .server(let rows, let cursors, let total):
            body = try Self.serve(request, rows: rows, cursors: cursors, total: total)
        case .script(let responses):
            guard scriptIndex < responses.count else { throw TestFailure(message: "unexpected request \(request)") }
            defer { scriptIndex += 1 }
            body = try responses[scriptIndex].get()
        }
        return try JSONDecoder().decode(Page<Row>.self, from: Data(body.utf8))
    }

    /// Leen's cursor format: base64 of `{"offset":n}` (`eyJvZmZzZXQiOjJ9` is offset 2).
    static func cursor(_ offset: Int) -> String {
        Data(#"{"offset":\#(offset)}"#.utf8).base64EncodedString()
    }

    private struct CursorPayload: Decodable { let offset: Int }

    private static func serve(_ request: PageRequest, rows: [Row], cursors: Bool, total: Bool) throws -> String {
        var object: [String: JSONValue] = [:]
        let start: Int
        if cursors && request.enableCursor {
            if let cursor = request.cursor {
                let data = try #require(Data(base64Encoded: cursor), "cursor \(cursor) is not base64")
                start = try JSONDecoder().decode(CursorPayload.self, from: data).offset
            } else {
                start = 0
            }
        } else {
            start = request.offset ?? 0
        }
        let end = min(rows.count, start + request.limit)
        let slice = start < end ? Array(rows[start..<end]) : []
        object["items"] = .array(slice.map { .object(["n": .integer(Int64($0.n))]) })
        object["count"] = .integer(Int64(slice.count))
        if total {
            object["total"] = request.excludeTotal ? .null : .integer(Int64(rows.count))
        }
        if cursors && request.enableCursor {
            object["next_cursor"] = end < rows.count ? .string(cursor(end)) : .null
            object["previous_cursor"] = start > 0 ? .string(cursor(max(0, start - request.limit))) : .null
        }
        return String(decoding: try JSONEncoder.compact.encode(JSONValue.object(object)), as: UTF8.self)
    }
}

fileprivate struct TestFailure: Error, Equatable, Sendable {
    var message: String
}

/// Rows 0..<count.
private func rows(_ count: Int) -> [Row] { (0..<count).map(Row.init(n:)) }

private func makePages(
    _ lister: FakeLister, pageSize: Int, mode: PaginationMode, excludeTotal: Bool = false,
    maximumPages: Int = PageSequence<Row>.defaultMaximumPages, identified: Bool = false
) -> PageSequence<Row> {
    var identify: (@Sendable ([Row]) -> [String])?
    if identified { identify = { rows in rows.map { String($0.n) } } }
    return PageSequence(
        pageSize: pageSize, mode: mode, excludeTotal: excludeTotal, maximumPages: maximumPages, identify: identify
    ) { request in
        try await lister.fetch(request)
    }
}

/// Walks until the sequence ends or throws: the items of each page read, and the error if any.
private func walkUntilError(_ pages: PageSequence<Row>) async -> (pages: [[Int]], error: ListingError?) {
    var result: [[Int]] = []
    do {
        for try await page in pages { result.append(page.items.map(\.n)) }
        return (result, nil)
    } catch {
        return (result, error as? ListingError)
    }
}

/// Walks every page, returning the items of each.
private func walk(_ pages: PageSequence<Row>) async throws -> [[Int]] {
    var result: [[Int]] = []
    for try await page in pages {
        result.append(page.items.map(\.n))
    }
    return result
}

private func offsetRequest(_ limit: Int, _ offset: Int, excludeTotal: Bool = false) -> PageRequest {
    PageRequest(limit: limit, offset: offset, enableCursor: false, cursor: nil, excludeTotal: excludeTotal)
}

private func cursorRequest(_ limit: Int, _ cursor: String?, excludeTotal: Bool = false) -> PageRequest {
    PageRequest(limit: limit, offset: nil, enableCursor: true, cursor: cursor, excludeTotal: excludeTotal)
}

@Suite("Offset pagination")
struct OffsetPaginationTests {
    @Test func walksUntilTotal() async throws {
        let lister = FakeLister(.server(rows: rows(5), cursors: false, total: true))
        let pages = try await walk(makePages(lister, pageSize: 2, mode: .offset))
        #expect(pages == [[0, 1], [2, 3], [4]])
        #expect(await lister.requests == [offsetRequest(2, 0), offsetRequest(2, 2), offsetRequest(2, 4)])
    }

    @Test func stopsExactlyAtTotalWithoutAnExtraRequest() async throws {
        let lister = FakeLister(.server(rows: rows(4), cursors: false, total: true))
        let pages = try await walk(makePages(lister, pageSize: 2, mode: .offset))
        #expect(pages == [[0, 1], [2, 3]])
        #expect(await lister.requests == [offsetRequest(2, 0), offsetRequest(2, 2)])
    }

    @Test func moreItemsThanTotalIsIncomplete() async throws {
        // The server claims 3 in all but lists 4: the listing changed under the walk, so it proves nothing.
        let lister = FakeLister(
            .script([
                .success(#"{"count":2,"total":3,"items":[{"n":0},{"n":1}]}"#),
                .success(#"{"count":2,"total":3,"items":[{"n":2},{"n":3}]}"#),
            ]))
        let walked = await walkUntilError(makePages(lister, pageSize: 2, mode: .offset))
        #expect(walked.pages == [[0, 1]])
        #expect(walked.error == .totalMismatch(listed: 4, total: 3))
        #expect(await lister.requests == [offsetRequest(2, 0), offsetRequest(2, 2)])
    }

    @Test func shortPageEndsTheWalkWhenTotalIsExcluded() async throws {
        let lister = FakeLister(.server(rows: rows(5), cursors: false, total: true))
        let pages = try await walk(makePages(lister, pageSize: 2, mode: .offset, excludeTotal: true))
        #expect(pages == [[0, 1], [2, 3], [4]])
        #expect(
            await lister.requests == [
                offsetRequest(2, 0, excludeTotal: true), offsetRequest(2, 2, excludeTotal: true),
                offsetRequest(2, 4, excludeTotal: true),
            ])
    }

    @Test func aPageWithoutTotalIsIncompleteUnlessTotalWasExcluded() async throws {
        // Asked for and not sent, `total` leaves a short page unprovable as the end: it could be truncated.
        let lister = FakeLister(.server(rows: rows(7), cursors: false, total: false))
        let walked = await walkUntilError(makePages(lister, pageSize: 3, mode: .offset))
        #expect(walked.pages == [])
        #expect(walked.error == .missingTotal(listed: 3))
        #expect(await lister.requests == [offsetRequest(3, 0)])
    }

    @Test func emptyPageEndsTheWalkWhenTotalIsExcluded() async throws {
        // Four rows in pages of two: without a total only the empty third page shows the end.
        let lister = FakeLister(.server(rows: rows(4), cursors: false, total: false))
        let pages = try await walk(makePages(lister, pageSize: 2, mode: .offset, excludeTotal: true))
        #expect(pages == [[0, 1], [2, 3], []])
        #expect(
            await lister.requests == [
                offsetRequest(2, 0, excludeTotal: true), offsetRequest(2, 2, excludeTotal: true),
                offsetRequest(2, 4, excludeTotal: true),
            ])
    }

    @Test func emptyPageBelowTotalIsIncomplete() async throws {
        // `total` says 10, but the rows ran out: the listing is truncated (or items were deleted meanwhile).
        let lister = FakeLister(
            .script([
                .success(#"{"count":2,"total":10,"items":[{"n":0},{"n":1}]}"#),
                .success(#"{"count":0,"total":10,"items":[]}"#),
            ]))
        let walked = await walkUntilError(makePages(lister, pageSize: 2, mode: .offset))
        #expect(walked.pages == [[0, 1]])
        #expect(walked.error == .emptyPageBeforeTotal(listed: 2, total: 10))
        #expect(await lister.requests == [offsetRequest(2, 0), offsetRequest(2, 2)])
    }

    @Test func anEmptySuccessfulListingIsCompleteOnlyWhenTotalSaysZero() async throws {
        let none = FakeLister(.script([.success(#"{"count":0,"total":0,"items":[]}"#)]))
        #expect(try await walk(makePages(none, pageSize: 2, mode: .offset)) == [[]])
        let lying = FakeLister(.script([.success(#"{"count":0,"total":5,"items":[]}"#)]))
        #expect(await walkUntilError(makePages(lying, pageSize: 2, mode: .offset)).error == .emptyPageBeforeTotal(listed: 0, total: 5))
    }

    @Test func countDisagreeingWithItemsIsMalformed() async throws {
        let lister = FakeLister(.script([.success(#"{"count":3,"total":3,"items":[{"n":0},{"n":1}]}"#)]))
        #expect(await walkUntilError(makePages(lister, pageSize: 5, mode: .offset)).error == .countMismatch(count: 3, items: 2))
    }

    @Test func anItemListedTwiceIsInconsistent() async throws {
        // A server that ignores `offset` (no cursor) sends the first page again: caught at once, not after 10,000.
        let lister = FakeLister(
            .script([
                .success(#"{"count":2,"total":4,"items":[{"n":0},{"n":1}]}"#),
                .success(#"{"count":2,"total":4,"items":[{"n":0},{"n":1}]}"#),
            ]))
        let walked = await walkUntilError(makePages(lister, pageSize: 2, mode: .offset, identified: true))
        #expect(walked.pages == [[0, 1]])
        #expect(walked.error == .duplicateItem(id: "0"))
        #expect(await lister.requests.count == 2)
    }

    @Test func distinctItemsAreCountedAgainstTotal() async throws {
        // Offsets shifted under the walk: item 1 comes twice and item 3 never; the count matches, the ids do not.
        let lister = FakeLister(
            .script([
                .success(#"{"count":2,"total":3,"items":[{"n":0},{"n":1}]}"#),
                .success(#"{"count":1,"total":3,"items":[{"n":1}]}"#),
            ]))
        let walked = await walkUntilError(makePages(lister, pageSize: 2, mode: .offset, identified: true))
        #expect(walked.error == .duplicateItem(id: "1"))
    }

    @Test func theWalkIsBounded() async throws {
        // Fresh cursors forever: the walk stops after `maximumPages` pages instead of running forever.
        let lister = FakeLister(
            .script((0..<10).map { .success(#"{"items":[{"n":\#($0)}],"next_cursor":"c\#($0)","previous_cursor":null}"#) }))
        let walked = await walkUntilError(makePages(lister, pageSize: 1, mode: .cursor, maximumPages: 3))
        #expect(walked.pages == [[0], [1], [2]])
        #expect(walked.error == .tooManyPages(limit: 3))
        #expect(await lister.requests.count == 3)
    }

    @Test func shortPageBelowTotalContinuesFromWhatArrived() async throws {
        // The server returned fewer items than asked but `total` says more exist: the next offset is
        // where the items actually ended.
        let lister = FakeLister(
            .script([
                .success(#"{"count":1,"total":3,"items":[{"n":0}]}"#),
                .success(#"{"count":2,"total":3,"items":[{"n":1},{"n":2}]}"#),
            ]))
        let pages = try await walk(makePages(lister, pageSize: 2, mode: .offset))
        #expect(pages == [[0], [1, 2]])
        #expect(await lister.requests == [offsetRequest(2, 0), offsetRequest(2, 1)])
    }

    @Test func emptyCollectionIsOneRequest() async throws {
        let lister = FakeLister(.server(rows: [], cursors: false, total: true))
        let pages = try await walk(makePages(lister, pageSize: 100, mode: .offset))
        #expect(pages == [[]])
        #expect(await lister.requests == [offsetRequest(100, 0)])
    }

    @Test func pageSizeIsAtLeastOne() async throws {
        let lister = FakeLister(.server(rows: rows(2), cursors: false, total: true))
        let pages = makePages(lister, pageSize: 0, mode: .offset)
        #expect(pages.pageSize == 1)
        #expect(try await walk(pages) == [[0], [1]])
        #expect(await lister.requests == [offsetRequest(1, 0), offsetRequest(1, 1)])
        #expect(makePages(lister, pageSize: -5, mode: .offset).pageSize == 1)
    }

    @Test func sequenceKeepsItsSettings() {
        let lister = FakeLister(.server(rows: [], cursors: false, total: true))
        let pages = makePages(lister, pageSize: 25, mode: .cursor, excludeTotal: true)
        #expect(pages.pageSize == 25)
        #expect(pages.mode == .cursor)
        #expect(pages.excludeTotal)
    }

    @Test func eachIterationStartsAgain() async throws {
        let lister = FakeLister(.server(rows: rows(3), cursors: false, total: true))
        let pages = makePages(lister, pageSize: 2, mode: .offset)
        #expect(try await walk(pages) == [[0, 1], [2]])
        #expect(try await walk(pages) == [[0, 1], [2]])
        #expect(await lister.requests.map(\.offset) == [0, 2, 0, 2])
    }
}

@Suite("Cursor pagination")
struct CursorPaginationTests {
    @Test func leenCursorFormat() {
        #expect(FakeLister.cursor(2) == "eyJvZmZzZXQiOjJ9")
    }

    @Test func followsNextCursorUntilNull() async throws {
        let lister = FakeLister(.server(rows: rows(5), cursors: true, total: true))
        let pages = try await walk(makePages(lister, pageSize: 2, mode: .cursor))
        #expect(pages == [[0, 1], [2, 3], [4]])
        #expect(
            await lister.requests == [
                cursorRequest(2, nil), cursorRequest(2, "eyJvZmZzZXQiOjJ9"), cursorRequest(2, "eyJvZmZzZXQiOjR9"),
            ])
    }

    @Test func cursorPagesAreCheckedAgainstTotal() async throws {
        // A cursor walk ends on a null next_cursor; when pages carry `total`, the items listed must match it.
        let lister = FakeLister(
            .script([
                .success(#"{"count":1,"total":1,"items":[{"n":0}],"next_cursor":"c1","previous_cursor":null}"#),
                .success(#"{"count":1,"total":1,"items":[{"n":1}],"next_cursor":null,"previous_cursor":"c0"}"#),
            ]))
        let walked = await walkUntilError(makePages(lister, pageSize: 1, mode: .cursor))
        #expect(walked.pages == [[0]])
        #expect(walked.error == .totalMismatch(listed: 2, total: 1))
        #expect(await lister.requests == [cursorRequest(1, nil), cursorRequest(1, "c1")])
    }

    @Test func minimalCursorEnvelopes() async throws {
        let lister = FakeLister(
            .script([
                .success(#"{"items":[{"n":0},{"n":1}],"next_cursor":"eyJvZmZzZXQiOjJ9","previous_cursor":null}"#),
                .success(#"{"items":[{"n":2}],"next_cursor":null,"previous_cursor":"eyJvZmZzZXQiOjB9"}"#),
            ]))
        let pages = try await walk(makePages(lister, pageSize: 2, mode: .cursor, excludeTotal: true))
        #expect(pages == [[0, 1], [2]])
        #expect(
            await lister.requests == [
                cursorRequest(2, nil, excludeTotal: true), cursorRequest(2, "eyJvZmZzZXQiOjJ9", excludeTotal: true),
            ])
    }

    @Test func stopsOnARepeatedCursor() async throws {
        // A server that keeps answering with the same next_cursor must not loop forever.
        let lister = FakeLister(
            .script([
                .success(#"{"items":[{"n":0}],"next_cursor":"A","previous_cursor":null}"#),
                .success(#"{"items":[{"n":1}],"next_cursor":"B","previous_cursor":null}"#),
                .success(#"{"items":[{"n":2}],"next_cursor":"A","previous_cursor":null}"#),
                .success(#"{"items":[{"n":3}],"next_cursor":null,"previous_cursor":null}"#),
            ]))
        let walked = await walkUntilError(makePages(lister, pageSize: 1, mode: .cursor))
        #expect(walked.pages == [[0], [1]])
        #expect(walked.error == .repeatedCursor(pages: 3))
        #expect(await lister.requests == [cursorRequest(1, nil), cursorRequest(1, "A"), cursorRequest(1, "B")])
    }

    @Test func stopsWhenTheCursorPointsAtItself() async throws {
        let lister = FakeLister(
            .script([
                .success(#"{"items":[{"n":0}],"next_cursor":"A","previous_cursor":null}"#),
                .success(#"{"items":[{"n":1}],"next_cursor":"A","previous_cursor":"A"}"#),
            ]))
        let walked = await walkUntilError(makePages(lister, pageSize: 1, mode: .cursor))
        #expect(walked.pages == [[0]])
        #expect(walked.error == .repeatedCursor(pages: 2))
        #expect(await lister.requests == [cursorRequest(1, nil), cursorRequest(1, "A")])
    }

    @Test func anEmptyCursorPageWithANextCursorIsNotTheEnd() async throws {
        // Only a null next_cursor ends a cursor walk; the page bound keeps a run of empty pages finite.
        let lister = FakeLister(
            .script([
                .success(#"{"items":[{"n":0}],"next_cursor":"A","previous_cursor":null}"#),
                .success(#"{"items":[],"next_cursor":"B","previous_cursor":"A"}"#),
                .success(#"{"items":[{"n":1}],"next_cursor":null,"previous_cursor":"B"}"#),
            ]))
        let pages = try await walk(makePages(lister, pageSize: 1, mode: .cursor))
        #expect(pages == [[0], [], [1]])
        #expect(await lister.requests == [cursorRequest(1, nil), cursorRequest(1, "A"), cursorRequest(1, "B")])
    }

    @Test func singleCursorPage() async throws {
        let lister = FakeLister(.server(rows: rows(3), cursors: true, total: false))
        let pages = try await walk(makePages(lister, pageSize: 10, mode: .cursor))
        #expect(pages == [[0, 1, 2]])
        #expect(await lister.requests == [cursorRequest(10, nil)])
    }

    @Test func fallsBackToOffsetWhenTheServerIgnoresEnableCursor() async throws {
        // The server answers the cursor request with a plain offset envelope (no cursor keys at all).
        let lister = FakeLister(.server(rows: rows(5), cursors: false, total: true))
        let pages = try await walk(makePages(lister, pageSize: 2, mode: .cursor))
        #expect(pages == [[0, 1], [2, 3], [4]])
        #expect(await lister.requests == [cursorRequest(2, nil), offsetRequest(2, 2), offsetRequest(2, 4)])
    }

    @Test func fallbackWithoutTotalStopsOnAShortPage() async throws {
        let lister = FakeLister(.server(rows: rows(3), cursors: false, total: false))
        let pages = try await walk(makePages(lister, pageSize: 2, mode: .cursor, excludeTotal: true))
        #expect(pages == [[0, 1], [2]])
        #expect(
            await lister.requests == [
                cursorRequest(2, nil, excludeTotal: true), offsetRequest(2, 2, excludeTotal: true),
            ])
    }
}

@Suite("Pagination errors")
struct PaginationErrorTests {
    @Test func fetchErrorEndsIterationWithThatError() async throws {
        let lister = FakeLister(
            .script([
                .success(#"{"count":1,"total":3,"items":[{"n":0}]}"#),
                .failure(TestFailure(message: "boom")),
                .success(#"{"count":1,"total":3,"items":[{"n":2}]}"#),
            ]))
        var seen: [[Int]] = []
        let error = await #expect(throws: TestFailure.self) {
            for try await page in makePages(lister, pageSize: 1, mode: .offset) {
                seen.append(page.items.map(\.n))
            }
        }
        #expect(error == TestFailure(message: "boom"))
        #expect(seen == [[0]])
        #expect(await lister.requests == [offsetRequest(1, 0), offsetRequest(1, 1)])
    }

    @Test func iteratorIsFinishedAfterAnError() async throws {
        let lister = FakeLister(
            .script([
                .success(#"{"items":[{"n":0}],"next_cursor":"A","previous_cursor":null}"#),
                .failure(TestFailure(message: "timeout")),
                .success(#"{"items":[{"n":1}],"next_cursor":null,"previous_cursor":"A"}"#),
            ]))
        var iterator = makePages(lister, pageSize: 1, mode: .cursor).makeAsyncIterator()
        let first = try await iterator.next()
        #expect(first?.items == [Row(n: 0)])
        await #expect(throws: TestFailure(message: "timeout")) {
            _ = try await iterator.next()
        }
        // No retry, no further request: the sequence is over.
        let after = try await iterator.next()
        #expect(after == nil)
        #expect(await lister.requests == [cursorRequest(1, nil), cursorRequest(1, "A")])
    }

    @Test func errorOnTheFirstPage() async throws {
        let lister = FakeLister(.script([.failure(TestFailure(message: "401"))]))
        await #expect(throws: TestFailure(message: "401")) {
            _ = try await walk(makePages(lister, pageSize: 50, mode: .offset))
        }
        #expect(await lister.requests == [offsetRequest(50, 0)])
    }

    @Test func undecodablePageEndsTheWalk() async throws {
        let lister = FakeLister(.script([.success(#"{"count":1}"#)]))
        await #expect(throws: DecodingError.self) {
            _ = try await walk(makePages(lister, pageSize: 50, mode: .offset))
        }
        #expect(await lister.requests.count == 1)
    }

    @Test func finishedIteratorMakesNoMoreRequests() async throws {
        let lister = FakeLister(.server(rows: rows(1), cursors: false, total: true))
        var iterator = makePages(lister, pageSize: 10, mode: .offset).makeAsyncIterator()
        #expect(try await iterator.next()?.items == [Row(n: 0)])
        #expect(try await iterator.next() == nil)
        #expect(try await iterator.next() == nil)
        #expect(await lister.requests.count == 1)
    }
}

@Suite("Page request query")
struct PageRequestQueryTests {
    func query(_ request: PageRequest) -> [String] {
        request.queryItems.map { "\($0.0)=\($0.1)" }
    }

    @Test func defaults() {
        let request = PageRequest()
        #expect(request.limit == 100)
        #expect(request.offset == nil)
        #expect(!request.enableCursor)
        #expect(request.cursor == nil)
        #expect(!request.excludeTotal)
        #expect(query(request) == ["limit=100"])
    }

    @Test func offsetQuery() {
        #expect(query(offsetRequest(25, 50)) == ["limit=25", "offset=50"])
        #expect(query(offsetRequest(25, 0, excludeTotal: true)) == ["limit=25", "offset=0", "excludeTotal=true"])
    }

    @Test func cursorQueryUsesLeensParameterNames() {
        #expect(query(cursorRequest(10, nil)) == ["limit=10", "enableCursor=true"])
        #expect(
            query(cursorRequest(10, "eyJvZmZzZXQiOjJ9", excludeTotal: true)) == [
                "limit=10", "enableCursor=true", "cursor=eyJvZmZzZXQiOjJ9", "excludeTotal=true",
            ])
    }

    @Test func cursorValuesAreEscapedForTheQuery() {
        // Base64 cursors can carry `+`, `/` and `=`; `+` and `=` must not reach the server unescaped.
        let escaped = LeenClient.queryEscape("ab+c/d==")
        #expect(!escaped.contains("+"))
        #expect(!escaped.contains("="))
        #expect(escaped.removingPercentEncoding == "ab+c/d==")
        #expect(LeenClient.queryEscape("eyJvZmZzZXQiOjJ9") == "eyJvZmZzZXQiOjJ9")
        #expect(LeenClient.queryEscape("a&b#c") == "a%26b%23c")
        // What is returned as it is, without Foundation, is what Foundation returns too.
        let unreserved = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
        for allowed in [CharacterSet.urlQueryValueAllowed, .urlPathSegmentAllowed] {
            for value in [unreserved, "3c90c3cc-0d44-4b50-8888-8dd25736052a", "100", "", "a b", "é", "a/b"] {
                #expect(LeenClient.percentEncoded(value, allowed: allowed) == value.addingPercentEncoding(withAllowedCharacters: allowed))
            }
        }
    }
}
