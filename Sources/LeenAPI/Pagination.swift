/// How a list endpoint is walked.
public enum PaginationMode: String, Sendable, Hashable, CaseIterable {
    /// `limit` + `offset`; ends at `total`, or at a short or empty page when `total` is excluded.
    case offset
    /// `enableCursor=true`, then `cursor=<next_cursor>` until `next_cursor` is null. If the server ignores
    /// `enableCursor` (no cursor fields in the response), the walk continues by offset.
    case cursor
}

/// The query of one list request.
public struct PageRequest: Sendable, Hashable {
    public var limit: Int
    public var offset: Int?
    public var enableCursor: Bool
    public var cursor: String?
    public var excludeTotal: Bool

    public init(
        limit: Int = 100, offset: Int? = nil, enableCursor: Bool = false, cursor: String? = nil,
        excludeTotal: Bool = false
    ) {
        self.limit = limit
        self.offset = offset
        self.enableCursor = enableCursor
        self.cursor = cursor
        self.excludeTotal = excludeTotal
    }

    package var queryItems: [(String, String)] {
        var items = [("limit", String(limit))]
        if let offset { items.append(("offset", String(offset))) }
        if enableCursor { items.append(("enableCursor", "true")) }
        if let cursor { items.append(("cursor", cursor)) }
        if excludeTotal { items.append(("excludeTotal", "true")) }
        return items
    }
}

/// Why a walk of a list endpoint cannot be trusted to have listed everything. A walk that ends without
/// proof that it saw every item fails with one of these rather than passing a partial listing on as whole:
/// to a monitor, a connection missing from a truncated listing would look deleted, and provisioning would
/// create it a second time.
public enum ListingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `next_cursor` pointed at a page already read.
    case repeatedCursor(pages: Int)
    /// An offset page came back empty while `total` said more items exist.
    case emptyPageBeforeTotal(listed: Int, total: Int)
    /// An offset page without `total` although it was asked for: a short page would prove nothing.
    case missingTotal(listed: Int)
    /// The walk ended having listed a number of distinct items other than `total`.
    case totalMismatch(listed: Int, total: Int)
    /// A page's `count` disagrees with its items.
    case countMismatch(count: Int, items: Int)
    /// The same item was listed twice (offsets shifted under the walk, or the server ignores them).
    case duplicateItem(id: String)
    /// More pages than ``PageSequence/maximumPages``: the server never ends the walk.
    case tooManyPages(limit: Int)

    public var description: String {
        switch self {
        case .repeatedCursor(let pages): "incomplete listing: next_cursor repeats after \(pages) pages"
        case .emptyPageBeforeTotal(let listed, let total):
            "incomplete listing: an empty page after \(listed) of \(total) items"
        case .missingTotal(let listed): "incomplete listing: a page without total after \(listed) items"
        case .totalMismatch(let listed, let total): "incomplete listing: \(listed) distinct items listed, total says \(total)"
        case .countMismatch(let count, let items): "malformed page: count \(count) but \(items) items"
        case .duplicateItem(let id): "inconsistent listing: item \(id) listed twice"
        case .tooManyPages(let limit): "incomplete listing: still not at the end after \(limit) pages"
        }
    }
}

/// All pages of a list endpoint, fetched one at a time as they are iterated.
///
/// The walk only ends normally when it is provably complete: a null `next_cursor` (cursor mode), or as many
/// distinct items as `total` (offset mode; a short page is accepted as the end only when `excludeTotal` was
/// asked for). When pages carry `total`, the distinct items listed must match it in either mode. Anything
/// else throws a ``ListingError``, and no walk reads more than ``maximumPages`` pages.
public struct PageSequence<Item: Codable & Sendable>: AsyncSequence, Sendable {
    public typealias Element = Page<Item>

    let fetch: @Sendable (PageRequest) async throws -> Page<Item>
    /// The ids of a page's items, for recognising an item listed twice; nil: not checked. Made for a whole
    /// page by the caller, where the item's type is known: given one item at a time, this generic code
    /// copied every item it asked about (2% of the daemon's CPU at 100k connections on a quiet fleet, perf).
    let identify: (@Sendable ([Item]) -> [String])?
    public let pageSize: Int
    public let mode: PaginationMode
    public let excludeTotal: Bool
    public let maximumPages: Int

    /// Ten thousand pages: a million items at the default page size.
    public static var defaultMaximumPages: Int { 10_000 }

    package init(
        pageSize: Int, mode: PaginationMode, excludeTotal: Bool, maximumPages: Int = defaultMaximumPages,
        identify: (@Sendable ([Item]) -> [String])? = nil,
        fetch: @escaping @Sendable (PageRequest) async throws -> Page<Item>
    ) {
        self.pageSize = Swift.max(1, pageSize)
        self.mode = mode
        self.excludeTotal = excludeTotal
        self.maximumPages = Swift.max(1, maximumPages)
        self.identify = identify
        self.fetch = fetch
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(sequence: self) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        enum Position {
            case first
            case offset(Int)
            case cursor(String, offset: Int)
            case done
        }

        let sequence: PageSequence
        var position = Position.first
        var seenCursors: Set<String> = []
        var pages = 0
        /// Items listed so far, undecodable ones included.
        var listed = 0
        /// The ids of the items listed so far (when the sequence can identify them).
        var ids: Set<String> = []
        /// Undecodable items without a readable id: distinct by position.
        var anonymous = 0
        /// The latest `total` a page sent.
        var total: Int?

        public mutating func next() async throws -> Page<Item>? {
            let request: PageRequest
            let offset: Int
            switch position {
            case .done:
                return nil
            case .first:
                offset = 0
                request = PageRequest(
                    limit: sequence.pageSize, offset: sequence.mode == .offset ? 0 : nil,
                    enableCursor: sequence.mode == .cursor, excludeTotal: sequence.excludeTotal)
            case .offset(let start):
                offset = start
                request = PageRequest(limit: sequence.pageSize, offset: start, excludeTotal: sequence.excludeTotal)
            case .cursor(let cursor, let start):
                offset = start
                request = PageRequest(
                    limit: sequence.pageSize, enableCursor: true, cursor: cursor, excludeTotal: sequence.excludeTotal)
            }
            // Whatever happens below, this iterator makes no further request unless it says so.
            position = .done
            guard pages < sequence.maximumPages else { throw ListingError.tooManyPages(limit: sequence.maximumPages) }
            let page = try await sequence.fetch(request)
            try account(page)
            let end = offset + page.items.count + page.undecodable.count
            if page.isCursorPage {
                if let next = page.nextCursor {
                    guard seenCursors.insert(next).inserted else { throw ListingError.repeatedCursor(pages: pages) }
                    position = .cursor(next, offset: end)
                    return page
                }
            } else if let total = page.total {
                if end < total {
                    guard end > offset else { throw ListingError.emptyPageBeforeTotal(listed: listed, total: total) }
                    position = .offset(end)
                    return page
                }
            } else if !sequence.excludeTotal {
                throw ListingError.missingTotal(listed: listed)
            } else if page.items.count + page.undecodable.count >= sequence.pageSize {
                // Without a total only a short page shows the end (unprovable, so only when asked for).
                position = .offset(end)
                return page
            }
            try verifyEnd()
            return page
        }

        private mutating func account(_ page: Page<Item>) throws {
            pages += 1
            let items = page.items.count + page.undecodable.count
            if let count = page.count, count != items { throw ListingError.countMismatch(count: count, items: items) }
            listed += items
            if let total = page.total { self.total = total }
            if let identify = sequence.identify {
                // Room for the page's ids at once, doubling: grown an insertion at a time from empty, the set
                // rehashed its ids at each of seven doublings for a page of 100. (Not the page's `total`, which
                // a faulty server could make any size.)
                let needed = ids.count + page.items.count + page.undecodable.count
                if ids.capacity < needed { ids.reserveCapacity(Swift.max(needed, 2 * ids.capacity)) }
                for id in identify(page.items) {
                    guard ids.insert(id).inserted else { throw ListingError.duplicateItem(id: id) }
                }
                for item in page.undecodable {
                    guard let id = item.id else {
                        anonymous += 1
                        continue
                    }
                    guard ids.insert(id).inserted else { throw ListingError.duplicateItem(id: id) }
                }
            }
        }

        private func verifyEnd() throws {
            guard let total else { return }
            let distinct = sequence.identify == nil ? listed : ids.count + anonymous
            if distinct != total { throw ListingError.totalMismatch(listed: distinct, total: total) }
        }
    }
}

/// Every item of a completed walk.
public struct Listing<Item: Sendable>: Sendable {
    public var items: [Item]
    /// Listed but unreadable items (``Page/undecodable``), across every page.
    public var undecodable: [UndecodableItem]

    public init(items: [Item] = [], undecodable: [UndecodableItem] = []) {
        self.items = items
        self.undecodable = undecodable
    }

    /// Adds a page's items.
    public mutating func append(_ page: Page<Item>) where Item: Codable {
        // The first page's arrays are taken as they are (a walk of one page copies no item): appended,
        // each item was copied and the page's copy destroyed.
        if items.isEmpty { items = page.items } else { items += page.items }
        if undecodable.isEmpty { undecodable = page.undecodable } else { undecodable += page.undecodable }
    }
}

extension Listing: ExpressibleByArrayLiteral {
    public init(arrayLiteral items: Item...) { self.init(items: items) }
}

extension PageSequence {
    /// Walks every page.
    public func collect() async throws -> Listing<Item> {
        var listing = Listing<Item>(items: [])
        for try await page in self { listing.append(page) }
        return listing
    }
}
