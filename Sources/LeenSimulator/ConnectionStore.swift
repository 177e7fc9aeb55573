import LeenAPI

/// The simulator's connections by id, with an index by identifier that stays right on every write.
///
/// Scenario steps and the control API name a connection by id or by identifier. Finding one by identifier by
/// scanning the fleet made a scenario with a step per connection load in quadratic time (20,000 steps: 20 s);
/// here it is one hash lookup. Walks over the whole fleet go through ``walk(_:)``, which counts the records it
/// visits, so tests can hold loading and bulk changes to work proportional to their input.
struct ConnectionStore: Sendable {
    private var records: [ConnectionID: ConnectionRecord] = [:]
    private var identifiers = IdentifierIndex()
    /// Records visited by ``walk(_:)`` since the store was made.
    private(set) var visited = 0

    var count: Int { records.count }

    /// Room for `capacity` records: without it a fleet is moved to a bigger table about 17 times on the way
    /// to 100,000 connections (measured at 100,000: 15% of the load's CPU time, 70 MB more peak memory).
    mutating func reserveCapacity(_ capacity: Int) { records.reserveCapacity(capacity) }

    /// Reads, adds, replaces (re-indexing a changed identifier) or, with nil, removes a record.
    subscript(id: ConnectionID) -> ConnectionRecord? {
        get { records[id] }
        set {
            let index = records.index(forKey: id)
            // Outer nil: no such record; inner nil: a record without identifier.
            let old = index.map { records.values[$0].connection.identifier }
            if let newValue {
                records[id] = newValue
                if let old {
                    if old != newValue.connection.identifier {
                        identifiers.move(id, from: old, to: newValue.connection.identifier)
                    }
                } else {
                    identifiers.insert(id, identifier: newValue.connection.identifier)
                }
            } else if let index, let old {
                records.remove(at: index)
                identifiers.remove(id, identifier: old)
            }
        }
    }

    func contains(_ id: ConnectionID) -> Bool { records.index(forKey: id) != nil }

    /// Changes a record in place (no copy of it), keeping the identifier index right; nil when there is none.
    @discardableResult
    mutating func update<T>(_ id: ConnectionID, _ body: (inout ConnectionRecord) throws -> T) rethrows -> T? {
        guard let index = records.index(forKey: id) else { return nil }
        let old = records.values[index].connection.identifier
        let result = try body(&records.values[index])
        let new = records.values[index].connection.identifier
        if new != old { identifiers.move(id, from: old, to: new) }
        return result
    }

    /// Removes a record and returns it.
    @discardableResult
    mutating func remove(_ id: ConnectionID) -> ConnectionRecord? {
        guard let record = records.removeValue(forKey: id) else { return nil }
        identifiers.remove(id, identifier: record.connection.identifier)
        return record
    }

    /// The connection with this identifier, the smallest id when several share it; nil when none has it.
    func first(withIdentifier identifier: String) -> ConnectionID? { identifiers.first(identifier) }

    /// Every connection with this identifier, in no particular order.
    func all(withIdentifier identifier: String) -> [ConnectionID] { identifiers.all(identifier) }

    /// Every record, read-only, counted as a walk of the whole fleet (the getter is mutating so that it can
    /// count). For callers outside the simulator that look records up by content (tests); inside it, lookups
    /// by identifier go through the index.
    var values: Dictionary<ConnectionID, ConnectionRecord>.Values {
        mutating get {
            visited += records.count
            return records.values
        }
    }

    /// Visits every record in place, in no particular order.
    mutating func walk(_ body: (ConnectionID, inout ConnectionRecord) throws -> Void) rethrows {
        var index = records.startIndex
        while index != records.endIndex {
            let id = records.keys[index]
            let old = records.values[index].connection.identifier
            try body(id, &records.values[index])
            let new = records.values[index].connection.identifier
            if new != old { identifiers.move(id, from: old, to: new) }
            visited += 1
            records.formIndex(after: &index)
        }
    }
}

/// Connection ids by identifier. The smallest id of each identifier is kept at hand, so a lookup stays one hash
/// lookup however many connections share an identifier (the same identifier in each of 1,000 organizations is
/// ordinary).
struct IdentifierIndex: Sendable {
    private struct Entry: Sendable {
        /// The smallest id with this identifier.
        var first: ConnectionID
        /// The others; empty (no allocation) in the usual case of a unique identifier.
        var others: Set<ConnectionID> = []
    }

    private var entries: [String: Entry] = [:]

    mutating func insert(_ id: ConnectionID, identifier: String?) {
        guard let identifier else { return }
        guard var entry = entries[identifier] else {
            entries[identifier] = Entry(first: id)
            return
        }
        if id < entry.first {
            entry.others.insert(entry.first)
            entry.first = id
        } else if id != entry.first {
            entry.others.insert(id)
        }
        entries[identifier] = entry
    }

    mutating func remove(_ id: ConnectionID, identifier: String?) {
        guard let identifier, var entry = entries[identifier] else { return }
        if entry.first == id {
            guard let next = entry.others.min() else {
                entries[identifier] = nil
                return
            }
            entry.others.remove(next)
            entry.first = next
        } else {
            entry.others.remove(id)
        }
        entries[identifier] = entry
    }

    mutating func move(_ id: ConnectionID, from old: String?, to new: String?) {
        remove(id, identifier: old)
        insert(id, identifier: new)
    }

    func first(_ identifier: String) -> ConnectionID? { entries[identifier]?.first }

    func all(_ identifier: String) -> [ConnectionID] {
        guard let entry = entries[identifier] else { return [] }
        return [entry.first] + entry.others
    }
}
