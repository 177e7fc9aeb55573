import AsyncHTTPClient
import Foundation
import LeenAPI
import LeenAPIClient
import LeenSimulator
import Logging
import Synchronization

/// Records every attempt the client reports.
final class RequestRecorder: Sendable {
    private let events = Mutex<[LeenClient.RequestEvent]>([])

    var all: [LeenClient.RequestEvent] { events.withLock { $0 } }

    func record(_ event: LeenClient.RequestEvent) { events.withLock { $0.append(event) } }

    func count(_ operation: String) -> Int { all.filter { $0.operation == operation }.count }
}

/// A simulator configuration with a frozen clock and two organizations of ten connections.
func frozenFleet(organizations: Int = 2, connections: Int = 20) -> SimulatorConfiguration {
    var config = SimulatorConfiguration()
    config.seed = 42
    config.organizations = organizations
    config.connections = connections
    config.timeScale = 0
    config.startTime = Date(timeIntervalSince1970: 1_800_000_000)
    return config
}

let testKey = "test-key-7f3a9c-DO-NOT-LEAK"

/// Runs `body` with a client talking to a fresh in-process simulator.
func withClient<T: Sendable>(
    _ config: SimulatorConfiguration = frozenFleet(), retry: RetryPolicy = RetryPolicy(baseDelay: .milliseconds(10)),
    timeout: Duration = .seconds(5), key: String = testKey,
    _ body: (LeenClient, LeenSimulator, RequestRecorder) async throws -> T
) async throws -> T {
    var config = config
    config.apiKeys = [testKey]
    var quiet = Logger(label: "leen-sim")
    quiet.logLevel = .error
    return try await LeenSimulator.withRunning(configuration: config, logger: quiet) { simulator, baseURL in
        let recorder = RequestRecorder()
        let client = LeenClient(
            configuration: .init(
                endpoint: .custom(baseURL + "/v1"), apiKey: LeenAPIKey(key), requestTimeout: timeout, retry: retry),
            httpClient: HTTPClient.shared, observer: { recorder.record($0) })
        return try await body(client, simulator, recorder)
    }
}

/// The error `body` throws, as a ``LeenAPIError``; nil when it does not throw one.
func apiError(_ body: () async throws -> Void) async -> LeenAPIError? {
    do {
        try await body()
        return nil
    } catch let error as LeenAPIError {
        return error
    } catch {
        return nil
    }
}
