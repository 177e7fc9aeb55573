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

/// All pages of a list endpoint, fetched one at a time as they are iterated.
public struct PageSequence<Item: Codable & Sendable>: AsyncSequence, Sendable {
    public typealias Element = Page<Item>

    let fetch: @Sendable (PageRequest) async throws -> Page<Item>
    public let pageSize: Int
    public let mode: PaginationMode
    public let excludeTotal: Bool

    package init(
        pageSize: Int, mode: PaginationMode, excludeTotal: Bool,
        fetch: @escaping @Sendable (PageRequest) async throws -> Page<Item>
    ) {
        self.pageSize = Swift.max(1, pageSize)
        self.mode = mode
        self.excludeTotal = excludeTotal
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
            let page: Page<Item>
            do {
                page = try await sequence.fetch(request)
            } catch {
                position = .done
                throw error
            }
            let end = offset + page.items.count
            if page.isCursorPage {
                if let next = page.nextCursor, !page.items.isEmpty, seenCursors.insert(next).inserted {
                    position = .cursor(next, offset: end)
                } else {
                    position = .done
                }
            } else if page.items.isEmpty {
                position = .done
            } else if let total = page.total {
                position = end < total ? .offset(end) : .done
            } else {
                position = page.items.count < sequence.pageSize ? .done : .offset(end)
            }
            return page
        }
    }
}
