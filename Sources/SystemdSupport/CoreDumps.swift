import CSystemd
import Foundation

/// The process holds the API key and vendor secrets in memory: a core file (a watchdog abort, a crash) would
/// write them to disk. The unit says `LimitCORE=0`; this makes sure of it whatever starts the daemon.
public enum CoreDumps {
    /// Sets the core size limit to 0 and the process non-dumpable. Returns false if either failed.
    @discardableResult
    public static func disable() -> Bool {
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        let limited = setrlimit(Int32(RLIMIT_CORE.rawValue), &none) == 0
        return limited && leen_disable_core_dumps() == 0
    }
}
