import HealthdTestSupport
import Foundation
import SystemdSupport
import Testing

/// Against the real systemd-journald: skipped where there is none, unless `LEEN_REQUIRE_REAL_PARTS=1` says
/// the run must prove the real thing (then a missing journal is a failure).
@Suite("systemd journal")
struct SystemdJournalTests {
    static let realPartsRequired = ProcessInfo.processInfo.environment["LEEN_REQUIRE_REAL_PARTS"] == "1"

    @Test(.enabled(if: realPartsRequired, "LEEN_REQUIRE_REAL_PARTS=1 is not set"))
    func journalIsAvailableWhenRealPartsAreRequired() {
        #expect(
            Journal.isAvailable,
            """
            LEEN_REQUIRE_REAL_PARTS=1, but there is no journald socket at \(Journal.socketPath): the \
            SystemdJournalSink round trip cannot run. Run the tests where systemd-journald runs, or unset \
            LEEN_REQUIRE_REAL_PARTS to skip it.
            """)
    }

    @Test(.enabled(if: Journal.isAvailable, "no systemd-journald socket at \(Journal.socketPath)"))
    func entryRoundTripsThroughJournald() async throws {
        let id = UUID().uuidString.lowercased()
        let entry = JournalEntry([
            ("MESSAGE", "leen-healthd journal test \(id)\nsecond line of the message"),
            ("PRIORITY", "6"),
            ("SYSLOG_IDENTIFIER", "leen-healthd-tests"),
            ("LEEN_TEST_ID", id),
            ("LEEN_TEST_MULTILINE", "first line\nLEEN_FORGED=not a field\n\tindented \"quoted\" = ✓ café"),
        ])
        try SystemdJournalSink().send(entry)

        let record = try await Self.readBack(testID: id)
        for (name, value) in entry.fields {
            #expect(record[name] == value, "\(name)")
        }
        #expect(record["LEEN_FORGED"] == nil)
    }

    @Test("JournalQuery: a barrier shows, then exactly the ids written since a time are found")
    func queryFindsWrittenIDs() throws {
        guard Journal.isAvailable else { return }
        let identifier = "leen-query-test-\(UUID().uuidString.prefix(8))"
        let before = Date().addingTimeInterval(-1)
        let written = (0..<5).map { _ in UUID().uuidString.lowercased() }
        for id in written {
            try SystemdJournalSink().send(
                JournalEntry([("MESSAGE", "query test"), ("SYSLOG_IDENTIFIER", identifier), ("LEEN_EVENT_ID", id)]))
        }
        // Nothing is waited for: the barrier alone must make the entries readable.
        #expect(try JournalQuery.barrier(message: "query test barrier", timeout: .seconds(10)))
        let never = UUID().uuidString.lowercased()
        let found = try JournalQuery.present(
            Set(written + [never]), field: "LEEN_EVENT_ID", identifier: identifier, since: before)
        #expect(found == Set(written))
        // Entries older than `since` are not looked at.
        #expect(try JournalQuery.present(Set(written), field: "LEEN_EVENT_ID", identifier: identifier, since: Date().addingTimeInterval(60)).isEmpty)
    }

    /// The entry `journalctl -o json LEEN_TEST_ID=<id>` shows, waiting up to 10 s for journald to store it.
    static func readBack(testID: String) async throws -> [String: String] {
        let journalctl = try #require(
            ["/usr/bin/journalctl", "/bin/journalctl"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "journalctl is not installed")
        var lastOutput = ""
        for _ in 0..<100 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: journalctl)
            process.arguments = ["-o", "json", "--all", "--no-pager", "LEEN_TEST_ID=\(testID)"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            lastOutput = String(decoding: data, as: UTF8.self)
            if process.terminationStatus == 0,
                let line = lastOutput.split(separator: "\n").first(where: { $0.hasPrefix("{") }),
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            {
                return object.compactMapValues(Self.text)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("journalctl never showed LEEN_TEST_ID=\(testID); last output: \(lastOutput)")
        return [:]
    }

    /// A `journalctl -o json` value: a string, or an array of bytes for values it does not print as text.
    static func text(_ value: Any) -> String? {
        if let string = value as? String { return string }
        if let bytes = value as? [Int] {
            return String(decoding: bytes.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)
        }
        return nil
    }
}
