import Foundation
import NIOCore

/// Appends exposition text (Prometheus text 0.0.4 or OpenMetrics 1.0.0) to one `ByteBuffer`.
///
/// Rendering 100,000 connections writes about 1.4 million lines, so every line is a handful of memory
/// copies: pre-rendered fragments (a family's `name{`, a connection's escaped labels, a one-hot member's
/// `,status="HEALTHY"} 1\n`) and numbers formatted without `String`.
struct ExpositionWriter {
    var buffer: ByteBuffer

    init(capacity: Int) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    @inline(__always)
    mutating func write(_ bytes: [UInt8]) {
        buffer.writeBytes(bytes)
    }

    @inline(__always)
    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        buffer.writeBytes(bytes)
    }

    mutating func write(_ string: String) {
        buffer.writeString(string)
    }

    /// `} <value>\n`: the end of a sample line whose value is an integer.
    mutating func writeClose(_ value: Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { scratch in
            scratch[0] = UInt8(ascii: "}")
            scratch[1] = UInt8(ascii: " ")
            let end = Self.formatInteger(value, into: scratch, at: 2)
            scratch[end] = UInt8(ascii: "\n")
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(scratch)[0...end]))
        }
    }

    /// `} <seconds>\n` for a timestamp, with millisecond precision and no exponent.
    mutating func writeClose(timestamp date: Date) {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
        guard milliseconds >= 0, milliseconds < 1e15 else {
            buffer.writeString("} " + Self.format(timestamp: date) + "\n")
            return
        }
        let whole = Int(milliseconds) / 1000
        let fraction = Int(milliseconds) % 1000
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { scratch in
            scratch[0] = UInt8(ascii: "}")
            scratch[1] = UInt8(ascii: " ")
            var end = Self.formatInteger(whole, into: scratch, at: 2)
            if fraction != 0 {
                scratch[end] = UInt8(ascii: ".")
                scratch[end + 1] = UInt8(ascii: "0") + UInt8(fraction / 100)
                scratch[end + 2] = UInt8(ascii: "0") + UInt8(fraction / 10 % 10)
                scratch[end + 3] = UInt8(ascii: "0") + UInt8(fraction % 10)
                end += 4
            }
            scratch[end] = UInt8(ascii: "\n")
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(scratch)[0...end]))
        }
    }

    /// Writes the decimal digits of `value` at `start`; returns the index after the last digit.
    @inline(__always)
    static func formatInteger(_ value: Int, into scratch: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
        var position = start
        var magnitude = value.magnitude
        if value < 0 {
            scratch[position] = UInt8(ascii: "-")
            position += 1
        }
        if magnitude == 0 {
            scratch[position] = UInt8(ascii: "0")
            return position + 1
        }
        var digits = 0
        var probe = magnitude
        while probe > 0 {
            digits += 1
            probe /= 10
        }
        var index = position + digits - 1
        while magnitude > 0 {
            scratch[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
            index -= 1
        }
        return position + digits
    }

    /// The value as an `Int` when it is a whole number small enough to print exactly.
    @inline(__always)
    static func exactInteger(_ value: Double) -> Int? {
        guard value.isFinite, value.rounded(.towardZero) == value, abs(value) < 1e15 else { return nil }
        return Int(value)
    }

    /// A sample value as both formats accept it: `+Inf`, `-Inf`, `NaN`, whole numbers without a decimal
    /// point, everything else in Swift's shortest round-tripping form (`0.25`, `1e-05`).
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if let integer = exactInteger(value) { return String(integer) }
        return value.description
    }

    /// Seconds since the epoch with millisecond precision (`1764460800.123`).
    static func format(timestamp date: Date) -> String {
        format((date.timeIntervalSince1970 * 1000).rounded() / 1000)
    }

    /// A histogram bound for the `le` label: canonical float (`0.005`, `1.0`, `+Inf`), as OpenMetrics asks.
    static func formatBound(_ value: Double) -> String {
        value.isInfinite ? (value > 0 ? "+Inf" : "-Inf") : value.description
    }

    /// Appends `value` as a label value: `\`, `"` and line feed escaped; other UTF-8 kept as is.
    static func appendEscaped(_ value: String, to bytes: inout [UInt8]) {
        var value = value
        value.withUTF8 { utf8 in
            var needsEscaping = false
            for byte in utf8 where byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") || byte == 0x0A {
                needsEscaping = true
                break
            }
            guard needsEscaping else { return bytes.append(contentsOf: utf8) }
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
                case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
                case 0x0A: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
                default: bytes.append(byte)
                }
            }
        }
    }

    /// `name="value"` pairs joined by commas, values escaped (no braces).
    static func labelPairs(_ pairs: [(String, String)]) -> [UInt8] {
        var bytes: [UInt8] = []
        appendLabelPairs(pairs, to: &bytes)
        return bytes
    }

    static func appendLabelPairs(_ pairs: [(String, String)], to bytes: inout [UInt8]) {
        for (index, (name, value)) in pairs.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: name.utf8)
            bytes += [UInt8(ascii: "="), UInt8(ascii: "\"")]
            appendEscaped(value, to: &bytes)
            bytes.append(UInt8(ascii: "\""))
        }
    }
}
