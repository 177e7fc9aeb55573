import Foundation
import HTTPTypes
import Hummingbird
import LeenAPI
import NIOCore

/// Response building shared by the routes: JSON bodies, FastAPI error shapes, and damage to order.
enum SimulatorHTTP {
    static let apiKeyField = HTTPField.Name("X-API-KEY")!
    static let retryAfterField = HTTPField.Name("Retry-After")!

    static func encodeBytes<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        // Sorted keys: the same seed must give the same bytes, and unsorted object keys come out in a
        // different order on every encode.
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every value the simulator encodes is a plain model; failure would be a programming error.
        return Array(try! encoder.encode(value))
    }

    static func encode<T: Encodable>(_ value: T) -> ByteBuffer {
        ByteBuffer(bytes: encodeBytes(value))
    }

    /// A JSON response, damaged as the request's fault asks (truncated, malformed, or cut off).
    static func json<T: Encodable>(
        _ value: T, status: HTTPResponse.Status = .ok, context: SimulatorRequestContext
    ) -> Response {
        json(bytes: encode(value), status: status, context: context)
    }

    /// A response with an already encoded JSON body, damaged as the request's fault asks.
    static func json(bytes: ByteBuffer, status: HTTPResponse.Status = .ok, context: SimulatorRequestContext)
        -> Response
    {
        var body = bytes
        switch context.fault {
        case .truncate?:
            body = body.getSlice(at: body.readerIndex, length: body.readableBytes / 2) ?? body
        case .malformed?:
            body = ByteBuffer(string: "<html><body><h1>502 Bad Gateway</h1></body></html>")
        case .close?, .dropResponse?:
            return closing()
        case .stallBody(let seconds)?:
            return stalling(body, status: status, seconds: seconds, stopping: context.isStopping)
        default:
            break
        }
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }

    /// The head and the first half of `body`, then nothing for `seconds` (less if the simulator stops), then
    /// the rest.
    static func stalling(
        _ body: ByteBuffer, status: HTTPResponse.Status, seconds: Double, stopping: @escaping @Sendable () -> Bool
    ) -> Response {
        let half = body.readableBytes / 2
        let first = body.getSlice(at: body.readerIndex, length: half) ?? body
        let rest = body.getSlice(at: body.readerIndex + half, length: body.readableBytes - half) ?? ByteBuffer()
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(contentLength: body.readableBytes) { writer in
                try await writer.write(first)
                await hold(seconds: seconds, stopping: stopping)
                try await writer.write(rest)
                try await writer.finish(nil)
            })
    }

    /// Waits `seconds`, giving up early when the simulator stops or the task is cancelled.
    static func hold(seconds: Double, stopping: @Sendable () -> Bool) async {
        let end = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < end, !Task.isCancelled, !stopping() {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    static func detail(_ message: String, status: HTTPResponse.Status, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: encode(["detail": message])))
    }

    static func render(_ error: SimulatorError) -> Response {
        switch error {
        case .detail(let status, let message):
            return detail(message, status: HTTPResponse.Status(code: status))
        case .validation(let issues):
            return Response(
                status: .unprocessableContent, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: encode(HTTPValidationError(detail: issues))))
        }
    }

    /// A status with its standard reason phrase where one is known: `HTTPResponse.Status(code:)` leaves the
    /// phrase empty, which would make an injected fault's body `{"detail": ""}`.
    static func status(code: Int) -> HTTPResponse.Status {
        let known: [HTTPResponse.Status] = [
            .badRequest, .unauthorized, .forbidden, .notFound, .requestTimeout, .conflict, .unprocessableContent,
            .tooManyRequests, .internalServerError, .notImplemented, .badGateway, .serviceUnavailable, .gatewayTimeout,
        ]
        return known.first { $0.code == code } ?? HTTPResponse.Status(code: code)
    }

    struct ConnectionClosedByFault: Error {}

    /// A response whose body fails after the head: the server closes the connection mid-response.
    static func closing() -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json", .contentLength: "4096"],
            body: ResponseBody(contentLength: 4096) { _ in throw ConnectionClosedByFault() })
    }
}

/// Outermost middleware: FastAPI-shaped errors for everything (`{"detail": "Not Found"}` included) and a
/// count of responses by status.
struct ErrorMiddleware: RouterMiddleware {
    let state: SimulatorState

    func handle(
        _ request: Request, context: SimulatorRequestContext,
        next: (Request, SimulatorRequestContext) async throws -> Response
    ) async throws -> Response {
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as SimulatorError {
            response = SimulatorHTTP.render(error)
        } catch let error as HTTPError {
            response = SimulatorHTTP.detail(error.status.reasonPhrase, status: error.status)
        }
        state.record(status: response.status.code)
        return response
    }
}

/// `/v1` only: injected faults first (a failing proxy does not look at keys), then `X-API-KEY`.
struct APIMiddleware: RouterMiddleware {
    let state: SimulatorState

    func handle(
        _ request: Request, context: SimulatorRequestContext,
        next: (Request, SimulatorRequestContext) async throws -> Response
    ) async throws -> Response {
        let query = request.uri.queryParameters
        let firstPage = query.get("cursor") == nil && (query.get("offset").flatMap { Int($0) } ?? 0) == 0
        let decision = state.drawFault(path: request.uri.path, firstPage: firstPage)
        if decision.delayMs > 0 { try await Task.sleep(for: .milliseconds(decision.delayMs)) }
        var context = context
        switch decision.action {
        case .status(let code, let retryAfter)?:
            var headers: HTTPFields = [:]
            if let retryAfter { headers[SimulatorHTTP.retryAfterField] = retryAfter }
            let status = SimulatorHTTP.status(code: code)
            return SimulatorHTTP.detail(status.reasonPhrase, status: status, headers: headers)
        case .hang(let seconds)?:
            await SimulatorHTTP.hold(seconds: seconds) { state.isStopping }
        case .close?:
            return SimulatorHTTP.closing()
        case .echo(let code)?:
            var echoed = request
            let body = try await echoed.collectBody(upTo: 1 << 20)
            let status = SimulatorHTTP.status(code: code)
            return SimulatorHTTP.detail(
                "\(status.reasonPhrase): could not process \(request.method) \(request.uri.path) with X-API-KEY "
                    + "\(request.headers[SimulatorHTTP.apiKeyField] ?? "-") and body \(String(buffer: body))",
                status: status)
        case .truncate?, .malformed?, .dropResponse?, .listing?, .stallBody?:
            context.fault = decision.action
            context.isStopping = { [state] in state.isStopping }
        case nil:
            break
        }
        switch state.authenticate(request.headers[SimulatorHTTP.apiKeyField]) {
        case .accepted: return try await next(request, context)
        case .missing: throw SimulatorError.detail(status: 401, message: "Not authenticated")
        case .invalid: throw SimulatorError.detail(status: 401, message: "Invalid API key")
        case .expired: throw SimulatorError.detail(status: 401, message: "API key has expired")
        }
    }

}
