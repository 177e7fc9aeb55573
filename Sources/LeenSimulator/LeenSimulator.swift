import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// leen-sim: a local Leen provisioning API over HTTP, as a `Service`.
///
/// ```swift
/// try await LeenSimulator.withRunning(configuration: config) { simulator, baseURL in
///     // baseURL is "http://127.0.0.1:<port>"; the API is under "\(baseURL)/v1"
/// }
/// ```
public struct LeenSimulator: Service {
    public let state: SimulatorState
    public let host: String
    public let port: Int
    let logger: Logger

    public init(
        configuration: SimulatorConfiguration, scenario: Scenario? = nil, host: String = "127.0.0.1", port: Int = 0,
        logger: Logger = Logger(label: "leen-sim")
    ) throws {
        state = try SimulatorState(configuration: configuration, scenario: scenario)
        self.host = host
        self.port = port
        self.logger = logger
    }

    /// The router with every route, for serving or for in-process tests.
    public func makeRouter() -> Router<SimulatorRequestContext> {
        let router = Router(context: SimulatorRequestContext.self)
        router.add(middleware: ErrorMiddleware(state: state))
        APIRoutes(state: state).register(on: router)
        ControlRoutes(state: state).register(on: router)
        return router
    }

    public func run() async throws {
        try await run(onListening: { _ in })
    }

    /// Serves until graceful shutdown or cancellation; `onListening` gets the bound port.
    public func run(onListening: @escaping @Sendable (Int) async -> Void) async throws {
        let state = self.state
        let host = self.host
        let configuredPort = self.port
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(host, port: configuredPort), serverName: "leen-sim"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuredPort
                let hostPart = host.contains(":") ? "[\(host)]" : host
                state.setPublicBaseURL(state.configuration.publicBaseURL ?? "http://\(hostPart):\(port)")
                await onListening(port)
            },
            logger: logger)
        try await withGracefulShutdownHandler {
            try await app.run()
        } onGracefulShutdown: {
            state.setStopping()
        }
    }

    /// Starts a simulator on a free loopback port, runs `body` with it and its base URL
    /// (`http://127.0.0.1:<port>`), then shuts it down gracefully (cancelling after five seconds).
    public static func withRunning<T: Sendable>(
        configuration: SimulatorConfiguration, scenario: Scenario? = nil,
        logger: Logger = Logger(label: "leen-sim"),
        _ body: (LeenSimulator, String) async throws -> T
    ) async throws -> T {
        let simulator = try LeenSimulator(configuration: configuration, scenario: scenario, logger: logger)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let service = ClosureService { try await simulator.run { port in continuation.yield(port) } }
        let serviceGroup = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { continuation.finish() }
                try await serviceGroup.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                try await group.next()
                throw CancellationError()
            }
            let result: Result<T, any Error>
            do {
                result = .success(try await body(simulator, "http://127.0.0.1:\(port)"))
            } catch {
                result = .failure(error)
            }
            simulator.state.setStopping()
            await serviceGroup.triggerGracefulShutdown()
            group.addTask { try? await Task.sleep(for: .seconds(5)) }
            _ = try? await group.next()
            group.cancelAll()
            return try result.get()
        }
    }
}
