import ArgumentParser
import CJemallocOptions
import Foundation
import Healthd
import HealthdCore
import HealthdDemo
import HealthdMetrics
import LeenAPI
import Logging
import NIOCore
import NIOPosix

@main
struct LeenHealthd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leen-healthd",
        abstract: "Provision Leen connections, watch their health, and report every change to the journal.",
        version: Version.current,
        subcommands: [
            Run.self, CheckConfig.self, Provision.self, Status.self, History.self, Pause.self, Resume.self,
            TestCredentials.self, Demo.self,
        ],
        defaultSubcommand: Run.self)

    /// Swift Concurrency's jobs run on NIO's event loops (one thread per core) instead of the runtime's own
    /// pool, installed before any task starts: a response read on an event loop then resumes its task on
    /// the same thread instead of waking another. 8% less CPU per connection-poll at 100k connections (the
    /// daemon run in turns with and without it on one fleet). "Unsafe" in NIO's name because it sets the
    /// runtime's enqueue hook; it does nothing when the hook is taken. Blocking calls run on neither pool:
    /// journal sends and fsyncs have their own threads, `/metrics` rendering NIO's thread pool.
    static func main() async {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await main(nil)
    }
}

struct ConfigOption: ParsableArguments {
    @Option(name: .shortAndLong, help: "The configuration file.")
    var config = "/etc/leen-healthd/leen-healthd.yaml"
    @Option(help: shardHelp, transform: parseShard) var shard: Shard?

    /// `--shard`, else the configuration's `shard` key.
    var shardSelection: ShardSelection { shard.map(ShardSelection.given) ?? .fromFile }
}

let shardHelp = ArgumentHelp(
    "Only the organizations shard K of N owns (rendezvous hashing of their ids), instead of the configuration's "
        + "shard key.",
    valueName: "K/N")

let stateDirectoryHelp = ArgumentHelp(
    "The state directory instead of the configuration's state_directory (each shard on one host needs its own).",
    valueName: "path")

func validateStateDirectory(_ path: String?) throws {
    if let path, !path.hasPrefix("/") {
        throw ValidationError("--state-directory: must be an absolute path (starting with /)")
    }
}

/// `--shard K/N`, refused with the same words as the configuration's `shard` key.
func parseShard(_ text: String) throws -> Shard {
    switch Shard.parse(text) {
    case .success(let shard): return shard
    case .failure(let error): throw ValidationError("\(error)")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Prints a configuration error and exits with EX_CONFIG (78).
func failConfiguration(_ error: any Error) -> ExitCode {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    return ExitCode(DaemonRunner.exitConfig)
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon: provision, then poll and report until SIGTERM (SIGHUP reloads).")

    @OptionGroup var options: ConfigOption
    @Option(help: "Diagnostic log level.") var logLevel: Logger.Level = .info
    @Option(
        name: .customLong("web.listen-address"),
        help: ArgumentHelp(
            "Serve /metrics on this address instead of metrics.listen from the configuration ('off' disables it).",
            valueName: "host:port"))
    var listenAddress: String?
    @Option(
        name: .customLong("web.config.file"),
        help: ArgumentHelp(
            "TLS and basic authentication for /metrics (Prometheus exporter-toolkit's format) instead of "
                + "metrics.web_config_file from the configuration.",
            valueName: "path"))
    var webConfigFile: String?
    @Option(help: stateDirectoryHelp) var stateDirectory: String?

    func validate() throws {
        try validateStateDirectory(stateDirectory)
        if let listenAddress, listenAddress != "off" {
            do {
                _ = try MetricsServer.parseListen(listenAddress)
            } catch {
                throw ValidationError("--web.listen-address: \(error)")
            }
        }
    }

    func run() async throws {
        DaemonRunner.bootstrapLogging(level: logLevel)
        let logger = Logger(label: "leen-healthd")
        logger.debug(
            "memory allocator: \(Allocator.summary) (built-in options \(String(cString: leen_jemalloc_options())))")
        do {
            try await DaemonRunner.run(
                configPath: options.config, listen: listenAddress.map { $0 == "off" ? .off : .address($0) },
                webConfigFile: webConfigFile, shard: options.shardSelection, stateDirectory: stateDirectory,
                logger: logger)
        } catch let error as ConfigErrors {
            throw failConfiguration(error)
        } catch let error as StateDirectoryLock.Busy {
            // A configuration problem (two instances, one state_directory): restarting cannot fix it.
            throw failConfiguration(error)
        }
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration without network: exit 0 if valid, 78 with PATH:LINE:COLUMN errors if not.")

    @OptionGroup var options: ConfigOption
    @Option(
        name: .customLong("web.config.file"),
        help: ArgumentHelp(
            "Also check this web configuration file (default: metrics.web_config_file, if set).",
            valueName: "path"))
    var webConfigFile: String?

    func run() async throws {
        do {
            let config = try ConfigLoader.load(path: options.config, shard: options.shardSelection)
            let connections = config.organizations.reduce(0) { $0 + $1.connections.count }
            // Counts and secrets checked are the shard's: another shard's host may lack this one's secrets.
            let shard = config.shardSummary.map { "; \($0)" } ?? ""
            var web = ""
            if let path = webConfigFile ?? config.metrics.webConfigFile {
                let loaded = try LoadedWebConfig.load(path: path)
                web = "; \(path): valid (\(loaded.config.tls == nil ? "HTTP" : "HTTPS"), "
                    + "\(loaded.config.basicAuthUsers.count) basic auth users)"
            }
            print(
                "\(options.config): valid (\(config.organizations.count) organizations, \(connections) connections\(shard))\(web)")
        } catch {
            throw failConfiguration(error)
        }
    }
}

struct Provision: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Provision the declared connections once (create, adopt, update credentials) and exit.")

    @OptionGroup var options: ConfigOption
    @Flag(help: "Print the plan (create / adopt / update / unmanaged) and change nothing.")
    var dryRun = false
    @Option(help: "Diagnostic log level.") var logLevel: Logger.Level = .warning
    @Option(help: stateDirectoryHelp) var stateDirectory: String?

    func validate() throws { try validateStateDirectory(stateDirectory) }

    func run() async throws {
        DaemonRunner.bootstrapLogging(level: logLevel)
        let code: Int32
        do {
            code = try await ProvisionCommand.run(
                configPath: options.config, dryRun: dryRun, shard: options.shardSelection,
                stateDirectory: stateDirectory, logger: Logger(label: "leen-healthd"),
                print: { Swift.print($0) })
        } catch let error as ConfigErrors {
            throw failConfiguration(error)
        } catch let error as StateDirectoryLock.Busy {
            throw failConfiguration(error)
        }
        if code != 0 { throw ExitCode(code) }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the monitored connections from the state directory.")

    @Option(name: .shortAndLong, help: "The configuration file (for the state directory and names).")
    var config: String?
    @Option(help: "The state directory (overrides the configuration's).")
    var stateDirectory: String?
    @Option(help: "Only this organization (its id, or its name from the configuration).")
    var organization: String?
    @Flag(help: "Only UNHEALTHY connections.") var unhealthy = false
    @Option(help: "Only UNHEALTHY connections this resolution owner must fix: CUSTOMER, VENDOR or LEEN.")
    var owner: String?
    @Flag(help: "JSON instead of a table.") var json = false
    @Option(help: shardHelp, transform: parseShard) var shard: Shard?

    func run() async throws {
        var directory = stateDirectory ?? "/var/lib/leen-healthd"
        var names: [OrganizationID: String] = [:]
        var inForce = shard
        if let config {
            do {
                let parsed = try ConfigParser.parse(
                    String(contentsOfFile: config, encoding: .utf8), path: config,
                    shard: shard.map(ShardSelection.given) ?? .fromFile)
                if stateDirectory == nil { directory = parsed.stateDirectory }
                for organization in parsed.organizations { names[organization.id] = organization.name }
                inForce = parsed.shard
            } catch {
                throw failConfiguration(error)
            }
        }
        // By the shard's own rule, not the configuration's list: after a change of N, a state directory
        // still holds the organizations that moved away until its daemon next reloads or stops.
        var filter = StatusReport.Filter(organization: organization, unhealthyOnly: unhealthy, owner: owner)
        filter.shard = inForce
        let rows = StatusReport.rows(try StateStore(directory: directory).loadOrganizations(), names: names)
            .filter(filter.matches)
        print(json ? try StatusReport.json(rows) : StatusReport.table(rows))
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon against an embedded leen-sim with a lively fleet, printing every event.")

    @Option(help: "Where the embedded simulator listens (HOST:PORT); a free loopback port by default.")
    var listen: String?
    @Option(help: "Stop after this many seconds (default: until Ctrl-C).")
    var duration: Double?
    @Option(
        name: .customLong("web.listen-address"),
        help: ArgumentHelp("Where the daemon serves /metrics and /status (port 0: a free one).", valueName: "host:port"))
    var metricsListen = "127.0.0.1:0"

    func validate() throws {
        do {
            _ = try MetricsServer.parseListen(metricsListen)
        } catch {
            throw ValidationError("--web.listen-address: \(error)")
        }
    }

    func run() async throws {
        var options = HealthdDemo.Demo.Options()
        if let listen {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
                throw ValidationError("--listen: '\(listen)' is not HOST:PORT")
            }
            let host = String(listen[..<colon])
            options.listen = (host.isEmpty ? "127.0.0.1" : host, port)
        }
        if let duration { options.duration = .milliseconds(Int64(duration * 1000)) }
        options.metricsListen = metricsListen
        var logger = Logger(label: "leen-healthd") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        // print + fflush: `demo | head` ends quietly (SIGPIPE), where FileHandle.write would trap on EPIPE.
        try await HealthdDemo.Demo.run(options, logger: logger) { line in
            print(line)
            fflush(nil)
        }
    }
}
