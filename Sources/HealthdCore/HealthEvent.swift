import Foundation
import LeenAPI

/// syslog priorities, as journald's `PRIORITY` field takes them.
public enum EventPriority: Int, Codable, Sendable, Comparable, CaseIterable {
    case emergency = 0, alert, critical, error, warning, notice, info, debug

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public var name: String {
        switch self {
        case .emergency: "emerg"
        case .alert: "alert"
        case .critical: "crit"
        case .error: "err"
        case .warning: "warning"
        case .notice: "notice"
        case .info: "info"
        case .debug: "debug"
        }
    }
}

/// One event for the journal: a human `MESSAGE`, a `MESSAGE_ID`, a `PRIORITY`, and `LEEN_*` fields.
///
/// Field names follow journald's rules (upper-case letters, digits and `_`, not starting with `_` or a
/// digit, at most 64 characters); ``EventField/isValidName(_:)`` checks them.
public struct HealthEvent: Codable, Sendable, Hashable {
    public var kind: EventKind
    public var priority: EventPriority
    public var message: String
    /// `LEEN_*` fields in a stable order (the common ones first).
    public var fields: [EventField]

    public init(kind: EventKind, priority: EventPriority, message: String, fields: [EventField]) {
        self.kind = kind
        self.priority = priority
        self.message = message
        self.fields = fields
    }

    /// The value of a field, if present.
    public subscript(field name: String) -> String? { fields.first { $0.name == name }?.value }

    /// Every journal field: MESSAGE, MESSAGE_ID, PRIORITY, SYSLOG_IDENTIFIER, then the LEEN_* fields.
    public var journalFields: [EventField] {
        [
            EventField("MESSAGE", message), EventField("MESSAGE_ID", kind.messageID),
            EventField("PRIORITY", String(priority.rawValue)), EventField("SYSLOG_IDENTIFIER", "leen-healthd"),
        ] + fields
    }
}

/// A journal field.
public struct EventField: Codable, Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    /// journald accepts `[A-Z0-9_]`, at most 64 characters, not starting with `_` (trusted fields) or a digit.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 64, first != UInt8(ascii: "_"),
            !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
        else { return false }
        return name.utf8.allSatisfy {
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "_")
        }
    }
}
