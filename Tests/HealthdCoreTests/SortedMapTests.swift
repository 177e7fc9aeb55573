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

    @Test("A map filled one key at a time holds about its entries, not twice their room")
    func filledMapsAreTight() {
        var map = SortedMap<Int>()
        for n in (0..<100).reversed() { map["identifier-\(n)"] = n }
        #expect(map.count == 100)
        // Doubling as appends do would leave 128 slots; the allocator's rounding may add a few.
        #expect(map.keys.capacity <= 112 && map.values.capacity <= 112)
    }
}
