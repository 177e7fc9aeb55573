import AsyncHTTPClient
import Foundation
import HealthdCore
import LeenAPI
import NIOCore
import Testing

@testable import Healthd

/// The HTTP client the daemon talks to Leen with.
@Suite("HTTP client configuration")
struct HTTPConfigurationTests {
    @Test("no tracer (no span per request), no redirects, the configured read timeout")
    func clientConfiguration() {
        var configuration = Configuration(
            api: .init(endpoint: .custom("http://127.0.0.1:9/v1"), key: .file("/nonexistent")), stateDirectory: "/nonexistent",
            organizations: [])
        configuration.api.requestTimeout = .seconds(7)
        let http = DaemonRunner.httpConfiguration(configuration)
        #expect(http.tracing.tracer == nil)
        #expect(http.timeout.read == .seconds(7))
        #expect(http.timeout.connect == .seconds(10))
    }
}
