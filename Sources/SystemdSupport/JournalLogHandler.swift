import Logging

/// A swift-log handler that writes diagnostic logs to a ``JournalSink``: `MESSAGE`, `PRIORITY` from the
/// level, `SYSLOG_IDENTIFIER`, `CODE_FILE`/`CODE_LINE`/`CODE_FUNC`, and each metadata key as a
/// `LEEN_LOG_<KEY>` field. A value type, as swift-log requires.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public let label: String
    let identifier: String
    let sink: any JournalSink

    public init(label: String, identifier: String = "leen-healthd", sink: any JournalSink) {
        self.label = label
        self.identifier = identifier
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [(name: String, value: String)] = [
            ("MESSAGE", event.message.description), ("PRIORITY", String(Self.priority(event.level))),
            ("SYSLOG_IDENTIFIER", identifier), ("LEEN_LOGGER", label), ("CODE_FILE", event.file),
            ("CODE_LINE", String(event.line)), ("CODE_FUNC", event.function),
        ]
        if let error = event.error { fields.append(("LEEN_LOG_ERROR", String(describing: error))) }
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            guard let name = Self.fieldName(forMetadataKey: key) else { continue }
            fields.append((name, value.description))
        }
        // Diagnostics must never take the daemon down; a failed send is dropped.
        try? sink.send(JournalEntry(fields))
    }

    /// syslog priority for a swift-log level.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// `LEEN_LOG_` plus the key upper-cased with every other character as `_`; nil if too long.
    public static func fieldName(forMetadataKey key: String) -> String? {
        let body = String(
            key.uppercased().unicodeScalars.map {
                ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") ? Character($0) : "_"
            })
        let name = "LEEN_LOG_" + body
        return name.utf8.count <= 64 ? name : nil
    }
}
