import Foundation

/// Dates in ISO 8601, UTC, as the events' fields (`2026-12-04T08:30:00.123Z`) and the state files
/// (`2026-12-04T08:30:00Z`) carry them, written digit by digit.
///
/// Written by hand because of a measurement: `Date.ISO8601FormatStyle` made and ran for every event's
/// `LEEN_OBSERVED_AT` was 0.7% of the daemon's CPU at 100k connections in a changing fleet (perf), a
/// calendar computation per date. The output is the style's own (`ISO8601TextTests` compares them): the
/// fraction is milliseconds, truncated, split from the seconds as Foundation splits them, from the time
/// since 2001 (the date's own value), not since 1970, which may round a fraction of .9999999 up to the
/// next second. Dates outside the Gregorian years 1583...9999 (which Foundation writes in the Julian
/// calendar, or with more digits) go through the style itself.
package enum ISO8601Text {
    /// `date` as `Date.ISO8601FormatStyle(includingFractionalSeconds: fractional)` writes it.
    package static func string(_ date: Date, fractional: Bool) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        append(date, fractional: fractional, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `date` as ``string(_:fractional:)`` writes it.
    package static func append(_ date: Date, fractional: Bool, to bytes: inout [UInt8]) {
        let sinceReference = date.timeIntervalSinceReferenceDate
        let floor = sinceReference.rounded(.down)
        var parts = tm()
        guard let whole = Int(exactly: floor), var time = time_t(exactly: whole + Self.referenceSince1970),
            gmtime_r(&time, &parts) != nil, (1583...9999).contains(Int(parts.tm_year) + 1900)
        else {
            bytes += Array(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: fractional)).utf8)
            return
        }
        digits(Int(parts.tm_year) + 1900, 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2, to: &bytes)
        if fractional {
            bytes.append(UInt8(ascii: "."))
            // Nanoseconds first, then milliseconds, as Foundation's calendar takes them.
            digits(Int((sinceReference - floor) * 1_000_000_000) / 1_000_000, 3, to: &bytes)
        }
        bytes.append(UInt8(ascii: "Z"))
    }

    /// 2001-01-01 in seconds since 1970.
    private static let referenceSince1970 = Int(Date.timeIntervalBetween1970AndReferenceDate)

    private static func digits(_ value: Int, _ width: Int, to bytes: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}
