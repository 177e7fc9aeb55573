import Foundation
import Testing

@testable import HealthdCore

@Suite("ISO 8601 text")
struct ISO8601TextTests {
    static func foundation(_ date: Date, fractional: Bool) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: fractional))
    }

    @Test("Dates of every kind are written as Date.ISO8601FormatStyle writes them, with and without milliseconds")
    func sameAsFoundation() {
        var generator = SystemRandomNumberGenerator()
        var dates: [Date] = (0..<100_000).map { index in
            switch index % 4 {
            // Arbitrary doubles, as Date() gives them.
            case 0: Date(timeIntervalSince1970: .random(in: 0...2_000_000_000, using: &generator))
            // Whole milliseconds (whose product with 1000 may round either way).
            case 1: Date(timeIntervalSince1970: Double(Int.random(in: 0...2_000_000_000_000, using: &generator)) / 1000)
            // Fractions just below the next second.
            case 2: Date(timeIntervalSinceReferenceDate: Double(Int.random(in: -1_000_000_000...1_000_000_000, using: &generator)) - 1e-7)
            default: Date(timeIntervalSinceReferenceDate: .random(in: -1.3e10...2.5e11, using: &generator))
            }
        }
        dates += [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -0.5), Date(timeIntervalSince1970: -1.0004),
            Date(timeIntervalSince1970: 951_782_400),  // 2000-02-29
            Date(timeIntervalSince1970: 253_402_300_799.9999),  // the last millisecond of 9999
            Date(timeIntervalSince1970: 253_402_300_800),  // 10000: more digits, Foundation's own
            Date(timeIntervalSince1970: -12_212_553_600),  // 1583-01-01
            Date(timeIntervalSince1970: -12_212_553_601),  // 1582: the Julian calendar, Foundation's own
            Date(timeIntervalSince1970: -62_135_596_800),  // year 1
            Date.distantPast, Date.distantFuture,
        ]
        var mismatches: [String] = []
        for date in dates {
            for fractional in [true, false] {
                let (ours, theirs) = (ISO8601Text.string(date, fractional: fractional), Self.foundation(date, fractional: fractional))
                if ours != theirs { mismatches.append("\(date.timeIntervalSinceReferenceDate): \(ours) vs \(theirs)") }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
        #expect(ISO8601Text.string(Date(timeIntervalSince1970: 1_764_835_200.1239), fractional: true) == "2025-12-04T08:00:00.123Z")
        #expect(ISO8601Text.string(Date(timeIntervalSince1970: 1_764_835_200.9), fractional: false) == "2025-12-04T08:00:00Z")
    }

    @Test("Whole seconds are what JSONEncoder's .iso8601 writes, and what its decoder reads back")
    func sameAsJSONEncoder() throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let date = Date(timeIntervalSince1970: .random(in: 0...4_000_000_000, using: &generator))
            let text = ISO8601Text.string(date, fractional: false)
            #expect(try encoder.encode([date]) == Data("[\"\(text)\"]".utf8))
            let read = try decoder.decode([Date].self, from: Data("[\"\(text)\"]".utf8))
            #expect(read == [Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))])
        }
    }
}
