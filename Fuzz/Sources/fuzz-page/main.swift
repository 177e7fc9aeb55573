import Foundation
import FuzzDriver
import LeenAPI
import LeenAPIClient

/// One List Connections response body, read as `LeenClient.connectionPages` reads every page (`decodeBody`);
/// a failure is summarised as the client's `malformedResponse` error does.
///
/// Differential: the daemon reads pages through a `PageMemo` (only changed items decoded). Every input must
/// read the same through the memo, first and from memory, as through `JSONDecoder`: the same items,
/// unreadable items and page fields, or a failure for both (the memo's errors are `JSONDecoder`'s own: it
/// decodes a page it cannot read in parts as a whole). A difference traps.
@_cdecl("LLVMFuzzerTestOneInput")
func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = Data(bytes(data, size))
    func whole() -> Page<Connection>? { try? LeenClient.decodeBody(Page<Connection>.self, from: body) }
    do {
        let page = try LeenClient.decodeBody(Page<Connection>.self, from: body)
        _ = try JSONEncoder.compact.encode(page)
    } catch {
        _ = LeenClient.summary(of: error)
    }
    func same(_ a: Page<Connection>?, _ b: Page<Connection>?) -> Bool {
        guard let a, let b else { return (a == nil) == (b == nil) }
        return a.items == b.items && a.undecodable == b.undecodable && a.count == b.count && a.total == b.total
            && a.nextCursor == b.nextCursor && a.previousCursor == b.previousCursor && a.isCursorPage == b.isCursorPage
    }
    let reference = whole()
    // A repeated key makes JSONDecoder's own reading vary from one decoding to the next (which copy wins
    // follows a dictionary's order): such an input has no single reading to compare with.
    guard same(reference, whole()) else { return 0 }
    let memo = PageMemo()
    for pass in 1...2 {
        let split = try? memo.decode(body)
        precondition(same(reference, split), "PageMemo read a page differently from JSONDecoder (pass \(pass))")
        memo.finishWalk()
    }
    return 0
}

fuzz(test)
