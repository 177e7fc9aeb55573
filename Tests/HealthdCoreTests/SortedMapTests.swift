import Testing

@testable import HealthdCore

@Suite("Sorted map")
struct SortedMapTests {
    @Test("Keys stay sorted through inserts, updates and removals; lookups find what was set")
    func behavesLikeADictionary() {
        var map = SortedMap<Int>()
        var reference: [String: Int] = [:]
        var generator = SystemRandomNumberGenerator()
        for step in 0..<2_000 {
            let key = "k\(Int.random(in: 0..<300, using: &generator))"
            let value: Int? = step % 5 == 0 ? nil : step
            map[key] = value
            reference[key] = value
        }
        #expect(map.keys == reference.keys.sorted())
        #expect(map.keys.allSatisfy { map[$0] == reference[$0] })
        #expect(map.count == reference.count && map["absent"] == nil)
    }

    @Test("Subjects whose count moved or that are new, found in step, are those a lookup of each finds")
    func changedSequences() {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<200 {
            var earlier: [String: UInt64] = [:]
            for _ in 0..<Int.random(in: 0..<40, using: &generator) {
                earlier["s\(Int.random(in: 0..<60, using: &generator))"] = UInt64.random(in: 0..<3, using: &generator)
            }
            var now = round % 4 == 0 ? [:] : earlier
            for _ in 0..<Int.random(in: 0..<20, using: &generator) {
                let subject = "s\(Int.random(in: 0..<60, using: &generator))"
                if Bool.random(using: &generator) { now[subject] = UInt64.random(in: 0..<3, using: &generator) } else { now[subject] = nil }
            }
            let changed = SubjectSequences(now).changed(since: SubjectSequences(earlier))
            let expected = now.filter { earlier[$0.key] != $0.value }
            #expect(changed == SubjectSequences(expected), "round \(round)")
            #expect(changed.map(\.key) == expected.keys.sorted())
        }
        #expect(SubjectSequences(["a": 1, "b": 2]).changed(since: ["a": 1, "b": 2]).isEmpty)
        #expect(SubjectSequences([:]).changed(since: ["a": 1]).isEmpty)
        #expect(SubjectSequences(["a": 1]).changed(since: [:]) == ["a": 1])
    }

    @Test("A map filled one key at a time holds about its entries, not twice their room")
    func filledMapsAreTight() {
        var map = SortedMap<Int>()
        for n in (0..<100).reversed() { map["identifier-\(n)"] = n }
        #expect(map.count == 100)
        // Doubling as appends do would leave 128 slots; the allocator's rounding may add a few.
        #expect(map.keys.capacity <= 112 && map.values.capacity <= 112)
    }

    @Test("A map made from entries in any order is the one their inserts make; a key twice makes none")
    func madeFromEntries() {
        let entries = (0..<300).map { (key: "k\($0 * 7919 % 300)", value: $0) }
        var inserted = SortedMap<Int>()
        for (key, value) in entries { inserted[key] = value }
        let made = SortedMap(entries)
        #expect(made == inserted)
        #expect(made?.keys == made?.keys.sorted())
        #expect(SortedMap([(key: "a", value: 1), (key: "b", value: 2), (key: "a", value: 3)]) == nil)
        #expect(SortedMap<Int>([]) == SortedMap<Int>())
        // Entries in order, as a caller that sorted them hands them over, make the same map; a repeated key
        // next to itself is still refused.
        let ordered = entries.sorted { $0.key < $1.key }
        #expect(SortedMap(ordered) == inserted)
        #expect(SortedMap([(key: "a", value: 1), (key: "a", value: 2), (key: "b", value: 3)]) == nil)
    }
}
