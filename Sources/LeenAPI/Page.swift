/// An item of a list page that did not decode as the expected type: listed, but unreadable.
public struct UndecodableItem: Sendable, Hashable {
    /// Its position in the page.
    public var index: Int
    /// Its `id` and `identifier`, when the item is an object that has them as strings.
    public var id: String?
    public var identifier: String?
    /// Why it did not decode (the decoder's description: a key path and the expected type, never a value).
    public var reason: String

    public init(index: Int, id: String? = nil, identifier: String? = nil, reason: String) {
        self.index = index
        self.id = id
        self.identifier = identifier
        self.reason = reason
    }
}

/// One page of a list endpoint, in offset mode (`count`, `total`, `items`) or cursor mode (adds
/// `next_cursor` and `previous_cursor`; `count` and `total` may be absent).
///
/// Items are decoded one by one: an item with an unexpected shape (a `null` where the model wants a value)
/// lands in ``undecodable`` instead of failing the page, so one odd connection cannot blind the rest.
public struct Page<Item: Codable & Sendable>: Codable, Sendable {
    public var items: [Item]
    /// Listed items that did not decode; not encoded.
    public var undecodable: [UndecodableItem] = []
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
        isCursorPage: Bool = false, undecodable: [UndecodableItem] = []
    ) {
        self.items = items
        self.undecodable = undecodable
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
        var list = try c.nestedUnkeyedContainer(forKey: .items)
        var items: [Item] = []
        var undecodable: [UndecodableItem] = []
        items.reserveCapacity(list.count ?? 0)
        while !list.isAtEnd {
            let index = list.currentIndex
            do {
                items.append(try list.decode(Item.self))
            } catch let error as DecodingError {
                // A failed element decode leaves the container on that element, so it can be read again as JSON.
                let raw = try list.decode(JSONValue.self)
                undecodable.append(
                    UndecodableItem(
                        index: index, id: raw[path: "id"]?.stringValue, identifier: raw[path: "identifier"]?.stringValue,
                        reason: Self.describe(error)))
            }
        }
        self.items = items
        self.undecodable = undecodable
        count = try c.decodeIfPresent(Int.self, forKey: .count)
        total = try c.decodeIfPresent(Int.self, forKey: .total)
        nextCursor = try c.decodeIfPresent(String.self, forKey: .nextCursor)
        previousCursor = try c.decodeIfPresent(String.self, forKey: .previousCursor)
        isCursorPage = c.contains(.nextCursor) || c.contains(.previousCursor)
    }

    /// Where and what, without the offending value (it may be a credential echoed back).
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(type)"
        case .valueNotFound(let type, let context): return "\(path(context)): expected \(type), found null"
        case .keyNotFound(let key, let context): return "\(path(context)).\(key.stringValue): missing"
        case .dataCorrupted(let context): return "\(path(context)): invalid value"
        @unknown default: return "undecodable"
        }
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
