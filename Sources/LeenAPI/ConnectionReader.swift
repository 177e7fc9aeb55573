import Foundation

/// Reads one listed connection's JSON as `JSONDecoder` reads it into a ``Connection``, for the items a
/// ``PageMemo`` does not recognise, or gives up (nil) and leaves it to `JSONDecoder`.
///
/// Written by hand because of a measurement: with each poll's file write cut to what changed, `JSONDecoder`
/// over the few changed items of each page was 3.5% of the daemon's CPU at 100k connections (perf, the
/// eighth round in docs/benchmarks.md), mostly its fixed cost per call.
///
/// It reads only the common form and gives up on anything else, so every item it reads is read as
/// `JSONDecoder` would and every other item (and every error) is still `JSONDecoder`'s: a member it does not
/// know, one named twice, a string with an escape, a number that is not a plain non-negative integer, a value
/// of another type than expected, or bytes that are not UTF-8. The fuzz target `page` checks the whole page
/// reading against `JSONDecoder`'s.
struct ConnectionReader {
    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    /// The connection `bytes` (one JSON object) holds, or nil to let `JSONDecoder` read it.
    static func read(_ bytes: UnsafeRawBufferPointer) -> Connection? {
        var reader = ConnectionReader(bytes: bytes)
        guard let connection = reader.connection(), reader.skipSpace() == nil else { return nil }
        return connection
    }

    /// A page's `count` or `total`: `null` or a plain integer as `Int?` (`.some(nil)` for `null`); nil to let
    /// `JSONDecoder` read it. Four `JSONDecoder` calls a page for these members cost as much as its changed
    /// items once those were read by hand.
    static func optionalInteger(_ bytes: UnsafeRawBufferPointer) -> Int?? {
        var reader = ConnectionReader(bytes: bytes)
        return reader.whole { reader throws(GiveUp) in try reader.nullable { reader throws(GiveUp) in try reader.integer() } }
    }

    /// A page's cursor: `null` or a string without escapes, as `String?`; nil to let `JSONDecoder` read it.
    static func optionalString(_ bytes: UnsafeRawBufferPointer) -> String?? {
        var reader = ConnectionReader(bytes: bytes)
        return reader.whole { reader throws(GiveUp) in try reader.nullable { reader throws(GiveUp) in try reader.string() } }
    }

    /// What `value` reads when it is all the bytes hold; nil when it gives up.
    private mutating func whole<T>(_ value: (inout Self) throws(GiveUp) -> T) -> T? {
        do {
            let result = try value(&self)
            return skipSpace() == nil ? result : nil
        } catch {
            return nil
        }
    }

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private struct GiveUp: Error {}

    private mutating func connection() -> Connection? {
        var id: String?, vendor: String?, isActive: Bool??, refresh: Int?, timeout: Int?, organization: String?
        var state: String??, oauth: String??, identifier: String??, created: String??, updated: String??
        var health: ConnectionHealthStatus??, organizationName: String??, direction: String??
        do {
            try object { reader, key throws(GiveUp) in
                switch key {
                case "id": try Self.once(&id, reader.string())
                case "vendor": try Self.once(&vendor, reader.string())
                case "is_active": try Self.once(&isActive, reader.nullable { reader throws(GiveUp) in try reader.bool() })
                case "refresh_interval_secs": try Self.once(&refresh, reader.integer())
                case "timeout_secs": try Self.once(&timeout, reader.integer())
                case "organization_id": try Self.once(&organization, reader.string())
                case "state": try Self.once(&state, reader.nullable { reader throws(GiveUp) in try reader.string() })
                case "oauth2_authorize_url": try Self.once(&oauth, reader.nullable { reader throws(GiveUp) in try reader.string() })
                case "identifier": try Self.once(&identifier, reader.nullable { reader throws(GiveUp) in try reader.string() })
                case "created_at": try Self.once(&created, reader.nullable { reader throws(GiveUp) in try reader.string() })
                case "updated_at": try Self.once(&updated, reader.nullable { reader throws(GiveUp) in try reader.string() })
                case "health": try Self.once(&health, reader.nullable { reader throws(GiveUp) in try reader.health() })
                case "organization_name": try Self.once(&organizationName, reader.nullable { reader throws(GiveUp) in try reader.string() })
                case "direction": try Self.once(&direction, reader.nullable { reader throws(GiveUp) in try reader.string() })
                default: throw GiveUp()
                }
            }
        } catch {
            return nil
        }
        guard let id, let vendor, let refresh, let timeout, let organization else { return nil }
        return Connection(
            id: ConnectionID(id), vendor: Vendor(decoded: vendor), isActive: isActive ?? nil,
            refreshIntervalSecs: refresh, timeoutSecs: timeout, organizationID: OrganizationID(organization),
            state: (state ?? nil).map(ConnectionState.init(decoded:)), oauth2AuthorizeURL: oauth ?? nil,
            identifier: identifier ?? nil, createdAt: (created ?? nil).map(Timestamp.init(rawValue:)),
            updatedAt: (updated ?? nil).map(Timestamp.init(rawValue:)), health: health ?? nil,
            organizationName: organizationName ?? nil, direction: (direction ?? nil).map(ConnectionDirection.init(decoded:)))
    }

    private mutating func health() throws(GiveUp) -> ConnectionHealthStatus {
        var name: String?, status: String?, description: String??, owner: String?, details: [HealthDetail]??
        try object { reader, key throws(GiveUp) in
            switch key {
            case "name": try Self.once(&name, reader.string())
            case "status": try Self.once(&status, reader.string())
            case "description": try Self.once(&description, reader.nullable { reader throws(GiveUp) in try reader.string() })
            case "resolution_owner": try Self.once(&owner, reader.string())
            case "details": try Self.once(&details, reader.nullable { reader throws(GiveUp) in try reader.details() })
            default: throw GiveUp()
            }
        }
        guard let name, let status, let owner else { throw GiveUp() }
        return ConnectionHealthStatus(
            name: HealthName(decoded: name), status: HealthStatus(decoded: status), description: description ?? nil,
            resolutionOwner: ResolutionOwner(decoded: owner), details: details ?? nil)
    }

    private mutating func details() throws(GiveUp) -> [HealthDetail] {
        try expect(UInt8(ascii: "["))
        var details: [HealthDetail] = []
        if skipSpace() == UInt8(ascii: "]") {
            index += 1
            return details
        }
        while true {
            var endpoint: String?, type: String?
            try object { reader, key throws(GiveUp) in
                switch key {
                case "endpoint": try Self.once(&endpoint, reader.string())
                case "data_export_type": try Self.once(&type, reader.string())
                default: throw GiveUp()
                }
            }
            guard let endpoint, let type else { throw GiveUp() }
            details.append(HealthDetail(endpoint: endpoint, dataExportType: DataExportType(decoded: type)))
            switch skipSpace() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return details
            default: throw GiveUp()
            }
        }
    }

    // MARK: Structure

    /// Each member of an object, by its name (plain ASCII; a name with an escape gives up).
    private mutating func object(_ member: (inout Self, StaticStringKey) throws(GiveUp) -> Void) throws(GiveUp) {
        try expect(UInt8(ascii: "{"))
        if skipSpace() == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            let key = StaticStringKey(bytes: try rawString())
            try expect(UInt8(ascii: ":"))
            try member(&self, key)
            switch skipSpace() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return
            default: throw GiveUp()
            }
        }
    }

    /// A member's name, matched against literals in a `switch`.
    private struct StaticStringKey {
        let bytes: UnsafeRawBufferPointer

        static func ~= (pattern: StaticString, key: Self) -> Bool {
            pattern.utf8CodeUnitCount == key.bytes.count
                && (key.bytes.isEmpty || memcmp(pattern.utf8Start, key.bytes.baseAddress!, key.bytes.count) == 0)
        }
    }

    /// Sets `slot` once; a member named twice gives up (`JSONDecoder`'s reading of repeats is its own).
    private static func once<T>(_ slot: inout T?, _ value: T) throws(GiveUp) {
        guard slot == nil else { throw GiveUp() }
        slot = value
    }

    /// `null` as nil, else what `value` reads.
    private mutating func nullable<T>(_ value: (inout Self) throws(GiveUp) -> T) throws(GiveUp) -> T? {
        if literal("null") { return nil }
        return try value(&self)
    }

    // MARK: Values

    private mutating func bool() throws(GiveUp) -> Bool {
        if literal("true") { return true }
        if literal("false") { return false }
        throw GiveUp()
    }

    /// `0` or digits without a leading zero, that fit an `Int`.
    private mutating func integer() throws(GiveUp) -> Int {
        skipSpace()
        let start = index
        var value = 0
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times.addingReportingOverflow(Int(bytes[index] - UInt8(ascii: "0")))
            guard !overflow, !carry else { throw GiveUp() }
            value = sum
            index += 1
        }
        guard index > start, index - start == 1 || bytes[start] != UInt8(ascii: "0") else { throw GiveUp() }
        // A fraction or an exponent is JSONDecoder's to judge.
        if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
            throw GiveUp()
        }
        return value
    }

    private mutating func string() throws(GiveUp) -> String {
        guard let string = String(validating: try rawString(), as: UTF8.self) else { throw GiveUp() }
        return string
    }

    /// A string's bytes, without escapes (a string with one gives up) or raw control bytes (not JSON).
    private mutating func rawString() throws(GiveUp) -> UnsafeRawBufferPointer {
        try expect(UInt8(ascii: "\""))
        let start = index
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                index += 1
                return UnsafeRawBufferPointer(rebasing: bytes[start..<(index - 1)])
            case UInt8(ascii: "\\"), 0..<0x20: throw GiveUp()
            default: index += 1
            }
        }
        throw GiveUp()
    }

    /// Moves past `word` when it comes next, and the value ends there.
    private mutating func literal(_ word: StaticString) -> Bool {
        skipSpace()
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count, memcmp(word.utf8Start, bytes.baseAddress! + index, count) == 0 else {
            return false
        }
        // `nullx` is not `null`.
        if index + count < bytes.count, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(bytes[index + count]) {
            return false
        }
        index += count
        return true
    }

    private mutating func expect(_ byte: UInt8) throws(GiveUp) {
        guard skipSpace() == byte else { throw GiveUp() }
        index += 1
    }

    /// Skips whitespace; returns the next byte (nil at the end).
    @discardableResult
    private mutating func skipSpace() -> UInt8? {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return bytes[index]
            }
        }
        return nil
    }
}
