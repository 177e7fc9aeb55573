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

    package struct Output {
        package var status: Int32
        package var stdout: String
        package var stderr: String
    }

    /// Runs `executable`; stderr goes to a temporary file so that neither stream can fill a pipe and block it.
    /// systemd tools are told not to page or colour their output.
    package static func run(_ executable: String, _ arguments: [String]) throws -> Output {
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("leen-stderr-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: errorFile.path, contents: nil)
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
