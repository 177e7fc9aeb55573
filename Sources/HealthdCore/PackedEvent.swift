/// One event in a single allocation, for as long as it waits to be written.
///
/// A ``HealthEvent`` holds a dozen or more small strings (its id, its times, its message, an array of fields),
/// each its own allocation. After a fresh start at 100k connections some 160,000 events waited at once, and
/// their 64- and 80-byte strings were interleaved with the connections' ids and identifiers, which are the
/// same sizes and live as long as the daemon: once the events were written, their slabs stayed half empty,
/// about 20 MB (jemalloc's per-size statistics, docs/benchmarks.md). Packed, a waiting event takes one block
/// of its own size, which the allocator gets back whole.
public struct PackedEvent: Sendable {
    public let kind: EventKind
    let priority: EventPriority
    /// The message, then every field's name and value, each as a 4-byte length and its UTF-8.
    private let bytes: [UInt8]

    public init(_ event: HealthEvent) {
        kind = event.kind
        priority = event.priority
        var size = 4 + event.message.utf8.count
        for field in event.fields { size += 8 + field.name.utf8.count + field.value.utf8.count }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        func append(_ string: String) {
            withUnsafeBytes(of: UInt32(string.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: string.utf8)
        }
        append(event.message)
        for field in event.fields {
            append(field.name)
            append(field.value)
        }
        self.bytes = bytes
    }

    /// The event as it was packed.
    public var event: HealthEvent {
        bytes.withUnsafeBufferPointer { buffer in
            var offset = 0
            func string() -> String {
                var length = 0
                for index in (offset..<offset + 4).reversed() { length = length << 8 | Int(buffer[index]) }
                let start = offset + 4, end = start + length
                offset = end
                return String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<end]), as: UTF8.self)
            }
            let message = string()
            var fields: [EventField] = []
            while offset < buffer.count {
                let name = string()
                fields.append(EventField(name, string()))
            }
            return HealthEvent(kind: kind, priority: priority, message: message, fields: fields)
        }
    }
}
