import Foundation
import HealthdCore
import HealthdMetrics
import LeenAPI

let referenceNow = Date(timeIntervalSince1970: 1_764_460_800)
let organizationA: OrganizationID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
let organizationB: OrganizationID = "7f1e2d3c-4b5a-4968-8776-655443322110"

/// The repository root (tests read the shipped alert rules and docs).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

let healthy = ConnectionObservation.Health(status: .healthy, name: .healthy, resolutionOwner: .leen)
let unauthorized = ConnectionObservation.Health(
    status: .unhealthy, name: .unauthorized, resolutionOwner: .customer, description: "Connection is unauthorized",
    details: [
        HealthDetail(endpoint: "https://cloud.tenable.com/vulns/export", dataExportType: .alerts),
        HealthDetail(endpoint: "https://cloud.tenable.com/assets/export", dataExportType: "assets"),
    ])

/// A tracked connection; the connection id is derived from the identifier unless given.
func tracked(
    _ identifier: String, organization: OrganizationID = organizationA, connectionID: String? = nil,
    vendor: Vendor = .tenable, state: ConnectionState? = .active, health: ConnectionObservation.Health? = healthy,
    oauthPending: Bool = false, oauthURL: String? = nil, missing: Bool = false, transitions: Int = 0,
    since: Date = referenceNow.addingTimeInterval(-600), changedAt: Date = referenceNow.addingTimeInterval(-60)
) -> TrackedConnection {
    TrackedConnection(
        observation: ConnectionObservation(
            organizationID: organization, connectionID: ConnectionID(connectionID ?? "conn-\(identifier)"),
            identifier: identifier, vendor: vendor, state: state, isActive: state == .active, health: health,
            oauthPending: oauthPending, oauthAuthorizeURL: oauthURL),
        healthSince: since, changedAt: changedAt, missing: missing, transitions: transitions)
}

/// Organization A, API ok, with `connections`.
func organization(_ connections: [TrackedConnection]) -> MonitorSnapshot.Organization {
    organization(organizationA, connections)
}

func organization(
    _ id: OrganizationID, api: APIStatus = .ok, lastSuccess: Date? = referenceNow.addingTimeInterval(-30),
    _ connections: [TrackedConnection]
) -> MonitorSnapshot.Organization {
    var state = OrganizationState()
    state.api = api
    state.lastSuccessfulPoll = lastSuccess
    state.lastAttempt = referenceNow.addingTimeInterval(-30)
    for connection in connections { state.connections[connection.observation.identifier] = connection }
    return MonitorSnapshot.Organization(id: id, name: "Acme", state: state)
}

func daemonCounters(ready: Bool = true) -> DaemonCounters {
    var daemon = DaemonCounters(startTime: referenceNow.addingTimeInterval(-3_600), version: "1.2.3-test")
    daemon.ready = ready
    return daemon
}

func metricsInput(_ organizations: [MonitorSnapshot.Organization], daemon: DaemonCounters = daemonCounters())
    -> MonitorSnapshot
{
    MonitorSnapshot(organizations: organizations, daemon: daemon)
}

let fixedProcess = ProcessMetrics(
    cpuSeconds: 12.5, residentMemoryBytes: 52_428_800, virtualMemoryBytes: 1_073_741_824, openFDs: 17,
    maxFDs: 1024, startTime: referenceNow.addingTimeInterval(-3_600))

/// One parsed sample line: `name{label="value",…} value`, label values unescaped.
struct Sample: Hashable {
    var name: String
    var labels: [String: String]
    var value: String
    /// Label names in the order written.
    var labelOrder: [String]

    var number: Double? {
        switch value {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        default: Double(value)
        }
    }

    /// Parses one sample line (not a comment); nil when the line is malformed.
    init?(line: String) {
        var characters = Array(line.unicodeScalars)[...]
        var name = ""
        while let c = characters.first, c != "{", c != " " {
            name.unicodeScalars.append(c)
            characters = characters.dropFirst()
        }
        guard !name.isEmpty else { return nil }
        var labels: [String: String] = [:]
        var order: [String] = []
        if characters.first == "{" {
            characters = characters.dropFirst()
            while characters.first != "}" {
                var key = ""
                while let c = characters.first, c != "=" {
                    key.unicodeScalars.append(c)
                    characters = characters.dropFirst()
                }
                guard characters.popFirst() == "=", characters.popFirst() == "\"" else { return nil }
                var value = ""
                while let c = characters.popFirst(), c != "\"" {
                    if c == "\\" {
                        switch characters.popFirst() {
                        case "n": value += "\n"
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        default: return nil
                        }
                    } else {
                        value.unicodeScalars.append(c)
                    }
                }
                guard labels[key] == nil else { return nil }
                labels[key] = value
                order.append(key)
                if characters.first == "," { characters = characters.dropFirst() }
                guard !characters.isEmpty else { return nil }
            }
            characters = characters.dropFirst()
        }
        guard characters.popFirst() == " " else { return nil }
        let value = String(String.UnicodeScalarView(characters))
        guard !value.isEmpty, !value.contains(" ") else { return nil }
        self.name = name
        self.labels = labels
        self.value = value
        labelOrder = order
    }
}

/// The exposition text's lines, without the final empty one.
func lines(_ text: String) -> [String] {
    text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
}

func samples(_ text: String) -> [Sample] {
    lines(text).filter { !$0.hasPrefix("#") }.compactMap(Sample.init(line:))
}

func render(_ input: MonitorSnapshot, _ format: ExpositionFormat = .text) -> String {
    MetricsRenderer.renderString(input, format: format, process: fixedProcess)
}

/// Runs an executable; returns its exit status and combined output.
func runProcess(_ executable: String, _ arguments: [String], stdin: Data? = nil, directory: URL? = nil) throws
    -> (status: Int32, output: String)
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    let input = Pipe()
    process.standardInput = input
    try process.run()
    // Read and write concurrently so that neither pipe fills up.
    let writer = Thread {
        if let stdin { try? input.fileHandleForWriting.write(contentsOf: stdin) }
        try? input.fileHandleForWriting.close()
    }
    writer.start()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// `LEEN_REQUIRE_REAL_PARTS=1` (CI): a missing tool fails its test instead of skipping it.
let requireRealParts = ProcessInfo.processInfo.environment["LEEN_REQUIRE_REAL_PARTS"] == "1"

/// `promtool` from `$PROMTOOL` or `$PATH` (Debian package `prometheus`).
let promtoolPath: String? = {
    let environment = ProcessInfo.processInfo.environment
    if let explicit = environment["PROMTOOL"], FileManager.default.isExecutableFile(atPath: explicit) {
        return explicit
    }
    let directories = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") + ["/usr/bin"]
    return directories.map { "\($0)/promtool" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}()
