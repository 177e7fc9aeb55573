import Foundation
import FuzzDriver
import LeenAPI
import LeenAPIClient

/// One List Connections response body, read as `LeenClient.connectionPages` reads every page (`decodeBody`);
/// a failure is summarised as the client's `malformedResponse` error does.
@_cdecl("LLVMFuzzerTestOneInput")
func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    do {
        let page = try LeenClient.decodeBody(Page<Connection>.self, from: Data(bytes(data, size)))
        _ = try JSONEncoder.compact.encode(page)
    } catch {
        _ = LeenClient.summary(of: error)
    }
    return 0
}

fuzz(test)
