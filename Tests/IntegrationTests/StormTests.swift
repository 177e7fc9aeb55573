import Foundation
import HealthdTestSupport
import Testing

/// Tens of thousands of connections flipping at once, with the shipped unit (its journald rate limit) under a
/// real systemd: every per-connection event reaches the journal, paced, and journald suppresses nothing.
@Suite("A storm under a real systemd", .serialized)
struct StormTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let script = root.appendingPathComponent("scripts/systemd-namespace.sh").path
    static let canBoot = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/lib/systemd/systemd")
    static let connections = Int(ProcessInfo.processInfo.environment["LEEN_STORM_CONNECTIONS"] ?? "") ?? 20_000

    @Test("Every connection turns INTERNAL_ERROR at once: all events written, paced, none suppressed")
    func storm() async throws {
        guard Self.canBoot else {
            SystemTool.missing("systemd cannot be booted here (needs root and /lib/systemd/systemd)")
            return
        }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("leen-storm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let ns = work.path
        defer {
            _ = try? SystemTool.spawn([Self.script, "stop", ns])
            try? FileManager.default.removeItem(at: work)
        }
        let simPort = Int.random(in: 20000..<30000)
        let metricsPort = simPort + 1
        let bin = ProcessInfo.processInfo.environment["LEEN_HEALTHD_BIN"].map { ($0 as NSString).deletingLastPathComponent }
            ?? Self.root.appendingPathComponent(".build/debug").path
        let w = work.path
        let r = Self.root.path
        try "storm-key-SECRET".write(toFile: "\(w)/api-key", atomically: true, encoding: .utf8)
        try """
            [Unit]
            Description=leen-sim for the storm test
            DefaultDependencies=no
            [Service]
            ExecStart=/usr/local/bin/leen-sim --listen 127.0.0.1:\(simPort) --api-key storm-key-SECRET --scenario /etc/leen-healthd/fleet.json --time-scale 0 --log-level warning
            """.write(toFile: "\(w)/leen-sim.service", atomically: true, encoding: .utf8)
        let unit = try String(contentsOfFile: "\(r)/systemd/leen-healthd.service", encoding: .utf8)
        try unit.replacingOccurrences(of: "/usr/bin/leen-healthd", with: "/usr/local/bin/leen-healthd")
            .write(toFile: "\(w)/leen-healthd.service", atomically: true, encoding: .utf8)
        // The shipped unit as it is (rate limit, sandbox); only the start timeout grows for a debug build's
        // first cycle over the whole fleet, and the sim comes first.
        try "[Unit]\nAfter=leen-sim.service\n[Service]\nTimeoutStartSec=10min\n"
            .write(toFile: "\(w)/test.conf", atomically: true, encoding: .utf8)

        let boot = try SystemTool.spawn([Self.script, "start", ns])
        try #require(boot.status == 0, "systemd did not boot: \(boot.output)")
        func inside(_ command: String) throws -> (status: Int32, output: String) {
            try SystemTool.spawn([Self.script, "exec", ns, "/bin/bash", "-c", command])
        }
        func count(_ event: String) throws -> Int {
            Int(try inside("journalctl -u leen-healthd -o cat --output-fields=LEEN_EVENT_ID LEEN_EVENT=\(event) | wc -l").output
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        let setup = try inside(
            """
            set -e
            cp \(bin)/leen-healthd \(bin)/leen-sim /usr/local/bin/
            systemd-sysusers \(r)/systemd/leen-healthd.sysusers
            mkdir -p /etc/leen-healthd /run/systemd/journald.conf.d
            # Room for every entry: a volatile journal that rotated would lose entries the test counts.
            printf '[Journal]\\nRuntimeMaxUse=4G\\nRuntimeMaxFileSize=512M\\n' > /run/systemd/journald.conf.d/storm.conf
            systemctl restart systemd-journald
            leen-sim fleet scenario --organizations 20 --connections \(Self.connections) --seed 5 --output /etc/leen-healthd/fleet.json
            cp \(w)/api-key /etc/leen-healthd/api-key && chown leen-healthd /etc/leen-healthd/api-key && chmod 600 /etc/leen-healthd/api-key
            leen-sim fleet config --from-scenario /etc/leen-healthd/fleet.json --base-url http://127.0.0.1:\(simPort)/v1 \\
                --key-file /etc/leen-healthd/api-key --state-directory /var/lib/leen-healthd \\
                --listen 127.0.0.1:\(metricsPort) --interval 5s --jitter 0% --concurrency 4 \\
                --output /etc/leen-healthd/leen-healthd.yaml
            chgrp leen-healthd /etc/leen-healthd/leen-healthd.yaml && chmod 640 /etc/leen-healthd/leen-healthd.yaml
            cp \(w)/leen-sim.service \(w)/leen-healthd.service /run/systemd/system/
            mkdir -p /run/systemd/system/leen-healthd.service.d && cp \(w)/test.conf /run/systemd/system/leen-healthd.service.d/
            systemctl daemon-reload
            systemctl start leen-sim
            for i in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/\(simPort)) 2>/dev/null && break; sleep 0.1; done
            """)
        try #require(setup.status == 0, "setup failed: \(setup.output)")

        // The first start is a storm of its own: adopted and monitored events for every connection.
        let start = try inside("systemctl start leen-healthd")
        let log = try inside("journalctl -u leen-healthd --no-pager | tail -30").output
        try #require(start.status == 0, "\(start.output)\n\(log)")
        let firstStart = ContinuousClock.now
        var monitored = 0
        while ContinuousClock.now - firstStart < .seconds(300) {
            monitored = try count("connection_monitored")
            if monitored >= Self.connections { break }
            try await Task.sleep(for: .seconds(1))
        }
        let firstWritten = ContinuousClock.now - firstStart
        #expect(monitored == Self.connections)

        // Leen-wide trouble: every connection fails at once.
        let flip = try inside(
            #"curl -sf -X PUT http://127.0.0.1:\#(simPort)/_sim/bulk/health -d '{"select": {"all": true}, "health": {"name": "INTERNAL_ERROR"}}'"#)
        #expect(flip.output.contains("\"matched\":\(Self.connections)"), "\(flip.output)")
        let flipped = ContinuousClock.now
        let flippedAt = Date()
        var unhealthy = 0
        while ContinuousClock.now - flipped < .seconds(300) {
            unhealthy = try count("connection_unhealthy")
            if unhealthy >= Self.connections { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        let allWritten = ContinuousClock.now - flipped
        // A storm is one incident event (the connections' own events come at info, all of them still written).
        let incidents = try inside("journalctl -u leen-healthd -o json LEEN_EVENT=incident_started").output
            .split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(incidents.count == 1, "\(incidents.count) incident_started events")
        var incidentDelay = Double.nan
        if let incident = incidents.first {
            #expect(Int(incident["LEEN_CONNECTIONS"] as? String ?? "") ?? 0 >= 10)
            #expect(incident["PRIORITY"] as? String == "4", "LEEN owns INTERNAL_ERROR: warning, not err")
            // Within one poll interval (5 s) of the flip, plus the time one poll of an organization takes.
            let written = Double(incident["__REALTIME_TIMESTAMP"] as? String ?? "").map { Date(timeIntervalSince1970: $0 / 1e6) }
            let delay = written.map { $0.timeIntervalSince(flippedAt) } ?? .infinity
            #expect(delay < 5 + 5, "incident_started came \(delay) s after the flip")
            incidentDelay = delay
        }
        // Nothing else pages: every other event of the storm is below warning.
        let loud = try inside("journalctl -u leen-healthd -o json -p warning").output.split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .compactMap { $0["LEEN_EVENT"] as? String }.filter { $0 != "incident_started" }
        #expect(loud.isEmpty, "\(Dictionary(grouping: loud, by: { $0 }).mapValues(\.count))")
        let metrics = try inside("curl -sf http://127.0.0.1:\(metricsPort)/metrics").output
        let pending = metrics.split(separator: "\n").first { $0.hasPrefix("leen_events_pending ") }
        #expect(pending == "leen_events_pending 0", "\(pending ?? "no leen_events_pending")")

        // journald says when it drops a unit's entries: it must not have.
        let suppressed = try inside("journalctl --no-pager -o cat -u systemd-journald | grep -i suppressed || true").output
        #expect(suppressed.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(suppressed)")
        let ids = try inside("journalctl -u leen-healthd -o cat --output-fields=LEEN_EVENT_ID LEEN_EVENT=connection_unhealthy | sort | uniq -d | wc -l").output
        #expect(ids.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "no event written twice")
        print("storm test: \(Self.connections) connections; first start's monitored events all written \(firstWritten) after READY; all \(unhealthy) unhealthy events in the journal \(allWritten) after the flip; \(incidents.count) incident_started, \(incidentDelay) s after the flip")
        #expect(try inside("systemctl stop leen-healthd").status == 0)
    }
}
