import Foundation
import Hummingbird
import LeenAPI

/// `/_sim/…`: the simulator's control API, for tests and operators. Unauthenticated; bind leen-sim to
/// loopback (the default) when that matters.
struct ControlRoutes {
    let state: SimulatorState

    struct HealthBody: Decodable {
        var name: HealthName
        var details: [HealthDetail]?
        var status: HealthStatus?
        var resolutionOwner: ResolutionOwner?
        var description: String?
        enum CodingKeys: String, CodingKey {
            case name, details, status, description
            case resolutionOwner = "resolution_owner"
        }

        /// Leen's table for the name, with the fields the body gives on top.
        var health: ConnectionHealthStatus {
            var health = SimulatorState.health(name, details: details)
            if let status { health.status = status }
            if let resolutionOwner { health.resolutionOwner = resolutionOwner }
            if let description { health.description = description }
            return health
        }
    }

    /// `PUT /_sim/bulk/health`: the connections `select` picks get `health` (the single form's body).
    struct BulkHealthBody: Decodable {
        var select: ConnectionSelection
        var health: HealthBody
    }

    struct BulkResult: Encodable { var matched: Int }

    /// A bulk body may list 100,000 ids (about 4 MB); other control bodies stay under the API's 1 MiB.
    static let bulkBodyLimit = 64 << 20

    struct StateBody: Decodable { var state: ConnectionState }
    struct AdvanceBody: Decodable { var seconds: Double }
    struct ScaleBody: Decodable {
        var timeScale: Double
        enum CodingKeys: String, CodingKey { case timeScale = "time_scale" }
    }
    struct KeyBody: Decodable { var key: String }
    struct RejectedBody: Codable { var values: [String] }
    struct OK: Encodable { var ok = true }

    func register(on router: Router<SimulatorRequestContext>) {
        let sim = router.group("_sim")
        sim.get("state") { _, context in SimulatorHTTP.json(state.summary(), context: context) }
        sim.get("organizations") { _, context in
            SimulatorHTTP.json(state.organizationIDs(), context: context)
        }
        sim.get("faults") { _, context in SimulatorHTTP.json(state.faults, context: context) }
        sim.put("faults") { request, context in
            state.setFaults(try await Self.decode(FaultSettings.self, request))
            return SimulatorHTTP.json(state.faults, context: context)
        }
        sim.delete("faults") { _, context in
            state.resetFaults()
            return SimulatorHTTP.json(OK(), context: context)
        }
        sim.post("faults/queue") { request, context in
            let body = try await AnyFaults.decode(request)
            state.enqueueFaults(body)
            return SimulatorHTTP.json(OK(), context: context)
        }
        sim.put("connections/:reference/health") { request, context in
            let body = try await Self.decode(HealthBody.self, request)
            return SimulatorHTTP.json(try state.setHealth(try Self.reference(context), body.health), context: context)
        }
        sim.put("bulk/health") { request, context in
            let body = try await Self.decode(BulkHealthBody.self, request, upTo: Self.bulkBodyLimit)
            let matched = try state.setHealth(of: body.select, body.health.health)
            return SimulatorHTTP.json(BulkResult(matched: matched), context: context)
        }
        sim.put("connections/:reference/state") { request, context in
            let body = try await Self.decode(StateBody.self, request)
            return SimulatorHTTP.json(try state.setState(try Self.reference(context), body.state), context: context)
        }
        sim.post("connections/:reference/authorize") { _, context in
            SimulatorHTTP.json(try state.authorize(try Self.reference(context)), context: context)
        }
        sim.delete("connections/:reference") { _, context in
            try state.remove(try Self.reference(context))
            return SimulatorHTTP.json(OK(), context: context)
        }
        // Where `oauth2_authorize_url` points: opening it grants access, as an administrator's consent would.
        sim.get("oauth/authorize") { request, _ in
            guard let id = request.uri.queryParameters.get("connection_id") else {
                throw SimulatorError.detail(status: 400, message: "connection_id is required")
            }
            try state.authorize(id)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: "leen-sim: access granted for connection \(id)\n")))
        }
        sim.post("clock/advance") { request, context in
            state.advanceClock(by: try await Self.decode(AdvanceBody.self, request).seconds)
            return SimulatorHTTP.json(state.summary(), context: context)
        }
        sim.put("clock") { request, context in
            state.setTimeScale(try await Self.decode(ScaleBody.self, request).timeScale)
            return SimulatorHTTP.json(OK(), context: context)
        }
        sim.get("connections/:reference/credentials") { _, context in
            SimulatorHTTP.json(try state.credentials(try Self.reference(context)), context: context)
        }
        sim.get("credentials/rejected") { _, context in
            SimulatorHTTP.json(RejectedBody(values: state.rejectedCredentialValues.sorted()), context: context)
        }
        sim.put("credentials/rejected") { request, context in
            state.setRejectedCredentialValues(Set(try await Self.decode(RejectedBody.self, request).values))
            return SimulatorHTTP.json(OK(), context: context)
        }
        sim.post("api-keys") { request, context in
            state.addAPIKey(try await Self.decode(KeyBody.self, request).key)
            return SimulatorHTTP.json(OK(), context: context)
        }
        sim.post("api-keys/expire") { request, context in
            state.expireAPIKey(try await Self.decode(KeyBody.self, request).key)
            return SimulatorHTTP.json(OK(), context: context)
        }
    }

    static func reference(_ context: SimulatorRequestContext) throws -> String {
        guard let reference = context.parameters.get("reference"), !reference.isEmpty else {
            throw SimulatorError.connectionNotFound()
        }
        return reference
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, upTo limit: Int = 1 << 20) async throws -> T {
        let data = try await APIRoutes.body(request, upTo: limit)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw SimulatorError.detail(status: 400, message: "invalid body: \(Scenario.describe(error))")
        }
    }

    /// `POST /_sim/faults/queue` takes one fault or an array of them.
    enum AnyFaults {
        static func decode(_ request: Request) async throws -> [QueuedFault] {
            let data = try await APIRoutes.body(request)
            if let many = try? JSONDecoder().decode([QueuedFault].self, from: data) { return many }
            do {
                return [try JSONDecoder().decode(QueuedFault.self, from: data)]
            } catch let error as DecodingError {
                throw SimulatorError.detail(status: 400, message: "invalid body: \(Scenario.describe(error))")
            }
        }
    }
}
