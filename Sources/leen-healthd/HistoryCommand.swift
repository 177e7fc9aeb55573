import ArgumentParser
import Foundation
import Healthd
import HealthdCore

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a connection's health history from the journal: timeline, time unhealthy, availability.",
        discussion: """
            Reads leen-healthd's events from the journal (this machine's, or --directory) and prints, for the \
            connection named (by identifier or Leen connection id), for an organization's connections \
            (--organization alone), or for every connection: each event with the status it left, the time \
            spent unhealthy per resolution owner, availability (healthy time out of the time with a known \
            health: unknown, paused, OAuth-pending and missing time are not counted), the open problem and \
            the open incident. Reading the local journal needs the systemd-journal group (or root). \
            docs/operations.md, "History", describes the rules and the JSON.
            """)

    @Argument(help: "The connection's identifier or Leen connection id (default: every connection).")
    var connection: String?
    @Option(help: ArgumentHelp("Only connections of this organization.", valueName: "organization-id"))
    var organization: String?
    // .unconditional: '-24h' is the value, not an option.
    @Option(
        parsing: .unconditional,
        help: "Start of the window: ISO 8601 (2026-11-30T08:00:00Z, 2026-11-30), 'now', or relative (-24h, -7d, -1d12h).")
    var since = "-7d"
    @Option(parsing: .unconditional, help: "End of the window, in the same forms.")
    var until = "now"
    @Flag(help: "JSON for scripts (keys described in docs/operations.md).")
    var json = false
    @Option(help: ArgumentHelp(
        "Read the journal files in this directory (such as a copy of /var/log/journal from another machine).",
        valueName: "dir"))
    var directory: String?

    func window(now: Date) throws -> HistoryWindow {
        let start: Date
        let end: Date
        do {
            start = try HistoryTime.parse(since, now: now)
            end = try HistoryTime.parse(until, now: now)
        } catch {
            throw ValidationError("\(error)")
        }
        guard start < end else { throw ValidationError("--since must be before --until") }
        return HistoryWindow(start: start, end: end)
    }

    func validate() throws { _ = try window(now: Date()) }

    func run() async throws {
        let window = try window(now: Date())
        let report: HistoryReport
        do {
            report = try HistoryQuery.report(
                directory: directory,
                selection: .init(connection: connection, organization: organization), window: window)
        } catch {
            FileHandle.standardError.write(Data("leen-healthd history: cannot read the journal: \(error)\n".utf8))
            throw ExitCode.failure
        }
        print(json ? try HistoryQuery.json(report) : HistoryQuery.text(report))
    }
}
