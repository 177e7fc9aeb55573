import Foundation
import Hummingbird
import HealthdBenchmarks
import HealthdCore
@testable import HealthdMetrics
import LeenAPI
import Testing

@Suite("Content negotiation, /status, process metrics, listen addresses")
struct EndpointTests {
    @Test(
        "Accept picks OpenMetrics only when it is preferred",
        arguments: [
            (nil, ExpositionFormat.text),
            ("", .text),
            ("text/plain", .text),
            ("*/*", .text),
            ("application/json", .text),
            ("application/openmetrics-text", .openMetrics),
            ("application/openmetrics-text; version=1.0.0; charset=utf-8", .openMetrics),
            // Prometheus 2.x and 3.x defaults.
            (
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                    + "text/plain;version=0.0.4;q=0.5,*/*;q=0.1", .openMetrics
            ),
            (
                "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
                    + "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
                    + "text/plain;version=0.0.4;q=0.2,*/*;q=0.1", .openMetrics
            ),
            ("text/plain;version=0.0.4;q=0.9, application/openmetrics-text;q=0.5", .text),
            ("application/openmetrics-text;q=0", .text),
            ("application/openmetrics-text;version=2.0.0", .text),
            ("APPLICATION/OpenMetrics-Text; Version=\"1.0.0\"", .openMetrics),
        ] as [(String?, ExpositionFormat)])
    func negotiation(accept: String?, expected: ExpositionFormat) {
        #expect(ExpositionFormat.negotiate(accept: accept) == expected)
    }

    @Test(
        "Accept-Encoding: gzip unless refused",
        arguments: [
            (nil, false), ("", false), ("gzip", true), ("GZIP", true), ("deflate, gzip;q=1.0", true),
            ("gzip;q=0", false), ("*", true), ("identity", false), ("x-gzip", true), ("*;q=0.5, gzip;q=0", false),
        ] as [(String?, Bool)])
    func gzipAcceptance(header: String?, expected: Bool) {
        #expect(ExpositionFormat.acceptsGzip(header) == expected)
    }

    @Test("/status: every monitored connection with its effective status; no secrets; filter by organization")
    func statusDocument() throws {
        let input = metricsInput([
            organization(
                organizationA,
                [
                    tracked("tenable-prod", health: unauthorized, transitions: 3),
                    tracked("gone", missing: true),
                    tracked(
                        "entra", vendor: "MS_ENTRA", state: .pending, health: nil, oauthPending: true,
                        oauthURL: "https://login.example/authorize?client_id=x&state=secret-state-token-123"),
                ]),
            organization(
                organizationB, api: .rejected(since: referenceNow.addingTimeInterval(-300), reason: "401 unauthorized"),
                [tracked("stale-one", organization: organizationB)]),
        ])
        let data = StatusDocument(input, generatedAt: referenceNow).encoded()
        let text = String(decoding: data, as: UTF8.self)
        #expect(!text.contains("secret-state-token"))
        #expect(!text.contains("login.example"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(json["version"] as? String == "1.2.3-test")
        #expect(json["ready"] as? Bool == true)
        #expect(json["generated_at"] as? String == "2025-11-30T00:00:00Z")
        let organizations = try #require(json["organizations"] as? [[String: Any]])
        #expect(organizations.map { $0["id"] as? String } == [organizationA.rawValue, organizationB.rawValue])
        let connections = try #require(organizations[0]["connections"] as? [[String: Any]])
        #expect(connections.map { $0["identifier"] as? String } == ["entra", "gone", "tenable-prod"])
        let prod = connections[2]
        #expect(prod["status"] as? String == "UNHEALTHY")
        #expect(prod["health_name"] as? String == "UNAUTHORIZED")
        #expect(prod["resolution_owner"] as? String == "CUSTOMER")
        #expect(prod["connection_id"] as? String == "conn-tenable-prod")
        #expect(prod["since"] as? String == "2025-11-29T23:50:00Z")
        #expect(prod["transitions"] as? Int == 3)
        #expect((prod["details"] as? [[String: Any]])?.count == 2)
        #expect(connections[1]["missing"] as? Bool == true)
        #expect(connections[1]["status"] as? String == "MISSING")
        #expect(connections[0]["oauth_pending"] as? Bool == true)
        // The view's status: an OAuth connection waiting for authorisation (`/metrics` shows it as UNKNOWN).
        #expect(connections[0]["status"] as? String == "OAUTH_PENDING")
        let api = try #require(organizations[1]["api"] as? [String: Any])
        #expect(api["status"] as? String == "rejected")
        #expect(api["reason"] as? String == "401 unauthorized")
        #expect((organizations[1]["connections"] as? [[String: Any]])?.first?["status"] as? String == "UNKNOWN")

        // No key anywhere in the document looks like it could hold a secret.
        var keys: Set<String> = []
        func collect(_ value: Any) {
            if let object = value as? [String: Any] {
                keys.formUnion(object.keys)
                object.values.forEach(collect)
            } else if let array = value as? [Any] {
                array.forEach(collect)
            }
        }
        collect(json)
        let forbidden = ["key", "secret", "token", "password", "credential", "url", "authorization"]
        #expect(!keys.contains { key in forbidden.contains { key.lowercased().contains($0) } }, "\(keys.sorted())")

        let filtered = StatusDocument(input, organizationID: organizationB.rawValue)
        #expect(filtered.organizations.map(\.id) == [organizationB.rawValue])
    }

    @Test("process_* values come from /proc/self")
    func processMetrics() throws {
        #if os(Linux)
        let process = try #require(ProcessMetrics.current())
        #expect(process.residentMemoryBytes > 1_000_000)
        #expect(process.virtualMemoryBytes >= process.residentMemoryBytes)
        #expect(process.openFDs > 2)
        #expect((process.maxFDs ?? 0) >= 64)
        #expect(process.cpuSeconds > 0)
        #expect(process.startTime <= Date())
        #expect(process.startTime > Date().addingTimeInterval(-86_400))
        #endif
    }

    @Test("/proc/self/stat parsing copes with spaces and parentheses in the command name")
    func processStatParsing() throws {
        let stat =
            "4242 (leen (healthd) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 150 0 0 20 0 9 0 5000 "
            + "104857600 2560 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n"
        let system = "cpu  1 2 3\nbtime 1764450000\nprocesses 1\n"
        let limits = """
            Limit                     Soft Limit           Hard Limit           Units
            Max open files            1024                 524288               files
            """
        let process = try #require(
            ProcessMetrics.parse(stat: stat, systemStat: system, limits: limits, openFDs: 9, clockTicks: 100, pageSize: 4096))
        #expect(process.cpuSeconds == 4)
        #expect(process.startTime == Date(timeIntervalSince1970: 1_764_450_050))
        #expect(process.virtualMemoryBytes == 104_857_600)
        #expect(process.residentMemoryBytes == 2560 * 4096)
        #expect(process.maxFDs == 1024)
        #expect(process.openFDs == 9)
    }

    @Test("metrics.listen values parse into host and port")
    func listenParsing() throws {
        for (text, host, port) in [("127.0.0.1:9464", "127.0.0.1", 9464), ("[::1]:9464", "::1", 9464), ("0.0.0.0:0", "0.0.0.0", 0)] {
            let parsed = try MetricsServer.parseListen(text)
            #expect(parsed.host == host && parsed.port == port)
        }
        for bad in ["", "9464", "host:", ":9464", "host:99999", "host:port"] {
            #expect(throws: MetricsServer.InvalidListenAddress.self) { try MetricsServer.parseListen(bad) }
        }
    }

    @Test("The endpoint routes by path and answers only GET")
    func routing() async {
        let endpoint = MetricsEndpoint(provider: { metricsInput([]) }, processMetrics: { nil })
        func request(_ path: String, _ method: HTTPRequest.Method = .get) -> HTTPRequest {
            HTTPRequest(method: method, scheme: "http", authority: "localhost", path: path)
        }
        #expect(await endpoint.respond(to: request("/nope")).status == .notFound)
        #expect(await endpoint.respond(to: request("/metrics", .post)).status == .methodNotAllowed)
        #expect(await endpoint.respond(to: request("/metrics?x=1")).status == .ok)
        #expect(await endpoint.respond(to: request("/")).status == .ok)
        #expect(await endpoint.respond(to: request("/-/healthy")).status == .ok)
    }

    @Test("Scrapes reuse unchanged organizations' rows but never serve stale ones", arguments: [false, true])
    func rowCache(gzip: Bool) async throws {
        let box = SnapshotBox(
            metricsInput([
                organization([tracked("a1"), tracked("a2")]),
                organization(organizationB, [tracked("b1", organization: organizationB)]),
            ]))
        let endpoint = MetricsEndpoint(provider: { box.value }, processMetrics: { nil })
        func scrape() async -> Set<String> {
            var request = HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: "/metrics")
            if gzip { request.headerFields[.acceptEncoding] = "gzip" }
            let reply = await endpoint.respond(to: request)
            #expect((reply.headers[.contentEncoding] == "gzip") == gzip)
            let body = await reply.collect()
            guard gzip else { return Set(lines(String(buffer: body))) }
            let decoded = try? runProcess("/bin/gzip", ["-dc"], stdin: Data(body.readableBytesView))
            #expect(decoded?.status == 0)
            return Set(lines(decoded?.output ?? ""))
        }
        func expected() -> Set<String> { Set(lines(MetricsRenderer.renderString(box.value))) }
        func check(_ got: Set<String>, sourceLocation: SourceLocation = #_sourceLocation) {
            let want = expected()
            #expect(
                got == want, "extra: \(got.subtracting(want).sorted()); missing: \(want.subtracting(got).sorted())",
                sourceLocation: sourceLocation)
        }

        check(await scrape())
        check(await scrape())  // everything from the cache
        // A health change in organization A only: A is flattened again, B comes from the cache.
        box.update { $0.organizations[0].state.connections["a1"]?.observation.health = unauthorized }
        let changed = await scrape()
        check(changed)
        #expect(changed.contains { $0.hasPrefix("leen_connection_status{") && $0.contains("\"a1\"") && $0.hasSuffix("status=\"UNHEALTHY\"} 1") })
        // The API failing changes every status of A to UNKNOWN (the state's api field changed).
        box.update { $0.organizations[0].state.api = .unreachable(since: referenceNow, reason: "timeout") }
        check(await scrape())
        // Removed connection, missing connection, removed organization.
        box.update {
            $0.organizations[0].state.connections["a2"] = nil
            $0.organizations[0].state.connections["a1"]?.missing = true
            $0.organizations.remove(at: 1)
        }
        let last = await scrape()
        check(last)
        #expect(!last.contains { $0.contains("\"a1\"") || $0.contains("\"a2\"") || $0.contains("\"b1\"") })
        box.update { $0.organizations.append(organization(organizationB, [tracked("b1", organization: organizationB)])) }
        check(await scrape())
    }

    @Test("The benchmark measures every variant and reports sizes (not a timing test)")
    func benchmarkRuns() {
        let results = MetricsBenchmark.run(connections: 150, iterations: 1)
        #expect(
            results.map(\.name) == [
                "flattening the snapshot (included below)", "rendering into a reused 1 MiB buffer",
                "rendering, organizations unchanged", "text, 1 MiB chunks (served)", "OpenMetrics, 1 MiB chunks",
                "gzip, organizations unchanged (served)", "gzip, 1% of organizations changed",
                "gzip, 10% of organizations changed", "gzip, 100% of organizations changed",
                "gzip, every organization with 3 connections changed", "text, one buffer",
                "/status JSON", "swift-prometheus: new registry + emit", "swift-prometheus: emit kept registry",
            ])
        #expect(results.allSatisfy { $0.bytes > 0 && $0.seconds >= 0 && $0.connections == 150 })
        let text = results[3].bytes
        #expect(results[1].bytes == text && results[2].bytes == text && results[10].bytes == text)
        #expect(results[5...9].allSatisfy { $0.bytes < text / 5 }, "gzip")
        // swift-prometheus renders the same series (its values print differently: 1.0 for 1).
        #expect(abs(results[12].bytes - text) < text / 10)
        #expect(MetricsBenchmark.table(results).split(separator: "\n").count == results.count + 2)
    }
}
