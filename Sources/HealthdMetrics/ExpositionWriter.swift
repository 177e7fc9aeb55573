import Foundation
import NIOCore

/// Appends exposition text (Prometheus text 0.0.4 or OpenMetrics 1.0.0) to a `ByteBuffer`, handing it on
/// in chunks when asked to.
///
/// Rendering 100,000 connections writes about 1.4 million lines (some 280 MB), so the per-connection
/// families go through ``Cursor``: space is reserved for a batch of lines once, then each line is raw
/// memory copies of pre-rendered fragments (`name{`, a connection's escaped labels,
/// `,status="HEALTHY"} 1\n`) and numbers formatted without `String`.
///
/// The text goes into one buffer: a whole text (tests), one streamed chunk (``TextCursor``), or the scratch
/// text of a compressed run (``DeflatedText``). Fresh memory is what makes a large uncompressed text
/// expensive: faulting in 280 MB of new pages took about 140 ms on the benchmark machine, more than
/// rendering into memory already mapped, hence chunks rather than the whole text.
package struct ExpositionWriter {
    var buffer: ByteBuffer
    /// Clear the buffer once it holds this many bytes (the benchmark's measure of rendering alone);
    /// `Int.max`: never.
    private let discardAt: Int
    /// Bytes cleared so far.
    private var discarded = 0
    /// Label pairs every sample written through this writer starts with, escaped and joined
    /// (``MetricsRenderer/sharedLabels(_:)``: `shard="2"` on a sharded instance); empty for none. The one
    /// place a label common to the whole exposition is added.
    let sharedLabels: [UInt8]

    /// - Parameters:
    ///   - capacity: initial capacity of the buffer (a whole text in one buffer: its size).
    ///   - discardAt: drop the text each time the buffer holds this many bytes, keeping only the count.
    ///   - sharedLabels: label pairs every sample carries first (``sharedLabels``).
    package init(capacity: Int, discardAt: Int = .max, sharedLabels: [UInt8] = []) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
        self.discardAt = discardAt
        self.sharedLabels = sharedLabels
    }

    /// Between lines: drops the buffer's text when it holds `discardAt` bytes.
    mutating func flushIfFull() {
        guard buffer.readableBytes >= discardAt else { return }
        discarded += buffer.readableBytes
        buffer.clear()
    }

    /// Every byte written, the discarded ones included.
    package var bytesWritten: Int { discarded + buffer.readableBytes }

    mutating func write(_ bytes: [UInt8]) {
        buffer.writeBytes(bytes)
    }

    mutating func write(_ string: String) {
        buffer.writeString(string)
    }

    /// Reserves `maximum` bytes and lets `body` write at most that many through a cursor.
    @inline(__always)
    mutating func withCursor(reserving maximum: Int, _ body: (inout Cursor) -> Void) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maximum) { raw in
            var cursor = Cursor(raw.baseAddress!)
            body(&cursor)
            precondition(cursor.count <= maximum, "exposition line longer than reserved")
            return cursor.count
        }
    }

    /// Writes into reserved memory (see ``ExpositionWriter/withCursor(reserving:_:)``).
    struct Cursor {
        let start: UnsafeMutableRawPointer
        var position: UnsafeMutableRawPointer

        init(_ start: UnsafeMutableRawPointer) {
            self.start = start
            position = start
        }

        var count: Int { position - start }

        @inline(__always)
        mutating func copy(_ bytes: UnsafeRawBufferPointer) {
            guard let source = bytes.baseAddress else { return }
            position.copyMemory(from: source, byteCount: bytes.count)
            position += bytes.count
        }

        @inline(__always)
        mutating func byte(_ byte: UInt8) {
            position.storeBytes(of: byte, as: UInt8.self)
            position += 1
        }

        /// `value` escaped as a label value (at most twice its UTF-8 length).
        @inline(__always)
        mutating func escaped(_ value: String) {
            let done: Void? = value.utf8.withContiguousStorageIfAvailable { escaped(utf8: $0) }
            if done == nil { Array(value.utf8).withUnsafeBufferPointer { escaped(utf8: $0) } }
        }

        @inline(__always)
        mutating func escaped(utf8: UnsafeBufferPointer<UInt8>) {
            guard utf8.contains(where: ExpositionWriter.needsEscaping) else {
                return copy(UnsafeRawBufferPointer(utf8))
            }
            for unit in utf8 {
                switch unit {
                case UInt8(ascii: "\\"): byte(UInt8(ascii: "\\")); byte(UInt8(ascii: "\\"))
                case UInt8(ascii: "\""): byte(UInt8(ascii: "\\")); byte(UInt8(ascii: "\""))
                case 0x0A: byte(UInt8(ascii: "\\")); byte(UInt8(ascii: "n"))
                default: byte(unit)
                }
            }
        }

        /// `} <value>\n`: the end of a sample line whose value is an integer (at most 23 bytes).
        @inline(__always)
        mutating func close(_ value: Int) {
            byte(UInt8(ascii: "}"))
            byte(UInt8(ascii: " "))
            integer(value)
            byte(UInt8(ascii: "\n"))
        }

        /// `} <seconds>\n` for a timestamp, with millisecond precision and no exponent (at most 30 bytes).
        @inline(__always)
        mutating func close(timestamp date: Date) {
            let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
            byte(UInt8(ascii: "}"))
            byte(UInt8(ascii: " "))
            if milliseconds >= 0, milliseconds < 1e15 {
                let whole = Int(milliseconds)
                integer(whole / 1000)
                let fraction = whole % 1000
                if fraction != 0 {
                    byte(UInt8(ascii: "."))
                    byte(UInt8(ascii: "0") &+ UInt8(fraction / 100))
                    byte(UInt8(ascii: "0") &+ UInt8(fraction / 10 % 10))
                    byte(UInt8(ascii: "0") &+ UInt8(fraction % 10))
                }
            } else {
                let text = ExpositionWriter.format(timestamp: date)
                for unit in text.utf8.prefix(24) { byte(unit) }
            }
            byte(UInt8(ascii: "\n"))
        }

        /// Decimal digits of `value` (at most 20 bytes).
        @inline(__always)
        mutating func integer(_ value: Int) {
            if value < 0 { byte(UInt8(ascii: "-")) }
            var magnitude = value.magnitude
            var digits = 1
            var probe = magnitude / 10
            while probe > 0 {
                digits += 1
                probe /= 10
            }
            var index = digits - 1
            repeat {
                (position + index).storeBytes(of: UInt8(ascii: "0") &+ UInt8(magnitude % 10), as: UInt8.self)
                magnitude /= 10
                index -= 1
            } while magnitude > 0
            position += digits
        }
    }

    /// The value as an `Int` when it is a whole number small enough to print exactly.
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
        if let done = value.utf8.withContiguousStorageIfAvailable({ appendEscaped(utf8: $0, to: &bytes) }) {
            return done
        }
        Array(value.utf8).withUnsafeBufferPointer { appendEscaped(utf8: $0, to: &bytes) }
    }

    @inline(__always)
    static func needsEscaping(_ unit: UInt8) -> Bool {
        unit == UInt8(ascii: "\\") || unit == UInt8(ascii: "\"") || unit == 0x0A
    }

    private static func appendEscaped(utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        guard utf8.contains(where: needsEscaping) else {
            bytes.append(contentsOf: utf8)
            return
        }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case 0x0A: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            default: bytes.append(byte)
            }
        }
    }

    /// `name="value"` pairs joined by commas, values escaped (no braces).
    static func labelPairs(_ pairs: [(String, String)]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (index, (name, value)) in pairs.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: name.utf8)
            bytes += [UInt8(ascii: "="), UInt8(ascii: "\"")]
            appendEscaped(value, to: &bytes)
            bytes.append(UInt8(ascii: "\""))
        }
        return bytes
    }
}
