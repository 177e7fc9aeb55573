import LeenAPI

/// A connection the config declares, reduced to what planning needs (no secret values: a hash of them).
public struct DeclaredConnection: Sendable, Hashable {
    public var identifier: String
    public var vendor: Vendor
    /// Hash of the resolved credentials; nil when the config gives none (OAuth).
    public var credentialsHash: String?

    public init(identifier: String, vendor: Vendor, credentialsHash: String?) {
        self.identifier = identifier
        self.vendor = vendor
        self.credentialsHash = credentialsHash
    }
}

/// One step of provisioning an organization.
public enum ProvisioningAction: Sendable, Hashable {
    /// Not in Leen: create it.
    case create(identifier: String, vendor: Vendor)
    /// In Leen already and never applied by this daemon: take it over as it is, recording the declared
    /// credentials' hash as the baseline (its credentials are not sent).
    case adopt(identifier: String, connectionID: ConnectionID)
    /// The declared credentials changed since they were last applied: PATCH them.
    case updateCredentials(identifier: String, connectionID: ConnectionID)
    /// In Leen and up to date.
    case unchanged(identifier: String, connectionID: ConnectionID)
    /// In Leen with the declared identifier but another vendor: reported, not touched.
    case vendorMismatch(identifier: String, connectionID: ConnectionID, declared: Vendor, existing: Vendor)
    /// In Leen, not declared: reported, never deleted.
    case unmanaged(connectionID: ConnectionID, identifier: String?, vendor: Vendor)
    /// Not found, but the listing had an item it could not read that may be this connection: creating it
    /// could make a duplicate, so it is neither created nor touched (reported; retried later).
    case blocked(identifier: String, vendor: Vendor, reason: String)

    /// `create`, `adopt`, `update`, `unchanged`, `conflict` or `unmanaged` (for the dry-run table).
    public var verb: String {
        switch self {
        case .create: "create"
        case .adopt: "adopt"
        case .updateCredentials: "update"
        case .unchanged: "unchanged"
        case .vendorMismatch: "conflict"
        case .unmanaged: "unmanaged"
        case .blocked: "blocked"
        }
    }
}

/// Decides what provisioning must do for one organization. Pure.
public enum ProvisioningPlanner {
    /// - Parameters:
    ///   - declared: the organization's declared connections.
    ///   - existing: every connection Leen lists for the organization.
    ///   - unreadable: listed items that did not decode (``Listing/undecodable``).
    ///   - applied: the credentials hash last applied per identifier (from the state file).
    public static func plan(
        declared: [DeclaredConnection], existing: [Connection], unreadable: [UndecodableItem] = [],
        applied: [String: String]
    ) -> [ProvisioningAction] {
        var live: [String: Connection] = [:]
        for connection in existing where connection.state != .deleted {
            guard let identifier = connection.identifier else { continue }
            if let other = live[identifier], PollProcessor.rank(other) >= PollProcessor.rank(connection) { continue }
            live[identifier] = connection
        }
        var actions: [ProvisioningAction] = []
        for declaration in declared {
            guard let match = live[declaration.identifier] else {
                if let item = unreadable.first(where: { $0.identifier == nil || $0.identifier == declaration.identifier }) {
                    let which = item.id.map { "connection \($0)" } ?? "item \(item.index) of a page"
                    actions.append(
                        .blocked(
                            identifier: declaration.identifier, vendor: declaration.vendor,
                            reason: "not created: Leen lists \(which) that cannot be read (\(item.reason))"))
                } else {
                    actions.append(.create(identifier: declaration.identifier, vendor: declaration.vendor))
                }
                continue
            }
            if match.vendor != declaration.vendor {
                actions.append(
                    .vendorMismatch(
                        identifier: declaration.identifier, connectionID: match.id, declared: declaration.vendor,
                        existing: match.vendor))
            } else if let recorded = applied[declaration.identifier] {
                if let hash = declaration.credentialsHash, hash != recorded {
                    actions.append(.updateCredentials(identifier: declaration.identifier, connectionID: match.id))
                } else {
                    actions.append(.unchanged(identifier: declaration.identifier, connectionID: match.id))
                }
            } else {
                actions.append(.adopt(identifier: declaration.identifier, connectionID: match.id))
            }
        }
        let declaredIdentifiers = Set(declared.map(\.identifier))
        for connection in existing where connection.state != .deleted {
            if let identifier = connection.identifier, declaredIdentifiers.contains(identifier) { continue }
            actions.append(
                .unmanaged(connectionID: connection.id, identifier: connection.identifier, vendor: connection.vendor))
        }
        return actions
    }
}
