import Foundation
import FuzzDriver
import LeenAPI
import LeenAPIClient

/// One List Connections response body, read as `LeenClient.connectionPages` reads every page (`decodeBody`);
/// a failure is summarised as the client's `malformedResponse` error does.
///
/// Differential: the daemon reads pages through a `PageMemo` (only changed items decoded). Every input must
/// read the same through the memo, first and from memory, as through `JSONDecoder`: same items, unreadable
/// items and page fields, or the same error. A difference traps.
@_cdecl("LLVMFuzzerTestOneInput")
func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = Data(bytes(data, size))
    let whole = Result { try LeenClient.decodeBody(Page<Connection>.self, from: body) }
    if case .success(let page) = whole { _ = try? JSONEncoder.compact.encode(page) }
    if case .failure(let error) = whole { _ = LeenClient.summary(of: error) }
    let memo = PageMemo()
    for _ in 1...2 {
        let split = Result { try memo.decode(body) }
        switch (whole, split) {
        case (.success(let a), .success(let b)):
            precondition(
                a.items == b.items && a.undecodable == b.undecodable && a.count == b.count && a.total == b.total
                    && a.nextCursor == b.nextCursor && a.previousCursor == b.previousCursor
                    && a.isCursorPage == b.isCursorPage,
                "PageMemo read a page differently from JSONDecoder")
        case (.failure(let a), .failure(let b)):
            precondition("\(a)" == "\(b)", "PageMemo failed differently from JSONDecoder: \(a) / \(b)")
        default:
            preconditionFailure("PageMemo and JSONDecoder disagree on whether the page reads: \(whole) / \(split)")
        }
        memo.finishWalk()
    }
    return 0
}

fuzz(test)
