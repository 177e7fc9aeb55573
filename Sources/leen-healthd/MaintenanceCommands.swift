import ArgumentParser
import Foundation
import Healthd
import HealthdCore
import Logging

/// What `pause`, `resume` and `test` share: the connection and where to find it.
struct MaintenanceOptions: ParsableArguments {
    @OptionGroup var config: ConfigOption
    @Argument(help: "The connection: its identifier (the key in the configuration) or its Leen connection id.")
    var identifier: String
    @Option(help: "Search only this organization (id or name from the configuration) when an identifier is in several.")
    var organization: String?
    @Option(help: "Diagnostic log level.") var logLevel: Logger.Level = .warning

    func run(_ action: MaintenanceCommand.Action) async throws {
        DaemonRunner.bootstrapLogging(level: logLevel)
        let code: Int32
        do {
            code = try await MaintenanceCommand.run(
                action, reference: identifier, organization: organization, configPath: config.config,
                shard: config.shardSelection, logger: Logger(label: "leen-healthd"), print: { Swift.print($0) },
                printError: { FileHandle.standardError.write(Data("leen-healthd \(action.rawValue): \($0)\n".utf8)) })
        } catch {
            throw failConfiguration(error)
        }
        if code != 0 { throw ExitCode(code) }
    }
}

/// The exit statuses every maintenance command documents in its help.
private let maintenanceExits = """
    Exit status: 0 done; 2 no such connection (or in several organizations: use --organization); 3 Leen \
    answered 404; 4 Leen rejected the API key (401/403); 5 another API failure; 78 configuration error.
    """

struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pause a connection (PATCH state PAUSED): Leen runs no jobs, and the daemon reports its health at info.",
        discussion: maintenanceExits + " The journal gets connection_paused_by_operator, naming who paused it.")
    @OptionGroup var options: MaintenanceOptions
    func run() async throws { try await options.run(.pause) }
}

struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resume a paused connection (PATCH state ACTIVE).",
        discussion: maintenanceExits + " The journal gets connection_resumed_by_operator, naming who resumed it.")
    @OptionGroup var options: MaintenanceOptions
    func run() async throws { try await options.run(.resume) }
}

struct TestCredentials: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Ask Leen to test a connection's stored credentials; prints is_valid and Leen's message.",
        discussion: maintenanceExits + " Exit 1 when Leen says the credentials are invalid.")
    @OptionGroup var options: MaintenanceOptions
    func run() async throws { try await options.run(.test) }
}
