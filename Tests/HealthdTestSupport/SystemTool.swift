import Foundation
import Testing

/// Runs system tools (journalctl, systemd-analyze, promtool, …) for the tests that use real parts.
package enum SystemTool {
    /// `LEEN_REQUIRE_REAL_PARTS=1` (set by `.ci/run`): a real part that is missing fails the test instead of
    /// skipping it.
    package static let realPartsRequired = ProcessInfo.processInfo.environment["LEEN_REQUIRE_REAL_PARTS"] == "1"

    /// The first of `names` found executable in /usr/bin, /bin or /usr/local/bin.
    package static func find(_ names: String...) -> String? {
        names.flatMap { name in ["/usr/bin/", "/bin/", "/usr/local/bin/"].map { $0 + name } }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Called by a test whose real part is missing, before it returns early: a failure when real parts
    /// are required, otherwise a skip that says why.
    package static func missing(_ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        if realPartsRequired {
            Issue.record("LEEN_REQUIRE_REAL_PARTS=1 but \(what)", sourceLocation: sourceLocation)
        } else {
            print("skipped: \(what); set LEEN_REQUIRE_REAL_PARTS=1 to make this a failure")
        }
    }

    /// Runs `arguments` (the first looked up in $PATH by /usr/bin/env) and returns its exit status and output
    /// (stdout and stderr together), which goes through a file in `directory`.
    ///
    /// posix_spawn and waitpid rather than Foundation's Process: `systemd-namespace.sh start` leaves systemd
    /// running in the background, and Process.waitUntilExit was seen to miss that script's exit (left as a
    /// zombie). Output goes through a file, since a pipe inherited by a background process would never reach
    /// end-of-file.
    package static func spawn(
        _ arguments: [String], outputIn directory: URL = FileManager.default.temporaryDirectory
    ) throws -> (status: Int32, output: String) {
        let output = directory.appendingPathComponent("leen-run-\(UUID().uuidString)").path
        defer { unlink(output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = (["/usr/bin/env"] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, environ)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exited, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }

    /// Runs `command` through `inside` (a shell in the systemd namespace) until its output contains `text`:
    /// true if it did within 10 s.
    package static func waitFor(
        _ inside: (String) throws -> (status: Int32, output: String), _ command: String, _ text: String
    ) async throws -> Bool {
        for _ in 0..<50 {
            if try inside(command).output.contains(text) { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    package struct Output {
        package var status: Int32
        package var stdout: String
        package var stderr: String
    }

    /// Runs `executable`; stderr goes to a temporary file so that neither stream can fill a pipe and block it.
    /// systemd tools are told not to page or colour their output.
    package static func run(_ executable: String, _ arguments: [String]) throws -> Output {
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("leen-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let errorHandle = try FileHandle(forWritingTo: errorFile)
        defer { try? errorHandle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SYSTEMD_PAGER"] = "cat"
        environment["SYSTEMD_COLORS"] = "0"
        environment["SYSTEMD_LOG_COLOR"] = "0"
        process.environment = environment
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = errorHandle
        try process.run()
        let outData = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: try String(contentsOf: errorFile, encoding: .utf8))
    }
}
