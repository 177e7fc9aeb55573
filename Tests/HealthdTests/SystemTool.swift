import Foundation

/// Runs system tools (journalctl, systemd-analyze, promtool, …) for the tests that use real parts.
enum SystemTool {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `executable`; stderr goes to a temporary file so that neither stream can fill a pipe and block it.
    /// systemd tools are told not to page or colour their output.
    static func run(_ executable: String, _ arguments: [String]) throws -> Output {
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
