import Foundation
import HealthdCore
import HealthdTestSupport
import LeenAPI
import LeenSimulator
import Testing

/// Issue #11, point 6: the daemon is given recognisable secrets (an API key, vendor credentials, their
/// rotations) and taken through everything that handles them: provisioning (a create, a credential PATCH
/// refused by an error that quotes the request, the PATCH again), polls, a connection turning UNAUTHORIZED,
/// a 401 phase, reloads, /metrics and /status scrapes, `status` and `check-config`, and a crash. Then every
/// place a secret could land is searched for each secret and its usual disguises: zero hits.
@Suite(
    "Secrets never leave the daemon", .serialized,
    .enabled(if: journalEndToEnd, "needs a private journald: run through scripts/with-journald.sh (make test does)"))
struct SecretsTests {
    /// The secrets of one run. Each starts with its own random tag, so the 16-character prefix is itself
    /// recognisable.
    struct Canaries {
        let tag = UUID().uuidString.prefix(8).lowercased()
        var apiKey: String { "lk_api1_\(tag)_SECRET_CANARY_first_key_\(tag)" }
        var rotatedAPIKey: String { "lk_api2_\(tag)_SECRET_CANARY_rotated_key_\(tag)" }
        var clientKey: String { "client_\(tag)_SECRET_CANARY_client_key_\(tag)" }
        var secretKey: String { "secret_\(tag)_SECRET_CANARY_secret_key_\(tag)" }
        var rotatedSecretKey: String { "rotsec_\(tag)_SECRET_CANARY_rotated_secret_\(tag)" }

        var all: [String] { [apiKey, rotatedAPIKey, clientKey, secretKey, rotatedSecretKey] }

        /// Each secret as it might be disguised: itself, base64 (without padding; URL-safe too where that
        /// differs), hex, its first and last 16 characters (each starts and ends with the run's tag).
        var variants: [(name: String, text: String)] {
            all.enumerated().flatMap { index, secret -> [(String, String)] in
                let base64 = Data(secret.utf8).base64EncodedString()
                let unpadded = base64.trimmingCharacters(in: CharacterSet(charactersIn: "="))
                let urlSafe = unpadded.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                return [
                    ("secret \(index)", secret),
                    ("secret \(index) base64", unpadded),
                    ("secret \(index) hex", secret.utf8.map { String(format: "%02x", $0) }.joined()),
                    ("secret \(index) first 16", String(secret.prefix(16))),
                    ("secret \(index) last 16", String(secret.suffix(16))),
                ] + (urlSafe == unpadded ? [] : [("secret \(index) base64url", urlSafe)])
            }
        }

        /// The variants found in `bytes`, each with the text around its first occurrence.
        func hits(in bytes: Data) -> [String] {
            variants.compactMap { name, text in
                guard let range = bytes.range(of: Data(text.utf8)) else { return nil }
                let around = bytes[max(bytes.startIndex, range.lowerBound - 100)..<min(bytes.endIndex, range.upperBound + 60)]
                return "\(name) in '\(String(decoding: around, as: UTF8.self))'"
            }
        }

        func hits(in text: String) -> [String] { hits(in: Data(text.utf8)) }
    }

    let organization = OrganizationID(UUID().uuidString.lowercased())
    let metricsPort = Int.random(in: 30000..<40000)

    func configuration(_ workspace: Workspace, baseURL: String) -> String {
        """
        api:
          base_url: \(baseURL)/v1
          key: { file: \(workspace.path("api-key")) }
          timeout: 3s
          attempts: 1
        poll:
          interval: 300ms
          jitter: 0%
          max_backoff: 1s
        state_directory: \(workspace.path("state"))
        metrics:
          listen: 127.0.0.1:\(metricsPort)
        events:
          stderr_format: json
        organizations:
          - id: \(organization)
            name: Canary
            connections:
              - identifier: tenable-canary
                vendor: TENABLE
                credentials:
                  client_key: { file: \(workspace.path("tenable-client")) }
                  secret_key: { file: \(workspace.path("tenable-secret")) }
        """
    }

    @Test("the search finds every disguise of a secret where one is present")
    func searchFindsCanaries() {
        let canaries = Canaries()
        for (name, text) in canaries.variants {
            #expect(canaries.hits(in: "prefix \(text) suffix").contains { $0.hasPrefix(name + " in ") })
        }
        // Distinct secrets have distinct disguises, so a hit names the secret that leaked.
        #expect(Set(canaries.variants.map(\.text)).count == canaries.variants.count)
        #expect(canaries.hits(in: "nothing secret here: lk_ SECRET_CANARY").isEmpty)
    }

    @Test("provisioning, polls, 401s, reloads, scrapes, commands and a crash: no secret anywhere")
    func noSecretAnywhere() async throws {
        let canaries = Canaries()
        let workspace = try Workspace(
            apiKey: canaries.apiKey, tenableClient: canaries.clientKey, tenableSecret: canaries.secretKey)
        defer { workspace.remove() }
        var config = SimulatorConfiguration()
        config.apiKeys = [canaries.apiKey]
        config.timeScale = 0
        config.firstJobDelaySecs = 0
        let scenario = Scenario(
            randomEvolution: false, organizations: [.init(id: organization.rawValue, name: "Canary", identifier: "canary")],
            connections: [])
        var outputs: [(String, String)] = []
        try await LeenSimulator.withRunning(configuration: config, scenario: scenario, logger: quietLogger) {
            simulator, baseURL in
            try workspace.write("config.yaml", configuration(workspace, baseURL: baseURL))
            // The search works: the files holding the secrets are found out.
            let inputs = try ["api-key", "tenable-client", "tenable-secret"].map {
                try Data(contentsOf: URL(fileURLWithPath: workspace.path($0)))
            }
            #expect(inputs.allSatisfy { !canaries.hits(in: $0).isEmpty })

            let daemon = try DaemonProcess(configPath: workspace.path("config.yaml"))
            var events = try await JournalReader.waitFor(organization: organization, "created and monitored") {
                !$0.of("connection_monitored", "tenable-canary").isEmpty
            }
            #expect(!events.of("connection_monitored", "tenable-canary").isEmpty)
            let created = try JournalReader.entries(["LEEN_EVENT=connection_created", "LEEN_IDENTIFIER=tenable-canary"])
            #expect(created.count == 1)

            // The vendor refuses the credentials; then Leen refuses the key (401s).
            try simulator.state.setHealth(
                "tenable-canary", try #require(ConnectionHealthStatus(documented: .unauthorized)))
            try await JournalReader.waitFor(organization: organization, "unhealthy") {
                !$0.of("connection_unhealthy", "tenable-canary").isEmpty
            }
            simulator.state.expireAPIKey(canaries.apiKey)
            try await JournalReader.waitFor(organization: organization, "api_rejected") {
                !$0.of("api_rejected").isEmpty
            }

            // Both rotated; the first PATCH is refused with a detail that quotes the request (key and body).
            simulator.state.addAPIKey(canaries.rotatedAPIKey)
            try workspace.write("api-key", canaries.rotatedAPIKey)
            try workspace.write("tenable-secret", canaries.rotatedSecretKey)
            simulator.state.enqueueFaults([QueuedFault(kind: .echo, status: 400, pathContains: "/connections/")])
            let reloads = try JournalReader.entries(["LEEN_EVENT=config_reloaded"]).count
            daemon.signal(SIGHUP)
            let failed = try await waitForDaemonEvent("provisioning_failed")
            #expect(failed.first?["LEEN_HTTP_STATUS"] == "400", "\(failed)")
            try await waitForReloads(reloads + 1)
            daemon.signal(SIGHUP)
            events = try await JournalReader.waitFor(organization: organization, "api_recovered") {
                !$0.of("api_recovered").isEmpty
            }
            #expect(try await waitForDaemonEvent("credentials_updated").count == 1)
            try await waitForReloads(reloads + 2)

            // Everything the metrics endpoint serves.
            for (path, accept) in [
                ("/metrics", "text/plain"), ("/metrics", "application/openmetrics-text; version=1.0.0"),
                ("/status", "application/json"), ("/status?organization_id=\(organization)", "application/json"),
                ("/", "text/html"), ("/-/ready", "text/plain"), ("/-/healthy", "text/plain"),
            ] {
                let body = try SystemTool.run(
                    "/usr/bin/curl", ["-sS", "-H", "Accept: \(accept)", "http://127.0.0.1:\(metricsPort)\(path)"])
                #expect(body.status == 0, "\(path): \(body.stderr)")
                outputs.append(("GET \(path)", body.stdout + body.stderr))
            }
            #expect(outputs.first { $0.0 == "GET /metrics" }?.1.contains("leen_connection_healthy") == true)
            #expect(outputs.first { $0.0 == "GET /status" }?.1.contains("tenable-canary") == true)

            #expect(try await daemon.stop() == 0)
            outputs.append(("daemon stderr", daemon.stderr))
            outputs.append(("daemon stdout", daemon.stdout))

            // The commands that read the configuration, the secrets or the state.
            // And the maintenance commands, which read the key and call Leen (pause and resume write events).
            for command in [
                ["status"], ["check-config"], ["provision", "--dry-run"], ["test", "tenable-canary"],
                ["pause", "tenable-canary"], ["resume", "tenable-canary"], ["test", "no-such-connection"],
            ] {
                let run = try SystemTool.run(daemonBinary(), command + ["--config", workspace.path("config.yaml")])
                outputs.append((command.joined(separator: " "), run.stdout + run.stderr))
            }
            #expect(outputs.first { $0.0 == "status" }?.1.contains("tenable-canary") == true)
            #expect(outputs.first { $0.0 == "test tenable-canary" }?.1.contains("is_valid=") == true)

            outputs += try await crash(workspace)
        }

        // The search of the journal works: a control secret sent to it is found.
        let control = Canaries()
        _ = try SystemTool.run("/usr/bin/systemd-cat", ["-t", "leen-secrets-control", "/bin/echo", control.apiKey])
        var journal = try SystemTool.run("/usr/bin/journalctl", ["-o", "export", "--all", "--no-pager"])
        for _ in 0..<50 where control.hits(in: journal.stdout).isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            journal = try SystemTool.run("/usr/bin/journalctl", ["-o", "export", "--all", "--no-pager"])
        }
        #expect(journal.status == 0)
        #expect(!control.hits(in: journal.stdout).isEmpty, "the control secret was not found in the journal")
        #expect(journal.stdout.contains("LEEN_EVENT=credentials_updated"))
        // The rotation's test, and the operator's pause, went through the same fields.
        #expect(journal.stdout.contains("LEEN_EVENT=credentials_rotated"))
        #expect(journal.stdout.contains("LEEN_EVENT=connection_paused_by_operator"))
        outputs.append(("journal (every field of every entry)", journal.stdout))
        let state = try filesUnder(workspace.path("state"))
        #expect(state.keys.contains { $0.hasPrefix("organizations/") })
        #expect(state.keys.contains("credentials.json"))

        for (place, text) in outputs {
            #expect(canaries.hits(in: text).isEmpty, "secrets in \(place): \(canaries.hits(in: text))")
        }
        for (file, bytes) in state {
            #expect(canaries.hits(in: bytes).isEmpty, "secrets in state/\(file): \(canaries.hits(in: bytes))")
        }
    }

    /// The daemon crashes (SIGSEGV with the Swift runtime's backtracer, SIGABRT without it) as an unprivileged
    /// user, with the core size limit raised before it starts and the kernel writing cores to the working
    /// directory: it must leave no core file, be non-dumpable and have a core limit of 0. A process started
    /// the same way without the daemon's protection shows that this setup does produce core files (when
    /// core_pattern names a file). The kernel's settings are only read, never changed.
    func crash(_ workspace: Workspace) async throws -> [(String, String)] {
        let pattern = try String(contentsOfFile: "/proc/sys/kernel/core_pattern", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let nobody: uid_t = 65534
        // An executable that its user cannot read runs non-dumpable whatever it does: that would prove nothing.
        var binary = stat()
        #expect(stat(daemonBinary(), &binary) == 0 && binary.st_mode & 0o004 != 0, "the daemon binary is not world-readable")
        try chownTree(workspace.url.path, to: nobody)
        /// `command` as nobody in `directory`, with the core size limit raised to unlimited.
        func unprivileged(_ command: [String], in directory: String) -> [String] {
            [
                "/usr/bin/setpriv", "--reuid=\(nobody)", "--regid=\(nobody)", "--clear-groups", "--", "/bin/sh", "-c",
                #"cd "$1" && shift && ulimit -c unlimited && exec "$@""#, "sh", directory,
            ] + command
        }
        let daemonCommand = [daemonBinary(), "run", "--config", workspace.path("config.yaml"), "--log-level", "debug"]
        var outputs: [(String, String)] = []
        for (signal, backtracer) in [(SIGSEGV, true), (SIGABRT, false)] {
            let cores = workspace.path("cores-\(signal)")
            let control = cores + "/control"
            for directory in [cores, control] {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                chown(directory, nobody, nobody)
            }
            let environment = backtracer ? [:] : ["SWIFT_BACKTRACE": "enable=no"]
            // The control: an unprotected process, same user, same limit, same kind of directory.
            let sleeper = try Child(unprivileged(["/bin/sleep", "120"], in: control), output: cores + ".control.out")
            let daemon = try Child(unprivileged(daemonCommand, in: cores), output: cores + ".out", environment: environment)
            try await waitUntilServing()
            // The kernel gives a non-dumpable process's /proc/PID files (not the directory) to root.
            #expect(owner(of: "/proc/\(sleeper.pid)/status") == nobody, "the control is not dumpable")
            #expect(coreLimit(sleeper.pid) == "unlimited unlimited")
            #expect(owner(of: "/proc/\(daemon.pid)/status") == 0, "the daemon is dumpable (its /proc files are not root's)")
            #expect(coreLimit(daemon.pid) == "0 0", "the daemon's core limit is not 0")

            sleeper.signal(signal)
            #expect(try await sleeper.waitForExit(resending: signal) == 128 + signal)
            daemon.signal(signal)
            // The backtracer, once done, lets a signal sent by kill(2) return; the next one then ends it.
            #expect(try await daemon.waitForExit(resending: signal) == 128 + signal)
            let output = (try? String(contentsOfFile: cores + ".out", encoding: .utf8)) ?? ""
            if backtracer { #expect(output.contains("Signal \(signal)"), "no backtrace: \(output.suffix(500))") }
            outputs.append(("output of the daemon killed by signal \(signal)", output))
            let left = try FileManager.default.contentsOfDirectory(atPath: cores).filter { $0 != "control" }
            #expect(left.isEmpty, "the daemon left \(left) in its working directory")
            if pattern.hasPrefix("core") && !pattern.contains("/") {
                #expect(
                    try !FileManager.default.contentsOfDirectory(atPath: control).isEmpty,
                    "core_pattern is \(pattern), yet the unprotected control left no core file")
            } else {
                print("core_pattern is '\(pattern)': the control's core file is not looked for")
            }
            for file in left {
                outputs.append(("core \(file)", String(decoding: try Data(contentsOf: URL(fileURLWithPath: "\(cores)/\(file)")), as: UTF8.self)))
            }
        }
        try chownTree(workspace.url.path, to: 0)
        return outputs
    }

    /// A child process spawned with every signal at its default action and none blocked (Foundation's
    /// `Process` passes on the test runner's blocked signals, and a blocked SIGABRT would not end it), its
    /// stdout and stderr going to a file.
    final class Child: Sendable {
        let pid: pid_t

        init(_ command: [String], output: String, environment extra: [String: String] = [:]) throws {
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var none = sigset_t()
            var all = sigset_t()
            sigemptyset(&none)
            sigfillset(&all)
            posix_spawnattr_setsigmask(&attributes, &none)
            posix_spawnattr_setsigdefault(&attributes, &all)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            var environment = ProcessInfo.processInfo.environment
            environment["NOTIFY_SOCKET"] = nil
            environment.merge(extra) { $1 }
            let argv = command.map { strdup($0) } + [nil]
            let envp = environment.map { strdup("\($0)=\($1)") } + [nil]
            defer { (argv + envp).forEach { free($0) } }
            var pid: pid_t = 0
            let spawned = posix_spawn(&pid, command[0], &actions, &attributes, argv, envp)
            guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
            self.pid = pid
        }

        func signal(_ number: Int32) { kill(pid, number) }

        /// Waits for the exit (90 s at most, sending `signal` again every 10 s); 128 + the signal that ended
        /// it, or its exit status.
        func waitForExit(resending signal: Int32) async throws -> Int32 {
            let start = ContinuousClock.now
            var lastSent = start
            while ContinuousClock.now - start < .seconds(90) {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                }
                if ContinuousClock.now - lastSent > .seconds(10) {
                    kill(pid, signal)
                    lastSent = ContinuousClock.now
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            Issue.record("process \(pid) did not exit within 90 s")
            return -1
        }
    }

    /// Waits until the journal holds `count` `config_reloaded` events.
    func waitForReloads(_ count: Int) async throws {
        for _ in 0..<150 {
            if try JournalReader.entries(["LEEN_EVENT=config_reloaded"]).count >= count { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting for config_reloaded #\(count)")
    }

    /// Waits for `/-/healthy` (the daemon loaded its state and bound the port).
    func waitUntilServing() async throws {
        for _ in 0..<100 {
            let probe = try SystemTool.run("/usr/bin/curl", ["-sf", "http://127.0.0.1:\(metricsPort)/-/healthy"])
            if probe.status == 0 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the unprivileged daemon never served /-/healthy")
    }

    func signalMasks(_ pid: Int32) -> String {
        ((try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? "").split(separator: "\n")
            .filter { $0.hasPrefix("Sig") || $0.hasPrefix("Shd") }.joined(separator: " ")
    }

    func owner(of path: String) -> uid_t? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_uid : nil
    }

    /// "soft hard" of `Max core file size` in /proc/PID/limits.
    func coreLimit(_ pid: Int32) -> String? {
        guard let limits = try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8),
            let line = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max core file size") })
        else { return nil }
        return line.dropFirst("Max core file size".count).split(separator: " ").prefix(2).joined(separator: " ")
    }

    func chownTree(_ root: String, to user: uid_t) throws {
        chown(root, user, user)
        for file in FileManager.default.enumerator(atPath: root)?.compactMap({ $0 as? String }) ?? [] {
            lchown("\(root)/\(file)", user, user)
        }
    }

    /// Every regular file under `root`, by relative path.
    func filesUnder(_ root: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for case let file as String in FileManager.default.enumerator(atPath: root) ?? FileManager.DirectoryEnumerator() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: "\(root)/\(file)", isDirectory: &isDirectory),
                !isDirectory.boolValue
            else { continue }
            files[file] = try Data(contentsOf: URL(fileURLWithPath: "\(root)/\(file)"))
        }
        return files
    }

    /// Waits for a daemon-level event (no organization field) of this test's daemon: one that names the
    /// connection or follows its start.
    func waitForDaemonEvent(_ kind: String) async throws -> [[String: String]] {
        let end = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < end {
            let found = try JournalReader.entries(["SYSLOG_IDENTIFIER=leen-healthd", "LEEN_EVENT=\(kind)"])
                .filter { $0["LEEN_IDENTIFIER"] == "tenable-canary" || $0["LEEN_ORGANIZATION_ID"] == organization.rawValue }
            if !found.isEmpty { return found }
            try await Task.sleep(for: .milliseconds(150))
        }
        Issue.record("timed out waiting for \(kind)")
        return []
    }
}
