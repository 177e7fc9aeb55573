import AsyncHTTPClient
import Foundation
import HealthdBenchmarks
import HealthdCore
import HealthdMetrics
import Hummingbird
import HummingbirdTesting
import LeenAPI
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// The snapshot a test server serves; tests change it while the server runs.
final class SnapshotBox: Sendable {
    private let input: Mutex<MonitorSnapshot>
    init(_ input: MonitorSnapshot) { self.input = Mutex(input) }
    var value: MonitorSnapshot { input.withLock { $0 } }
    func update(_ change: (inout MonitorSnapshot) -> Void) { input.withLock { change(&$0) } }
}

struct HTTPReply {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// Runs a ``MetricsServer`` on 127.0.0.1 with port 0, hands `body` the base URL from `onListening`, then
/// stops it.
func withMetricsServer<T: Sendable>(_ box: SnapshotBox, _ body: (String) async throws -> T) async throws -> T {
    var logger = Logger(label: "metrics-test")
    logger.logLevel = .critical
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let server = MetricsServer(
        host: "127.0.0.1", port: 0, provider: { box.value }, processMetrics: { fixedProcess }, logger: logger,
        onListening: { continuation.yield($0) })
    #expect(server.port == 0)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            defer { continuation.finish() }
            try await server.run()
        }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next(), "the server did not report a port")
        #expect(port > 0)
        let result: Result<T, any Error>
        do {
            result = .success(try await body("http://127.0.0.1:\(port)"))
        } catch {
            result = .failure(error)
        }
        tasks.cancelAll()
        _ = try? await tasks.next()
        return try result.get()
    }
}

/// A client that neither asks for nor decodes compression (`HTTPClient.shared` does both), so the tests
/// see the bytes on the wire. A global: it lives as long as the test process.
let plainClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init())

func get(_ url: String, headers: [(String, String)] = []) async throws -> HTTPReply {
    var request = HTTPClientRequest(url: url)
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    let response = try await plainClient.execute(request, timeout: .seconds(30))
    let body = try await response.body.collect(upTo: 64 << 20)
    return HTTPReply(status: Int(response.status.code), headers: response.headers, body: Array(body.readableBytesView))
}

@Suite("The metrics server over real HTTP")
struct ServerTests {
    static func input(ready: Bool = true) -> MonitorSnapshot {
        metricsInput(
            [
                organization([
                    tracked("tenable-prod", health: unauthorized),
                    tracked("entra", vendor: "MS_ENTRA", state: .pending, health: nil, oauthPending: true,
                        oauthURL: "https://login.example/authorize?state=secret-oauth-state"),
                ])
            ], daemon: daemonCounters(ready: ready))
    }

    @Test("Every path answers on 127.0.0.1:0: /, /metrics, /-/healthy, /-/ready, /status, and 404 otherwise")
    func everyPath() async throws {
        let box = SnapshotBox(Self.input())
        try await withMetricsServer(box) { base in
            let landing = try await get(base + "/")
            #expect(landing.status == 200)
            #expect(landing.headers.first(name: "content-type") == "text/html; charset=utf-8")
            #expect(landing.text.contains("1.2.3-test"))
            for link in ["href=\"metrics\"", "href=\"status\"", "href=\"-/healthy\"", "href=\"-/ready\""] {
                #expect(landing.text.contains(link))
            }

            let metrics = try await get(base + "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.headers.first(name: "content-type") == "text/plain; version=0.0.4; charset=utf-8")
            #expect(metrics.headers.first(name: "content-encoding") == nil)
            #expect(Set(lines(metrics.text)) == Set(lines(render(box.value))))

            let healthy = try await get(base + "/-/healthy")
            #expect(healthy.status == 200)
            #expect(try await get(base + "/-/ready").status == 200)

            let status = try await get(base + "/status")
            #expect(status.status == 200)
            #expect(status.headers.first(name: "content-type") == "application/json")
            let json = try JSONSerialization.jsonObject(with: Data(status.body)) as? [String: Any]
            #expect((json?["organizations"] as? [Any])?.count == 1)
            #expect(!status.text.contains("secret-oauth-state"))

            #expect(try await get(base + "/nothing-here").status == 404)
        }
    }

    @Test("/-/ready is 503 until the first poll cycle finished, then 200; /-/healthy is 200 throughout")
    func readiness() async throws {
        let box = SnapshotBox(Self.input(ready: false))
        try await withMetricsServer(box) { base in
            let before = try await get(base + "/-/ready")
            #expect(before.status == 503)
            #expect(try await get(base + "/-/healthy").status == 200)
            box.update { $0.daemon.ready = true }
            #expect(try await get(base + "/-/ready").status == 200)
        }
    }

    @Test("Accept-Encoding: gzip gives a gzip body that decodes to the same text")
    func gzip() async throws {
        let box = SnapshotBox(metricsInput(SyntheticFleet.input(connections: 400).organizations))
        try await withMetricsServer(box) { base in
            let plain = try await get(base + "/metrics")
            let compressed = try await get(base + "/metrics", headers: [("Accept-Encoding", "gzip")])
            #expect(compressed.status == 200)
            #expect(compressed.headers.first(name: "content-encoding") == "gzip")
            #expect(compressed.headers.first(name: "vary")?.contains("Accept-Encoding") == true)
            #expect(Array(compressed.body.prefix(2)) == [0x1f, 0x8b])
            // Streamed from the kept runs, with its length known in advance (not chunked).
            #expect(compressed.headers.first(name: "content-length") == String(compressed.body.count))
            #expect(compressed.headers.first(name: "transfer-encoding") == nil)
            #expect(compressed.body.count < plain.body.count / 5)
            // Decoded by gzip(1), an implementation independent of the server's.
            let decoded = try runProcess("/bin/gzip", ["-dc"], stdin: Data(compressed.body))
            #expect(decoded.status == 0)
            #expect(decoded.output == plain.text)
            #expect(Set(lines(decoded.output)) == Set(lines(render(box.value))))
        }
    }

    @Test("Accept: application/openmetrics-text gives OpenMetrics 1.0.0 ending with # EOF")
    func openMetrics() async throws {
        let box = SnapshotBox(Self.input())
        try await withMetricsServer(box) { base in
            let reply = try await get(
                base + "/metrics",
                headers: [("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")])
            #expect(reply.status == 200)
            #expect(
                reply.headers.first(name: "content-type")
                    == "application/openmetrics-text; version=1.0.0; charset=utf-8")
            #expect(reply.text.hasSuffix("# EOF\n"))
            #expect(reply.text == render(box.value, .openMetrics))
        }
    }

    @Test("Series of a removed connection are gone at the next scrape")
    func removalAcrossScrapes() async throws {
        let box = SnapshotBox(Self.input())
        try await withMetricsServer(box) { base in
            #expect(try await get(base + "/metrics").text.contains("identifier=\"entra\""))
            box.update { $0.organizations[0].state.connections["entra"] = nil }
            let after = try await get(base + "/metrics").text
            #expect(!after.contains("identifier=\"entra\""))
            #expect(after.contains("identifier=\"tenable-prod\""))
        }
    }

    @Test("The router answers in-process too (HummingbirdTesting), and only GET")
    func routerInProcess() async throws {
        let endpoint = MetricsEndpoint(provider: { Self.input() }, processMetrics: { nil })
        let app = Application(router: endpoint.router())
        try await app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("leen_connection_healthy{"))
                #expect(!String(buffer: response.body).contains("process_"))
            }
            try await client.execute(uri: "/metrics", method: .post) { response in
                #expect(response.status != .ok)
            }
            try await client.execute(uri: "/status?organization_id=nope", method: .get) { response in
                #expect(response.status == .ok)
                let json = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8))
                #expect(((json as? [String: Any])?["organizations"] as? [Any])?.isEmpty == true)
            }
        }
    }
}
