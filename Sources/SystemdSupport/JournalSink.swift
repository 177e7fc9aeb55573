import CSystemd
import Foundation

/// One journal entry: fields in order, names already valid for journald.
public struct JournalEntry: Sendable, Hashable {
    public var fields: [(name: String, value: String)]

    public init(_ fields: [(name: String, value: String)]) { self.fields = fields }

    public static func == (a: JournalEntry, b: JournalEntry) -> Bool {
        a.fields.elementsEqual(b.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for field in fields {
            hasher.combine(field.name)
            hasher.combine(field.value)
        }
    }

    public subscript(name: String) -> String? { fields.first { $0.name == name }?.value }
}

/// The journal send failed; `errno` is what libsystemd returned (negated).
public struct JournalError: Error, CustomStringConvertible, Sendable {
    public var errno: Int32
    public var description: String { "sd_journal_sendv failed: \(String(cString: strerror(errno)))" }
}

/// Where structured entries go.
public protocol JournalSink: Sendable {
    func send(_ entry: JournalEntry) throws
}

/// Writes to the systemd journal with `sd_journal_sendv`: one datagram per entry, every field typed and
/// length-delimited, so a value with newlines cannot forge another field.
public struct SystemdJournalSink: JournalSink {
    public init() {}

    public func send(_ entry: JournalEntry) throws {
        guard !entry.fields.isEmpty else { return }
        var storage: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in entry.fields {
            let start = storage.count
            storage += field.name.utf8
            storage.append(UInt8(ascii: "="))
            storage += field.value.utf8
            ranges.append(start..<storage.count)
        }
        let result = storage.withUnsafeMutableBytes { raw -> Int32 in
            guard let base = raw.baseAddress else { return 0 }
            let vectors = ranges.map { iovec(iov_base: base + $0.lowerBound, iov_len: $0.count) }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
        if result < 0 { throw JournalError(errno: -result) }
    }
}

/// Where the journal is and whether one is there.
///
/// `sd_journal_sendv` returns success even when no journald listens, dropping the entry, so presence is
/// decided by the socket: `/run/systemd/journal/socket` (or `$LEEN_JOURNAL_SOCKET` for tests).
public enum Journal {
    public static var socketPath: String {
        ProcessInfo.processInfo.environment["LEEN_JOURNAL_SOCKET"] ?? "/run/systemd/journal/socket"
    }

    /// True when journald's native socket exists.
    public static var isAvailable: Bool {
        var info = stat()
        return stat(socketPath, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK
    }
}
