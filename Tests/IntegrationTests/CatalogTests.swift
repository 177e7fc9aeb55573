import HealthdTestSupport
import Foundation
import HealthdCore
import Testing

/// The journal message catalog (`systemd/leen-healthd.catalog`) and the event documentation
/// (`docs/events.md`) cover every ``EventKind``, and journalctl accepts the catalog.
@Suite("Journal message catalog")
struct CatalogTests {
    /// The package root, from this file's path (`Tests/HealthdCoreTests/CatalogTests.swift`).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let catalogURL = packageRoot.appendingPathComponent("systemd/leen-healthd.catalog")
    static let eventsURL = packageRoot.appendingPathComponent("docs/events.md")

    static let journalctl = SystemTool.find("journalctl")

    /// One `-- ID` entry of a catalog file: its headers (`Key: value` lines up to the first blank line)
    /// and its text.
    struct Entry {
        var id: String
        var locale: String?
        var line: Int
        var headers: [(name: String, value: String)] = []
        var text: [String] = []

        func header(_ name: String) -> [String] { headers.filter { $0.name == name }.map(\.value) }
        var trimmedText: String { text.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// Parses the catalog format as systemd's `catalog_import_file` does: `#` lines are comments, `-- ID`
    /// starts an entry, header lines follow it up to a blank line, then text up to the next entry.
    static func parseCatalog(_ contents: String) throws -> [Entry] {
        var entries: [Entry] = []
        var inHeaders = false
        for (index, rawLine) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(rawLine)
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("-- ") {
                let parts = line.dropFirst(3).split(separator: " ", omittingEmptySubsequences: true)
                try #require(
                    parts.count == 1 || parts.count == 2, "line \(index + 1): '-- ID [LOCALE]' expected: \(line)")
                entries.append(
                    Entry(id: String(parts[0]), locale: parts.count == 2 ? String(parts[1]) : nil, line: index + 1))
                inHeaders = true
                continue
            }
            guard !entries.isEmpty else {
                try #require(line.isEmpty, "line \(index + 1): text before the first '-- ID' line: \(line)")
                continue
            }
            if inHeaders {
                if line.isEmpty {
                    inHeaders = false
                    continue
                }
                let colon = try #require(line.firstIndex(of: ":"), "line \(index + 1): 'Key: value' header expected")
                entries[entries.count - 1].headers.append(
                    (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            } else {
                entries[entries.count - 1].text.append(line)
            }
        }
        return entries
    }

    static func catalogEntries() throws -> [Entry] {
        try parseCatalog(String(contentsOf: catalogURL, encoding: .utf8))
    }

    static func isMessageID(_ id: String) -> Bool {
        id.utf8.count == 32 && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    @Test func everyMessageIDIsFormattedAsSystemdExpects() {
        for kind in EventKind.allCases {
            #expect(Self.isMessageID(kind.messageID), "\(kind): '\(kind.messageID)' is not 32 lower-case hex digits")
        }
        #expect(Set(EventKind.allCases.map(\.messageID)).count == EventKind.allCases.count, "duplicate MESSAGE_IDs")
    }

    @Test func catalogHasExactlyOneEntryPerEventKind() throws {
        let entries = try Self.catalogEntries()
        let ids = entries.map(\.id)
        for id in ids {
            #expect(Self.isMessageID(id), "catalog entry '-- \(id)' is not 32 lower-case hex digits")
        }
        let duplicates = Dictionary(grouping: ids, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        #expect(duplicates.isEmpty, "catalog entries given twice: \(duplicates)")
        for kind in EventKind.allCases {
            #expect(ids.contains(kind.messageID), "no catalog entry for \(kind.rawValue) (\(kind.messageID))")
        }
        let known = Set(EventKind.allCases.map(\.messageID))
        let unknown = ids.filter { !known.contains($0) }
        #expect(unknown.isEmpty, "catalog entries for no EventKind: \(unknown)")
        #expect(entries.count == EventKind.allCases.count)
    }

    @Test func everyEntryHasHeadersAndText() throws {
        for entry in try Self.catalogEntries() {
            let what = "catalog entry \(entry.id) (line \(entry.line))"
            #expect(entry.locale == nil, "\(what): the catalog is in English, without a locale")
            let subjects = entry.header("Subject")
            #expect(subjects.count == 1, "\(what): one Subject: header expected, found \(subjects.count)")
            #expect(subjects.allSatisfy { !$0.isEmpty }, "\(what): empty Subject:")
            #expect(entry.header("Defined-By") == ["leen-healthd"], "\(what): Defined-By: leen-healthd expected")
            #expect(entry.header("Support").count == 1, "\(what): one Support: header expected")
            #expect(!entry.trimmedText.isEmpty, "\(what): no text")
            #expect(entry.trimmedText.contains("Who must act:"), "\(what): the text must say who must act")
            for line in entry.text where line.count > 76 {
                Issue.record("\(what): text line longer than 76 columns: \(line)")
            }
        }
    }

    /// `@FIELD@` substitutions name fields the daemon writes (journalctl replaces them from the entry).
    @Test func substitutionsNameLeenFields() throws {
        for entry in try Self.catalogEntries() {
            let all = (entry.headers.map(\.value) + entry.text).joined(separator: "\n")
            let pieces = all.split(separator: "@", omittingEmptySubsequences: false)
            #expect(pieces.count % 2 == 1, "catalog entry \(entry.id): unbalanced '@'")
            for (index, piece) in pieces.enumerated() where index % 2 == 1 {
                #expect(
                    piece.hasPrefix("LEEN_") && piece.allSatisfy { $0.isUppercase || $0.isNumber || $0 == "_" },
                    "catalog entry \(entry.id): '@\(piece)@' is not a LEEN_* field")
            }
        }
    }

    @Test func eventsDocumentationListsEveryMessageID() throws {
        let lines = try String(contentsOf: Self.eventsURL, encoding: .utf8).split(separator: "\n")
        for kind in EventKind.allCases {
            let row = lines.first { $0.contains("`\(kind.messageID)`") }
            #expect(row != nil, "docs/events.md does not list \(kind.rawValue)'s MESSAGE_ID \(kind.messageID)")
            if let row {
                #expect(
                    row.contains("`\(kind.rawValue)`"),
                    "docs/events.md lists \(kind.messageID) on a row without `\(kind.rawValue)`: \(row)")
            }
        }
    }

    @Test(
        .enabled(
            if: journalctl != nil || SystemTool.realPartsRequired,
            "journalctl is not installed (apt-get install systemd); set LEEN_REQUIRE_REAL_PARTS=1 to make this a failure"
        ))
    func journalctlAcceptsTheCatalog() throws {
        let journalctl = try #require(
            Self.journalctl, "journalctl is required (LEEN_REQUIRE_REAL_PARTS=1) but not installed")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("leen-catalog-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let catalogDirectory = root.appendingPathComponent("usr/lib/systemd/catalog")
        try FileManager.default.createDirectory(at: catalogDirectory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: Self.catalogURL, to: catalogDirectory.appendingPathComponent("leen-healthd.catalog"))

        let update = try SystemTool.run(journalctl, ["--root=\(root.path)", "--update-catalog"])
        #expect(update.status == 0, "journalctl --update-catalog failed: \(update.stderr)")
        #expect(update.stderr.isEmpty, "journalctl --update-catalog complained: \(update.stderr)")
        let database = root.appendingPathComponent("var/lib/systemd/catalog/database")
        #expect(FileManager.default.fileExists(atPath: database.path), "no catalog database was written")

        let list = try SystemTool.run(journalctl, ["--root=\(root.path)", "--list-catalog", "--no-pager"])
        #expect(list.status == 0, "journalctl --list-catalog failed: \(list.stderr)")
        // Each line: "<id> <Defined-By>: <Subject>"; "n/a" when journalctl found no Subject.
        var listed: [String: String] = [:]
        for line in list.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { listed[String(parts[0])] = String(parts[1]) }
        }
        #expect(listed.count == EventKind.allCases.count, "journalctl lists \(listed.count) entries:\n\(list.stdout)")
        for kind in EventKind.allCases {
            let line = listed[kind.messageID]
            #expect(line != nil, "journalctl does not list \(kind.rawValue) (\(kind.messageID))")
            if let line {
                #expect(line.hasPrefix("leen-healthd: "), "\(kind.rawValue): \(line)")
                #expect(!line.hasSuffix(": n/a"), "\(kind.rawValue): journalctl found no Subject: \(line)")
            }
        }

        let dump = try SystemTool.run(
            journalctl, ["--root=\(root.path)", "--dump-catalog", "--no-pager", EventKind.apiRejected.messageID])
        #expect(dump.status == 0, "journalctl --dump-catalog failed: \(dump.stderr)")
        #expect(dump.stdout.contains("-- \(EventKind.apiRejected.messageID)"))
        #expect(dump.stdout.contains("Who must act:"))
    }
}
