import Foundation
import HealthdTestSupport
import Testing

/// `scripts/systemd-namespace.sh` changes nothing outside its namespace, also when a unit started in there has
/// default dependencies and so reaches sysinit.target (whose tmpfiles, sysctl, binfmt and journal-flush
/// services act on /tmp, the kernel and /var/log/journal when they run).
///
/// The first test boots the namespace and starts such a unit; the second, enabled by `LEEN_HOST_BASELINE`,
/// brackets the whole systemd phase of `make test`: its first run records the host and leaves markers, its
/// second run compares. Self-contained apart from ``SystemTool`` and the namespace script.
@Suite("the systemd namespace leaves the host alone", .serialized)
struct HostIsolationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let script = root.appendingPathComponent("scripts/systemd-namespace.sh").path
    static let canBoot = getuid() == 0
        && ["/lib/systemd/systemd", "/usr/lib/systemd/systemd"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    static let baseline = ProcessInfo.processInfo.environment["LEEN_HOST_BASELINE"]

    @Test("a unit with default dependencies reaches sysinit.target inside; the host's /tmp, /var/tmp, sysctls, binfmt_misc, journal, /dev, mounts and cgroups stay as they were")
    func defaultDependencies() async throws {
        guard Self.canBoot else {
            SystemTool.missing("systemd cannot be booted here (needs root and /lib/systemd/systemd)")
            return
        }
        // Not in /tmp: that is one of the things under test (the markers are the only files put there).
        let work = Self.root.appendingPathComponent(".build/leen-isolation-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let started = Date()
        let markers = try Markers()
        defer { markers.remove() }
        let before = try HostState.capture(scratch: work)

        let ns = work.path
        defer { _ = try? SystemTool.spawn([Self.script, "stop", ns], outputIn: work) }
        let boot = try SystemTool.spawn([Self.script, "start", ns], outputIn: work)
        try #require(boot.status == 0, "systemd did not boot: \(boot.output)")
        func inside(_ command: String) throws -> (status: Int32, output: String) {
            try SystemTool.spawn([Self.script, "exec", ns, "/bin/bash", "-c", command], outputIn: work)
        }
        // Default dependencies, like the shipped leen-healthd.service (which also wants network-online.target),
        // and a private /tmp, which systemd sets up in the namespace's /tmp.
        let token = "leen-isolation-\(UUID().uuidString)"
        let probe = "\(token).service"
        try """
            [Unit]
            Wants=network-online.target
            After=network-online.target
            [Service]
            ExecStart=/bin/sh -c 'echo \(token); exec sleep infinity'
            PrivateTmp=yes
            """.write(to: work.appendingPathComponent(probe), atomically: true, encoding: .utf8)
        let start = try inside(
            "cp \(work.path)/\(probe) /run/systemd/system/ && systemctl daemon-reload && systemctl start \(probe)")
        try #require(start.status == 0, "\(start.output)")
        #expect(try inside("systemctl is-active sysinit.target network-online.target").output == "active\nactive\n")

        // Inside, nothing but journald and the probe ran: sysinit's services are masked.
        let ran = try inside(
            "systemctl list-units --all --plain --no-legend --type=service,socket,automount,swap,path,timer "
                + "--state=active,reloading,activating,deactivating,failed | awk '{print $1}'"
        ).output.split(separator: "\n").map(String.init)
        let allowed: Set = [probe, "systemd-journald.service", "systemd-journald.socket", "systemd-journald-dev-log.socket"]
        #expect(Set(ran).subtracting(allowed).isEmpty, "units that ran in the namespace: \(ran)")
        #expect(try await SystemTool.waitFor(inside, "journalctl -q -o cat MESSAGE=\(token)", token), "the namespace's journal lost the probe's line")
        #expect(try inside("cat /etc/machine-id").output != (try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8)))

        try SystemTool.spawn([Self.script, "stop", ns], outputIn: work)
        let after = try HostState.capture(scratch: work)
        for problem in markers.problems() + before.differences(to: after, since: started, token: token) {
            Issue.record(Comment(rawValue: problem))
        }
    }

    /// `make test` runs this before the systemd phase (serial and journal suites), which records the host in
    /// `$LEEN_HOST_BASELINE` and leaves marker files, and again after it, which compares and cleans up.
    @Test("the whole systemd phase of make test leaves the host alone", .enabled(if: baseline != nil))
    func wholePhase() throws {
        let file = URL(fileURLWithPath: try #require(Self.baseline))
        let scratch = Self.root.appendingPathComponent(".build/leen-isolation-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        guard FileManager.default.fileExists(atPath: file.path) else {
            let recorded = Baseline(started: Date(), markers: try Markers(), state: try HostState.capture(scratch: scratch))
            try JSONEncoder().encode(recorded).write(to: file)
            return
        }
        let recorded = try JSONDecoder().decode(Baseline.self, from: Data(contentsOf: file))
        defer {
            recorded.markers.remove()
            try? FileManager.default.removeItem(at: file)
        }
        let now = try HostState.capture(scratch: scratch)
        let problems = recorded.markers.problems()
            + recorded.state.differences(to: now, since: recorded.started, token: nil)
        for problem in problems {
            Issue.record(Comment(rawValue: problem))
        }
    }

}

private struct Baseline: Codable {
    var started: Date
    var markers: Markers
    var state: HostState
}

/// A file in the host's /tmp and one in /var/tmp, each with content of its own: systemd-tmpfiles --remove
/// empties /tmp (`D /tmp`) and ages /var/tmp.
private struct Markers: Codable {
    var files: [String: String]

    init() throws {
        let id = UUID().uuidString
        files = [:]
        for directory in ["/tmp", "/var/tmp"] {
            let path = "\(directory)/leen-host-marker-\(id)"
            let content = "marker \(UUID().uuidString)\n"
            try content.write(toFile: path, atomically: false, encoding: .utf8)
            files[path] = content
        }
    }

    func problems() -> [String] {
        files.sorted { $0.key < $1.key }.compactMap { path, content in
            (try? String(contentsOfFile: path, encoding: .utf8)) == content ? nil : "\(path) is gone or changed"
        }
    }

    func remove() {
        for path in files.keys { unlink(path) }
    }
}

/// What a systemd booted next to the host could change there, read from the host's side.
private struct HostState: Codable {
    /// Every sysctl the sysctl.d files set (what systemd-sysctl.service would write), and those systemd (PID 1)
    /// itself raises at boot: file name under /proc/sys -> value.
    var sysctls: [String: String]
    /// The kernel's binfmt_misc handlers (what systemd-binfmt.service would register), one "== name" line and
    /// the handler's description each; read through a binfmt_misc mount in a private mount namespace (mount -n:
    /// no utab in the host's /run/mount).
    var binfmt: String
    /// Files under /var/log/journal (nil: no such directory): relative path -> "size mtime".
    var journalFiles: [String: String]?
    /// The host runs a journald of its own (/run/systemd/journal/socket): then its journal changes anyway.
    var hostJournald: Bool
    var devices: [String]
    /// /proc/self/mountinfo as "mount point, options, type, source, super options".
    var mounts: [String]
    /// Cgroups below this process's own in the cgroup2 hierarchy (nil: no cgroup2 mounted).
    var cgroups: [String]?

    static let bumpedByPID1 = ["fs/file-max", "fs/nr_open", "net/unix/max_dgram_qlen", "kernel/printk_devkmsg"]

    static func capture(scratch: URL) throws -> HostState {
        let journal = "/var/log/journal"
        var journalFiles: [String: String]?
        if FileManager.default.fileExists(atPath: journal) {
            journalFiles = [:]
            let files = FileManager.default.enumerator(atPath: journal)
            while let relative = files?.nextObject() as? String {
                let attributes = try? FileManager.default.attributesOfItem(atPath: "\(journal)/\(relative)")
                let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
                let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
                journalFiles?[relative] = "\(size) \(modified)"
            }
        }
        return HostState(
            sysctls: try sysctls(), binfmt: try binfmt(scratch: scratch), journalFiles: journalFiles,
            hostJournald: FileManager.default.fileExists(atPath: "/run/systemd/journal/socket"),
            devices: try FileManager.default.contentsOfDirectory(atPath: "/dev").sorted(),
            mounts: mountinfo().map { "\($0.point) \($0.options) \($0.type) \($0.source) \($0.superOptions)" }.sorted(),
            cgroups: cgroups())
    }

    /// The names `systemd-sysctl --cat-config` sets ("-" prefix: ignore failures; globs expanded), as paths.
    static func sysctls() throws -> [String: String] {
        var names = Set(bumpedByPID1)
        if let tool = SystemTool.find("systemd-sysctl") ?? ["/lib/systemd/systemd-sysctl", "/usr/lib/systemd/systemd-sysctl"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        {
            let config = try SystemTool.run(tool, ["--cat-config", "--no-pager"]).stdout
            for line in config.split(separator: "\n") {
                let text = line.trimmingCharacters(in: .whitespaces)
                guard !text.isEmpty, !text.hasPrefix("#"), !text.hasPrefix(";"), let equals = text.firstIndex(of: "=")
                else { continue }
                var key = text[..<equals].trimmingCharacters(in: .whitespaces)
                if key.hasPrefix("-") { key.removeFirst() }
                // sysctl.d: "." separates unless the name uses "/".
                let path = key.contains("/") ? key : key.replacingOccurrences(of: ".", with: "/")
                names.formUnion(expand("/proc/sys/\(path)").map { String($0.dropFirst("/proc/sys/".count)) })
            }
        }
        var values: [String: String] = [:]
        for name in names {
            values[name] = (try? String(contentsOfFile: "/proc/sys/\(name)", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "(unreadable)"
        }
        return values
    }

    static func expand(_ pattern: String) -> [String] {
        guard pattern.contains(where: { "*?[".contains($0) }) else { return [pattern] }
        var found = glob_t()
        defer { globfree(&found) }
        guard glob(pattern, 0, nil, &found) == 0 else { return [] }
        return (0..<Int(found.gl_pathc)).compactMap { found.gl_pathv[$0].map { String(cString: $0) } }
    }

    static func binfmt(scratch: URL) throws -> String {
        guard getuid() == 0, let unshare = SystemTool.find("unshare") else { return "(not readable without root)" }
        let mountPoint = scratch.appendingPathComponent("binfmt_misc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: mountPoint) }
        let list = #"mount -n -t binfmt_misc binfmt_misc "$0" && cd "$0" && for f in *; do [ "$f" = register ] || { echo "== $f"; cat "$f"; }; done"#
        let result = try SystemTool.run(unshare, ["--mount", "--propagation", "private", "/bin/sh", "-c", list, mountPoint.path])
        return result.status == 0 ? result.stdout : "(binfmt_misc not readable: \(result.stderr))"
    }

    struct Mount {
        var point, options, type, source, superOptions, root: String
    }

    static func mountinfo() -> [Mount] {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { return nil }
            let left = halves[0].split(separator: " ").map(String.init)
            let right = halves[1].split(separator: " ").map(String.init)
            guard left.count >= 6, right.count >= 3 else { return nil }
            return Mount(
                point: left[4], options: left[5], type: right[0], source: right[1], superOptions: right[2], root: left[3])
        }
    }

    static func cgroups() -> [String]? {
        guard let hierarchy = mountinfo().first(where: { $0.type == "cgroup2" && $0.root == "/" })?.point,
            let own = ((try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? "")
                .split(separator: "\n").first(where: { $0.hasPrefix("0::") })?.dropFirst(3)
        else { return nil }
        let base = hierarchy + (own == "/" ? "" : String(own))
        var found: [String] = []
        let entries = FileManager.default.enumerator(atPath: base)
        while let relative = entries?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: "\(base)/\(relative)", isDirectory: &isDirectory), isDirectory.boolValue {
                found.append(relative)
            }
        }
        return found.sorted()
    }

    /// What changed from `self` to `after`, one line each. `token` is a MESSAGE= the namespace logged.
    func differences(to after: HostState, since: Date, token: String?) -> [String] {
        var problems: [String] = []
        for name in Set(sysctls.keys).union(after.sysctls.keys).sorted() where sysctls[name] != after.sysctls[name] {
            problems.append("sysctl \(name): \(sysctls[name] ?? "-") -> \(after.sysctls[name] ?? "-")")
        }
        if binfmt != after.binfmt {
            problems.append("binfmt_misc handlers changed:\n\(binfmt)\n->\n\(after.binfmt)")
        }
        switch (journalFiles, after.journalFiles) {
        case (nil, nil): break
        case (nil, let files?): problems.append("/var/log/journal appeared: \(files.keys.sorted())")
        case (_?, nil): problems.append("/var/log/journal disappeared")
        case (let old?, let new?):
            // A journald of the host's own writes there all the time: then only the machine-id directories
            // must be the same, and the namespace's entries must not be in there.
            let changed = hostJournald
                ? Set(old.keys.filter { !$0.contains("/") }).symmetricDifference(new.keys.filter { !$0.contains("/") })
                : Set(old.keys).union(new.keys).filter { old[$0] != new[$0] }
            if !changed.isEmpty { problems.append("/var/log/journal changed: \(changed.sorted())") }
            var matches = ["_HOSTNAME=leen-test"]
            if let token { matches += ["+", "MESSAGE=\(token)"] }
            if let journalctl = SystemTool.find("journalctl"),
                let leaked = try? SystemTool.run(
                    journalctl,
                    ["-D", "/var/log/journal", "-q", "--no-pager", "-o", "short", "--since", "@\(Int(since.timeIntervalSince1970))"] + matches),
                !leaked.stdout.isEmpty
            {
                problems.append("the host's journal has the namespace's entries:\n\(leaked.stdout.prefix(2000))")
            }
        }
        if devices != after.devices {
            problems.append("/dev changed: added \(Set(after.devices).subtracting(devices).sorted()), removed \(Set(devices).subtracting(after.devices).sorted())")
        }
        if mounts != after.mounts {
            problems.append("host mounts changed: added \(Set(after.mounts).subtracting(mounts).sorted()), removed \(Set(mounts).subtracting(after.mounts).sorted())")
        }
        if cgroups != after.cgroups {
            problems.append("cgroups below ours changed: \(cgroups ?? []) -> \(after.cgroups ?? [])")
        }
        return problems
    }
}
