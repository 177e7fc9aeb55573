import Foundation
import LeenAPI
import Testing

@testable import HealthdCore

/// `count` organization ids from a seeded generator (the same ids at every run).
private func organizationIDs(_ count: Int, seed: UInt64 = 12) -> [OrganizationID] {
    var state = seed
    func next() -> UInt64 {
        state = Shard.splitMix(state)
        return state
    }
    return (0..<count).map { _ in
        let (high, low) = (next(), next())
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: high >> ($0 * 8)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> ($0 * 8)) }
        let uuid = UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9],
                bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
        return OrganizationID(uuid.uuidString.lowercased())
    }
}

@Suite("Shards: rendezvous assignment of organizations")
struct ShardAssignmentTests {
    static let ids = organizationIDs(10_000)

    @Test("N shards own every organization exactly once, and about 1/N each", arguments: 1...8)
    func coverage(count: Int) {
        let shards = (1...count).map { Shard(index: $0, count: count)! }
        var perShard = [Int](repeating: 0, count: count + 1)
        for id in Self.ids {
            let owners = shards.filter { $0.owns(id) }
            #expect(owners.count == 1, "\(id) is owned by \(owners)")
            let owner = Shard.owner(of: id, among: count)
            #expect(owners.first?.index == owner)
            perShard[owner] += 1
        }
        // 10,000 ids: a fair share is 10000/N with a standard deviation under 50; 20% off is far outside it.
        let fair = Double(Self.ids.count) / Double(count)
        for shard in 1...count {
            #expect(abs(Double(perShard[shard]) - fair) < 0.2 * fair, "shard \(shard) of \(count) owns \(perShard[shard])")
        }
    }

    @Test("Going from N to N+1 shards moves only organizations onto the new shard, about 1/(N+1) of them", arguments: 1...7)
    func growth(count: Int) {
        var moved = 0
        for id in Self.ids {
            let before = Shard.owner(of: id, among: count)
            let after = Shard.owner(of: id, among: count + 1)
            if before != after {
                #expect(after == count + 1, "\(id) moved from \(before) to \(after), not to the new shard")
                moved += 1
            }
        }
        let expected = Double(Self.ids.count) / Double(count + 1)
        #expect(abs(Double(moved) - expected) < 0.2 * expected, "\(moved) of \(Self.ids.count) moved going \(count)→\(count + 1)")
    }

    @Test("The assignment is a pure function of the id: same answer every call, whatever the id's case")
    func deterministic() {
        let id = OrganizationID("3c90c3cc-0d44-4b50-8888-8dd25736052a")
        let owners = (0..<100).map { _ in Shard.owner(of: id, among: 7) }
        #expect(Set(owners).count == 1)
        #expect(Shard.owner(of: OrganizationID(id.rawValue.uppercased()), among: 7) == owners[0])
        // Pinned values: a change of the hash would move organizations between existing shards on upgrade.
        #expect(Shard.key(id) == Shard.key(OrganizationID(id.rawValue.uppercased())))
        #expect((1...8).map { Shard.owner(of: id, among: $0) } == Self.pinned)
        #expect(Shard.owner(of: id, among: 1) == 1)
    }

    /// Owners of 3c90c3cc-0d44-4b50-8888-8dd25736052a for 1…8 shards, as first computed: the assignment must
    /// never change between versions.
    static let pinned = [1, 2, 3, 3, 3, 6, 6, 6]

    @Test("K/N parses with 1 <= K <= N <= 1024", arguments: [("2/4", 2, 4), ("1/1", 1, 1), (" 3 / 8 ", 3, 8), ("1024/1024", 1024, 1024)])
    func parses(text: String, index: Int, count: Int) throws {
        let shard = try Shard.parse(text).get()
        #expect(shard.index == index)
        #expect(shard.count == count)
        #expect(shard.description == "\(index)/\(count)")
    }

    @Test(
        "Malformed or out-of-range shards are refused with what is wrong",
        arguments: [
            ("0/4", "the shard K must be between 1 and 4 (N), found 0 in '0/4'"),
            ("5/4", "the shard K must be between 1 and 4 (N), found 5 in '5/4'"),
            ("1/0", "the number of shards N must be between 1 and 1024, found 0 in '1/0'"),
            ("1/1025", "the number of shards N must be between 1 and 1024, found 1025 in '1/1025'"),
            ("two/4", "expected \(Shard.expectation), found 'two/4'"),
            ("2", "expected \(Shard.expectation), found '2'"),
            ("2/4/8", "expected \(Shard.expectation), found '2/4/8'"),
            ("-1/4", "expected \(Shard.expectation), found '-1/4'"),
            ("", "expected \(Shard.expectation), found ''"),
        ])
    func refused(text: String, message: String) {
        switch Shard.parse(text) {
        case .success(let shard): Issue.record("\(text) parsed as \(shard)")
        case .failure(let error): #expect(error.description == message)
        }
    }
}

@Suite("Shards in the configuration")
struct ShardConfigurationTests {
    /// Twelve organizations, each with one TENABLE connection whose secret is a file named after it.
    static func yaml(shard: String? = nil) -> String {
        var text = "api:\n  region: us\n  key: {credential: leen-api-key}\n"
        if let shard { text += "shard: \(shard)\n" }
        text += "organizations:\n"
        for id in organizationIDs(12, seed: 3) {
            text += """
                  - id: \(id)
                    connections:
                      - identifier: t
                        vendor: TENABLE
                        credentials:
                          client_key: {file: /s/\(id)-a}
                          secret_key: {file: /s/\(id)-b}

                """
        }
        return text
    }

    static func issues(_ yaml: String) -> [String] {
        do {
            _ = try ConfigParser.parse(yaml, path: "t.yaml")
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    @Test("The shard key is checked where it is written, in the parser's style")
    func keyErrors() {
        #expect(Self.issues(Self.yaml(shard: "0/4")) == ["t.yaml:4:8: shard: the shard K must be between 1 and 4 (N), found 0 in '0/4'"])
        #expect(Self.issues(Self.yaml(shard: "5/4")) == ["t.yaml:4:8: shard: the shard K must be between 1 and 4 (N), found 5 in '5/4'"])
        #expect(Self.issues(Self.yaml(shard: "1/0")) == ["t.yaml:4:8: shard: the number of shards N must be between 1 and 1024, found 0 in '1/0'"])
        #expect(Self.issues(Self.yaml(shard: "half")) == ["t.yaml:4:8: shard: expected \(Shard.expectation), found 'half'"])
        #expect(Self.issues(Self.yaml(shard: "[1, 4]")) == ["t.yaml:4:8: shard: expected \(Shard.expectation), found a list"])
        #expect(Self.issues(Self.yaml(shard: "2/4")) == [])
        #expect(Self.issues(Self.yaml(shard: "")) == [], "an empty shard key is no shard")
    }

    @Test("Each shard's configuration holds its organizations and their secrets only; together, all of them once")
    func restriction() throws {
        let all = try ConfigParser.parseWithPositions(Self.yaml(), path: "t.yaml")
        #expect(all.configuration.shard == nil)
        #expect(all.configuration.organizations.count == 12)
        #expect(all.secretReferences.count == 25)
        for count in 1...5 {
            var seen: [OrganizationID] = []
            for index in 1...count {
                let shard = Shard(index: index, count: count)!
                let parsed = try ConfigParser.parseWithPositions(Self.yaml(), path: "t.yaml", shard: .given(shard))
                let organizations = parsed.configuration.organizations
                #expect(parsed.configuration.shard == shard)
                #expect(parsed.configuration.declaredOrganizationCount == 12)
                #expect(organizations.allSatisfy { shard.owns($0.id) })
                seen += organizations.map(\.id)
                // api.key, then two per owned organization, each naming its own organization's file.
                #expect(parsed.secretReferences.count == 1 + 2 * organizations.count)
                let files = Set(parsed.secretReferences.compactMap { reference -> String? in
                    if case .file(let path) = reference.source { return path } else { return nil }
                })
                #expect(files == Set(organizations.flatMap { ["/s/\($0.id)-a", "/s/\($0.id)-b"] }))
            }
            #expect(seen.sorted() == all.configuration.organizations.map(\.id).sorted())
        }
    }

    @Test("The flag overrides the key; a reload keeps the shard in force, whatever the file now says")
    func selection() throws {
        let inFile = try ConfigParser.parseWithPositions(Self.yaml(shard: "2/3"), path: "t.yaml")
        #expect(inFile.configuration.shard == Shard(index: 2, count: 3))
        #expect(inFile.shardInFile == Shard(index: 2, count: 3))
        let given = try ConfigParser.parse(Self.yaml(shard: "2/3"), path: "t.yaml", shard: .given(Shard(index: 1, count: 2)!))
        #expect(given.shard == Shard(index: 1, count: 2))
        let kept = try ConfigParser.parseWithPositions(Self.yaml(shard: "2/3"), path: "t.yaml", shard: .kept(nil))
        #expect(kept.configuration.shard == nil)
        #expect(kept.configuration.organizations.count == 12)
        #expect(kept.shardInFile == Shard(index: 2, count: 3))
    }

    @Test("A shard that owns nothing is valid, and says so")
    func emptyShard() throws {
        // With more shards than organizations, some shard owns none.
        let count = 40
        let empty = try #require(
            (1...count).first { index in
                organizationIDs(12, seed: 3).allSatisfy { !Shard(index: index, count: count)!.owns($0) }
            })
        let configuration = try ConfigParser.parse(
            Self.yaml(), path: "t.yaml", shard: .given(Shard(index: empty, count: count)!))
        #expect(configuration.organizations.isEmpty)
        #expect(configuration.shardSummary == "shard \(empty)/\(count): 0 of 12 organizations")
    }

    @Test("LEEN_SHARD is K/N on a sharded instance, absent otherwise")
    func eventField() {
        #expect(EventBuilder.instanceFields(shard: Shard(index: 2, count: 4)) == [EventField("LEEN_SHARD", "2/4")])
        #expect(EventBuilder.instanceFields(shard: nil) == [])
    }
}
