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

extension ServiceManager {
    /// Listening TCP sockets passed by systemd socket activation (`LISTEN_FDS`, from a `.socket` unit),
    /// starting at fd 3. Empty when the process was not socket-activated. The environment variables are
    /// removed so children do not inherit them.
    public func listeningSockets() -> [Int32] {
        let count = sd_listen_fds(1)
        guard count > 0 else { return [] }
        return (0..<count).map { SD_LISTEN_FDS_START + $0 }.filter {
            sd_is_socket_inet($0, AF_UNSPEC, Int32(SOCK_STREAM.rawValue), 1, 0) > 0
        }
    }
}
