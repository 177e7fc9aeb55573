import CSystemd
import Foundation

/// Reads the local journal (sd_journal API): which of a set of event ids it holds.
///
/// Used at start-up to learn which unsent events of a daemon that died did reach the journal before it did.
public enum JournalQuery {
    /// The journal cannot be opened or read (no journald, no permission to read it).
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var operation: String
        public var errno: Int32
        public var description: String { "\(operation): \(String(cString: strerror(errno)))" }

        public init(operation: String, errno: Int32) {
            self.operation = operation
            self.errno = errno
        }
    }

    /// Writes a marker entry and waits until the journal shows it. journald reads its socket in order, so once
    /// the marker is visible every entry sent before it (by an earlier process too) is stored and readable.
    /// Returns false when the marker did not show within `timeout`.
    public static func barrier(message: String, timeout: Duration) throws -> Bool {
        let marker = UUID().uuidString.lowercased()
        try SystemdJournalSink().send(
            JournalEntry([
                ("MESSAGE", message), ("PRIORITY", "6"), ("SYSLOG_IDENTIFIER", "leen-healthd"),
                ("LEEN_JOURNAL_BARRIER", marker),
            ]))
        return try withJournal { journal in
            try check("sd_journal_add_match", addMatch(journal, "LEEN_JOURNAL_BARRIER=\(marker)"))
            let deadline = ContinuousClock.now + timeout
            while true {
                if try check("sd_journal_next", sd_journal_next(journal)) > 0 { return true }
                let left = deadline - ContinuousClock.now
                guard left > .zero else { return false }
                let micros = UInt64(max(1, min(100_000, left / .microseconds(1))))
                try check("sd_journal_wait", sd_journal_wait(journal, micros))
            }
        }
    }

    /// The values of `field` among `wanted` found in entries of `identifier` written at or after `since`.
    public static func present(
        _ wanted: Set<String>, field: String, identifier: String, since: Date
    ) throws -> Set<String> {
        guard !wanted.isEmpty else { return [] }
        return try withJournal { journal in
            try check("sd_journal_add_match", addMatch(journal, "SYSLOG_IDENTIFIER=\(identifier)"))
            let usec = UInt64(max(0, since.timeIntervalSince1970) * 1_000_000)
            try check("sd_journal_seek_realtime_usec", sd_journal_seek_realtime_usec(journal, usec))
            var found: Set<String> = []
            while try check("sd_journal_next", sd_journal_next(journal)) > 0 {
                guard let value = try value(journal, field) else { continue }
                if wanted.contains(value) {
                    found.insert(value)
                    if found.count == wanted.count { break }
                }
            }
            return found
        }
    }

    /// The value of `field` in the current entry, nil when the entry has no such field.
    static func value(_ journal: OpaquePointer, _ field: String) throws -> String? {
        var data: UnsafeRawPointer?
        var length = 0
        let result = sd_journal_get_data(journal, field, &data, &length)
        if result == -ENOENT { return nil }
        try check("sd_journal_get_data", result)
        guard let data else { return nil }
        // The data is FIELD=value.
        let text = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
        guard text.hasPrefix(field + "=") else { return nil }
        return String(text.dropFirst(field.utf8.count + 1))
    }

    static func withJournal<T>(_ source: Source = .local, _ body: (OpaquePointer) throws -> T) throws -> T {
        var journal: OpaquePointer?
        switch source {
        case .local:
            try check("sd_journal_open", sd_journal_open(&journal, Int32(SD_JOURNAL_LOCAL_ONLY)))
        case .directory(let path):
            try check("sd_journal_open_directory \(path)", sd_journal_open_directory(&journal, path, 0))
        }
        guard let journal else { throw Failure(operation: "sd_journal_open", errno: EINVAL) }
        defer { sd_journal_close(journal) }
        return try body(journal)
    }

    static func addMatch(_ journal: OpaquePointer, _ match: String) -> Int32 {
        match.withCString { sd_journal_add_match(journal, $0, 0) }
    }

    @discardableResult
    static func check(_ operation: String, _ result: Int32) throws -> Int32 {
        if result < 0 { throw Failure(operation: operation, errno: -result) }
        return result
    }
}
