import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The standard `process_*` values, read from `/proc/self` at scrape time (Linux only).
public struct ProcessMetrics: Sendable, Hashable {
    /// User plus system CPU time.
    public var cpuSeconds: Double
    public var residentMemoryBytes: Int
    public var virtualMemoryBytes: Int
    public var openFDs: Int
    /// The soft limit on open files; nil when unlimited or unknown.
    public var maxFDs: Int?
    public var startTime: Date

    public init(
        cpuSeconds: Double, residentMemoryBytes: Int, virtualMemoryBytes: Int, openFDs: Int, maxFDs: Int?,
        startTime: Date
    ) {
        self.cpuSeconds = cpuSeconds
        self.residentMemoryBytes = residentMemoryBytes
        self.virtualMemoryBytes = virtualMemoryBytes
        self.openFDs = openFDs
        self.maxFDs = maxFDs
        self.startTime = startTime
    }

    /// This process's values, or nil where `/proc` is not available.
    public static func current() -> ProcessMetrics? {
        guard
            let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let system = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")
        else { return nil }
        let limits = try? String(contentsOfFile: "/proc/self/limits", encoding: .utf8)
        return parse(
            stat: stat, systemStat: system, limits: limits, openFDs: fds.count,
            clockTicks: Double(sysconf(Int32(_SC_CLK_TCK))), pageSize: Int(sysconf(Int32(_SC_PAGESIZE))))
    }

    /// Values from the text of `/proc/self/stat`, `/proc/stat` (for `btime`) and `/proc/self/limits`.
    static func parse(
        stat: String, systemStat: String, limits: String?, openFDs: Int, clockTicks: Double, pageSize: Int
    ) -> ProcessMetrics? {
        // The command name (field 2) is in parentheses and may contain spaces: count fields after the last ')'.
        guard let close = stat.lastIndex(of: ")"), clockTicks > 0 else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): utime 14, stime 15, starttime 22, vsize 23, rss 24.
        guard fields.count > 21,
            let utime = Double(fields[11]), let stime = Double(fields[12]), let start = Double(fields[19]),
            let vsize = Int(fields[20]), let rss = Int(fields[21]),
            let bootLine = systemStat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
            let boot = Double(bootLine.dropFirst("btime ".count).trimmingCharacters(in: .whitespaces))
        else { return nil }
        return ProcessMetrics(
            cpuSeconds: (utime + stime) / clockTicks, residentMemoryBytes: rss * pageSize, virtualMemoryBytes: vsize,
            openFDs: openFDs, maxFDs: limits.flatMap(maxOpenFiles),
            startTime: Date(timeIntervalSince1970: boot + start / clockTicks))
    }

    /// The soft limit of the `Max open files` line.
    static func maxOpenFiles(_ limits: String) -> Int? {
        guard let line = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) else {
            return nil
        }
        let values = line.dropFirst("Max open files".count).split(separator: " ")
        return values.first.flatMap { Int($0) }
    }
}

/// Build facts for `leen_build_info`.
public enum BuildInfo {
    /// The Swift compiler version this binary was built with, to the patch level the compiler reveals.
    public static var swiftVersion: String {
        #if compiler(>=7.0)
        "7.0+"
        #elseif compiler(>=6.4)
        "6.4"
        #elseif compiler(>=6.3.2)
        "6.3.2"
        #elseif compiler(>=6.3.1)
        "6.3.1"
        #elseif compiler(>=6.3)
        "6.3"
        #elseif compiler(>=6.2)
        "6.2"
        #elseif compiler(>=6.1)
        "6.1"
        #else
        "6.0"
        #endif
    }
}
