import FuzzDriver
import HTTPTypes
import HealthdMetrics

/// A request head as text: `METHOD TARGET` on the first line, then `Name: value` lines, planned by
/// `MetricsEndpoint.plan(for:)` as every request to the metrics endpoint is (route, `Accept`,
/// `Accept-Encoding`, `/status?organization_id=`). A method or field name that is not a valid HTTP token is
/// replaced or skipped: NIO's parser refuses those before the endpoint sees them.
@_cdecl("LLVMFuzzerTestOneInput")
func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let lines = String(decoding: bytes(data, size), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    let head = lines.first?.split(separator: " ", maxSplits: 1) ?? []
    var request = HTTPRequest(
        method: head.first.flatMap { HTTPRequest.Method(String($0)) } ?? .get, scheme: nil, authority: nil,
        path: head.count > 1 ? String(head[1]) : "/")
    for line in lines.dropFirst() {
        let pair = line.split(separator: ":", maxSplits: 1)
        guard pair.count == 2, let name = HTTPField.Name(String(pair[0])) else { continue }
        request.headerFields.append(HTTPField(name: name, value: String(pair[1].drop { $0 == " " })))
    }
    _ = MetricsEndpoint.plan(for: request)
    return 0
}

fuzz(test)
