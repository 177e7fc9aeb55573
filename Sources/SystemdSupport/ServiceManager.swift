import CSystemd
import Foundation

/// Talks to the service manager with `sd_notify` (READY, STATUS, RELOADING, STOPPING, WATCHDOG).
/// Every call is a no-op outside systemd (no `$NOTIFY_SOCKET`).
public struct ServiceManager: Sendable {
    public init() {}

    /// True when systemd gave this process a notification socket.
    public var isSupervised: Bool { ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] != nil }

    /// Sends `state` (newline-separated `KEY=value` assignments); returns false when it could not.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        sd_notify(0, state) > 0
    }

    public func ready(status: String? = nil) {
        notify(["READY=1", status.map { "STATUS=\($0)" }].compactMap { $0 }.joined(separator: "\n"))
    }

    public func status(_ text: String) { notify("STATUS=\(text)") }

    /// `RELOADING=1` with `MONOTONIC_USEC`, as `Type=notify-reload` (systemd 253+) expects.
    public func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let usec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        notify("RELOADING=1\nMONOTONIC_USEC=\(usec)")
    }

    public func stopping() { notify("STOPPING=1") }

    /// The watchdog interval systemd expects pings within (`WatchdogSec=`), if enabled for this process.
    public var watchdogInterval: Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec))
    }

    public func watchdogPing() { notify("WATCHDOG=1") }
}
