import Foundation
import LeenAPI
import LeenSimulator
import Logging
import Synchronization
import Testing

/// True inside `scripts/with-journald.sh`, which starts a private journald.
package let journalEndToEnd = ProcessInfo.processInfo.environment["LEEN_E2E_JOURNAL"] == "1"

/// The built `leen-healthd` (`$LEEN_HEALTHD_BIN`, else `.build/debug/leen-healthd` beside the package).
package func daemonBinary() -> String {
    if let path = ProcessInfo.processInfo.environment["LEEN_HEALTHD_BIN"] { return path }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug/leen-healthd").path
}

/// A temporary directory with the daemon's config, secrets and state; removed by ``remove()``.
package struct Workspace {
    package let url: URL
    package let apiKey: String
    package let tenableClient: String
    package var tenableSecret: String

    package init(
        apiKey: String = "e2e-api-key-\(UUID().uuidString.prefix(8))-SECRET",
        tenableClient: String = "tenable-client-\(UUID().uuidString.prefix(8))-SECRET",
        tenableSecret: String = "tenable-secret-\(UUID().uuidString.prefix(8))-SECRET"
    ) throws {
        self.apiKey = apiKey
        self.tenableClient = tenableClient
        self.tenableSecret = tenableSecret
        url = FileManager.default.temporaryDirectory.appendingPathComponent("leen-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try write("api-key", apiKey)
        try write("tenable-client", tenableClient)
        try write("tenable-secret", tenableSecret)
    }

    package func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    package func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        chmod(path(name), 0o600)
    }

    /// Every secret value the daemon is given.
    package var secrets: [String] { [apiKey, tenableClient, tenableSecret] }

    /// The daemon configuration for one organization with a credentialed and an OAuth connection.
    package func configuration(baseURL: String, organization: OrganizationID) -> String {
        """
        api:
          base_url: \(baseURL)/v1
          key: { file: \(path("api-key")) }
          timeout: 3s
          attempts: 2
        poll:
          interval: 300ms
          jitter: 0%
          concurrency: 2
          max_backoff: 1s
        state_directory: \(path("state"))
        metrics:
          listen: off
        events:
          stderr_format: json
        organizations:
          - id: \(organization)
            name: E2E
            connections:
              - identifier: tenable-e2e
                vendor: TENABLE
                credentials:
                  client_key: { file: \(path("tenable-client")) }
                  secret_key: { file: \(path("tenable-secret")) }
              - identifier: entra-e2e
                vendor: MS_ENTRA
        """
    }

    package func remove() { try? FileManager.default.removeItem(at: url) }

    /// The concatenated text of every file under the state directory.
    package func stateFiles() -> String {
        guard let files = FileManager.default.enumerator(atPath: path("state")) else { return "" }
        return files.compactMap { $0 as? String }.compactMap {
            try? String(contentsOfFile: path("state/\($0)"), encoding: .utf8)
        }.joined(separator: "\n")
    }
}

/// A simulator for one test: one organization (a fresh id, so journal queries see only this test) with a
/// pre-existing TENABLE connection `tenable-e2e` (scripted, HEALTHY) and a frozen clock.
package func simulatorSetup(organization: OrganizationID, apiKey: String) -> (SimulatorConfiguration, Scenario) {
    var config = SimulatorConfiguration()
    config.apiKeys = [apiKey]
    config.timeScale = 0
    config.firstJobDelaySecs = 60
    let scenario = Scenario(
        randomEvolution: false,
        organizations: [.init(id: organization.rawValue, name: "E2E", identifier: "e2e")],
        connections: [.init(organization: "e2e", vendor: .tenable, identifier: "tenable-e2e")])
    return (config, scenario)
}

/// A `leen-healthd run` child process with its stderr (and stdout) collected.
package final class DaemonProcess: Sendable {
    /// Foundation's `Process` is thread-safe for the calls made here (run, isRunning, status, pid).
    package nonisolated(unsafe) let process: Process
    private let errors = Collected()
    private let output = Collected()

    package final class Collected: Sendable {
        package let data = Mutex(Data())
    }

    /// - Parameters:
    ///   - wrapper: a command that execs the daemon (`setpriv …`); the daemon's pid is then the wrapper's.
    ///   - directory: the working directory (where a core file would go).
    package convenience init(configPath: String, wrapper: [String] = [], directory: String? = nil) throws {
        try self.init(
            command: wrapper + [daemonBinary(), "run", "--config", configPath, "--log-level", "debug"],
            directory: directory)
    }

    /// Any command, collected the same way.
    package init(command: [String], directory: String? = nil) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory, isDirectory: true) }
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = nil
        process.environment = environment
        for (pipe, sink) in [(Pipe(), errors), (Pipe(), output)] {
            if sink === errors { process.standardError = pipe } else { process.standardOutput = pipe }
            pipe.fileHandleForReading.readabilityHandler = { handle in
                let chunk = handle.availableData
                sink.data.withLock { $0.append(chunk) }
            }
        }
        try process.run()
    }

    package var stderr: String { errors.data.withLock { String(decoding: $0, as: UTF8.self) } }
    package var stdout: String { output.data.withLock { String(decoding: $0, as: UTF8.self) } }
    package var pid: Int32 { process.processIdentifier }
    package var isRunning: Bool { process.isRunning }

    package func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Sends SIGTERM and waits (up to 15 s) for the exit status.
    package func stop() async throws -> Int32 {
        signal(SIGTERM)
        return try await waitForExit()
    }

    package func waitForExit(timeout: Duration = .seconds(15)) async throws -> Int32 {
        let end = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > end {
                signal(SIGKILL)
                Issue.record("leen-healthd did not exit within \(timeout); stderr: \(stderr)")
                return -1
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationStatus
    }
}

/// Journal entries read back with `journalctl -o json`, each as field -> value (strings only).
package enum JournalReader {
    package static func entries(_ matches: [String] = []) throws -> [[String: String]] {
        let output = try SystemTool.run("/usr/bin/journalctl", ["-o", "json", "--no-pager", "--all"] + matches)
        return output.stdout.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                return nil
            }
            return object.compactMapValues { $0 as? String }
        }
    }

    /// leen-healthd's events (entries with LEEN_EVENT) about one organization, in journal order.
    package static func events(organization: OrganizationID) throws -> [[String: String]] {
        try entries(["SYSLOG_IDENTIFIER=leen-healthd", "LEEN_ORGANIZATION_ID=\(organization)"])
            .filter { $0["LEEN_EVENT"] != nil }
    }

    /// Waits until `predicate` holds for the organization's events (20 s at most), then returns them.
    @discardableResult
    package static func waitFor(
        organization: OrganizationID, _ what: String, timeout: Duration = .seconds(20),
        _ predicate: ([[String: String]]) -> Bool
    ) async throws -> [[String: String]] {
        let end = ContinuousClock.now + timeout
        var events: [[String: String]] = []
        while ContinuousClock.now < end {
            events = try self.events(organization: organization)
            if predicate(events) { return events }
            try await Task.sleep(for: .milliseconds(150))
        }
        Issue.record("timed out waiting for \(what); events were: \(events.map { $0["LEEN_EVENT"] ?? "?" })")
        return events
    }
}

extension Array where Element == [String: String] {
    /// The events of one kind (and one identifier, when given).
    package func of(_ kind: String, _ identifier: String? = nil) -> [[String: String]] {
        filter { $0["LEEN_EVENT"] == kind && (identifier == nil || $0["LEEN_IDENTIFIER"] == identifier) }
    }
}

/// A quiet logger for the in-process simulator.
package var quietLogger: Logger {
    var logger = Logger(label: "leen-sim")
    logger.logLevel = .error
    return logger
}
