import AsyncHTTPClient
import Foundation
import LeenAPI
import LeenSimulator
import Logging
import NIOCore
import NIOHTTP1
import Testing

// Shared helpers for the LeenSimulator tests: start a simulator, send raw HTTP, read status, headers and JSON.

/// The key leen-sim accepts by default.
let defaultAPIKey = "leen-sim-key"

/// A fixed simulated epoch (2025-06-15T15:06:40Z), so timestamps are predictable.
let testEpoch = Date(timeIntervalSince1970: 1_750_000_000)

/// `created_at`/`updated_at` as the simulator renders `testEpoch + seconds`.
func timestamp(_ seconds: Double = 0) -> String {
    Timestamp(testEpoch.addingTimeInterval(seconds)).rawValue
}

let organizationsPath = "/v1/provisioning/organizations"

func organizationPath(_ organization: String) -> String { "\(organizationsPath)/\(organization)" }
func connectionsPath(_ organization: String) -> String { "\(organizationPath(organization))/connections" }
func connectionPath(_ organization: String, _ connection: String) -> String {
    "\(connectionsPath(organization))/\(connection)"
}

/// A syntactically valid UUID that no simulator ever hands out (not version 4).
let unknownUUID = "00000000-0000-0000-0000-000000000000"

/// A TENABLE create body with both documented credential fields.
func tenableBody(identifier: String? = nil, secret: String = "sk-value") -> String {
    let id = identifier.map { #","identifier":"\#($0)""# } ?? ""
    return #"{"vendor":"TENABLE","credentials":{"client_key":"ck-value","secret_key":"\#(secret)"}\#(id)}"#
}

extension SimulatorConfiguration {
    /// A simulator whose clock stands still at `testEpoch` until advanced.
    static func frozen(_ configure: (inout SimulatorConfiguration) -> Void = { _ in }) -> SimulatorConfiguration {
        var configuration = SimulatorConfiguration()
        configuration.timeScale = 0
        configuration.startTime = testEpoch
        configure(&configuration)
        return configuration
    }
}

/// A quiet logger: the tests check the wire, not the log.
let quietLogger: Logger = {
    var logger = Logger(label: "leen-sim-test")
    logger.logLevel = .critical
    return logger
}()

/// Starts a simulator, runs `body` against it, stops it.
func withSimulator<T: Sendable>(
    _ configuration: SimulatorConfiguration = .frozen(), scenario: Scenario? = nil,
    _ body: (Sim) async throws -> T
) async throws -> T {
    try await LeenSimulator.withRunning(configuration: configuration, scenario: scenario, logger: quietLogger) {
        simulator, baseURL in
        try await body(Sim(baseURL: baseURL, state: simulator.state))
    }
}

/// One HTTP response as received.
struct Reply: Sendable, CustomStringConvertible {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: Data

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The first value of a header, case-insensitively.
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body as JSON, or nil when it is not JSON.
    var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: body) }

    /// Whether `JSONSerialization` accepts the body.
    var isValidJSON: Bool { (try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])) != nil }

    var description: String { "\(status) \(text)" }
}

/// A handle on a running simulator: raw HTTP plus its state.
struct Sim: Sendable {
    let baseURL: String
    let state: SimulatorState

    /// Sends a request to `baseURL + path`. `key` nil sends no `X-API-KEY`. The default timeout only bounds a
    /// broken test: parallel suites on a loaded 2-core machine took over 5 s for one request.
    func send(
        _ method: String, _ path: String, body: String? = nil, key: String? = defaultAPIKey,
        timeout: TimeAmount = .seconds(30)
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .init(rawValue: method)
        if let key { request.headers.add(name: "X-API-KEY", value: key) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let buffer = try await response.body.collect(upTo: 32 << 20)
        return Reply(
            status: Int(response.status.code), headers: response.headers.map { (name: $0.name, value: $0.value) },
            body: Data(buffer.readableBytesView))
    }

    func get(_ path: String, key: String? = defaultAPIKey) async throws -> Reply {
        try await send("GET", path, key: key)
    }

    func post(_ path: String, _ body: String, key: String? = defaultAPIKey) async throws -> Reply {
        try await send("POST", path, body: body, key: key)
    }

    func patch(_ path: String, _ body: String, key: String? = defaultAPIKey) async throws -> Reply {
        try await send("PATCH", path, body: body, key: key)
    }

    func delete(_ path: String, key: String? = defaultAPIKey) async throws -> Reply {
        try await send("DELETE", path, key: key)
    }

    /// Creates an organization and returns its id.
    func createOrganization(
        name: String = "Acme", identifier: String = "acme", sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        let reply = try await post(
            organizationsPath, #"{"name":"\#(name)","identifier":"\#(identifier)"}"#)
        try #require(reply.status == 200, "create organization: \(reply)", sourceLocation: sourceLocation)
        return try #require(reply.json?["id"]?.stringValue, sourceLocation: sourceLocation)
    }

    /// Creates a connection and returns the response body.
    func createConnection(
        _ organization: String, _ body: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        let reply = try await post(connectionsPath(organization), body)
        try #require(reply.status == 200, "create connection: \(reply)", sourceLocation: sourceLocation)
        return try #require(reply.json, sourceLocation: sourceLocation)
    }

    /// Creates a TENABLE connection and returns its id.
    func createTenable(
        _ organization: String, identifier: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        let json = try await createConnection(
            organization, tenableBody(identifier: identifier), sourceLocation: sourceLocation)
        return try #require(json["id"]?.stringValue, sourceLocation: sourceLocation)
    }

    /// GETs a connection and returns its JSON, requiring a 200.
    func connection(
        _ organization: String, _ id: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        let reply = try await get(connectionPath(organization, id))
        try #require(reply.status == 200, "get connection: \(reply)", sourceLocation: sourceLocation)
        return try #require(reply.json, sourceLocation: sourceLocation)
    }

    /// The `items` of one list page, requiring a 200.
    func items(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [JSONValue] {
        let reply = try await get(path)
        try #require(reply.status == 200, "list: \(reply)", sourceLocation: sourceLocation)
        return try #require(reply.json?["items"]?.arrayValue, sourceLocation: sourceLocation)
    }

    /// Moves the frozen clock.
    func advance(_ seconds: Double) { state.advanceClock(by: seconds) }
}

// MARK: - JSON access

extension JSONValue {
    subscript(_ key: String) -> JSONValue? { objectValue?[key] }

    subscript(_ index: Int) -> JSONValue? {
        guard case .array(let array) = self, array.indices.contains(index) else { return nil }
        return array[index]
    }

    var arrayValue: [JSONValue]? {
        if case .array(let array) = self { return array }
        return nil
    }

    var intValue: Int? {
        if case .integer(let value) = self { return Int(value) }
        return nil
    }

    var doubleValue: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }

    var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    var isNull: Bool { self == .null }

    /// The member names of an object (empty for anything else).
    var keys: Set<String> { objectValue.map { Set($0.keys) } ?? [] }
}

/// A 422 issue as sent.
struct FieldIssue: Sendable, Equatable, CustomStringConvertible {
    var loc: [JSONValue]
    var msg: String
    var type: String
    var description: String { "\(loc) \(type): \(msg)" }
}

/// `loc` literal: strings are keys, integers indices.
func loc(_ parts: any Sendable...) -> [JSONValue] {
    parts.map { part in
        if let int = part as? Int { return .integer(Int64(int)) }
        return .string("\(part)")
    }
}

/// Parses a FastAPI 422 body strictly: status 422, `{"detail": [...]}` and nothing else, each issue with exactly
/// `loc` (array), `msg` (string) and `type` (string).
func validationIssues(_ reply: Reply, sourceLocation: SourceLocation = #_sourceLocation) throws -> [FieldIssue] {
    try #require(reply.status == 422, "expected 422, got \(reply)", sourceLocation: sourceLocation)
    #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true, sourceLocation: sourceLocation)
    let json = try #require(reply.json, "422 body is not JSON: \(reply.text)", sourceLocation: sourceLocation)
    #expect(json.keys == ["detail"], sourceLocation: sourceLocation)
    let detail = try #require(json["detail"]?.arrayValue, sourceLocation: sourceLocation)
    #expect(!detail.isEmpty, sourceLocation: sourceLocation)
    return try detail.map { item in
        #expect(item.keys == ["loc", "msg", "type"], "issue members: \(item)", sourceLocation: sourceLocation)
        return FieldIssue(
            loc: try #require(item["loc"]?.arrayValue, sourceLocation: sourceLocation),
            msg: try #require(item["msg"]?.stringValue, sourceLocation: sourceLocation),
            type: try #require(item["type"]?.stringValue, sourceLocation: sourceLocation))
    }
}

/// Requires a `{"detail": "<message>"}` body with this status, and returns the message.
@discardableResult
func detailMessage(
    _ reply: Reply, status: Int, sourceLocation: SourceLocation = #_sourceLocation
) throws -> String {
    try #require(reply.status == status, "expected \(status), got \(reply)", sourceLocation: sourceLocation)
    let json = try #require(reply.json, "body is not JSON: \(reply.text)", sourceLocation: sourceLocation)
    #expect(json.keys == ["detail"], "body: \(reply.text)", sourceLocation: sourceLocation)
    return try #require(json["detail"]?.stringValue, sourceLocation: sourceLocation)
}

/// Decodes a cursor (base64 JSON, padding optional) into its object.
func decodeCursor(_ cursor: String) -> JSONValue? {
    var text = cursor
    while text.count % 4 != 0 { text += "=" }
    guard let data = Data(base64Encoded: text) else { return nil }
    return try? JSONDecoder().decode(JSONValue.self, from: data)
}

/// The documented Connection Health table (contract §3.2), written out independently of `HealthName.documented`.
let documentedHealthTable: [String: (status: String, owner: String, description: String)] = [
    "HEALTHY": ("HEALTHY", "LEEN", "Connection is healthy"),
    "EXECUTION_TIMEOUT": ("UNHEALTHY", "LEEN", "Execution timeout"),
    "RATE_LIMIT_EXCEEDED": ("UNHEALTHY", "LEEN", "Rate limit exceeded"),
    "VENDOR_CLIENT_ERROR": ("UNHEALTHY", "LEEN", "Vendor returned a 4xx client error"),
    "INTERNAL_ERROR": ("UNHEALTHY", "LEEN", "Internal error"),
    "VENDOR_SERVER_ERROR": ("UNHEALTHY", "VENDOR", "Vendor returned a 5xx server error"),
    "UNAUTHORIZED": ("UNHEALTHY", "CUSTOMER", "Connection is unauthorized"),
]
