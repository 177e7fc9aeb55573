import Foundation
import HealthdCore
import LeenAPI
import Testing

@testable import Healthd

/// ``StateFileReader`` reads the state files by hand for speed: from every file the writers write it must
/// read exactly what `JSONDecoder` reads, and it must give up (leaving the file to `JSONDecoder`) on
/// anything else.
@Suite("State file reader")
struct StateFileReaderTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus/state-file")

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// The hand reader took the file, and read what `JSONDecoder` reads.
    static func checkOrganization(_ file: Data) throws {
        let byHand = try #require(StateStore.OrganizationFile.readByHand(file), "the reader gave up")
        let decoded = try decoder.decode(StateStore.OrganizationFile.self, from: file)
        #expect(byHand.version == decoded.version)
        #expect(byHand.organizationID == decoded.organizationID)
        #expect(byHand.state == decoded.state)
        #expect(byHand.delivery == decoded.delivery)
    }

    /// Organization states with every field set, with none, and each form of the API's status.
    static func states() -> [OrganizationState] {
        var full = OrganizationState()
        full.api = .unreachable(since: StateFileJSONTests.date, reason: "timeout \"after\" 10 s\n")
        full.lastSuccessfulPoll = StateFileJSONTests.date.addingTimeInterval(-60)
        full.lastAttempt = StateFileJSONTests.date
        full.consecutiveFailures = 3
        full.apiConfirmedAt = StateFileJSONTests.date.addingTimeInterval(1)
        full.connections["crowd\"strike\\ é \u{1}/"] = StateFileJSONTests.full()
        var sparse = StateFileJSONTests.full()
        sparse.observation.health = nil
        sparse.observation.state = nil
        sparse.observation.isActive = nil
        sparse.observation.oauthAuthorizeURL = nil
        sparse.alert = ConnectionAlertState()
        full.connections["sparse"] = sparse
        var rejected = full
        rejected.api = .rejected(since: Date(timeIntervalSince1970: 0), reason: "")
        var ok = OrganizationState()
        ok.api = .ok
        return [OrganizationState(), full, rejected, ok]
    }

    @Test("reads each file the writer writes as JSONDecoder does")
    func writersFiles() throws {
        let event = HealthEvent(
            kind: .connectionUnhealthy, priority: .warning, message: "a \"b\" \u{1F600}\n",
            fields: [EventField("LEEN_EVENT", "connection_unhealthy"), EventField("LEEN_EMPTY", "")])
        let deliveries = [
            StateStore.Delivery(),
            StateStore.Delivery(
                stream: EventStream(id: "3c90c3cc", sequences: ["": 1, "b\"\u{7F}": 2, "a": .max]),
                outbox: [Outbox.Pending(event: event, since: StateFileJSONTests.date)]),
        ]
        for state in Self.states() {
            for delivery in deliveries {
                try Self.checkOrganization(
                    OrganizationFileEncoder.encode(state, delivery: delivery, for: "3c90c3cc-0d44-4b50-8888-8dd25736052a"))
            }
        }
    }

    @Test("connections read from one file share one copy of their organization id and health description")
    func repeatedStringsAreHeldOnce() throws {
        func storage(_ text: String?) -> UnsafeRawPointer? {
            text?.utf8.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress) } ?? nil
        }
        var state = OrganizationState()
        for (index, description) in ["Connection is healthy", "Connection is healthy", "Vendor returned errors"].enumerated() {
            var tracked = StateFileJSONTests.full()
            tracked.observation.organizationID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
            tracked.observation.health?.description = description
            state.connections["c\(index)"] = tracked
        }
        let file = OrganizationFileEncoder.encode(
            state, delivery: StateStore.Delivery(), for: "3c90c3cc-0d44-4b50-8888-8dd25736052a")
        try Self.checkOrganization(file)
        let read = try #require(StateStore.OrganizationFile.readByHand(file)).state
        let observations = ["c0", "c1", "c2"].compactMap { read.connections[$0]?.observation }
        #expect(observations.count == 3)
        let descriptions = observations.map { $0.health?.description }
        #expect(descriptions == ["Connection is healthy", "Connection is healthy", "Vendor returned errors"])
        #expect(storage(descriptions[0]) != nil)
        #expect(storage(descriptions[1]) == storage(descriptions[0]))
        #expect(storage(descriptions[2]) != storage(descriptions[0]))
        #expect(Set(observations.map { storage($0.organizationID.rawValue) }).count == 1)
    }

    @Test("reads the organization files of the fuzz corpus, which daemons wrote, as JSONDecoder does")
    func corpusFiles() throws {
        // Version 1 (no delivery) and a file with unsent events among them.
        for name in ["organization-1.json", "organization-2.json", "organization-unreachable-with-outbox.json",
            "organization-version-1-rejected.json"]
        {
            try Self.checkOrganization(Data(contentsOf: Self.corpus.appendingPathComponent(name)))
        }
        let credentials = try Data(contentsOf: Self.corpus.appendingPathComponent("credentials.json"))
        #expect(
            StateStore.AppliedCredentials.readByHand(credentials)
                == (try Self.decoder.decode(StateStore.AppliedCredentials.self, from: credentials)))
    }

    @Test("reads credentials.json as the store writes it (escaped slashes, unsorted keys) as JSONDecoder does")
    func credentials() throws {
        let credentials = StateStore.AppliedCredentials(
            salt: "2711c7a6", applied: ["0b4c/okta-idp-1": "hmac-sha256:1a67", "0b4c/é \"x\"": "hmac-sha256:00"])
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let file = try encoder.encode(credentials)
        #expect(String(decoding: file, as: UTF8.self).contains(#"\/"#))
        let byHand = try #require(StateStore.AppliedCredentials.readByHand(file))
        #expect(byHand == credentials)
        #expect(byHand == (try Self.decoder.decode(StateStore.AppliedCredentials.self, from: file)))
    }

    @Test("reads a large credentials.json, organizations interleaved, as JSONDecoder does; a key twice gives up")
    func manyCredentials() throws {
        var applied: [String: String] = [:]
        for n in 0..<600 {
            let fingerprint = n % 7 == 0 ? "none" : "hmac-sha256:" + String(repeating: "0", count: 56) + String(format: "%08x", n)
            applied["org-\(n % 5)/conn-\(n * 7919 % 600)"] = fingerprint
        }
        applied["no-organization"] = "hmac-sha256:00"
        let file = try JSONEncoder().encode(StateStore.AppliedCredentials(salt: "s", applied: applied))
        let byHand = try #require(StateStore.AppliedCredentials.readByHand(file))
        #expect(byHand.applied == applied)
        #expect(byHand == (try Self.decoder.decode(StateStore.AppliedCredentials.self, from: file)))
        for n in [0, 1, 599] {
            let key = "org-\(n % 5)/conn-\(n * 7919 % 600)"
            #expect(byHand[OrganizationID(rawValue: "org-\(n % 5)"), "conn-\(n * 7919 % 600)"] == applied[key])
        }

        for repeated in [#""org-1\/a":"none""#, #""plain":"none""#] {
            let twice = Data(#"{"version":1,"salt":"s","applied":{\#(repeated),"org-2\/b":"none",\#(repeated)}}"#.utf8)
            #expect(StateStore.AppliedCredentials.readByHand(twice) == nil)
        }
    }

    @Test("resolves every JSON escape and checks UTF-8 as JSONDecoder does")
    func escapes() throws {
        let spellings = [
            #""plain""#, #""\"\\\/\b\f\n\r\t""#, #""\u00e9\u0000\u001F\uFFFF""#, #""\ud83d\ude00 = 😀""#,
            "\"é ✓ \u{10FFFF}\"", #""""#, #""\u00E9\u00e9""#,
        ]
        for spelling in spellings {
            let text = #"{"version":1,"salt":"# + spelling + #","applied":{"# + spelling + #":"x"}}"#
            let file = Data(text.utf8)
            let byHand = try #require(StateStore.AppliedCredentials.readByHand(file), "\(spelling)")
            #expect(byHand == (try Self.decoder.decode(StateStore.AppliedCredentials.self, from: file)), "\(spelling)")
        }
    }

    @Test("reads dates in whole UTC seconds as JSONDecoder's .iso8601 does, leap days and month ends among them")
    func dates() throws {
        var generator = SystemRandomNumberGenerator()
        let edges: [TimeInterval] = [0, 951_782_400, 951_868_799, 1_709_164_800, 4_102_444_799, 253_402_300_799]
        let samples = edges + (0..<2_000).map { _ in TimeInterval(Int.random(in: 0...4_102_444_799, using: &generator)) }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        for seconds in samples {
            let text = try encoder.encode([Date(timeIntervalSince1970: seconds)])
            let decoded = try Self.decoder.decode([Date].self, from: text)
            let byHand = StateFileReader.read(text) { reader throws(StateFileReader.Mismatch) in
                try reader.array { reader throws(StateFileReader.Mismatch) in try reader.date() }
            }
            #expect(byHand == decoded, "\(String(decoding: text, as: UTF8.self))")
        }
    }

    @Test("gives up on what the writers never write, so JSONDecoder reads it")
    func givesUp() throws {
        let good = OrganizationFileEncoder.encode(Self.states()[1], delivery: StateStore.Delivery(), for: "o-1")
        let text = String(decoding: good, as: UTF8.self)
        #expect(StateStore.OrganizationFile.readByHand(good) != nil)
        let changes: [(String, String)] = [
            (#""missing":true"#, #""missing":true,"missing":false"#),  // a member twice
            (#""missing":true"#, #""missing":true,"extra":1"#),  // a member it does not know
            (#""transitions":9223372036854775807"#, #""transitions":1.0"#),
            (#""transitions":9223372036854775807"#, #""transitions":01"#),
            (#""transitions":9223372036854775807"#, #""transitions":9223372036854775808"#),
            (#""consecutiveFailures":3"#, #""consecutiveFailures":null"#),
            (#""lastAttempt":"2025-12-01T07:34:32Z""#, #""lastAttempt":"2025-12-01T07:34:32.5Z""#),
            (#""lastAttempt":"2025-12-01T07:34:32Z""#, #""lastAttempt":"2025-02-29T07:34:32Z""#),
            (#""lastAttempt":"2025-12-01T07:34:32Z""#, #""lastAttempt":"2025-12-01T07:34:32+00:00""#),
            (#""sparse":{"#, #""\ud800x":{"#),  // a lone surrogate
        ]
        for (from, to) in changes {
            #expect(text.contains(from), "\(from)")
            let changed = Data(text.replacingOccurrences(of: from, with: to).utf8)
            #expect(StateStore.OrganizationFile.readByHand(changed) == nil, "\(to)")
        }
        // Invalid UTF-8, trailing bytes, and a connection from before the alerting rules (no `alert`,
        // which its Codable conformance derives).
        var invalid = good
        invalid[invalid.range(of: Data("sparse".utf8))!.lowerBound] = 0xFF
        #expect(StateStore.OrganizationFile.readByHand(invalid) == nil)
        #expect(StateStore.OrganizationFile.readByHand(good + Data(" x".utf8)) == nil)
        #expect(StateStore.OrganizationFile.readByHand(good + Data(" \n".utf8)) != nil)
        let legacy = try #require(text.range(of: #""alert":{"statusChanges":[],"unhealthyPolls":0},"#))
        let withoutAlert = Data(text.replacingCharacters(in: legacy, with: "").utf8)
        #expect(StateStore.OrganizationFile.readByHand(withoutAlert) == nil)
        #expect(throws: Never.self) { try StateStore.readOrganization(withoutAlert, path: "o.json") }
    }

    @Test("gives up, without reading past the end, on every truncation of a file")
    func truncated() throws {
        let good = OrganizationFileEncoder.encode(Self.states()[1], delivery: StateStore.Delivery(), for: "o-1")
        for count in 0..<good.count {
            #expect(StateStore.OrganizationFile.readByHand(good.prefix(count)) == nil, "\(count) bytes")
        }
    }
}
