import ArgumentParser
import Foundation
import Healthd
import HealthdCore
import LeenAPI
import SystemdSupport

/// `leen-healthd-bench journal`: how many events a second the daemon's journal path writes.
///
/// The events go the way the daemon sends them: staged and released in the ``Outbox``, taken by the
/// ``JournalWriter``'s thread, turned into fields by ``EventEmitter`` and written by ``SystemdJournalSink``
/// (`sd_journal_sendv`). Only that path is timed: the events are built and stamped before the clock starts,
/// as the monitor builds them on its own threads. bench/journal-ceiling.c sends the same fields
/// (`--fields-out`) straight through libsystemd, the ceiling the daemon is compared with (scripts/bench.sh).
struct BenchJournal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Send events through the daemon's journal writer and print events per second.",
        discussion: """
            Needs a journald listening (run it under scripts/with-journald.sh, a private one without a rate \
            limit: the host's journal is never touched). Prints one line of KEY=VALUE pairs.
            """)

    @Option(help: "Events to send.") var events = 100_000
    @Option(help: "Write the event's journal fields (NAME=VALUE, one a line) to this file and exit.")
    var fieldsOut: String?
    @Flag(
        help: """
            Pace as the daemon's default configuration does (events.journal_burst per journal_interval). \
            Without it the pacer never waits, so the figure is the path's own throughput.
            """)
    var paced = false

    func validate() throws {
        guard events >= 1 else { throw ValidationError("--events must be at least 1") }
    }

    func run() async throws {
        let template = Self.template()
        if let fieldsOut {
            try Self.fieldsText(template).write(toFile: fieldsOut, atomically: true, encoding: .utf8)
            return
        }
        // The daemon falls back to stderr without a journal; a benchmark of that would measure the terminal.
        guard Journal.isAvailable else {
            throw ValidationError("no journald listens at \(Journal.socketPath) (run under scripts/with-journald.sh)")
        }

        // Each event is the template with its own LEEN_EVENT_ID and LEEN_EVENT_SEQUENCE, as the monitor's
        // stream stamps them: journald sees distinct entries, never one repeated.
        var batch = [HealthEvent](repeating: template, count: events)
        var stream = EventStream()
        stream.stamp(&batch)
        let outbox = Outbox(limit: events + 1)
        let key = Outbox.Stream.organization(Self.organization)
        outbox.stage(batch, in: key, now: Date())
        batch = []
        // A pacer that never waits unless --paced: its bucket holds every event of the run.
        let pacer =
            paced ? Configuration.Events().pacer : JournalPacer(burst: events * 4, interval: 1)
        let writer = JournalWriter(
            outbox: outbox, emitter: EventEmitter(sink: SystemdJournalSink(), fallback: NullSink()), pacer: pacer)

        let cpuBefore = Self.cpuSeconds()
        let clock = ContinuousClock()
        let start = clock.now
        outbox.release(key, count: events)
        writer.start()
        let complete = await writer.finish(grace: .seconds(3600))
        let seconds = (clock.now - start).seconds
        let cpu = Self.cpuSeconds() - cpuBefore
        guard complete else { throw ValidationError("the writer stopped before sending every event") }
        let bytes = Self.fieldsText(template).utf8.count
        print(
            String(
                format: "events=%ld seconds=%.3f events_per_second=%.0f cpu_us_per_event=%.2f send_errors=%ld bytes_per_event=%ld",
                events, seconds, Double(events) / seconds, cpu * 1e6 / Double(events), writer.sendErrors, bytes))
    }

    static let organization = OrganizationID("0b6f2d9e-4c1a-4f3e-9a57-1c2d3e4f5a6b")

    /// A typical event: a connection that turned UNHEALTHY with the customer to act and two failing
    /// endpoints, built by the daemon's own ``EventBuilder`` (so its fields are the ones the daemon writes).
    static func template() -> HealthEvent {
        let healthy = ConnectionObservation(
            organizationID: organization, connectionID: ConnectionID("7c9e6679-7425-40de-944b-e07fc1f90ae7"),
            identifier: "crowdstrike-spotlight-8001", vendor: "CROWDSTRIKE", state: .active, isActive: true,
            health: .init(status: .healthy, name: .healthy, resolutionOwner: .leen))
        var unhealthy = healthy
        unhealthy.health = .init(
            status: .unhealthy, name: .unauthorized, resolutionOwner: .customer,
            description: "The vendor rejected the credentials: check the API client's scopes.",
            details: [
                HealthDetail(endpoint: "/spotlight/queries/vulnerabilities/v1", dataExportType: .alerts),
                HealthDetail(endpoint: "/devices/queries/devices-scroll/v1", dataExportType: .alerts),
            ])
        let changes: [ConnectionChange] = [
            .status(from: .healthy, to: .unhealthy), .name(from: .healthy, to: .unauthorized),
            .resolutionOwner(from: .leen, to: .customer),
            .details(added: unhealthy.health!.details, removed: []),
        ]
        let context = EventContext(organizationLabel: "acme-security", observedAt: Date())
        let built = EventBuilder.connectionEvents(
            changes: changes, previous: healthy, current: unhealthy, context: context)
        precondition(built.count == 1, "the template change makes one event")
        var stamped = built
        var stream = EventStream()
        stream.stamp(&stamped)
        return stamped[0]
    }

    /// NAME=VALUE lines of every field journald gets, in order (what bench/journal-ceiling.c reads).
    static func fieldsText(_ event: HealthEvent) -> String {
        event.journalFields.map { field in
            precondition(!field.value.contains("\n"), "\(field.name) has a newline: the file format has no escape")
            return "\(field.name)=\(field.value)\n"
        }.joined()
    }

    /// This process's user and system CPU.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
