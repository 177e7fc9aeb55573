import Foundation
import Synchronization

/// Writes entries as one line each to a file descriptor (stderr by default) when there is no journal, so
/// nothing is silently dropped: `logfmt` (`MESSAGE="…" PRIORITY=4 LEEN_STATUS=UNHEALTHY …`) or JSON
/// (`{"MESSAGE": "…", …}`, like `journalctl -o json`).
public final class StreamSink: JournalSink {
    public enum Format: String, Sendable, CaseIterable {
        case logfmt
        case json
    }

    public let format: Format
    private let descriptor: Int32
    /// Serialises writes so concurrent entries never interleave within a line.
    private let lock = Mutex(())

    public init(format: Format, descriptor: Int32 = 2) {
        self.format = format
        self.descriptor = descriptor
    }

    public func send(_ entry: JournalEntry) throws {
        var line = Self.render(entry, format: format)
        line.append("\n")
        let bytes = Array(line.utf8)
        lock.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                if written <= 0 {
                    if written < 0, errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    /// One line for `entry`, without the newline. Newlines inside values are escaped in both formats.
    public static func render(_ entry: JournalEntry, format: Format) -> String {
        switch format {
        case .json:
            var object = "{"
            for (index, field) in entry.fields.enumerated() {
                object += (index > 0 ? "," : "") + jsonString(field.name) + ":" + jsonString(field.value)
            }
            return object + "}"
        case .logfmt:
            return entry.fields.map { "\($0.name)=\(logfmtValue($0.value))" }.joined(separator: " ")
        }
    }

    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func logfmtValue(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy {
            $0.value > 0x20 && $0 != "\"" && $0 != "=" && $0 != "\\" && $0.value != 0x7F
        }
        return plain ? value : jsonString(value)
    }
}

/// Sends every entry to each sink in turn; the first error is rethrown after all were tried.
public struct FanOutSink: JournalSink {
    public var sinks: [any JournalSink]

    public init(_ sinks: [any JournalSink]) { self.sinks = sinks }

    public func send(_ entry: JournalEntry) throws {
        var failure: (any Error)?
        for sink in sinks {
            do { try sink.send(entry) } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }
}
