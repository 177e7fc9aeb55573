import Foundation

/// Where the events of one organization (or of the daemon itself) get their identities: a random stream id and,
/// per subject (a connection's identifier, or "" for the organization or daemon), the number of events made.
///
/// `LEEN_EVENT_ID` is derived from (stream, subject, sequence), so the event a poll made keeps its id when a
/// crash makes the daemon write it again: a consumer, and the daemon's own recovery, recognise the copy.
/// The stream id is new whenever the stream is (a fresh state directory, an organization added again), so
/// restarting sequences never reproduce an id already in the journal.
public struct EventStream: Codable, Hashable, Sendable {
    public var id: String
    /// Events made so far, by subject. Never pruned: a connection removed from the config and added back
    /// later continues its sequence instead of repeating old ids (an entry is a few bytes).
    public var sequences: SubjectSequences

    public init(id: String = UUID().uuidString.lowercased(), sequences: SubjectSequences = [:]) {
        self.id = id
        self.sequences = sequences
    }

    /// Gives each event its `LEEN_EVENT_ID` and `LEEN_EVENT_SEQUENCE` (right after `LEEN_EVENT`), counting per
    /// subject. The subject is the event's `LEEN_IDENTIFIER`, else the stream itself.
    public mutating func stamp(_ events: inout [HealthEvent]) {
        for index in events.indices {
            let subject = events[index][field: "LEEN_IDENTIFIER"] ?? ""
            // Saturating: a sequence read from a damaged state file may be at the maximum already.
            let sequence = sequences[subject, default: 0].saturatingAdd(1)
            sequences[subject] = sequence
            var fields = events[index].fields.filter {
                $0.name != "LEEN_EVENT_ID" && $0.name != "LEEN_EVENT_SEQUENCE"
            }
            let position = fields.firstIndex { $0.name == "LEEN_EVENT" }.map { $0 + 1 } ?? 0
            fields.insert(
                contentsOf: [
                    EventField("LEEN_EVENT_ID", Self.eventID(stream: id, subject: subject, sequence: sequence)),
                    EventField("LEEN_EVENT_SEQUENCE", String(sequence)),
                ], at: position)
            events[index].fields = fields
        }
    }

    /// A UUID-shaped id (lower case, version nibble 8: "custom") from a 128-bit FNV-1a hash of the triple.
    /// Not a secret and not an authenticator, only a name that does not collide by accident.
    ///
    /// Ids are kept in the journal and must never change for a triple (a test pins some). Written with
    /// fixed-width integers and bytes: a `String` made to hash, generic shifts of `UInt128` and a formatted
    /// hex string took 4.2 µs per id, 1.2% of the daemon's CPU at 100k connections (perf); this takes 0.2 µs.
    public static func eventID(stream: String, subject: String, sequence: UInt64) -> String {
        // FNV-1a over the UTF-8 of "<stream>\0<subject>\0<sequence in decimal>".
        var hash: UInt128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d
        let prime: UInt128 = (1 << 88) + (1 << 8) + 0x3b
        func add(_ byte: UInt8) {
            hash ^= UInt128(byte)
            hash &*= prime
        }
        for byte in stream.utf8 { add(byte) }
        add(0)
        for byte in subject.utf8 { add(byte) }
        add(0)
        var divisor: UInt64 = 1
        while sequence / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            add(UInt8(ascii: "0") + UInt8((sequence / divisor) % 10))
            divisor /= 10
        }
        // FNV alone changes only a few digits between neighbouring sequences; a finalizer spreads every bit so
        // ids that differ look different to a person reading the journal.
        func mix(_ value: UInt64) -> UInt64 {
            var x = value
            x = (x ^ (x &>> 30)) &* 0xbf58_476d_1ce4_e5b9
            x = (x ^ (x &>> 27)) &* 0x94d0_49bb_1331_11eb
            return x ^ (x &>> 31)
        }
        let (folded, top) = (UInt64(truncatingIfNeeded: hash), UInt64(truncatingIfNeeded: hash &>> 64))
        var low = mix(folded ^ top)
        var high = mix(top ^ low)
        // Version 8 and the RFC 9562 variant, so the value parses as a UUID everywhere.
        high = (high & ~(0xf << 12)) | (0x8 << 12)
        low = (low & ~(0x3 << 62)) | (0x2 << 62)
        return String(unsafeUninitializedCapacity: 36) { buffer in
            var at = 0
            for half in [high, low] {
                for shift in stride(from: 60, through: 0, by: -4) {
                    if at == 8 || at == 13 || at == 18 || at == 23 {
                        buffer[at] = UInt8(ascii: "-")
                        at += 1
                    }
                    let nibble = UInt8(truncatingIfNeeded: (half &>> UInt64(shift)) & 0xf)
                    buffer[at] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
                    at += 1
                }
            }
            return at
        }
    }
}

/// Counts by subject, in subject order (``SortedMap``): a dictionary of an organization's 101 subjects kept
/// 256 slots of 24 bytes (7 KB per organization, 8 MB at 100k connections in jemalloc's heap profile),
/// where these take 2.6 KB.
public struct SubjectSequences: Hashable, Sendable, Codable, RandomAccessCollection, ExpressibleByDictionaryLiteral {
    private var map = SortedMap<UInt64>()

    public init() {}

    public init(_ dictionary: [String: UInt64]) {
        for (subject, value) in dictionary.sorted(by: { $0.key < $1.key }) { map[subject] = value }
    }

    public init(dictionaryLiteral elements: (String, UInt64)...) {
        self.init(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { map.count }
    public subscript(position: Int) -> (key: String, value: UInt64) { map[position] }

    public subscript(subject: String) -> UInt64? {
        get { map[subject] }
        set { map[subject] = newValue }
    }

    public subscript(subject: String, default value: UInt64) -> UInt64 {
        get { self[subject] ?? value }
        set { self[subject] = newValue }
    }

    /// The subjects whose count differs from `earlier`'s (or that `earlier` lacks), with their counts.
    ///
    /// Both lists walked in step, in subject order: looking each subject up in `earlier` was a binary
    /// search of string comparisons per subject, for every subject of an organization at every commit that
    /// appended to its log (0.8% of the daemon's CPU at 100k connections in a changing fleet, perf).
    public func changed(since earlier: SubjectSequences) -> SubjectSequences {
        var changed = SubjectSequences()
        var other = 0
        for index in map.keys.indices {
            let subject = map.keys[index]
            // Equal subjects share their storage (one count moved on from the other) and compare at once.
            while other < earlier.map.keys.count, earlier.map.keys[other] != subject, earlier.map.keys[other] < subject {
                other += 1
            }
            let found = other < earlier.map.keys.count && earlier.map.keys[other] == subject
            if !found || earlier.map.values[other] != map.values[index] { changed.map.append(subject, map.values[index]) }
        }
        return changed
    }

    public init(from decoder: any Decoder) throws {
        self.init(try [String: UInt64](from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try Dictionary(uniqueKeysWithValues: zip(map.keys, map.values)).encode(to: encoder)
    }
}

extension FixedWidthInteger {
    /// `self + other`, or the largest (smallest) value instead of overflowing: for counters that a state
    /// file carries over, which must not trap the daemon whatever the file holds.
    package func saturatingAdd(_ other: Self) -> Self {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
