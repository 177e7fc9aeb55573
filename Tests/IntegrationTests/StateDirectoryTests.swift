import Foundation
import HealthdTestSupport
import LeenAPI
import Testing

/// The daemon as a process: it locks its state directory, and it runs with core dumps off.
@Suite("State directory lock and core dumps", .serialized)
struct StateDirectoryTests {
    @Test("A second daemon on the same state directory exits 78 naming the first; the first has no core limit left and runs on jemalloc")
    func secondInstanceIsRefused() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        // An API that does not answer: the daemon keeps running (provisioning fails, polls fail and back off).
        try workspace.write(
            "config.yaml",
            workspace.configuration(baseURL: "http://127.0.0.1:9", organization: "3c90c3cc-0d44-4b50-8888-8dd25736052a"))
        let first = try DaemonProcess(configPath: workspace.path("config.yaml"))
        let lock = workspace.path("state/lock")
        let deadline = ContinuousClock.now + .seconds(30)
        while (try? String(contentsOfFile: lock, encoding: .utf8))?.isEmpty ?? true, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let pid = String(first.process.processIdentifier)
        #expect((try? String(contentsOfFile: lock, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == pid)

        // Core files are off in the process itself, not only in the unit.
        let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }
        #expect(core?.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).prefix(2) == ["0", "0"], "\(core ?? "")")

        // Its allocator is jemalloc (linked by the executable; Healthd/Allocator.swift says why).
        let maps = try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)
        #expect(maps.contains("/libjemalloc.so"), "the daemon runs without jemalloc")
        #expect(first.stderr.contains("memory allocator: jemalloc 5."), "\(first.stderr)")
        #expect(first.stderr.contains(", 1 arena (built-in options narenas:1,dirty_decay_ms:1000)"), "\(first.stderr)")

        let second = try DaemonProcess(configPath: workspace.path("config.yaml"))
        let status = try await second.waitForExit(timeout: .seconds(30))
        #expect(status == 78, "a configuration problem: restarting cannot fix it")
        #expect(second.stderr.contains("is in use by another leen-healthd (pid \(pid))"), "\(second.stderr)")
        #expect(first.isRunning)
        #expect(try await first.stop() == 0)

        // The lock goes with the process: a new daemon starts.
        let third = try DaemonProcess(configPath: workspace.path("config.yaml"))
        try await Task.sleep(for: .milliseconds(500))
        #expect(third.isRunning)
        #expect(try await third.stop() == 0)
    }
}
