import Foundation
import HealthdCore
import LeenAPI
import ServiceLifecycle
import SystemdSupport

/// Keeps systemd informed while the daemon runs: `WATCHDOG=1` at half the watchdog interval *only while the
/// daemon makes progress* (so a wedged scheduler or a stuck poll gets the service restarted), and
/// `EXTEND_TIMEOUT_USEC` during a long startup as long as provisioning advances.
///
/// Does nothing when systemd did not ask for either (no `NOTIFY_SOCKET`).
public struct SupervisorService: Service {
    let daemon: HealthDaemon
    let manager: ServiceManager

    public init(daemon: HealthDaemon, manager: ServiceManager = ServiceManager()) {
        self.daemon = daemon
        self.manager = manager
    }

    public func run() async throws {
        guard manager.isSupervised else { return }
        let watchdog = manager.watchdogInterval
        let period = min(watchdog.map { $0 / 2 } ?? .seconds(5), .seconds(5))
        var lastPing = ContinuousClock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: period)
            let progressing = daemon.isMakingProgress(since: lastPing)
            if !daemon.isReady, progressing {
                // Startup may outlast TimeoutStartSec with many organizations; extend while it advances.
                manager.notify("EXTEND_TIMEOUT_USEC=\(Int64((period * 3).seconds * 1_000_000))")
            }
            if watchdog != nil, progressing { manager.watchdogPing() }
            lastPing = .now
            daemon.ping()
        }
    }
}
