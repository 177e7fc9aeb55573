import HealthdTestSupport
import Foundation
import Testing

/// The systemd units in `systemd/` are valid for the systemd that checks them and keep their sandbox:
/// `systemd-analyze security --offline=yes` must rate the service and the template at 2.0 or lower
/// (systemd-resolved, for comparison, is 2.1). Skipped without systemd-analyze, unless
/// `LEEN_REQUIRE_REAL_PARTS=1` (CI), which makes that a failure.
@Suite("systemd units")
struct UnitSecurityTests {
    /// The highest exposure accepted, as `systemd-analyze` prints it (0.0 to 10.0).
    static let maximumExposure = 2.0

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let unitDirectory = packageRoot.appendingPathComponent("systemd")

    static let systemdAnalyze = SystemTool.find("systemd-analyze")
    static let skipMessage: Comment =
        "systemd-analyze is not installed (apt-get install systemd); set LEEN_REQUIRE_REAL_PARTS=1 to make this a failure"

    @Test(.enabled(if: systemdAnalyze != nil || SystemTool.realPartsRequired, skipMessage))
    func serviceExposureIsAtMostTwo() throws {
        let analyze = try #require(
            Self.systemdAnalyze, "systemd-analyze is required (LEEN_REQUIRE_REAL_PARTS=1) but not installed")
        let exposure = try Self.exposure(
            analyze, unit: Self.unitDirectory.appendingPathComponent("leen-healthd.service").path)
        #expect(exposure <= Self.maximumExposure, "leen-healthd.service: exposure \(exposure) > \(Self.maximumExposure)")
    }

    @Test(.enabled(if: systemdAnalyze != nil || SystemTool.realPartsRequired, skipMessage))
    func templateInstanceExposureIsAtMostTwo() throws {
        let analyze = try #require(
            Self.systemdAnalyze, "systemd-analyze is required (LEEN_REQUIRE_REAL_PARTS=1) but not installed")
        // An instance of the template, next to a copy of it: leen-healthd@test.service.
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(
            at: Self.unitDirectory.appendingPathComponent("leen-healthd@.service"),
            to: directory.appendingPathComponent("leen-healthd@.service"))
        let exposure = try Self.exposure(analyze, unit: directory.appendingPathComponent("leen-healthd@test.service").path)
        #expect(exposure <= Self.maximumExposure, "leen-healthd@test.service: exposure \(exposure) > \(Self.maximumExposure)")
    }

    /// `systemd-analyze verify` finds no unknown key, bad value or missing unit. The binaries are not
    /// installed here, so a copy of each unit runs /bin/true instead of /usr/bin/leen-healthd.
    @Test(.enabled(if: systemdAnalyze != nil || SystemTool.realPartsRequired, skipMessage))
    func unitsVerifyCleanly() throws {
        let analyze = try #require(
            Self.systemdAnalyze, "systemd-analyze is required (LEEN_REQUIRE_REAL_PARTS=1) but not installed")
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in ["leen-healthd.service", "leen-healthd@.service", "leen-healthd.socket"] {
            let text = try String(contentsOf: Self.unitDirectory.appendingPathComponent(name), encoding: .utf8)
            #expect(name.hasSuffix(".socket") || text.contains("ExecStart=/usr/bin/leen-healthd run "), "\(name)")
            try text.replacingOccurrences(of: "/usr/bin/leen-healthd", with: "/bin/true")
                .write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let units = ["leen-healthd.service", "leen-healthd@test.service", "leen-healthd.socket"].map {
            directory.appendingPathComponent($0).path
        }
        let result = try SystemTool.run(analyze, ["verify", "--man=no"] + units)
        #expect(result.status == 0, "systemd-analyze verify failed:\n\(result.stdout)\(result.stderr)")
        #expect(result.stderr.isEmpty, "systemd-analyze verify complained:\n\(result.stderr)")
    }

    /// The settings the daemon's systemd integration relies on, and the main sandbox settings (the exposure
    /// score alone would let several of them go unnoticed), stay in both service units.
    @Test func servicesKeepTheirContract() throws {
        for (name, instance) in [("leen-healthd.service", "leen-healthd"), ("leen-healthd@.service", "%i")] {
            let text = try String(contentsOf: Self.unitDirectory.appendingPathComponent(name), encoding: .utf8)
            let lines = Set(text.split(separator: "\n").map(String.init))
            let config = instance == "%i" ? "/etc/leen-healthd/%i.yaml" : "/etc/leen-healthd/leen-healthd.yaml"
            for line in [
                "Type=notify",
                "ExecStartPre=/usr/bin/leen-healthd check-config --config \(config)",
                "ExecStart=/usr/bin/leen-healthd run --config \(config)",
                "ExecReload=/bin/kill -HUP $MAINPID",
                "Restart=on-failure",
                "RestartPreventExitStatus=78",
                "StateDirectory=\(instance == "%i" ? "leen-healthd-%i" : "leen-healthd")",
                "LoadCredential=leen-api-key:/etc/leen-healthd/\(instance == "%i" ? "%i.api-key" : "api-key")",
                "User=leen-healthd",
                "CapabilityBoundingSet=",
                "NoNewPrivileges=yes",
                "ProtectSystem=strict",
                "ProtectHome=yes",
                "PrivateTmp=yes",
                "PrivateDevices=yes",
                "PrivateUsers=yes",
                "ProtectKernelTunables=yes",
                "ProtectControlGroups=yes",
                "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                "RestrictNamespaces=yes",
                "MemoryDenyWriteExecute=yes",
                "SystemCallArchitectures=native",
                "SystemCallFilter=@system-service",
                "SystemCallFilter=~@privileged @resources",
                "LimitCORE=0",
                "SupplementaryGroups=systemd-journal",
            ] {
                #expect(lines.contains(line), "\(name) lacks '\(line)'")
            }
            #expect(lines.contains { $0.hasPrefix("WatchdogSec=") }, "\(name) lacks WatchdogSec=")
            #expect(lines.contains { $0.hasPrefix("LogRateLimitBurst=") }, "\(name) lacks LogRateLimitBurst=")
        }
    }

    // MARK: Helpers

    /// Runs `systemd-analyze security --offline=yes --threshold=20` on one unit and returns the overall
    /// exposure it prints ("→ Overall exposure level for NAME: 1.1 OK"). `--threshold` is in tenths.
    static func exposure(_ analyze: String, unit: String) throws -> Double {
        let threshold = Int((maximumExposure * 10).rounded())
        let result = try SystemTool.run(
            analyze, ["security", "--offline=yes", "--no-pager", "--threshold=\(threshold)", unit])
        let line = try #require(
            result.stdout.split(separator: "\n").first { $0.contains("Overall exposure level for ") },
            "no 'Overall exposure level' line from systemd-analyze security \(unit):\n\(result.stdout)\(result.stderr)")
        let afterColon = try #require(line.split(separator: ":").last, "\(line)")
        let number = try #require(
            afterColon.split(separator: " ").first.flatMap { Double($0) }, "no exposure number in: \(line)")
        #expect(
            result.status == 0,
            "systemd-analyze security --threshold=\(threshold) exited \(result.status) for \(unit): \(line)")
        return number
    }

    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("leen-units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }
}
