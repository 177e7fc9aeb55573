import HealthdTestSupport
import Foundation
import Testing

/// leen-healthd installed as a unit under a real systemd (PID 1 in private namespaces, booted by
/// `scripts/systemd-namespace.sh`), with leen-sim as a second unit and the API key from LoadCredential=.
@Suite("leen-healthd under a real systemd", .serialized)
struct SystemdServiceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let script = root.appendingPathComponent("scripts/systemd-namespace.sh").path
    static let canBoot = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/lib/systemd/systemd")

    /// Runs a command and returns its exit status and output (stdout and stderr together).
    @discardableResult
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try SystemTool.spawn(arguments)
    }

    @Test("start waits for READY, STATUS, events with catalog, reload, watchdog restart, clean stop, exposure")
    func lifecycle() async throws {
        guard Self.canBoot else {
            SystemTool.missing("systemd cannot be booted here (needs root and /lib/systemd/systemd)")
            return
        }
        // The namespace's state directory, which the script also makes visible inside at the same path (the
        // namespace has its own /tmp): the files staged here are copied into place from inside.
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("leen-systemd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let ns = work.path
        defer {
            _ = try? Self.run([Self.script, "stop", ns])
            try? FileManager.default.removeItem(at: work)
        }
        let simPort = Int.random(in: 20000..<30000)
        let metricsPort = simPort + 1
        let organization = UUID().uuidString.lowercased()
        let apiKey = "systemd-key-\(UUID().uuidString.prefix(8))-SECRET"
        func file(_ name: String, _ text: String) throws -> String {
            let path = work.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        _ = try file("api-key", apiKey)
        _ = try file("ck", "systemd-ck-SECRET")
        _ = try file("sk", "systemd-sk-SECRET")
        _ = try file(
            "scenario.json",
            #"{"random_evolution": false, "organizations": [{"id": "\#(organization)", "name": "NS", "identifier": "ns"}], "connections": [{"organization": "ns", "vendor": "TENABLE", "identifier": "tenable-ns"}]}"#)
        _ = try file(
            "leen-sim.service",
            """
            [Unit]
            Description=leen-sim for the integration test
            DefaultDependencies=no
            [Service]
            ExecStart=/usr/local/bin/leen-sim --listen 127.0.0.1:\(simPort) --api-key \(apiKey) --scenario /etc/leen-healthd/scenario.json --time-scale 0 --log-level warning
            """)
        let config = """
            api:
              base_url: http://127.0.0.1:\(simPort)/v1
              key: { credential: leen-api-key }
            poll:
              interval: 1s
              jitter: 0%
            state_directory: /var/lib/leen-healthd
            metrics:
              listen: 127.0.0.1:\(metricsPort)
            organizations:
              - id: \(organization)
                name: NS
                connections:
                  - identifier: tenable-ns
                    vendor: TENABLE
                    credentials:
                      client_key: { file: /etc/leen-healthd/ck }
                      secret_key: { file: /etc/leen-healthd/sk }
                  - identifier: entra-ns
                    vendor: MS_ENTRA
            """
        _ = try file("leen-healthd.yaml", config)
        _ = try file("invalid.yaml", config.replacingOccurrences(of: "interval: 1s", with: "intervall: 1s"))
        // The shipped unit, with the binary where the test installs it and test-sized timings. Its dependencies
        // stay as shipped (sysinit.target, network-online.target): the namespace keeps them from the host.
        let unit = try String(contentsOfFile: Self.root.appendingPathComponent("systemd/leen-healthd.service").path, encoding: .utf8)
        _ = try file("leen-healthd.service", unit.replacingOccurrences(of: "/usr/bin/leen-healthd", with: "/usr/local/bin/leen-healthd"))
        _ = try file(
            "test.conf",
            """
            [Unit]
            After=leen-sim.service
            [Service]
            WatchdogSec=3s
            TimeoutAbortSec=2s
            RestartSec=1s
            """)
        let bin = ProcessInfo.processInfo.environment["LEEN_HEALTHD_BIN"].map { ($0 as NSString).deletingLastPathComponent }
            ?? Self.root.appendingPathComponent(".build/debug").path
        let w = work.path
        let r = Self.root.path

        let boot = try Self.run([Self.script, "start", ns])
        try #require(boot.status == 0, "systemd did not boot: \(boot.output)")
        func inside(_ command: String) throws -> (status: Int32, output: String) {
            try Self.run([Self.script, "exec", ns, "/bin/bash", "-c", command])
        }
        let setup = try inside(
            """
            set -e
            cp \(bin)/leen-healthd \(bin)/leen-sim /usr/local/bin/
            systemd-sysusers \(r)/systemd/leen-healthd.sysusers
            cp \(w)/scenario.json \(w)/leen-healthd.yaml \(w)/ck \(w)/sk \(w)/api-key /etc/leen-healthd/
            chown leen-healthd /etc/leen-healthd/ck /etc/leen-healthd/sk
            chmod 600 /etc/leen-healthd/ck /etc/leen-healthd/sk /etc/leen-healthd/api-key
            chgrp leen-healthd /etc/leen-healthd/leen-healthd.yaml && chmod 640 /etc/leen-healthd/leen-healthd.yaml
            cp \(w)/leen-sim.service \(w)/leen-healthd.service /run/systemd/system/
            mkdir -p /run/systemd/system/leen-healthd.service.d && cp \(w)/test.conf /run/systemd/system/leen-healthd.service.d/
            cp \(r)/systemd/leen-healthd.catalog /usr/lib/systemd/catalog/ && journalctl --update-catalog
            systemctl daemon-reload
            systemctl start leen-sim
            for i in $(seq 1 50); do (echo > /dev/tcp/127.0.0.1/\(simPort)) 2>/dev/null && break; sleep 0.1; done
            """)
        try #require(setup.status == 0, "setup failed: \(setup.output)")

        // `systemctl start` returns only after READY=1, which comes after the first poll cycle: by then the
        // STATUS line is set and the first-seen events are in the journal.
        let start = try inside("systemctl start leen-healthd && systemctl show -p StatusText --value leen-healthd && journalctl -u leen-healthd -o cat LEEN_EVENT=connection_monitored")
        #expect(start.status == 0, "\(start.output)")
        #expect(start.output.contains("2 connections:"))
        #expect(start.output.components(separatedBy: "is now monitored").count - 1 == 2)
        let status = try inside("systemctl status leen-healthd --no-pager")
        #expect(status.output.contains("Status: \"2 connections:"), "\(status.output)")
        let metrics = try inside("curl -s http://127.0.0.1:\(metricsPort)/metrics")
        #expect(metrics.output.contains("leen_connection_healthy{"))

        // A transition made in leen-sim becomes an event with its fields and the catalog's text.
        let health = try inside(
            #"curl -s -X PUT http://127.0.0.1:\#(simPort)/_sim/connections/tenable-ns/health -d '{"name": "UNAUTHORIZED"}'"#)
        #expect(health.status == 0)
        var unhealthy = ""
        for _ in 0..<50 {
            unhealthy = try inside("journalctl -u leen-healthd -o json LEEN_EVENT=connection_unhealthy").output
            if unhealthy.contains("tenable-ns") { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let entry = try #require(
            unhealthy.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.first)
        #expect(entry["LEEN_IDENTIFIER"] as? String == "tenable-ns")
        #expect(entry["LEEN_RESOLUTION_OWNER"] as? String == "CUSTOMER")
        #expect(entry["LEEN_ORGANIZATION_ID"] as? String == organization)
        #expect(entry["_SYSTEMD_UNIT"] as? String == "leen-healthd.service")
        let explained = try inside("journalctl -u leen-healthd -x --no-pager LEEN_EVENT=connection_unhealthy").output
        #expect(explained.contains("Defined-By: leen-healthd"), "\(explained)")
        #expect(explained.contains("tenable-ns"))

        // Reload: a valid configuration is reloaded; an invalid one is refused and the daemon keeps running.
        let mainPID = try inside("systemctl show -p MainPID --value leen-healthd").output
        #expect(try inside("systemctl reload leen-healthd").status == 0)
        #expect(try await SystemTool.waitFor(inside, "journalctl -u leen-healthd -o cat LEEN_EVENT=config_reloaded", "Configuration reloaded"))
        try inside("cp \(w)/invalid.yaml /etc/leen-healthd/leen-healthd.yaml")
        #expect(try inside("systemctl reload leen-healthd").status == 0)
        #expect(try await SystemTool.waitFor(inside, "journalctl -u leen-healthd -o cat LEEN_EVENT=config_reload_failed", "intervall"))
        #expect(try inside("systemctl is-active leen-healthd").output.hasPrefix("active"))
        #expect(try inside("systemctl show -p MainPID --value leen-healthd").output == mainPID)
        try inside("cp \(w)/leen-healthd.yaml /etc/leen-healthd/leen-healthd.yaml")

        // A stopped (wedged) daemon misses its watchdog pings and is restarted.
        try inside("kill -STOP \(mainPID.trimmingCharacters(in: .whitespacesAndNewlines))")
        var restarted = false
        for _ in 0..<60 {
            let show = try inside("systemctl show -p NRestarts -p ActiveState -p MainPID leen-healthd").output
            if show.contains("NRestarts=1"), show.contains("ActiveState=active"), !show.contains("MainPID=\(mainPID)") {
                restarted = true
                break
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(restarted, "the watchdog did not restart the stopped daemon")
        #expect(try inside("journalctl -u leen-healthd -o cat --no-pager").output.contains("Watchdog timeout"))

        // A clean stop: exit 0 and a daemon_stopping event.
        #expect(try inside("systemctl stop leen-healthd").status == 0)
        let stopped = try inside("systemctl show -p ActiveState -p Result -p ExecMainStatus leen-healthd").output
        #expect(stopped.contains("ActiveState=inactive"), "\(stopped)")
        #expect(stopped.contains("Result=success"), "\(stopped)")
        #expect(stopped.contains("ExecMainStatus=0"), "\(stopped)")
        #expect(try inside("journalctl -u leen-healthd -o cat LEEN_EVENT=daemon_stopping").output.contains("stopping"))

        // The sandbox as systemd itself scores it for the loaded unit.
        let security = try inside("systemd-analyze security leen-healthd.service --no-pager").output
        let score = security.split(separator: "\n").last { $0.contains("Overall exposure level") }
            .flatMap { line in line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) } }
        let exposure = try #require(score, "no exposure in: \(security.suffix(300))")
        #expect(exposure <= 2.0, "exposure \(exposure) is above the 2.0 target")

        // No secret in the journal.
        let journal = try inside("journalctl -o json --no-pager").output
        #expect(!journal.contains(apiKey))
        #expect(!journal.contains("systemd-sk-SECRET"))
    }

}
