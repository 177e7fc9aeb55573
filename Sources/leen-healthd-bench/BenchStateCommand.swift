import ArgumentParser
import Foundation
import Healthd
import HealthdBenchmarks
import HealthdCore
import LeenAPI

/// `leen-healthd-bench state`: what reading the state directory costs at start, with the organizations'
/// logs a crash leaves and without them (after a clean stop), and what a poll's write costs.
///
/// The state is the synthetic fleet's (``SyntheticFleet``, 100 connections per organization): each
/// organization's file is written, then `--polls` polls each change 3 of its connections and commit 3
/// events, as a changing fleet does (their writes append to its log while the log is within its budget);
/// then as many polls again, each replacing every file as every write did before the logs. The load is
/// `StateStore.loadStoredOrganizations`, what the monitor runs before READY.
struct BenchState: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Measure writing and reading the state directory of a synthetic fleet; prints a table.")

    @Option(help: "Monitored connections (100 per organization).") var connections = 100_000
    @Option(help: "Polls written after each organization's file.") var polls = 6
    @Option(help: "Loads per measurement (the median is reported).") var iterations = 5
    @Option(help: "Where to write the state (a new directory, removed afterwards).") var directory: String

    func run() async throws {
        guard !FileManager.default.fileExists(atPath: directory) else {
            throw ValidationError("\(directory) exists: give a new directory")
        }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = StateStore(directory: directory)
        var input = SyntheticFleet.input(connections: connections)
        var streams = Dictionary(uniqueKeysWithValues: input.organizations.map { ($0.id, EventStream()) })

        func write(compact: Bool = false) throws -> (seconds: Double, cpu: Double) {
            let (start, cpu) = (ContinuousClock.now, Self.cpuSeconds())
            for organization in input.organizations {
                try store.save(
                    organization.state, delivery: StateStore.Delivery(stream: streams[organization.id]!), for: organization.id,
                    compact: compact)
            }
            return ((ContinuousClock.now - start).seconds, Self.cpuSeconds() - cpu)
        }
        /// Each poll's writes, appending to the logs or (`compact`) replacing every file, as before the logs.
        func poll(_ count: Int, from first: Int, compact: Bool) throws -> [(seconds: Double, cpu: Double)] {
            try (first..<(first + count)).map { poll in
                input = MetricsBenchmark.changedConnections(input, perOrganization: 3, poll: poll)
                for id in streams.keys {
                    var events = (0..<3).map { index in
                        HealthEvent(
                            kind: .connectionUnhealthy, priority: .warning, message: "bench",
                            fields: [EventField("LEEN_IDENTIFIER", "connection-\(poll * 3 + index)"), EventField("LEEN_BENCH", "x")])
                    }
                    streams[id]!.stamp(&events)
                }
                return try write(compact: compact)
            }
        }
        _ = try write()
        let pollWrites = try poll(polls, from: 0, compact: false)
        let logged = Self.bytes(in: directory, ending: ".log")
        let withLogs = try measureLoad(store)
        let replacements = try poll(polls, from: polls, compact: true)
        let withoutLogs = try measureLoad(store)

        let organizations = input.organizations.count
        func row(_ name: String, _ value: String) { print("| \(name) | \(value) |") }
        print("| \(connections) connections, \(organizations) organizations, \(polls) polls | |")
        print("|---|---:|")
        func perWrite(_ writes: [(seconds: Double, cpu: Double)]) -> String {
            String(format: "%.0f µs", writes.map(\.cpu).reduce(0, +) / Double(writes.count * organizations) * 1e6)
        }
        row("a poll's write, CPU per organization (mean of the polls)", perWrite(pollWrites))
        row("the same polls, each replacing the file (as before the logs)", perWrite(replacements))
        row("organization files", String(format: "%.1f MB", Double(Self.bytes(in: directory, ending: ".json").bytes) / 1e6))
        row("logs after the polls", String(format: "%.1f MB in %d logs", Double(logged.bytes) / 1e6, logged.files))
        row("load with the logs (as after a crash)", String(format: "%.2f s (%.2f s CPU)", withLogs.seconds, withLogs.cpu))
        row("load without logs (as after a clean stop)", String(format: "%.2f s (%.2f s CPU)", withoutLogs.seconds, withoutLogs.cpu))
    }

    /// The median of `iterations` loads, after one to warm the page cache.
    func measureLoad(_ store: StateStore) throws -> (seconds: Double, cpu: Double) {
        _ = try store.loadStoredOrganizations()
        var runs: [(seconds: Double, cpu: Double)] = []
        for _ in 0..<max(1, iterations) {
            let (start, cpu) = (ContinuousClock.now, Self.cpuSeconds())
            let loaded = try store.loadStoredOrganizations()
            runs.append(((ContinuousClock.now - start).seconds, Self.cpuSeconds() - cpu))
            precondition(!loaded.isEmpty)
        }
        return runs.sorted { $0.seconds < $1.seconds }[runs.count / 2]
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    static func bytes(in directory: String, ending suffix: String) -> (files: Int, bytes: Int) {
        let folder = directory + "/organizations"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let sizes = names.filter { $0.hasSuffix(suffix) }.compactMap {
            (try? FileManager.default.attributesOfItem(atPath: folder + "/" + $0))?[.size] as? Int
        }
        return (sizes.count, sizes.reduce(0, +))
    }
}
