import Foundation
import Synchronization

/// Decodes the pages of one walk of a list after another, and reuses the decoded item for any item whose
/// bytes are the same as in the walk before.
///
/// Between two polls most connections are listed byte for byte as before (their health changes when a job
/// runs, hours apart), and `JSONDecoder` was the daemon's largest cost per connection-poll (15 µs and 29
/// allocations per connection, `make bench-micro`). Finding an item's bytes and hashing them costs a fraction
/// of that; only new or changed items are decoded.
///
/// Items are recognised by a hash of their bytes (`Hasher`, randomly seeded per process) and their length:
/// two different items would have to collide in 64 bits within one organization's listing.
///
/// For connections only, and not generic: used from other modules, a generic memo ran unspecialised
/// (metadata lookups and value-witness copies of every item showed in its profile).
public final class PageMemo: Sendable {
    public typealias Item = Connection

    /// 12 bytes, so that a sealed walk's entry (with its position) takes 16, not 24: an item's length fits
    /// 32 bits (clamped beyond, for a page far larger than any response the client accepts).
    struct Key: Hashable, Comparable {
        var hash: Int
        var count: Int32

        static func < (a: Key, b: Key) -> Bool { (a.hash, a.count) < (b.hash, b.count) }
    }

    /// What most items of a page repeat, held once per page by the items decoded from it (and by the states
    /// made from them), not once per connection: the organization's id (about 150 bytes each, at 100,000
    /// connections), and the health, one of a few values on most pages (HEALTHY, "Connection is healthy",
    /// LEEN, nothing failing), with the rarely set fields (``Connection/share(from:)``).
    struct SharedStrings {
        var id: OrganizationID?
        var healths: [ConnectionHealthStatus: Item] = [:]
        var rare: Item?

        mutating func share(_ item: inout Item) {
            if let id, item.organizationID == id { item.organizationID = id } else { id = item.organizationID }
            if let health = item.health {
                if let kept = healths[health] { item.share(from: kept) } else { healths[health] = item }
            }
            if item.rare != nil {
                if let rare { item.share(from: rare) } else { rare = item }
            }
        }
    }

    /// One walk's items, in the order first listed, and where each key's item is.
    ///
    /// Not a `[Key: Item]`: a dictionary keeps its values in slots that are at most three quarters full and
    /// a power of two in number, so an organization's 100 connections took 256 slots of 300 bytes (780 bytes
    /// per connection in a heap profile at 10k). Here the items sit in an array sized for the walk, and a
    /// table holds only positions: a dictionary while the walk reads, then (``sealed()``) the keys sorted
    /// with their positions, found by binary search, 16 bytes per item where the dictionary's 256 slots took
    /// 6 KB per organization (5 MB at 100k connections, jemalloc's heap profile).
    struct Walk {
        private var index: [Key: Int32] = [:]
        private var sorted: [(key: Key, position: Int32)] = []
        private(set) var items: [Item] = []

        init(capacity: Int = 0) {
            index.reserveCapacity(capacity)
            items.reserveCapacity(capacity)
        }

        var count: Int { items.count }

        /// Where `key`'s item is in ``items``.
        func position(of key: Key) -> Int? {
            if !index.isEmpty { return index[key].map(Int.init) }
            let found = sorted.boundary { $0.key >= key }
            return found < sorted.count && sorted[found].key == key ? Int(sorted[found].position) : nil
        }

        /// Keeps the first item of a key: equal keys are equal bytes, so equal items. Only before ``sealed()``.
        mutating func insert(_ item: Item, for key: Key) {
            guard index[key] == nil else { return }
            index[key] = Int32(items.count)
            items.append(item)
        }

        /// A sealed walk made one that reads on (``insert(_:for:)``), with the same items at the same places:
        /// what a walk that repeated this one so far would have made.
        func reopened() -> Walk {
            var walk = Walk(capacity: items.count)
            walk.items = items
            for entry in sorted { walk.index[entry.key] = entry.position }
            return walk
        }

        /// Whether `keys` are this sealed walk's items, one for one in its order.
        func isListed(exactly keys: [Key]) -> Bool {
            keys.count == items.count && index.isEmpty
                && keys.indices.allSatisfy { position(of: keys[$0]) == $0 }
        }

        /// The walk, read: its table made compact for lookups only.
        func sealed() -> Walk {
            var walk = Walk()
            walk.items = items
            walk.sorted = index.map { (key: $0.key, position: $0.value) }
            walk.sorted.sort { $0.key < $1.key }
            return walk
        }
    }

    struct Items {
        /// What the last completed walk decoded.
        var previous = Walk()
        /// What this walk has decoded so far; made at the walk's first page, sized like the last walk.
        var current: Walk?
        /// This walk's pages so far were the last walk, item for item in its order (``current`` is nil then):
        /// ``finishWalk()`` keeps ``previous`` as it is, and a further page makes ``current`` from it first.
        var mirrored = false
        /// Items read with `JSONDecoder` (not recognised), since the memo was made.
        var decoded = 0
        /// The identifiers the configuration declares, sorted (``shareIdentifiers(sorted:)``).
        var declared: [String] = []
    }

    private let items = Mutex(Items())
    private static var pageKeys: Set<String> { ["items", "count", "total", "next_cursor", "previous_cursor"] }

    public init() {}

    /// Items the memo holds for the next walk.
    public var count: Int { items.withLock { $0.previous.count } }

    /// Items that had to be decoded (new or changed), since the memo was made.
    public var itemsDecoded: Int { items.withLock { $0.decoded } }

    /// Gives the identifiers the configuration declares for the organization, sorted (as the daemon's
    /// `DeclaredIdentifiers` keeps them): a decoded item whose identifier is one of them holds that string
    /// rather than a copy read from the page. The daemon's state keeps the configuration's strings, so the
    /// memo's items then add none of their own (a string of 64 bytes of heap per connection for identifiers
    /// longer than 15 bytes, 6 MB at 100k connections in jemalloc's heap profile). The array is kept as
    /// given, so that the daemon's sorted list and the memo's are one (an array of 1.6 KB per organization of
    /// 100 connections, in jemalloc's 1,792-byte class). Call again when the configuration changes.
    public func shareIdentifiers(sorted identifiers: [String]) {
        items.withLock { $0.declared = identifiers }
    }

    /// The list ``shareIdentifiers(sorted:)`` gave.
    var declaredIdentifiers: [String] { items.withLock { $0.declared } }

    /// Call once a walk has read every page: its items are what the next walk compares with. A walk that
    /// fails keeps what it decoded for the next one.
    public func finishWalk() {
        items.withLock { items in
            if items.mirrored {
                items.mirrored = false
                return
            }
            items.previous = items.current?.sealed() ?? Walk()
            items.current = nil
        }
    }

    /// Decodes a page as `JSONDecoder` does (``Page``'s `init(from:)`): same items, same unreadable items,
    /// same errors. A page it cannot split, with an item that does not decode, or with a page field that does
    /// not, is decoded whole, so unreadable items and errors are always the page's own.
    public func decode(_ body: Data) throws -> Page<Item> {
        try body.withUnsafeBytes { try decode(bytes: $0) }
    }

    /// As ``decode(_:)``, from the response's bytes where they are (no copy into a `Data` first, which was a
    /// page's size allocated and copied per request).
    public func decode(bytes: UnsafeRawBufferPointer) throws -> Page<Item> {
        let decoder = JSONDecoder()
        return try split(bytes, decoder: decoder) ?? decoder.decode(Page<Item>.self, from: Data(bytes))
    }

    /// The page read item by item, known items from the memo; nil when it must be decoded whole.
    private func split(_ bytes: UnsafeRawBufferPointer, decoder: JSONDecoder) throws -> Page<Item>? {
        // Leen's pages have these members only; anything else is JSONDecoder's to judge in context.
        guard let structure = JSONStructure(bytes, arrayKey: "items"), structure.foundArray,
            structure.members.allSatisfy({ Self.pageKeys.contains($0.key) })
        else { return nil }
        func slice(_ range: Range<Int>) -> Data { Data(UnsafeRawBufferPointer(rebasing: bytes[range])) }
        /// A page member, by hand when plain (``ConnectionReader``), else by JSONDecoder.
        func member<T: Decodable>(_ key: String, as: T.Type, plain: (UnsafeRawBufferPointer) -> T??) throws -> T? {
            guard let range = structure.value(of: key) else { return nil }
            if let value = plain(UnsafeRawBufferPointer(rebasing: bytes[range])) { return value }
            return try decoder.decode(T?.self, from: slice(range))
        }
        var page = Page<Item>(items: [])
        var shared = SharedStrings()
        var fresh = 0
        let keys = structure.elements.map { range in
            let element = UnsafeRawBufferPointer(rebasing: bytes[range])
            var hasher = Hasher()
            hasher.combine(bytes: element)
            return Key(hash: hasher.finalize(), count: Int32(clamping: element.count))
        }
        // The walk's first page listing the last walk exactly, item for item (in a fleet that did not
        // change, every organization of up to a page's size, at every poll): the page is the last walk's
        // array itself, and the walk's records are left as they are (``Items/mirrored``). Copying the
        // items into the page and into the walk, and sorting the walk again, was about 4% of the daemon's
        // CPU at 100k connections on a fleet that did not change (perf).
        let mirror: [Item]? = items.withLock { items in
            if items.mirrored {
                items.current = items.previous.reopened()
                items.mirrored = false
            }
            guard items.current == nil, !keys.isEmpty, items.previous.isListed(exactly: keys) else { return nil }
            return items.previous.items
        }
        if let mirror {
            page.items = mirror
        } else {
            // Known items are copied once, from the walks' arrays into the page, and the walk below takes
            // them from the page: looked up as values, then kept in a list of the page's items, each known
            // item was copied three times and destroyed twice, every reference in it retained and released
            // (copies of connections were 8% of the daemon's samples at 100k on a fleet that did not change,
            // most of them here; perf). In a block of its own: the walks' arrays referenced here are let go
            // before the walk grows below, which would otherwise copy its array to grow.
            // Sized for the page: grown an item at a time, its copies were a tenth of the daemon's allocated
            // bytes at 100k connections (jemalloc's heap profile).
            page.items.reserveCapacity(structure.elements.count)
            let (positions, current, previous, declared) = items.withLock { items in
                (keys.map { key in
                    items.current?.position(of: key).map { Known.current($0) }
                        ?? items.previous.position(of: key).map { Known.previous($0) }
                }, items.current?.items ?? [], items.previous.items, items.declared)
            }
            for (index, range) in structure.elements.enumerated() {
                switch positions[index] {
                case .current(let position)?:
                    page.items.append(current[position])
                    continue
                case .previous(let position)?:
                    page.items.append(previous[position])
                    continue
                case nil:
                    break
                }
                fresh += 1
                // Read by hand in the common form, else by JSONDecoder. An unreadable item is rare, and how
                // JSONDecoder reads it can depend on what surrounds it (a repeated key can make the whole
                // document invalid, not just the item): the page is then decoded whole, so what is unreadable
                // and why is the page's own answer.
                guard var item = ConnectionReader.read(UnsafeRawBufferPointer(rebasing: bytes[range]))
                    ?? (try? decoder.decode(Item.self, from: slice(range)))
                else { return nil }
                shared.share(&item)
                if let identifier = item.identifier {
                    let found = declared.boundary { $0 >= identifier }
                    if found < declared.count, declared[found] == identifier { item.identifier = declared[found] }
                }
                page.items.append(item)
            }
        }
        do {
            page.count = try member("count", as: Int.self, plain: ConnectionReader.optionalInteger)
            page.total = try member("total", as: Int.self, plain: ConnectionReader.optionalInteger)
            page.nextCursor = try member("next_cursor", as: String.self, plain: ConnectionReader.optionalString)
            page.previousCursor = try member("previous_cursor", as: String.self, plain: ConnectionReader.optionalString)
        } catch {
            return nil
        }
        page.isCursorPage = structure.value(of: "next_cursor") != nil || structure.value(of: "previous_cursor") != nil
        items.withLock { items in
            if mirror != nil {
                items.mirrored = true
                return
            }
            items.decoded += fresh
            var walk = items.current ?? Walk(capacity: items.previous.count)
            items.current = nil  // so that `walk` is the only reference, and grows in place
            for (key, item) in zip(keys, page.items) { walk.insert(item, for: key) }
            items.current = walk
        }
        return page
    }

    /// Where a known item of a page is: in this walk (an item listed twice) or the last one.
    private enum Known {
        case current(Int)
        case previous(Int)
    }
}
