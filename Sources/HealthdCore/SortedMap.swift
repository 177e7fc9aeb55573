import LeenAPI

/// Values by string key in two arrays sorted by key: for maps held once per organization, where a
/// dictionary's table (a power of two of slots, at most three quarters full: 256 for 100 connections) took
/// two to three times the room of its entries. A lookup is a binary search; a new key is inserted in place.
package struct SortedMap<Value: Hashable & Sendable>: Hashable, Sendable, RandomAccessCollection {
    package private(set) var keys: [String] = []
    package private(set) var values: [Value] = []

    package init() {}

    /// From `entries` in any order; nil when a key is there twice. Sorted once, in arrays of their size:
    /// inserting each in turn moved the keys after it and grew both arrays at every insert.
    ///
    /// Entries already in order are only checked: a caller in another module sorts them itself, where the
    /// sort is specialised for its values. Sorted here, unspecialised, the sort was half of reading
    /// credentials.json at 100k connections (perf, a start after SIGKILL).
    package init?(_ entries: [(key: String, value: Value)]) {
        let inOrder = entries.indices.dropFirst().allSatisfy { entries[$0 - 1].key < entries[$0].key }
        let sorted = inOrder ? entries : entries.sorted { $0.key < $1.key }
        for index in sorted.indices.dropFirst() where sorted[index - 1].key == sorted[index].key { return nil }
        keys = sorted.map(\.key)
        values = sorted.map(\.value)
    }

    /// Adds an entry whose key sorts after every key here (a list built in order).
    package mutating func append(_ key: String, _ value: Value) {
        precondition(keys.last.map { $0 < key } ?? true, "appended out of order")
        keys.append(key)
        values.append(value)
    }

    package var startIndex: Int { 0 }
    package var endIndex: Int { keys.count }
    package subscript(position: Int) -> (key: String, value: Value) { (keys[position], values[position]) }

    package subscript(key: String) -> Value? {
        get {
            let index = keys.boundary { $0 >= key }
            return index < keys.count && keys[index] == key ? values[index] : nil
        }
        set {
            let index = keys.boundary { $0 >= key }
            let present = index < keys.count && keys[index] == key
            switch (present, newValue) {
            case (true, let value?): values[index] = value
            case (true, nil):
                keys.remove(at: index)
                values.remove(at: index)
            case (false, let value?):
                // Grown to the size needed, not doubled as an append would: the maps are filled once, one key
                // at a time, and then kept (100 applied credentials took 6 KB of values where 4 KB hold them,
                // jemalloc's statistics at 100k connections). An insert moves the keys after it anyway.
                keys.reserveCapacity(keys.count + 1)
                values.reserveCapacity(values.count + 1)
                keys.insert(key, at: index)
                values.insert(value, at: index)
            case (false, nil): break
            }
        }
    }
}
