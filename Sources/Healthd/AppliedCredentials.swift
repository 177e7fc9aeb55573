import Foundation
import HealthdCore
import LeenAPI

extension StateStore {
    /// The salted hashes of the credentials last applied to each declared connection (`credentials.json`),
    /// keyed `<organization id>/<identifier>` in the file.
    ///
    /// Kept compact in memory: per organization, sorted by identifier, each `hmac-sha256:` fingerprint as its
    /// 32 bytes. As a flat `[String: String]` of file keys and fingerprint strings, the two strings (50 to 80
    /// bytes each) took about 300 bytes of heap per connection (heap profile at 10k connections).
    public struct AppliedCredentials: Codable, Sendable, Hashable, StateStore.VersionedStateFile {
        public var version = 1
        /// Random per state directory; keyed into every hash.
        public var salt: String
        private var organizations: [OrganizationID: Fingerprints] = [:]
        /// File keys without an organization part (none are written; kept so that a file reads back as it was).
        private var unkeyed: [String: String] = [:]

        public init(version: Int = 1, salt: String, applied: [String: String]) {
            // A dictionary has each key once.
            self.init(version: version, salt: salt, entries: applied.map { ($0.key, $0.value) })!
        }

        /// From the file's entries (file key and fingerprint) in any order; nil when a key is there twice.
        /// Grouped by organization without a string per entry for its organization part, and each
        /// organization's sorted once: building the maps one insert at a time, through a dictionary of every
        /// file key, was 12% of the CPU of a restart at 100k connections (perf).
        init?(version: Int, salt: String, entries: [(key: String, value: String)]) {
            self.version = version
            self.salt = salt
            var grouped: [Substring: [(key: String, value: Fingerprint)]] = [:]
            for (key, fingerprint) in entries {
                guard let slash = key.utf8.firstIndex(of: UInt8(ascii: "/")) else {
                    guard unkeyed.updateValue(fingerprint, forKey: key) == nil else { return nil }
                    continue
                }
                grouped[key[..<slash], default: []].append((String(key[key.index(after: slash)...]), Fingerprint(fingerprint)))
            }
            for (organization, var entries) in grouped {
                // Here, where the sort is specialised (see ``SortedMap/init(_:)``).
                entries.sort { $0.key < $1.key }
                guard let fingerprints = Fingerprints(entries) else { return nil }
                organizations[OrganizationID(rawValue: String(organization))] = fingerprints
            }
        }

        public static func key(_ organization: OrganizationID, _ identifier: String) -> String {
            "\(organization.rawValue)/\(identifier)"
        }

        /// The fingerprint recorded for `identifier` in `organization`.
        public subscript(organization: OrganizationID, identifier: String) -> String? {
            get { organizations[organization]?[identifier]?.text }
            set {
                organizations[organization, default: Fingerprints()][identifier] = newValue.map(Fingerprint.init)
                // Equal contents compare equal: no organization is left behind empty.
                if organizations[organization]?.isEmpty == true { organizations[organization] = nil }
            }
        }

        /// Every recorded fingerprint by file key (the file's form; built on demand).
        public var applied: [String: String] {
            var flat = unkeyed
            for (organization, fingerprints) in organizations {
                for (identifier, fingerprint) in zip(fingerprints.keys, fingerprints.values) {
                    flat[Self.key(organization, identifier)] = fingerprint.text
                }
            }
            return flat
        }

        private enum CodingKeys: String, CodingKey {
            case version, salt, applied
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                version: try container.decode(Int.self, forKey: .version), salt: try container.decode(String.self, forKey: .salt),
                applied: try container.decode([String: String].self, forKey: .applied))
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(version, forKey: .version)
            try container.encode(salt, forKey: .salt)
            try container.encode(applied, forKey: .applied)
        }

        static func readByHand(_ data: Data) -> Self? {
            StateFileReader.read(data) { reader throws(StateFileReader.Mismatch) in try reader.appliedCredentials() }
        }
    }
}

/// One organization's fingerprints by identifier (``SortedMap``): lookups are rare (a provisioning, a
/// recorded application).
private typealias Fingerprints = SortedMap<Fingerprint>

/// A credentials fingerprint: `hmac-sha256:` and 64 lowercase hex digits (``CredentialFingerprint``) kept as
/// its bytes, anything else (`none`) as its string.
private enum Fingerprint: Hashable, Sendable {
    /// Four words rather than two `UInt128`s, whose 16-byte alignment made each value 48 bytes, not 40.
    case hmacSHA256(UInt64, UInt64, UInt64, UInt64)
    case other(String)

    private static let prefix = "hmac-sha256:"

    init(_ text: String) {
        var text = text
        text.makeContiguousUTF8()  // already so for any string but a bridged one
        let start = Self.prefix.utf8.count
        let parsed: Fingerprint?? = text.utf8.withContiguousStorageIfAvailable { utf8 in
            guard utf8.count == start + 64, text.hasPrefix(Self.prefix),
                let first = Self.value(utf8[start..<start + 16]), let second = Self.value(utf8[start + 16..<start + 32]),
                let third = Self.value(utf8[start + 32..<start + 48]), let fourth = Self.value(utf8[start + 48..<start + 64])
            else { return nil }
            return .hmacSHA256(first, second, third, fourth)
        }
        self = (parsed ?? nil) ?? .other(text)
    }

    /// 16 lowercase hex digits (the form written), else nil.
    private static func value(_ digits: Slice<UnsafeBufferPointer<UInt8>>) -> UInt64? {
        var value: UInt64 = 0
        for digit in digits {
            let nibble: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }

    var text: String {
        switch self {
        case .other(let text): return text
        case .hmacSHA256(let first, let second, let third, let fourth):
            func hex(_ value: UInt64) -> String {
                let digits = String(value, radix: 16)
                return String(repeating: "0", count: 16 - digits.count) + digits
            }
            return Self.prefix + hex(first) + hex(second) + hex(third) + hex(fourth)
        }
    }
}
