import Foundation
import LeenAPI

/// One of `count` instances that share one configuration's organizations: shard `index` of `count`
/// (`shard: 2/4` in the configuration, `--shard 2/4` on the command line), both counted from 1.
///
/// Which shard owns an organization is decided by rendezvous (highest-random-weight) hashing of its id:
/// every shard gets a pseudo-random weight per organization and the heaviest owns it. A shard's weights do
/// not depend on how many shards there are, so going from N to N + 1 shards moves only the organizations
/// whose new shard outweighs all the others (about 1 / (N + 1) of them), each onto the new shard, and
/// nothing else moves. Pure and stable across processes, machines and versions: the hash is spelled out
/// below (Swift's `Hasher` is seeded per process, so it could not be used).
public struct Shard: Sendable, Hashable, CustomStringConvertible {
    /// K, in `1...count`.
    public let index: Int
    /// N, in `1...maximumCount`.
    public let count: Int

    /// Shards per configuration, at most: each organization's owner costs one weight per shard to find.
    public static let maximumCount = 1024

    /// Nil unless `1 <= index <= count <= maximumCount`.
    public init?(index: Int, count: Int) {
        guard (1...Self.maximumCount).contains(count), (1...count).contains(index) else { return nil }
        self.index = index
        self.count = count
    }

    /// `K/N`, as it is written.
    public var description: String { "\(index)/\(count)" }

    /// Whether this shard owns `organization`.
    public func owns(_ organization: OrganizationID) -> Bool {
        Self.owner(of: organization, among: count) == index
    }

    /// The shard (1...`count`) that owns `organization` when there are `count` shards.
    public static func owner(of organization: OrganizationID, among count: Int) -> Int {
        let key = key(organization)
        var best = 1
        var bestWeight = weight(key: key, shard: 1)
        for shard in stride(from: 2, through: count, by: 1) {
            // Ties (one in 2^64) go to the lower shard, so the answer never depends on the order of a loop.
            let candidate = weight(key: key, shard: shard)
            if candidate > bestWeight {
                best = shard
                bestWeight = candidate
            }
        }
        return best
    }

    /// FNV-1a (64-bit) over the organization id's 16 UUID bytes, so the case it is written in does not
    /// matter; over its lower-case UTF-8 text should it not be a UUID (configurations only hold UUIDs).
    static func key(_ organization: OrganizationID) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func add(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        if let uuid = UUID(uuidString: organization.rawValue) {
            withUnsafeBytes(of: uuid.uuid) { for byte in $0 { add(byte) } }
        } else {
            for byte in organization.rawValue.lowercased().utf8 { add(byte) }
        }
        return hash
    }

    /// Shard `shard`'s weight for an organization's key: SplitMix64's finalizer of the key mixed with the
    /// shard's own SplitMix64 value (FNV-1a alone spreads 16 similar bytes too little to be compared).
    static func weight(key: UInt64, shard: Int) -> UInt64 {
        splitMix(key ^ splitMix(UInt64(shard)))
    }

    /// SplitMix64 (Steele, Lea, Flood 2014): the golden-ratio increment, then its 64-bit finalizer.
    static func splitMix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

// MARK: - Parsing

extension Shard {
    /// What a shard is written as, for "expected …" messages.
    public static let expectation = "a shard K/N such as 2/4 (shard K of N, both from 1)"

    /// Why a text is not a shard.
    public enum ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        /// Not of the form `K/N`.
        case invalid(String)
        /// `K/N`, but K or N is out of range: the message says which.
        case outOfRange(String)

        public var description: String {
            switch self {
            case .invalid(let text): "expected \(Shard.expectation), found '\(text)'"
            case .outOfRange(let message): message
            }
        }
    }

    /// `K/N` (spaces around the numbers are allowed) with `1 <= K <= N <= maximumCount`.
    public static func parse(_ text: String) -> Result<Shard, ParseError> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let index = Int(parts[0]), let count = Int(parts[1])
        else { return .failure(.invalid(text)) }
        guard (1...maximumCount).contains(count) else {
            return .failure(
                .outOfRange("the number of shards N must be between 1 and \(maximumCount), found \(count) in '\(text)'"))
        }
        guard (1...count).contains(index) else {
            return .failure(.outOfRange("the shard K must be between 1 and \(count) (N), found \(index) in '\(text)'"))
        }
        return .success(Shard(index: index, count: count)!)
    }
}

// MARK: - Which shard a command uses

/// Which shard a configuration is loaded for.
public enum ShardSelection: Sendable, Hashable {
    /// The configuration's `shard` key, or none.
    case fromFile
    /// The command line's (`--shard K/N`), whatever the file says.
    case given(Shard)
    /// The shard in force since start (a reload): a changed `shard` key takes effect at the next restart,
    /// like the metrics listener and the journal pacing.
    case kept(Shard?)

    /// The shard in force, given the file's `shard` key.
    public func resolve(file: Shard?) -> Shard? {
        switch self {
        case .fromFile: file
        case .given(let shard): shard
        case .kept(let shard): shard
        }
    }
}
