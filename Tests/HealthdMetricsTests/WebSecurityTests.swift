import AsyncHTTPClient
import Foundation
import HealthdCore
import HealthdTestSupport
import HummingbirdBcrypt
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import HealthdMetrics

/// Records what `WebSecurity` reports about reloads.
final class ReloadLog: Sendable {
    private let outcomes = Mutex<[Bool]>([])
    func record(_ success: Bool) { outcomes.withLock { $0.append(success) } }
    var all: [Bool] { outcomes.withLock { $0 } }
}

@Suite("Web configuration: TLS, client certificates, basic auth, reloads", .serialized)
struct WebSecurityTests {
    /// Cost 4, the lowest: the tests check behaviour, not bcrypt's slowness.
    static let prometheusHash = Bcrypt.hash("scrape-secret", cost: 4)

    @Test("HTTPS with the configured certificate; plain HTTP and an untrusted CA get nothing")
    func tlsScrape() async throws {
        guard TestPKI.opensslAvailable else { return SystemTool.missing("openssl is not installed") }
        let pki = try await TestPKI.makeOffPool()
        defer { pki.remove() }
        try pki.write("web.yml", "tls_server_config:\n  cert_file: server1.crt\n  key_file: server1.key\n")
        let security = try WebSecurity(path: pki.path("web.yml"), logger: silentLogger())
        try await withSecuredServer(security: security) { port in
            let reply = try await fetch(port: port, trust: pki.path("ca1.crt"))
            #expect(reply.status == 200)
            #expect(reply.text.contains("leen_connection_healthy{"))
            let clock = ContinuousClock()
            let plain = await clock.measure {
                await #expect(throws: (any Error).self) { _ = try await fetch(port: port, timeout: .seconds(2)) }
            }
            let untrusted = await clock.measure {
                await #expect(throws: (any Error).self) {
                    _ = try await fetch(port: port, trust: pki.path("ca2.crt"), timeout: .seconds(2))
                }
            }
            print("refused: plain HTTP after \(plain), untrusted CA after \(untrusted)")
        }
    }

    @Test("RequireAndVerifyClientCert: no certificate or one from another CA is refused, the client CA's is served")
    func clientCertificateRequired() async throws {
        guard TestPKI.opensslAvailable else { return SystemTool.missing("openssl is not installed") }
        let pki = try await TestPKI.makeOffPool()
        defer { pki.remove() }
        try pki.write(
            "web.yml",
            """
            tls_server_config:
              cert_file: server1.crt
              key_file: server1.key
              client_ca_file: client-ca.crt
              client_auth_type: RequireAndVerifyClientCert
            """)
        let security = try WebSecurity(path: pki.path("web.yml"), logger: silentLogger())
        try await withSecuredServer(security: security) { port in
            let ca = pki.path("ca1.crt")
            await #expect(throws: (any Error).self) { _ = try await fetch(port: port, trust: ca, timeout: .seconds(2)) }
            await #expect(throws: (any Error).self) {
                _ = try await fetch(
                    port: port, trust: ca, clientCertificate: (pki.path("rogue-client.crt"), pki.path("rogue-client.key")),
                    timeout: .seconds(2))
            }
            let reply = try await fetch(
                port: port, trust: ca, clientCertificate: (pki.path("client.crt"), pki.path("client.key")))
            #expect(reply.status == 200)
        }
    }

    @Test("Basic auth: missing, wrong and unknown credentials get 401 with a Basic challenge; right ones 200")
    func basicAuth() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("web.yml").path
        // htpasswd writes $2y$: the same algorithm, under the name PHP gave it.
        let htpasswdStyle = "$2y$" + Self.prometheusHash.dropFirst(4)
        try "basic_auth_users:\n  prometheus: \(Self.prometheusHash)\n  grafana: \(htpasswdStyle)\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let security = try WebSecurity(path: path, logger: silentLogger())
        try await withSecuredServer(security: security) { port in
            for user in [nil, ("prometheus", "wrong"), ("nobody", "scrape-secret"), ("prometheus", "")] {
                let reply = try await fetch(port: port, user: user)
                #expect(reply.status == 401)
                #expect(reply.headers.first(name: "WWW-Authenticate")?.hasPrefix("Basic ") == true)
                #expect(!reply.text.contains("leen_"))
            }
            // Unknown paths ask for credentials too, so they reveal nothing; liveness stays open.
            #expect(try await fetch(port: port, path: "/nope").status == 401)
            #expect(try await fetch(port: port, path: "/status").status == 401)
            #expect(try await fetch(port: port, path: "/-/healthy").status == 200)
            let reply = try await fetch(port: port, user: ("prometheus", "scrape-secret"))
            #expect(reply.status == 200)
            #expect(reply.text.contains("leen_connection_healthy{"))
            #expect(try await fetch(port: port, user: ("grafana", "scrape-secret")).status == 200)
            #expect(try await fetch(port: port, path: "/nope", user: ("prometheus", "scrape-secret")).status == 404)
        }
    }

    @Test("A verified password is remembered: repeated scrapes do not run bcrypt again")
    func verificationCache() async throws {
        let verifier = BasicAuthVerifier()
        let hash = Bcrypt.hash("pw", cost: 10)
        let clock = ContinuousClock()
        let first = await clock.measure { #expect(await verifier.verify(user: "u", password: "pw", hash: hash)) }
        var repeated = Duration.zero
        for _ in 0..<20 {
            repeated += await clock.measure { #expect(await verifier.verify(user: "u", password: "pw", hash: hash)) }
        }
        #expect(verifier.computed.load(ordering: .relaxed) == 1)
        // A wrong password is never cached, and a changed hash for the user does not match the old entry.
        #expect(await verifier.verify(user: "u", password: "pW", hash: hash) == false)
        #expect(await verifier.verify(user: "u", password: "pw", hash: Bcrypt.hash("other", cost: 4)) == false)
        #expect(verifier.computed.load(ordering: .relaxed) == 3)
        // An unknown user costs a bcrypt check too: a fast 401 would tell which users exist.
        let unknown = await clock.measure { #expect(await verifier.verify(user: "x", password: "pw", hash: nil) == false) }
        print("bcrypt cost 10: first verification \(first), 20 cached ones \(repeated), unknown user \(unknown)")
        #expect(repeated < first)
        #expect(unknown > first / 4)
    }

    @Test("Changed users apply to the next request; a malformed change keeps the old users and is reported once")
    func usersReload() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("web.yml").path
        try "basic_auth_users:\n  prometheus: \(Self.prometheusHash)\n".write(toFile: path, atomically: true, encoding: .utf8)
        let log = ReloadLog()
        // The server's own watcher stays out of the way: this test reloads by hand, step by step.
        let security = try WebSecurity(
            path: path, checkInterval: .seconds(3600), logger: silentLogger(), onReload: { log.record($0) })
        #expect(security.reloadIfChanged() == .unchanged)
        try await withSecuredServer(security: security) { port in
            #expect(try await fetch(port: port, user: ("prometheus", "scrape-secret")).status == 200)

            try "basic_auth_users:\n  alice: \(Bcrypt.hash("alice-pw", cost: 4))\n"
                .write(toFile: path, atomically: true, encoding: .utf8)
            #expect(security.reloadIfChanged() == .reloaded)
            #expect(try await fetch(port: port, user: ("prometheus", "scrape-secret")).status == 401)
            #expect(try await fetch(port: port, user: ("alice", "alice-pw")).status == 200)

            try "basic_auth_users:\n  alice: alice-pw-in-clear\n".write(toFile: path, atomically: true, encoding: .utf8)
            guard case .failed(let message) = security.reloadIfChanged() else {
                Issue.record("a malformed file was applied")
                return
            }
            #expect(message.contains("basic_auth_users.alice: must be a bcrypt hash"))
            #expect(!message.contains("alice-pw-in-clear"))
            #expect(security.reloadIfChanged() == .unchanged)
            #expect(try await fetch(port: port, user: ("alice", "alice-pw")).status == 200)
            #expect(log.all == [true, false])

            // Removing every user turns authentication off, as exporter-toolkit does.
            try "".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(security.reloadIfChanged() == .reloaded)
            #expect(try await fetch(port: port).status == 200)
        }
    }

    @Test("A replaced certificate serves new connections, found by the server's own watcher")
    func certificateReload() async throws {
        guard TestPKI.opensslAvailable else { return SystemTool.missing("openssl is not installed") }
        let pki = try await TestPKI.makeOffPool()
        defer { pki.remove() }
        try pki.copy("server1.crt", to: "tls.crt")
        try pki.copy("server1.key", to: "tls.key")
        try pki.write("web.yml", "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n")
        let log = ReloadLog()
        let security = try WebSecurity(
            path: pki.path("web.yml"), checkInterval: .milliseconds(100), logger: silentLogger(),
            onReload: { log.record($0) })
        try await withSecuredServer(security: security) { port in
            #expect(try await fetch(port: port, trust: pki.path("ca1.crt")).status == 200)
            // The key first: for a moment the pair does not match, which must not replace the serving one.
            try pki.copy("server2.key", to: "tls.key")
            #expect(await eventually { log.all.contains(false) })
            #expect(try await fetch(port: port, trust: pki.path("ca1.crt")).status == 200)
            try pki.copy("server2.crt", to: "tls.crt")
            #expect(
                await eventually {
                    (try? await fetch(port: port, trust: pki.path("ca2.crt"), timeout: .seconds(1)).status) == 200
                })
            await #expect(throws: (any Error).self) {
                _ = try await fetch(port: port, trust: pki.path("ca1.crt"), timeout: .seconds(2))
            }
            #expect(log.all.last == true)
        }
    }

    @Test("Problems at start are configuration errors naming the file and the key")
    func startErrors() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("web.yml").path
        func issues() -> [String] {
            do {
                _ = try LoadedWebConfig.load(path: path)
                return []
            } catch {
                return error.issues.map(\.description)
            }
        }
        #expect(issues() == ["\(path): the web configuration file does not exist"])
        try "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(
            issues() == ["\(path): tls_server_config.cert_file: file \(directory.path)/missing.crt does not exist"])
        try "tls_server_config:\n  cert_file: missing.crt\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(issues() == ["\(path):2:3: tls_server_config: missing required key 'key_file'"])
    }

    @Test("A certificate with the wrong key is refused at start")
    func mismatchedKey() async throws {
        guard TestPKI.opensslAvailable else { return SystemTool.missing("openssl is not installed") }
        let pki = try await TestPKI.makeOffPool()
        defer { pki.remove() }
        try pki.write("web.yml", "tls_server_config:\n  cert_file: server1.crt\n  key_file: server2.key\n")
        do {
            _ = try LoadedWebConfig.load(path: pki.path("web.yml"))
            Issue.record("a mismatched key was accepted")
        } catch {
            #expect(error.description.contains("tls_server_config.key_file:"), "\(error)")
        }
    }

    @Test("Credentials are parsed as RFC 7617 says: scheme in any case, the first colon ends the user")
    func basicHeader() {
        let encoded = Data("u:p:q".utf8).base64EncodedString()
        #expect(WebSecurity.basicCredentials("Basic \(encoded)").map { [$0.0, $0.1] } == ["u", "p:q"])
        #expect(WebSecurity.basicCredentials("basic \(encoded)").map { [$0.0, $0.1] } == ["u", "p:q"])
        #expect(WebSecurity.basicCredentials("Bearer \(encoded)") == nil)
        #expect(WebSecurity.basicCredentials("Basic !!!") == nil)
        #expect(WebSecurity.basicCredentials(nil) == nil)
    }
}

func temporaryDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("leen-web-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// A listening socket on 127.0.0.1 with a free port, as systemd would pass one.
func listeningSocket() throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && listen(fd, 128) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    try #require(fd >= 0 && bound, "cannot listen on 127.0.0.1")
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

@Suite("The socket-activated server and the web configuration", .serialized)
struct InheritedSocketSecurityTests {
    @Test("Same TLS, basic auth and head limit as the bound server")
    func inheritedSocket() async throws {
        guard TestPKI.opensslAvailable else { return SystemTool.missing("openssl is not installed") }
        let pki = try await TestPKI.makeOffPool()
        defer { pki.remove() }
        try pki.write(
            "web.yml",
            """
            tls_server_config:
              cert_file: server1.crt
              key_file: server1.key
            basic_auth_users:
              prometheus: \(WebSecurityTests.prometheusHash)
            """)
        let security = try WebSecurity(path: pki.path("web.yml"), logger: silentLogger())
        let (fd, port) = try listeningSocket()
        let box = SnapshotBox(ServerTests.input())
        let server = InheritedSocketServer(
            socket: fd, provider: { box.value }, processMetrics: { nil }, security: security,
            limits: HTTPLimits(maximumHeaderBytes: 4096), logger: silentLogger())
        let running = Task { try await server.run() }
        defer { running.cancel() }
        let ca = pki.path("ca1.crt")
        #expect(
            await eventually(timeout: .seconds(5)) {
                (try? await fetch(port: port, path: "/-/healthy", trust: ca, timeout: .seconds(1)).status) == 200
            })
        let denied = try await fetch(port: port, trust: ca)
        #expect(denied.status == 401)
        #expect(denied.headers.first(name: "WWW-Authenticate")?.hasPrefix("Basic ") == true)
        #expect(try await fetch(port: port, trust: ca, user: ("prometheus", "wrong")).status == 401)
        let reply = try await fetch(port: port, trust: ca, user: ("prometheus", "scrape-secret"))
        #expect(reply.status == 200)
        #expect(reply.text.contains("leen_connection_healthy{"))
        await #expect(throws: (any Error).self) { _ = try await fetch(port: port, timeout: .seconds(2)) }
    }

    @Test("Without a web configuration: oversized heads get 400, odd methods 405, and scrapes go on")
    func inheritedSocketLimits() async throws {
        let (fd, port) = try listeningSocket()
        let box = SnapshotBox(ServerTests.input())
        let server = InheritedSocketServer(
            socket: fd, provider: { box.value }, processMetrics: { nil },
            limits: HTTPLimits(idleTimeout: .seconds(2), maximumHeaderBytes: 4096), logger: silentLogger())
        let running = Task { try await server.run() }
        defer { running.cancel() }
        #expect(await eventually(timeout: .seconds(5)) { (try? await fetch(port: port).status) == 200 })
        let big = try #require(RawSocket.connect(port: port))
        defer { big.close() }
        await big.waitConnected()
        await big.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 10_000))\r\n\r\n")
        let answer = await big.readAll(timeout: .seconds(2))
        #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 400"), "\(answer.prefix(60))")
        let brew = try #require(RawSocket.connect(port: port))
        defer { brew.close() }
        await brew.waitConnected()
        await brew.send("PUT /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        let answer405 = await brew.readUntil("\r\n\r\n", timeout: .seconds(10))
        #expect(answer405.hasPrefix("HTTP/1.1 405"), "\(answer405.prefix(60))")
        // An idle connection is closed after the (2 s) idle timeout.
        let idle = try #require(RawSocket.connect(port: port))
        defer { idle.close() }
        #expect(await eventually(timeout: .seconds(8)) { idle.isClosedByPeer })
        #expect(try await fetch(port: port).status == 200)
    }
}
