import Logging
import SystemdSupport
import Testing

@Suite("Journal log handler")
struct JournalLogHandlerTests {
    struct Boom: Error, CustomStringConvertible {
        var description: String { "boom: connection reset" }
    }

    static func logger(_ sink: RecordingSink, level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: "leen.healthd.poller") { JournalLogHandler(label: $0, sink: sink) }
        logger.logLevel = level
        return logger
    }

    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func levelBecomesPriority(_ level: Logger.Level, _ priority: Int) throws {
        #expect(JournalLogHandler.priority(level) == priority)
        let sink = RecordingSink()
        Self.logger(sink).log(level: level, "message")
        let entry = try #require(sink.entries.first)
        #expect(entry["PRIORITY"] == String(priority))
    }

    @Test func entryCarriesMessageSourceAndMetadata() throws {
        let sink = RecordingSink()
        var logger = Self.logger(sink)
        logger[metadataKey: "organization"] = "acme"
        logger[metadataKey: "connection.id"] = "c-1"
        let line = #line + 1
        logger.warning("poll failed\nsecond line", metadata: ["retry-after": "2", "organization": "override"])
        let entry = try #require(sink.entries.first)
        #expect(
            entry.fields.map(\.name) == [
                "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "LEEN_LOGGER", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
                "LEEN_LOG_CONNECTION_ID", "LEEN_LOG_ORGANIZATION", "LEEN_LOG_RETRY_AFTER",
            ])
        #expect(entry["MESSAGE"] == "poll failed\nsecond line")
        #expect(entry["PRIORITY"] == "4")
        #expect(entry["SYSLOG_IDENTIFIER"] == "leen-healthd")
        #expect(entry["LEEN_LOGGER"] == "leen.healthd.poller")
        #expect(entry["CODE_FILE"]?.hasSuffix("JournalLogHandlerTests.swift") == true)
        #expect(entry["CODE_LINE"] == String(line))
        #expect(entry["CODE_FUNC"]?.hasPrefix("entryCarriesMessageSourceAndMetadata") == true)
        #expect(entry["LEEN_LOG_ORGANIZATION"] == "override")
        #expect(entry["LEEN_LOG_CONNECTION_ID"] == "c-1")
        #expect(entry["LEEN_LOG_RETRY_AFTER"] == "2")
    }

    @Test func errorIsAField() throws {
        let sink = RecordingSink()
        Self.logger(sink).error("send failed", error: Boom())
        #expect(try #require(sink.entries.first)["LEEN_LOG_ERROR"] == "boom: connection reset")
    }

    @Test func levelsBelowTheLoggersAreNotSent() {
        let sink = RecordingSink()
        let logger = Self.logger(sink, level: .notice)
        logger.info("dropped")
        logger.notice("kept")
        #expect(sink.entries.map { $0["MESSAGE"] } == ["kept"])
    }

    @Test func customIdentifier() throws {
        let sink = RecordingSink()
        Logger(label: "x") { JournalLogHandler(label: $0, identifier: "leen-sim", sink: sink) }.info("hi")
        #expect(try #require(sink.entries.first)["SYSLOG_IDENTIFIER"] == "leen-sim")
    }

    @Test(
        arguments: [
            ("organization", "LEEN_LOG_ORGANIZATION"), ("connection.id", "LEEN_LOG_CONNECTION_ID"),
            ("retry-after", "LEEN_LOG_RETRY_AFTER"), ("HTTP status", "LEEN_LOG_HTTP_STATUS"),
            ("camelCase", "LEEN_LOG_CAMELCASE"), ("1st", "LEEN_LOG_1ST"), ("café", "LEEN_LOG_CAF_"),
            ("a🚀b", "LEEN_LOG_A_B"), ("straße", "LEEN_LOG_STRASSE"), ("_private", "LEEN_LOG__PRIVATE"),
            (String(repeating: "k", count: 55), "LEEN_LOG_" + String(repeating: "K", count: 55)),
            (String(repeating: "k", count: 56), nil),
        ] as [(String, String?)])
    func metadataKeyFieldName(_ key: String, _ name: String?) {
        #expect(JournalLogHandler.fieldName(forMetadataKey: key) == name)
    }

    @Test func overlongMetadataKeysAreLeftOut() throws {
        let sink = RecordingSink()
        Self.logger(sink).info("x", metadata: [String(repeating: "k", count: 80): "v", "ok": "w"])
        let entry = try #require(sink.entries.first)
        #expect(entry.fields.filter { $0.name.hasPrefix("LEEN_LOG_") }.map(\.name) == ["LEEN_LOG_OK"])
    }
}
