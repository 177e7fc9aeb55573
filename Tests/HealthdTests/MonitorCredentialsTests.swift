import HealthdTestSupport
import Foundation
@testable import Healthd
import HealthdCore
import LeenAPI
import SystemdSupport
import Testing

@Suite("Monitor: applied credentials")
struct MonitorCredentialsTests {
    @Test("Applied credentials are written at once, then at most once a second, and always at the end of a pass")
    func appliedCredentialsBatched() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("leen-monitor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("api-key")
        try Data("monitor-test-key".utf8).write(to: key)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key.path)
        let organization: OrganizationID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
        let config = directory.appendingPathComponent("config.yaml")
        try Data(
            """
            api:
              base_url: http://127.0.0.1:9/v1
              key: { file: \(key.path) }
            state_directory: \(directory.appendingPathComponent("state").path)
            metrics:
              listen: off
            organizations:
              - id: \(organization)
                name: Test
                connections:
                  - identifier: tenable
                    vendor: TENABLE
                    credentials:
                      client_key: { file: \(key.path) }
                      secret_key: { file: \(key.path) }
            """.utf8
        ).write(to: config)
        let configuration = try ConfigLoader.load(path: config.path, environment: [:])
        let store = StateStore(directory: configuration.stateDirectory)
        let monitor = try Monitor(
            configuration: configuration, store: store, emitter: EventEmitter(sink: NullSink(), fallback: NullSink()),
            logger: quietLogger, now: { Date(timeIntervalSince1970: 1_764_460_800) })

        await monitor.recordApplied(["tenable": "hash-1"], organization: organization)
        #expect(try store.loadCredentials().applied.count == 1, "the first record is written at once")
        await monitor.recordApplied(["other": "hash-2"], organization: organization)
        #expect(try store.loadCredentials().applied.count == 1, "a second record within a second waits")
        await monitor.flushAppliedCredentials()
        let written = try store.loadCredentials().applied
        #expect(written.count == 2)
        #expect(written.values.sorted() == ["hash-1", "hash-2"])
        // Nothing new: flushing again changes nothing.
        await monitor.flushAppliedCredentials()
        #expect(try store.loadCredentials().applied == written)
    }
}
