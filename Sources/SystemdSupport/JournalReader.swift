import CSystemd
import Foundation

extension JournalQuery {
    /// Which journal to read.
    public enum Source: Sendable, Hashable {
        /// This machine's journal (`sd_journal_open`, local only).
        case local
        /// The journal files in a directory, such as a copy taken off another machine
        /// (`sd_journal_open_directory`; journald's `<machine-id>` subdirectories included).
        case directory(String)
    }

    /// The entries matching any of `terms`, oldest first, each as the given `fields` it has plus
    /// `__REALTIME_TIMESTAMP` (microseconds since the epoch).
    ///
    /// A term is a list of `FIELD=value` matches: matches on different fields must all hold, matches on one
    /// field are alternatives (journalctl's rules); terms are alternatives (`sd_journal_add_disjunction`).
    public static func entries(
        from source: Source, matching terms: [[String]], fields: [String]
    ) throws -> [[String: String]] {
        try withJournal(source) { journal in
            for (index, term) in terms.enumerated() {
                if index > 0 { try check("sd_journal_add_disjunction", sd_journal_add_disjunction(journal)) }
                for match in term { try check("sd_journal_add_match \(match)", addMatch(journal, match)) }
            }
            var entries: [[String: String]] = []
            while try check("sd_journal_next", sd_journal_next(journal)) > 0 {
                var entry: [String: String] = [:]
                var usec: UInt64 = 0
                if sd_journal_get_realtime_usec(journal, &usec) >= 0 { entry["__REALTIME_TIMESTAMP"] = String(usec) }
                for field in fields {
                    if let value = try value(journal, field) { entry[field] = value }
                }
                entries.append(entry)
            }
            return entries
        }
    }
}
