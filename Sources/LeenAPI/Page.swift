/// One page of a list endpoint, in offset mode (`count`, `total`, `items`) or cursor mode (adds
/// `next_cursor` and `previous_cursor`; `count` and `total` may be absent).
public struct Page<Item: Codable & Sendable>: Codable, Sendable {
    public var items: [Item]
    /// Items in this page (required in offset mode).
    public var count: Int?
    /// All matching items; nil when `excludeTotal=true` or not sent.
    public var total: Int?
    public var nextCursor: String?
    public var previousCursor: String?
    /// True when the response carried cursor fields at all (the server honoured `enableCursor`).
    public var isCursorPage: Bool

    public init(
        items: [Item], count: Int? = nil, total: Int? = nil, nextCursor: String? = nil, previousCursor: String? = nil,
        isCursorPage: Bool = false
    ) {
        self.items = items
        self.count = count
        self.total = total
        self.nextCursor = nextCursor
        self.previousCursor = previousCursor
        self.isCursorPage = isCursorPage
    }

    enum CodingKeys: String, CodingKey {
        case items, count, total
        case nextCursor = "next_cursor"
        case previousCursor = "previous_cursor"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        items = try c.decode([Item].self, forKey: .items)
        count = try c.decodeIfPresent(Int.self, forKey: .count)
        total = try c.decodeIfPresent(Int.self, forKey: .total)
        nextCursor = try c.decodeIfPresent(String.self, forKey: .nextCursor)
        previousCursor = try c.decodeIfPresent(String.self, forKey: .previousCursor)
        isCursorPage = c.contains(.nextCursor) || c.contains(.previousCursor)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(count, forKey: .count)
        try c.encode(total, forKey: .total)
        try c.encode(items, forKey: .items)
        if isCursorPage {
            try c.encode(nextCursor, forKey: .nextCursor)
            try c.encode(previousCursor, forKey: .previousCursor)
        }
    }
}
