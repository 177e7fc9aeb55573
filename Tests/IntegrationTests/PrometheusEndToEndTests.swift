import HealthdTestSupport
import AsyncHTTPClient
import Foundation
import HummingbirdBcrypt
import LeenAPI
import LeenSimulator
import NIOCore
import Testing

/// A real Prometheus server scrapes the daemon (a real process) running against leen-sim; the test asks
/// Prometheus's HTTP API what it stored while the simulator makes transitions.
@Suite("Prometheus scrapes leen-healthd", .serialized)
struct PrometheusEndToEndTests {
    static let binary = SystemTool.find("prometheus")
    let organization = OrganizationID(UUID().uuidString.lowercased())

    /// The value of an instant query with one result; nil when Prometheus returns no series.
    static func query(_ port: Int, _ promql: String) async throws -> Double? {
        var components = URLComponents(string: "http://127.0.0.1:\(port)/api/v1/query")!
        components.queryItems = [URLQueryItem(name: "query", value: promql)]
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: components.url!.absoluteString), timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 20)
        let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        let results = (object?["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
        guard let value = results.first?["value"] as? [Any], let text = value.last as? String else { return nil }
        return Double(text)
    }

    /// Polls a query until `predicate` holds (20 s at most).
    static func waitFor(
        _ port: Int, _ promql: String, _ what: String, _ predicate: (Double?) -> Bool
    ) async throws -> Double? {
        var last: Double?
        for _ in 0..<100 {
            last = try? await query(port, promql)
            if predicate(last) { return last }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("timed out waiting for \(what): \(promql) = \(last.map { "\($0)" } ?? "no series")")
        return last
    }

    static func freePort() -> Int { Int.random(in: 30000..<40000) }

    @Test("the healthy gauge, the reason and the transition counter follow the simulator; removed series go stale")
    func scrape() async throws {
        guard let prometheus = Self.binary else {
            SystemTool.missing("prometheus is not installed (apt-get install prometheus)")
            return
        }
        let workspace = try Workspace()
        defer { workspace.remove() }
        let metricsPort = Self.freePort()
        let prometheusPort = metricsPort + 1
        let (config, scenario) = simulatorSetup(organization: organization, apiKey: workspace.apiKey)
        try await LeenSimulator.withRunning(configuration: config, scenario: scenario, logger: quietLogger) {
            simulator, baseURL in
            try workspace.write(
                "config.yaml",
                workspace.configuration(baseURL: baseURL, organization: organization)
                    .replacingOccurrences(of: "listen: off", with: "listen: 127.0.0.1:\(metricsPort)"))
            try workspace.write(
                "prometheus.yml",
                """
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                scrape_configs:
                  - job_name: leen-healthd
                    static_configs:
                      - targets: ["127.0.0.1:\(metricsPort)"]
                """)
            let daemon = try DaemonProcess(configPath: workspace.path("config.yaml"))
            let server = Process()
            server.executableURL = URL(fileURLWithPath: prometheus)
            server.arguments = [
                "--config.file=\(workspace.path("prometheus.yml"))", "--storage.tsdb.path=\(workspace.path("tsdb"))",
                "--web.listen-address=127.0.0.1:\(prometheusPort)", "--log.level=warn",
            ]
            server.standardOutput = FileHandle.nullDevice
            server.standardError = FileHandle.nullDevice
            try server.run()
            defer {
                server.terminate()
                server.waitUntilExit()
            }

            let tenable = #"{identifier="tenable-e2e"}"#
            #expect(try await Self.waitFor(prometheusPort, "up{job=\"leen-healthd\"}", "the target up") { $0 == 1 } == 1)
            #expect(try await Self.waitFor(prometheusPort, "leen_connection_healthy\(tenable)", "healthy") { $0 == 1 } == 1)
            #expect(
                try await Self.query(prometheusPort, "leen_connection_status{identifier=\"tenable-e2e\",status=\"HEALTHY\"}") == 1)
            #expect(try await Self.query(prometheusPort, "leen_connection_health_transitions_total\(tenable)") == 0)

            // CUSTOMER must act.
            try simulator.state.setHealth("tenable-e2e", try #require(ConnectionHealthStatus(documented: .unauthorized)))
            #expect(try await Self.waitFor(prometheusPort, "leen_connection_healthy\(tenable)", "unhealthy") { $0 == 0 } == 0)
            let reason = #"leen_connection_reason{identifier="tenable-e2e",health_name="UNAUTHORIZED",resolution_owner="CUSTOMER"}"#
            #expect(try await Self.waitFor(prometheusPort, reason, "the reason") { $0 == 1 } == 1)
            #expect(try await Self.query(prometheusPort, "leen_connection_health_transitions_total\(tenable)") == 1)
            // The old reason's series is gone, not left at 1.
            let oldReason = #"leen_connection_reason{identifier="tenable-e2e",health_name="HEALTHY"}"#
            #expect(try await Self.waitFor(prometheusPort, oldReason, "the old reason to go stale") { $0 == nil } == nil)

            // Recovery counts a second transition.
            try simulator.state.setHealth("tenable-e2e", try #require(ConnectionHealthStatus(documented: .healthy)))
            #expect(try await Self.waitFor(prometheusPort, "leen_connection_healthy\(tenable)", "recovered") { $0 == 1 } == 1)
            #expect(
                try await Self.waitFor(prometheusPort, "leen_connection_health_transitions_total\(tenable)", "2 transitions") {
                    $0 == 2
                } == 2)

            // The connection disappears from Leen: its series go stale at the next scrape.
            try simulator.state.remove("tenable-e2e")
            #expect(
                try await Self.waitFor(prometheusPort, "leen_connection_healthy\(tenable)", "stale series") { $0 == nil } == nil)
            #expect(try await Self.query(prometheusPort, "leen_connection_healthy{identifier=\"entra-e2e\"}") != nil)
            #expect(try await daemon.stop() == 0)
        }
    }

    @Test("Prometheus scrapes over TLS with basic auth (web configuration); a wrong password is a down target")
    func scrapeOverTLSWithBasicAuth() async throws {
        guard let prometheus = Self.binary else {
            SystemTool.missing("prometheus is not installed (apt-get install prometheus)")
            return
        }
        guard TestPKI.opensslAvailable else {
            SystemTool.missing("openssl is not installed")
            return
        }
        let workspace = try Workspace()
        defer { workspace.remove() }
        let pki = try await TestPKI.makeOffPool()
        defer { pki.remove() }
        let metricsPort = Self.freePort()
        let prometheusPort = metricsPort + 1
        try pki.write(
            "web.yml",
            """
            tls_server_config:
              cert_file: server1.crt
              key_file: server1.key
            basic_auth_users:
              prometheus: \(Bcrypt.hash("e2e-scrape-password", cost: 10))
            """)
        let (config, scenario) = simulatorSetup(organization: organization, apiKey: workspace.apiKey)
        try await LeenSimulator.withRunning(configuration: config, scenario: scenario, logger: quietLogger) {
            _, baseURL in
            try workspace.write(
                "config.yaml",
                workspace.configuration(baseURL: baseURL, organization: organization)
                    .replacingOccurrences(
                        of: "listen: off",
                        with: "listen: 127.0.0.1:\(metricsPort)\n  web_config_file: \(pki.path("web.yml"))"))
            try workspace.write("password", "e2e-scrape-password")
            try workspace.write("wrong-password", "not-the-password")
            try workspace.write(
                "prometheus.yml",
                """
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                scrape_configs:
                  - job_name: leen-healthd
                    scheme: https
                    tls_config:
                      ca_file: \(pki.path("ca1.crt"))
                    basic_auth:
                      username: prometheus
                      password_file: \(workspace.path("password"))
                    static_configs:
                      - targets: ["127.0.0.1:\(metricsPort)"]
                  - job_name: wrong-password
                    scheme: https
                    tls_config:
                      ca_file: \(pki.path("ca1.crt"))
                    basic_auth:
                      username: prometheus
                      password_file: \(workspace.path("wrong-password"))
                    static_configs:
                      - targets: ["127.0.0.1:\(metricsPort)"]
                  - job_name: plain-http
                    static_configs:
                      - targets: ["127.0.0.1:\(metricsPort)"]
                """)
            let daemon = try DaemonProcess(configPath: workspace.path("config.yaml"))
            let server = Process()
            server.executableURL = URL(fileURLWithPath: prometheus)
            server.arguments = [
                "--config.file=\(workspace.path("prometheus.yml"))", "--storage.tsdb.path=\(workspace.path("tsdb"))",
                "--web.listen-address=127.0.0.1:\(prometheusPort)", "--log.level=warn",
            ]
            server.standardOutput = FileHandle.nullDevice
            server.standardError = FileHandle.nullDevice
            try server.run()
            defer {
                server.terminate()
                server.waitUntilExit()
            }
            #expect(try await Self.waitFor(prometheusPort, "up{job=\"leen-healthd\"}", "the TLS target up") { $0 == 1 } == 1)
            #expect(
                try await Self.waitFor(prometheusPort, "leen_connection_healthy{identifier=\"tenable-e2e\"}", "healthy") {
                    $0 == 1
                } == 1)
            #expect(try await Self.waitFor(prometheusPort, "up{job=\"wrong-password\"}", "401 as down") { $0 == 0 } == 0)
            #expect(try await Self.waitFor(prometheusPort, "up{job=\"plain-http\"}", "plain HTTP as down") { $0 == 0 } == 0)
            #expect(try await Self.query(prometheusPort, "leen_web_config_last_reload_successful") == 1)
            #expect(try await daemon.stop() == 0)
        }
    }
}
