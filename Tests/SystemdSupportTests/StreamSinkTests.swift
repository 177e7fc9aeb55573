import Foundation
import SystemdSupport
import Testing

@Suite("Stream sink")
struct StreamSinkTests {
    static func entry(_ fields: KeyValuePairs<String, String>) -> JournalEntry {
        JournalEntry(fields.map { (name: $0.key, value: $0.value) })
    }

    static func parseJSON(_ line: Substring) throws -> [String: String] {
        try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "not JSON: \(line)")
    }

    @Test(arguments: [
        ("UNHEALTHY", #"LEEN_X=UNHEALTHY"#),
        ("hello world", #"LEEN_X="hello world""#),
        ("", #"LEEN_X="""#),
        ("a=b", #"LEEN_X="a=b""#),
        ("line1\nline2", #"LEEN_X="line1\nline2""#),
        ("say \"hi\" \\ bye", #"LEEN_X="say \"hi\" \\ bye""#),
        ("tab\there\r", #"LEEN_X="tab\there\r""#),
        ("bell\u{7}esc\u{1B}nul\u{0}", #"LEEN_X="bell\u0007esc\u001bnul\u0000""#),
        ("café→✓🚀", "LEEN_X=café→✓🚀"),
        ("naïve ✓", #"LEEN_X="naïve ✓""#),
        (#"https://example.com/a?b"#, #"LEEN_X=https://example.com/a?b"#),
    ])
    func logfmtValue(_ value: String, _ rendered: String) {
        #expect(StreamSink.render(Self.entry(["LEEN_X": value]), format: .logfmt) == rendered)
    }

    @Test func logfmtKeepsFieldOrder() {
        let entry = Self.entry(["MESSAGE": "poll failed", "PRIORITY": "4", "LEEN_STATUS": "UNHEALTHY"])
        #expect(StreamSink.render(entry, format: .logfmt) == #"MESSAGE="poll failed" PRIORITY=4 LEEN_STATUS=UNHEALTHY"#)
    }

    @Test func jsonEscapesAndKeepsUTF8() throws {
        let entry = Self.entry([
            "MESSAGE": "a \"q\" \\ b\nc", "PRIORITY": "3", "LEEN_X": "é✓🚀\u{1}\t\r", "LEEN_EMPTY": "",
        ])
        let line = StreamSink.render(entry, format: .json)
        #expect(
            line == #"{"MESSAGE":"a \"q\" \\ b\nc","PRIORITY":"3","LEEN_X":"é✓🚀\u0001\t\r","LEEN_EMPTY":""}"#)
        #expect(!line.contains("\n"))
        let decoded = try Self.parseJSON(line[...])
        #expect(decoded == Dictionary(uniqueKeysWithValues: entry.fields.map { ($0.name, $0.value) }))
    }

    /// Every ASCII character, alone and between multibyte ones, reads back as it was: JSON through
    /// `JSONSerialization`, a logfmt value bare (then it is the value) or quoted (then it is JSON).
    @Test func everyCharacterRoundTrips() throws {
        var values = (0..<128).map { String(UnicodeScalar(UInt8($0))) }
        values += (0..<128).map { "é\(UnicodeScalar(UInt8($0)))🚀\u{85}" }
        values.append(String((1..<128).map { Character(UnicodeScalar(UInt8($0))) }))
        for value in values {
            let json = try Self.parseJSON(StreamSink.render(Self.entry(["LEEN_X": value]), format: .json)[...])
            #expect(json == ["LEEN_X": value])
            let logfmt = StreamSink.render(Self.entry(["LEEN_X": value]), format: .logfmt)
            let rendered = try #require(logfmt.split(separator: "=", maxSplits: 1).last)
            #expect(!logfmt.contains("\n"))
            if rendered.hasPrefix("\"") {
                let decoded = try JSONSerialization.jsonObject(with: Data(rendered.utf8), options: .fragmentsAllowed)
                #expect(decoded as? String == value)
            } else {
                #expect(String(rendered) == value)
                #expect(!value.contains(" ") && !value.contains("=") && !value.contains("\""))
            }
        }
    }

    @Test(arguments: StreamSink.Format.allCases)
    func oneLinePerEntryOnAPipe(_ format: StreamSink.Format) async throws {
        let entries = [
            Self.entry(["MESSAGE": "first\nsecond\n", "LEEN_A": "x"]),
            Self.entry(["MESSAGE": "\n\n", "LEEN_B": "multi\r\nline"]),
            Self.entry(["MESSAGE": "plain"]),
        ]
        let output = try await captureOutput { descriptor in
            let sink = StreamSink(format: format, descriptor: descriptor)
            for entry in entries { try sink.send(entry) }
        }
        #expect(output.hasSuffix("\n"))
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.map(String.init) == entries.map { StreamSink.render($0, format: format) })
    }

    @Test func concurrentEntriesNeverInterleave() async throws {
        let tasks = 32
        let perTask = 25
        // Larger than PIPE_BUF, so a line takes several write(2) calls when the pipe is full.
        func message(_ task: Int, _ index: Int) -> String {
            String(repeating: "task \(task) entry \(index) \"line\"\n", count: 200)
        }
        let output = try await captureOutput { descriptor in
            let sink = StreamSink(format: .json, descriptor: descriptor)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        for index in 0..<perTask {
                            try sink.send(
                                Self.entry(["MESSAGE": message(task, index), "LEEN_KEY": "\(task)/\(index)"]))
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let lines = output.split(separator: "\n")
        #expect(lines.count == tasks * perTask)
        var seen: Set<String> = []
        for line in lines {
            let object = try Self.parseJSON(line)
            let key = try #require(object["LEEN_KEY"])
            let parts = key.split(separator: "/").compactMap { Int($0) }
            try #require(parts.count == 2)
            #expect(object["MESSAGE"] == message(parts[0], parts[1]))
            seen.insert(key)
        }
        #expect(seen.count == tasks * perTask)
    }
}

@Suite("Fan-out sink")
struct FanOutSinkTests {
    @Test func sendsToEverySinkAndRethrowsTheFirstError() {
        let first = RecordingSink()
        let second = RecordingSink()
        let sink = FanOutSink([first, FailingSink(id: 1), second, FailingSink(id: 2)])
        let entry = JournalEntry([("MESSAGE", "hello"), ("PRIORITY", "6")])
        #expect(throws: SinkFailure(id: 1)) { try sink.send(entry) }
        #expect(first.entries == [entry])
        #expect(second.entries == [entry])
    }

    @Test func succeedsWhenEverySinkDoes() throws {
        let sinks = [RecordingSink(), RecordingSink()]
        let entry = JournalEntry([("MESSAGE", "hello")])
        try FanOutSink(sinks).send(entry)
        try FanOutSink([]).send(entry)
        #expect(sinks.map(\.entries) == [[entry], [entry]])
    }
}
