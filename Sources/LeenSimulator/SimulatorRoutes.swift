import Foundation
import Hummingbird
import LeenAPI
import NIOCore

/// The `/v1` routes: the same paths, validation, errors and pagination as Leen's provisioning API.
struct APIRoutes {
    let state: SimulatorState
    var configuration: SimulatorConfiguration { state.configuration }

    func register(on router: Router<SimulatorRequestContext>) {
        let base = "v1/provisioning/organizations"
        let organization = "\(base)/:organization_id"
        let connections = "\(organization)/connections"
        let connection = "\(connections)/:connection_id"
        let api = router.group().add(middleware: APIMiddleware(state: state))

        api.post(RouterPath(base)) { request, context in
            let body = try RequestValidation.createOrganization(try await Self.body(request))
            return SimulatorHTTP.json(
                state.createOrganization(name: body.name, identifier: body.identifier), context: context)
        }
        api.get(RouterPath(base)) { request, context in
            try page(request, context: context) { offset, limit in
                state.listOrganizations(offset: offset, limit: limit)
            }
        }
        api.get(RouterPath(organization)) { _, context in
            SimulatorHTTP.json(try state.organization(try Self.organizationID(context)), context: context)
        }
        api.delete(RouterPath(organization)) { _, context in
            SimulatorHTTP.json(try state.deleteOrganization(try Self.organizationID(context)), context: context)
        }
        api.post(RouterPath(connections)) { request, context in
            let organizationID = try Self.organizationID(context)
            let body = try RequestValidation.createConnection(
                try await Self.body(request), strict: configuration.strictCredentials)
            return SimulatorHTTP.json(try state.createConnection(organizationID, body), context: context)
        }
        api.get(RouterPath(connections)) { request, context in
            let organizationID = try Self.organizationID(context)
            return try page(request, context: context) { offset, limit in
                try state.listConnections(organizationID, offset: offset, limit: limit)
            }
        }
        api.get(RouterPath(connection)) { _, context in
            let (organizationID, id) = try Self.connectionID(context)
            return SimulatorHTTP.json(try state.connection(organizationID, id), context: context)
        }
        api.patch(RouterPath(connection)) { request, context in
            let (organizationID, id) = try Self.connectionID(context)
            let body = try await Self.body(request)
            let update = try RequestValidation.updateConnection(
                body, vendor: { try state.connection(organizationID, id).vendor },
                strict: configuration.strictCredentials)
            return SimulatorHTTP.json(try state.updateConnection(organizationID, id, update), context: context)
        }
        api.delete(RouterPath(connection)) { _, context in
            let (organizationID, id) = try Self.connectionID(context)
            return SimulatorHTTP.json(try state.deleteConnection(organizationID, id), context: context)
        }
        api.get(RouterPath("\(connection)/test")) { _, context in
            let (organizationID, id) = try Self.connectionID(context)
            return SimulatorHTTP.json(try state.testCredentials(organizationID, id), context: context)
        }
    }

    static func body(_ request: Request, upTo limit: Int = 1 << 20) async throws -> Data {
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        return Data(buffer.readableBytesView)
    }

    static func organizationID(_ context: SimulatorRequestContext) throws -> OrganizationID {
        let raw = context.parameters.get("organization_id") ?? ""
        return OrganizationID(try RequestValidation.canonicalUUID(raw, name: "organization_id"))
    }

    static func connectionID(_ context: SimulatorRequestContext) throws -> (OrganizationID, ConnectionID) {
        let organizationID = try organizationID(context)
        let raw = context.parameters.get("connection_id") ?? ""
        return (organizationID, ConnectionID(try RequestValidation.canonicalUUID(raw, name: "connection_id")))
    }

    /// An encoded connection with fields the model requires set to null (the ``QueuedFault/ListingFault/nullField``
    /// fault).
    static func nullingFields(_ item: [UInt8]) -> [UInt8] {
        guard var object = (try? JSONDecoder().decode(JSONValue.self, from: Data(item)))?.objectValue else { return item }
        object["refresh_interval_secs"] = .null
        if case .object(var health)? = object["health"] {
            health["resolution_owner"] = .null
            object["health"] = .object(health)
        }
        return Array(SimulatorHTTP.encode(JSONValue.object(object)).readableBytesView)
    }

    /// Parses `limit`, `offset`, `enableCursor`, `cursor` and `excludeTotal`, fetches the slice, and wraps
    /// it in the offset or cursor envelope.
    func page(
        _ request: Request, context: SimulatorRequestContext,
        fetch: (_ offset: Int, _ limit: Int) throws -> (items: [[UInt8]], total: Int)
    ) throws -> Response {
        let query = request.uri.queryParameters
        var limit = try RequestValidation.integer(
            query.get("limit"), name: "limit", default: 100, minimum: 0, exclusive: true)
        if limit > configuration.pageLimitMax {
            guard configuration.overLimit == .clamp else {
                throw SimulatorError.invalid(
                    ["query", "limit"], "Input should be less than or equal to \(configuration.pageLimitMax)",
                    type: "less_than_equal")
            }
            limit = configuration.pageLimitMax
        }
        var offset = try RequestValidation.integer(
            query.get("offset"), name: "offset", default: 0, minimum: 0, exclusive: false)
        let excludeTotal = try RequestValidation.boolean(query.get("excludeTotal"), name: "excludeTotal")
        let cursorMode =
            try RequestValidation.boolean(query.get("enableCursor"), name: "enableCursor")
            && configuration.cursorSupport
        if cursorMode, let cursor = query.get("cursor") {
            offset = try RequestValidation.cursorOffset(cursor)
        }
        var listingFault: QueuedFault.ListingFault?
        if case .listing(let fault)? = context.fault { listingFault = fault }
        if listingFault == .cursorLoop, !cursorMode { offset = 0 }
        var (items, total) = try fetch(offset, limit)
        switch listingFault {
        case .inflatedTotal?: total += 5
        case .empty?: (items, total) = ([], 0)
        case .duplicateItem?: if let first = items.first { items.append(first) }
        case .nullField?: if !items.isEmpty { items[0] = Self.nullingFields(items[0]) }
        case .cursorLoop?, nil: break
        }
        var envelope = Envelope(items: items, count: items.count, total: excludeTotal ? nil : total)
        if cursorMode {
            envelope.cursors = (
                next: listingFault == .cursorLoop
                    ? RequestValidation.cursor(offset: offset)
                    : offset + items.count < total ? RequestValidation.cursor(offset: offset + items.count) : nil,
                previous: offset > 0 ? RequestValidation.cursor(offset: max(0, offset - limit)) : nil
            )
            envelope.minimal = configuration.cursorEnvelope == .minimal
        }
        return SimulatorHTTP.json(bytes: envelope.bytes(), context: context)
    }
}

/// A list response assembled from already encoded items: `{"count", "total", "items"}`, plus `next_cursor`
/// and `previous_cursor` in cursor mode (and nothing but `items` and the cursors in the minimal envelope).
struct Envelope {
    var items: [[UInt8]]
    var count: Int
    var total: Int?
    var cursors: (next: String?, previous: String?)?
    var minimal = false

    func bytes() -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(items.reduce(64) { $0 + $1.count + 1 })
        buffer.writeString("{")
        if !minimal {
            buffer.writeString("\"count\":\(count),\"total\":\(total.map(String.init) ?? "null"),")
        }
        buffer.writeString("\"items\":[")
        for (index, item) in items.enumerated() {
            if index > 0 { buffer.writeString(",") }
            buffer.writeBytes(item)
        }
        buffer.writeString("]")
        if let cursors {
            // Cursors are base64: no character needs escaping in a JSON string.
            buffer.writeString(",\"next_cursor\":\(cursors.next.map { "\"\($0)\"" } ?? "null")")
            buffer.writeString(",\"previous_cursor\":\(cursors.previous.map { "\"\($0)\"" } ?? "null")")
        }
        buffer.writeString("}")
        return buffer
    }
}
