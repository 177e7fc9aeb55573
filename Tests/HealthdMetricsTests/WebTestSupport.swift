import AsyncHTTPClient
import Foundation
import HealthdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing

@testable import HealthdMetrics

/// Runs a ``MetricsServer`` with `security` and `limits` on 127.0.0.1 with a free port and hands `body` the port.
func withSecuredServer<T: Sendable>(
    security: WebSecurity?, limits: HTTPLimits = HTTPLimits(), box: SnapshotBox = SnapshotBox(ServerTests.input()),
    eventLoopGroup: (any EventLoopGroup)? = nil, _ body: (Int) async throws -> T
) async throws -> T {
    var logger = Logger(label: "web-test")
    logger.logLevel = .critical
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let server = MetricsServer(
        host: "127.0.0.1", port: 0, provider: { box.value }, processMetrics: { nil }, security: security,
        limits: limits, eventLoopGroup: eventLoopGroup, logger: logger, onListening: { continuation.yield($0) })
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            defer { continuation.finish() }
            try await server.run()
        }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next(), "the server did not report a port")
        let result: Result<T, any Error>
        do {
            result = .success(try await body(port))
        } catch {
            result = .failure(error)
        }
        tasks.cancelAll()
        _ = try? await tasks.next()
        return try result.get()
    }
}

/// One request on a new client (so a new connection, which sees a reloaded certificate), over HTTPS when
/// `trust` names a CA file. AsyncHTTPClient retries a failed TLS handshake until `timeout`: expected failures
/// pass a short one.
func fetch(
    port: Int, path: String = "/metrics", trust: String? = nil, clientCertificate: (cert: String, key: String)? = nil,
    user: (String, String)? = nil, timeout: TimeAmount = .seconds(10)
) async throws -> HTTPReply {
    var configuration = HTTPClient.Configuration()
    if let trust {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(trust)
        if let clientCertificate {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(clientCertificate.cert).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: clientCertificate.key, format: .pem))
        }
        configuration.tlsConfiguration = tls
    }
    let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    do {
        var request = HTTPClientRequest(url: "\(trust == nil ? "http" : "https")://127.0.0.1:\(port)\(path)")
        if let (name, password) = user {
            request.headers.add(name: "Authorization", value: "Basic " + Data("\(name):\(password)".utf8).base64EncodedString())
        }
        let response = try await client.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 64 << 20)
        try await client.shutdown()
        return HTTPReply(status: Int(response.status.code), headers: response.headers, body: Array(body.readableBytesView))
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return await condition()
}

func silentLogger() -> Logger {
    var logger = Logger(label: "web-test")
    logger.logLevel = .critical
    return logger
}
