import Testing

@testable import Healthd

@Suite("Allocator tuning")
struct AllocatorTests {
    @Test("The tests run on glibc, which takes the arena limit; a trim returns while other threads allocate")
    func arenasAndTrim() async {
        #expect(Allocator.current == .glibc && Allocator.summary == "glibc")
        #expect(Allocator.setUp())
        async let churn: Int = {
            var total = 0
            for size in 0..<2_000 { total += [UInt8](repeating: 1, count: 4_096 + size).count }
            return total
        }()
        await Allocator.trim()
        #expect(await churn > 0)
    }
}
