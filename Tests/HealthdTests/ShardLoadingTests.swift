import Foundation
import HealthdCore
import LeenAPI
import HealthdTestSupport
import Synchronization
import Testing

@testable import Healthd

/// The daemon's side of shards: secrets only of the shard's organizations, reloads that keep the shard,
/// and `LEEN_SHARD` on every event sent.
@Suite("Shards in the daemon")
struct ShardLoadingTests {
    /// A directory with a configuration of `ids`, each organization's secret a file named after it.
    final class Sandbox {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shards-\(UUID().uuidString)").path
        /// Six random ids, drawn again until both of two shards own some (all six fall on one side 1 time in 32).
        let ids: [OrganizationID] = {
            let shard = Shard(index: 1, count: 2)!
            while true {
                let ids = (0..<6).map { _ in OrganizationID(UUID().uuidString.lowercased()) }
                if (1..<ids.count).contains(ids.filter { shard.owns($0) }.count) { return ids }
            }
        }()

        init() throws { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: directory) }

        func secret(_ id: OrganizationID) -> String { "\(directory)/\(id).secret" }

        /// Writes the configuration (with `shard: …` when given) and the API key; returns the file's path.
        func write(shard: String? = nil) throws -> String {
            try write("api-key", "k")
            var text = "api:\n  region: us\n  key: {file: \(directory)/api-key}\n"
            if let shard { text += "shard: \(shard)\n" }
            text += "organizations:\n"
            for id in ids {
                text += "  - id: \(id)\n    connections:\n      - identifier: q\n        vendor: QUALYS\n"
                    + "        credentials: {username: u, password: {file: \(secret(id))}}\n"
            }
            return try write("leen-healthd.yaml", text)
        }

        @discardableResult
        func write(_ name: String, _ text: String) throws -> String {
            let path = name.hasPrefix("/") ? name : "\(directory)/\(name)"
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            chmod(path, 0o600)
            return path
        }
    }

    @Test("A shard's host needs only its own organizations' secrets")
    func onlyOwnSecrets() throws {
        let sandbox = try Sandbox()
        let path = try sandbox.write()
        let shard = Shard(index: 1, count: 2)!
        let mine = sandbox.ids.filter { shard.owns($0) }
        try #require(!mine.isEmpty && mine.count < sandbox.ids.count, "the six ids split between two shards")
        for id in mine { try sandbox.write(sandbox.secret(id), "p") }

        let loaded = try ConfigLoader.load(path: path, environment: [:], shard: .given(shard))
        #expect(loaded.organizations.map(\.id) == mine)
        // Unsharded, the other shard's missing secrets are errors, each at its reference.
        do {
            _ = try ConfigLoader.load(path: path, environment: [:])
            Issue.record("the unsharded load should miss the other shard's secrets")
        } catch {
            #expect(error.issues.count == sandbox.ids.count - mine.count)
            #expect(error.issues.allSatisfy { $0.message.contains("does not exist") })
        }
    }

    @Test("A reload keeps the shard in force at start, whatever the file's shard key now says")
    func reloadKeepsShard() throws {
        let sandbox = try Sandbox()
        for id in sandbox.ids { try sandbox.write(sandbox.secret(id), "p") }
        let path = try sandbox.write(shard: "1/2")
        let logger = quietLogger
        let atStart = try ConfigLoader.load(path: path, environment: [:])
        #expect(atStart.shard == Shard(index: 1, count: 2))

        _ = try sandbox.write(shard: "2/3")
        let reloaded = try DaemonRunner.reloadConfiguration(
            path: path, environment: [:], shard: atStart.shard, logger: logger)
        #expect(reloaded.shard == atStart.shard)
        #expect(reloaded.organizations == atStart.organizations)

        // Started from --shard 2/3 over a file without the key: reloads stay on 2/3.
        _ = try sandbox.write()
        let given = Shard(index: 2, count: 3)!
        let fromFlag = try DaemonRunner.reloadConfiguration(path: path, environment: [:], shard: given, logger: logger)
        #expect(fromFlag.shard == given)
        #expect(fromFlag.organizations.map(\.id) == sandbox.ids.filter { given.owns($0) })
    }

    @Test("The emitter adds LEEN_SHARD to every event it sends, and nothing when unsharded")
    func shardField() {
        let seen = Mutex<[HealthEvent]>([])
        let event = EventBuilder.configReloadFailed(
            reason: "x", context: EventContext(organizationLabel: "", observedAt: Date()))
        let sharded = EventEmitter(
            sink: NullSink(), fallback: NullSink(), observers: [{ event in seen.withLock { $0.append(event) } }],
            fields: EventBuilder.instanceFields(shard: Shard(index: 3, count: 4)))
        sharded.emit([event, event])
        #expect(seen.withLock { $0.map { $0[field: "LEEN_SHARD"] } } == ["3/4", "3/4"])
        #expect(seen.withLock { $0.allSatisfy { $0.journalFields.contains(EventField("LEEN_SHARD", "3/4")) } })

        seen.withLock { $0 = [] }
        EventEmitter(sink: NullSink(), fallback: NullSink(), observers: [{ event in seen.withLock { $0.append(event) } }])
            .emit([event])
        #expect(seen.withLock { $0.map { $0[field: "LEEN_SHARD"] } } == [nil])
    }
}
