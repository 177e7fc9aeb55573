import HealthdTestSupport
import AsyncHTTPClient
import Foundation
import LeenAPI
import LeenSimulator
import NIOCore
import Testing

/// The metrics endpoint served on a listening socket passed by systemd (`LISTEN_FDS`), as
/// `leen-healthd.socket` does; `systemd-socket-activate` passes it the same way.
@Suite("socket activation", .serialized)
struct SocketActivationTests {
    static let activator = SystemTool.find("systemd-socket-activate")

    @Test("the daemon serves /metrics on the inherited socket instead of binding its own")
    func inheritedSocket() async throws {
        guard let activator = Self.activator else {
            SystemTool.missing("systemd-socket-activate is not installed (apt-get install systemd)")
            return
        }
        let workspace = try Workspace()
        defer { workspace.remove() }
        // metrics.listen is off in the configuration: only the inherited socket can answer.
        let body = try await Self.scrapeDaemon(in: workspace) { port in
            (activator, ["-l", "127.0.0.1:\(port)", daemonBinary(), "run", "--config", workspace.path("config.yaml")])
        }
        #expect(body.contains("leen_build_info{"))
        #expect(body.contains(#"identifier="tenable-e2e""#))
    }

    @Test("--web.listen-address serves /metrics where the configuration says off; a bad value is refused")
    func listenAddressOverride() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let refused = try await runDaemonBinary(
            ["run", "--config", workspace.path("missing.yaml"), "--web.listen-address", "nowhere"], in: workspace)
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("--web.listen-address"))

        // metrics.listen is off in the configuration: only the command line opens the endpoint.
        let body = try await Self.scrapeDaemon(in: workspace) { port in
            (daemonBinary(), ["run", "--config", workspace.path("config.yaml"), "--web.listen-address", "127.0.0.1:\(port)"])
        }
        #expect(body.contains(#"identifier="tenable-e2e""#))
    }

    /// Runs leen-sim with one organization, writes the workspace's configuration for it (metrics.listen
    /// off) as `config.yaml`, then runs the command `command` gives for a free port and scrapes it.
    static func scrapeDaemon(
        in workspace: Workspace, _ command: (Int) -> (executable: String, arguments: [String])
    ) async throws -> String {
        let organization = OrganizationID(UUID().uuidString.lowercased())
        let port = Int.random(in: 40000..<50000)
        let (config, scenario) = simulatorSetup(organization: organization, apiKey: workspace.apiKey)
        return try await LeenSimulator.withRunning(configuration: config, scenario: scenario, logger: quietLogger) {
            _, baseURL in
            try workspace.write("config.yaml", workspace.configuration(baseURL: baseURL, organization: organization))
            let (executable, arguments) = command(port)
            return try await scrapeWhileRunning(executable, arguments, port: port)
        }
    }

    /// Starts `executable`, scrapes `http://127.0.0.1:port/metrics` until it shows a monitored connection
    /// (about 10 s at most), stops the process, and returns the last body.
    static func scrapeWhileRunning(_ executable: String, _ arguments: [String], port: Int) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            kill(process.processIdentifier, SIGTERM)
            var status: Int32 = 0
            for _ in 0..<100 where waitpid(process.processIdentifier, &status, WNOHANG) == 0 { usleep(50_000) }
            kill(process.processIdentifier, SIGKILL)
        }
        var body = ""
        for _ in 0..<50 {
            if let response = try? await HTTPClient.shared.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(1))
            {
                body = String(buffer: try await response.body.collect(upTo: 1 << 22))
                if body.contains("leen_connection_healthy{") { break }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        return body
    }
}
