import Foundation
import LeenAPI
import Testing

@testable import HealthdCore

private let defaultAPI = "api:\n  region: us\n  key: {credential: leen-api-key}"

/// The issues `ConfigParser` reports for `yaml`, as `t.yaml:LINE:COLUMN: message` lines; empty when valid.
private func configIssues(_ yaml: String) -> [String] {
    do {
        _ = try ConfigParser.parse(yaml, path: "t.yaml")
        return []
    } catch {
        return error.issues.map(\.description)
    }
}

/// A valid configuration: `api` (three lines unless given), line 4 `organizations:`, line 5 the organization's
/// `- id:`, line 6 its `connections:` followed by `connections` (from line 7, `[]` when empty), then `rest`.
private func configYAML(api: String = defaultAPI, connections: String = "", rest: String = "") -> String {
    """
    \(api)
    organizations:
      - id: 3c90c3cc-0d44-4b50-8888-8dd25736052a
        connections:\(connections.isEmpty ? " []" : "\n" + connections)
    \(rest)
    """
}

@Suite("Configuration parser")
struct ConfigParserTests {
    static let fullExample = """
        api:
          region: eu
          key: { file: /etc/leen-healthd/api-key }
          timeout: 15s
          attempts: 3
        poll:
          interval: 1h30m
          jitter: 20%
          concurrency: 8
          page_size: 250
          pagination: cursor
          max_backoff: 45m
        state_directory: /srv/leen-healthd
        metrics:
          listen: "[::1]:9100"
        events:
          stderr_format: json
        organizations:
          - id: 3c90c3cc-0d44-4b50-8888-8dd25736052a
            name: Acme
            connections:
              - identifier: tenable-prod
                vendor: TENABLE
                credentials:
                  client_key: { file: /etc/leen-healthd/tenable-client-key }
                  secret_key: { credential: tenable-secret-key }
              - identifier: aws
                vendor: AWS_INSPECTOR2
                credentials:
                  aws: {aws_access_key_id: {file: /etc/leen-healthd/aws-id}, aws_secret_access_key: {credential: aws-secret}, aws_region_name: us-east-1, type: direct_access}
              - identifier: entra
                vendor: MS_ENTRA
                options:
                  oauth2_redirect_urls: { success: https://example.com/ok, error: https://example.com/err }
          - id: 7F1B2D9E-5A3C-4E8F-9B6D-2C4A1E0F3B57
            connections:
              - identifier: tenable-prod
                vendor: TENABLE
                credentials:
                  client_key: { credential: globex-client-key }
                  secret_key: { credential: globex-secret-key }
                  base_url: https://cloud.tenable.com
              - identifier: spotlight
                vendor: CROWDSTRIKE_SPOTLIGHT
                credentials:
                  client_id: 0123abcd
                  client_secret: { file: /etc/leen-healthd/cs-secret }
              - identifier: snyk
                vendor: SNYK
        """

    @Test func fullExampleParsesToTheExactConfiguration() throws {
        let configuration = try ConfigParser.parse(Self.fullExample, path: "full.yaml")
        let expected = Configuration(
            api: .init(
                endpoint: .eu, key: .file("/etc/leen-healthd/api-key"), requestTimeout: .seconds(15),
                maximumAttempts: 3),
            poll: .init(
                interval: .seconds(5400), jitter: 0.2, concurrency: 8, pageSize: 250, pagination: .cursor,
                maximumBackoff: .seconds(2700)),
            stateDirectory: "/srv/leen-healthd",
            metrics: .init(listen: "[::1]:9100"),
            events: .init(stderrFormat: .json),
            organizations: [
                OrganizationConfig(
                    id: "3c90c3cc-0d44-4b50-8888-8dd25736052a", name: "Acme",
                    connections: [
                        ConnectionConfig(
                            identifier: "tenable-prod", vendor: .tenable,
                            credentials: .object([
                                "client_key": .secret(.file("/etc/leen-healthd/tenable-client-key")),
                                "secret_key": .secret(.credential("tenable-secret-key")),
                            ])),
                        ConnectionConfig(
                            identifier: "aws", vendor: .awsInspector2,
                            credentials: .object([
                                "aws": .object([
                                    "aws_access_key_id": .secret(.file("/etc/leen-healthd/aws-id")),
                                    "aws_secret_access_key": .secret(.credential("aws-secret")),
                                    "aws_region_name": .literal("us-east-1"),
                                    "type": .literal("direct_access"),
                                ])
                            ])),
                        ConnectionConfig(
                            identifier: "entra", vendor: .msEntra,
                            options: [
                                "oauth2_redirect_urls": [
                                    "success": "https://example.com/ok", "error": "https://example.com/err",
                                ]
                            ]),
                    ]),
                OrganizationConfig(
                    id: "7f1b2d9e-5a3c-4e8f-9b6d-2c4a1e0f3b57",
                    connections: [
                        ConnectionConfig(
                            identifier: "tenable-prod", vendor: .tenable,
                            credentials: .object([
                                "client_key": .secret(.credential("globex-client-key")),
                                "secret_key": .secret(.credential("globex-secret-key")),
                                "base_url": .literal("https://cloud.tenable.com"),
                            ])),
                        ConnectionConfig(
                            identifier: "spotlight", vendor: .crowdStrikeSpotlight,
                            credentials: .object([
                                "client_id": .literal("0123abcd"),
                                "client_secret": .secret(.file("/etc/leen-healthd/cs-secret")),
                            ])),
                        ConnectionConfig(identifier: "snyk", vendor: .snyk),
                    ]),
            ])
        #expect(configuration == expected)
    }

    @Test func secretReferencesKeepTheirPositions() throws {
        let parsed = try ConfigParser.parseWithPositions(Self.fullExample, path: "full.yaml")
        #expect(
            parsed.secretReferences == [
                SecretReference(keyPath: "api.key", source: .file("/etc/leen-healthd/api-key"), line: 3, column: 16),
                SecretReference(
                    keyPath: "organizations[0].connections[0].credentials.client_key",
                    source: .file("/etc/leen-healthd/tenable-client-key"), line: 25, column: 31),
                SecretReference(
                    keyPath: "organizations[0].connections[0].credentials.secret_key",
                    source: .credential("tenable-secret-key"), line: 26, column: 37),
                SecretReference(
                    keyPath: "organizations[0].connections[1].credentials.aws.aws_access_key_id",
                    source: .file("/etc/leen-healthd/aws-id"), line: 30, column: 43),
                SecretReference(
                    keyPath: "organizations[0].connections[1].credentials.aws.aws_secret_access_key",
                    source: .credential("aws-secret"), line: 30, column: 106),
                SecretReference(
                    keyPath: "organizations[1].connections[0].credentials.client_key",
                    source: .credential("globex-client-key"), line: 40, column: 37),
                SecretReference(
                    keyPath: "organizations[1].connections[0].credentials.secret_key",
                    source: .credential("globex-secret-key"), line: 41, column: 37),
                SecretReference(
                    keyPath: "organizations[1].connections[1].credentials.client_secret",
                    source: .file("/etc/leen-healthd/cs-secret"), line: 47, column: 34),
            ])
        #expect(parsed.configuration == (try ConfigParser.parse(Self.fullExample, path: "full.yaml")))
    }

    @Test func omittedSectionsTakeTheDefaults() throws {
        let configuration = try ConfigParser.parse(configYAML(rest: "poll:\nmetrics:\n"), path: "t.yaml")
        #expect(
            configuration
                == Configuration(
                    api: .init(endpoint: .us, key: .credential("leen-api-key")),
                    organizations: [OrganizationConfig(id: "3c90c3cc-0d44-4b50-8888-8dd25736052a", connections: [])]))
        #expect(configuration.poll == Configuration.Poll())
        #expect(configuration.metrics.listen == "127.0.0.1:9464")
        #expect(configuration.stateDirectory == "/var/lib/leen-healthd")
        #expect(configuration.api.requestTimeout == .seconds(30))
        #expect(configuration.api.maximumAttempts == 4)
    }

    @Test func theShippedExampleIsValid() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("packaging/leen-healthd.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        let parsed = try ConfigParser.parseWithPositions(text, path: url.path)
        let configuration = parsed.configuration
        #expect(configuration.api.endpoint == .us)
        #expect(configuration.api.key == .credential("leen-api-key"))
        #expect(configuration.metrics.listen == "127.0.0.1:9464")
        #expect(configuration.stateDirectory == "/var/lib/leen-healthd")
        #expect(configuration.organizations.count >= 2)
        let connections = configuration.organizations.flatMap(\.connections)
        #expect(Set(connections.map(\.vendor)).isSuperset(of: [.tenable, .awsInspector2, .msEntra]))
        let entra = try #require(connections.first { $0.vendor == .msEntra })
        #expect(entra.credentials == nil)
        #expect(entra.options?[path: "oauth2_redirect_urls.success"] != nil)
        let aws = try #require(connections.first { $0.vendor == .awsInspector2 })
        #expect(aws.credentials?.secrets.map(\.path) == ["aws.aws_access_key_id", "aws.aws_secret_access_key"])
        #expect(
            parsed.secretReferences.count
                == configuration.organizations.flatMap(\.connections).reduce(1) {
                    $0 + ($1.credentials?.secrets.count ?? 0)
                })
    }

    /// Every key the parser accepts is documented.
    @Test func everyKeyIsDocumented() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/configuration.md")
        let docs = try String(contentsOf: url, encoding: .utf8)
        let keys =
            ConfigKeys.root + ConfigKeys.api + ConfigKeys.poll + ConfigKeys.metrics + ConfigKeys.events
            + ConfigKeys.organization + ConfigKeys.connection + ConfigKeys.secretSource + ConfigKeys.redirectURLs
            + ConfigKeys.alerting + ConfigKeys.confirm + ConfigKeys.rule + ConfigKeys.apiRule + ConfigKeys.flapping
            + ConfigKeys.incidents
        for key in keys {
            #expect(docs.contains("`\(key)`"), "docs/configuration.md does not mention `\(key)`")
        }
    }

    // MARK: Values

    @Test(arguments: [
        ("30s", Duration.seconds(30)), ("5m", .seconds(300)), ("1h30m", .seconds(5400)), ("250ms", .milliseconds(250)),
        ("90", .seconds(90)), ("0.5", .milliseconds(500)), ("1.5s", .milliseconds(1500)), ("2d", .seconds(172_800)),
        ("1m30s", .seconds(90)), ("1h0m1s", .seconds(3601)), ("'45'", .seconds(45)),
    ])
    func durations(_ text: String, _ expected: Duration) throws {
        let configuration = try ConfigParser.parse(configYAML(rest: "poll:\n  interval: \(text)"), path: "t.yaml")
        #expect(configuration.poll.interval == expected)
    }

    @Test func journalPacing() throws {
        let configuration = try ConfigParser.parse(
            configYAML(rest: "events:\n  journal_burst: 5000\n  journal_interval: 30s\n  max_pending: 2000"), path: "t.yaml")
        #expect(configuration.events.journalBurst == 5000)
        #expect(configuration.events.journalInterval == .seconds(30))
        #expect(configuration.events.maximumPending == 2000)
        #expect(configuration.events.pacer == JournalPacer(burst: 5000, interval: 30))
        #expect(
            configIssues(configYAML(rest: "events:\n  journal_burst: 10\n  journal_interval: 50ms\n  max_pending: 5"))
                == [
                    "t.yaml:8:18: events.journal_burst: must be between 100 and 10000000, found 10",
                    "t.yaml:9:21: events.journal_interval: must be at least 100ms",
                    "t.yaml:10:16: events.max_pending: must be between 1000 and 100000000, found 5",
                ])
    }

    @Test(arguments: [("10%", 0.1), ("0.1", 0.1), ("0", 0.0), ("50%", 0.5), ("0.5", 0.5), ("2.5%", 0.025)])
    func jitter(_ text: String, _ expected: Double) throws {
        let configuration = try ConfigParser.parse(configYAML(rest: "poll:\n  jitter: \(text)"), path: "t.yaml")
        #expect(abs(configuration.poll.jitter - expected) < 1e-12)
    }

    @Test(
        arguments: [
            ("off", nil), ("false", nil), ("no", nil), ("'off'", nil), ("~", nil), ("", nil), ("null", nil),
            ("127.0.0.1:9464", "127.0.0.1:9464"), ("0.0.0.0:80", "0.0.0.0:80"), ("localhost:9464", "localhost:9464"),
            ("'[::1]:9464'", "[::1]:9464"),
        ] as [(String, String?)])
    func metricsListen(_ text: String, _ expected: String?) throws {
        let configuration = try ConfigParser.parse(configYAML(rest: "metrics:\n  listen: \(text)"), path: "t.yaml")
        #expect(configuration.metrics.listen == expected)
    }

    @Test(arguments: [
        ("region: us", LeenEndpoint.us), ("region: eu", .eu), ("region: apac", .apac),
        ("base_url: http://127.0.0.1:8080/v1", .custom("http://127.0.0.1:8080/v1")),
        ("base_url: https://proxy.example/leen/v1/", .custom("https://proxy.example/leen/v1/")),
    ])
    func endpoints(_ line: String, _ expected: LeenEndpoint) throws {
        let yaml = configYAML(api: "api:\n  \(line)\n  key: {file: /k}")
        #expect(try ConfigParser.parse(yaml, path: "t.yaml").api.endpoint == expected)
    }

    @Test(arguments: [
        ("http://10.0.0.5:8080/v1", "10.0.0.5"), ("http://leen-proxy.internal/v1", "leen-proxy.internal"),
        ("http://[2001:db8::1]/v1", "[2001:db8::1]"), ("http://128.0.0.1/v1", "128.0.0.1"),
    ])
    func cleartextToAnotherHostIsRefused(_ url: String, _ host: String) throws {
        let yaml = configYAML(api: "api:\n  base_url: \(url)\n  key: {file: /k}")
        let error = try #require(throws: ConfigErrors.self) { try ConfigParser.parse(yaml, path: "t.yaml") }
        #expect(error.description.contains("t.yaml:2:13: api.base_url: http:// would send the API key in clear to \(host)"))
        // Allowed explicitly, it is accepted as written.
        let allowed = configYAML(api: "api:\n  base_url: \(url)\n  allow_insecure_http: true\n  key: {file: /k}")
        #expect(try ConfigParser.parse(allowed, path: "t.yaml").api.endpoint == .custom(url))
    }

    @Test(arguments: ["http://127.0.0.1:8080/v1", "http://127.9.9.9/v1", "http://localhost:1/v1", "http://[::1]:8/v1", "https://10.0.0.5/v1"])
    func loopbackAndHTTPSNeedNoPermission(_ url: String) throws {
        let yaml = configYAML(api: "api:\n  base_url: \(url)\n  key: {file: /k}")
        #expect(try ConfigParser.parse(yaml, path: "t.yaml").api.endpoint == .custom(url))
    }

    @Test func optionsAreConvertedVerbatim() throws {
        let connection = """
                  - identifier: q
                    vendor: QUALYS
                    credentials: {username: reader, password: {credential: qualys}}
                    options:
                      init_load_timestamp: 2025-01-01T00:00:00Z
                      quoted_number: "42"
                      count: 42
                      ratio: 0.5
                      enabled: true
                      nothing: null
                      list: [1, two, {three: 3}]
                      nested: {deeper: {deepest: x}}
            """
        let configuration = try ConfigParser.parse(configYAML(connections: connection), path: "t.yaml")
        let options = try #require(configuration.organizations.first?.connections.first?.options)
        #expect(
            options == [
                "init_load_timestamp": "2025-01-01T00:00:00Z", "quoted_number": "42", "count": 42, "ratio": 0.5,
                "enabled": true, "nothing": nil, "list": [1, "two", ["three": 3]],
                "nested": ["deeper": ["deepest": "x"]],
            ])
        #expect(
            configuration.organizations.first?.connections.first?.credentials
                == .object(["username": .literal("reader"), "password": .secret(.credential("qualys"))]))
    }

    /// A configuration's list of connections is kept for the daemon's life: 100 of them in 5,120 bytes.
    @Test func aConnectionsOptionsTakeNoRoomWhenUnset() {
        #expect(MemoryLayout<ConnectionConfig>.stride <= 48)
        var connection = ConnectionConfig(identifier: "q", vendor: "QUALYS")
        #expect(connection.options == nil)
        connection.options = ["count": 42]
        var other = ConnectionConfig(identifier: "q", vendor: "QUALYS", options: ["count": 42])
        #expect(connection == other && connection.hashValue == other.hashValue)
        other.options = nil
        #expect(connection != other && other == ConnectionConfig(identifier: "q", vendor: "QUALYS"))
    }

    /// Non-secret fields may be literals; `client_id` is an identifier, not a secret.
    @Test(arguments: ["base_url", "aws_region_name", "type", "username", "client_id", "region", "tenant"])
    func nonSecretLiteralsAreAllowed(_ field: String) throws {
        let connection = """
                  - identifier: c
                    vendor: SEMGREP
                    credentials: {\(field): value, api_token: {credential: token}}
            """
        let configuration = try ConfigParser.parse(configYAML(connections: connection), path: "t.yaml")
        let credentials = configuration.organizations.first?.connections.first?.credentials
        #expect(credentials?.member(at: field) == .literal("value"))
    }

    @Test func sameIdentifierInTwoOrganizationsIsAllowed() throws {
        let yaml = configYAML(
            connections: "      - {identifier: gh, vendor: GITHUB, credentials: {token: {file: /a}}}",
            rest: """
                  - id: 7f1b2d9e-5a3c-4e8f-9b6d-2c4a1e0f3b57
                    connections:
                      - {identifier: gh, vendor: GITHUB, credentials: {token: {file: /b}}}
                """)
        let configuration = try ConfigParser.parse(yaml, path: "t.yaml")
        #expect(configuration.organizations.map { $0.connections.map(\.identifier) } == [["gh"], ["gh"]])
    }

    @Test func awsRoleAccessNeedsOnlyItsType() throws {
        let connection = """
                  - identifier: hub
                    vendor: AWS_INSPECTOR2
                    credentials: {aws: {aws_role_arn: "arn:aws:iam::1:role/leen", type: role_chaining}}
            """
        #expect(configIssues(configYAML(connections: connection)) == [])
    }

    /// Anchors and aliases work: one secret reference shared by two connections.
    @Test func aliasesAreResolved() throws {
        let yaml = configYAML(
            connections: """
                      - {identifier: a, vendor: GITHUB, credentials: &shared {token: {credential: gh}}}
                      - {identifier: b, vendor: GITHUB, credentials: *shared}
                """)
        let parsed = try ConfigParser.parseWithPositions(yaml, path: "t.yaml")
        let credentials = parsed.configuration.organizations[0].connections.map(\.credentials)
        #expect(
            credentials == [
                .object(["token": .secret(.credential("gh"))]), .object(["token": .secret(.credential("gh"))]),
            ])
        #expect(parsed.secretReferences.map(\.line) == [3, 7, 7])
    }

    /// Credentials an alias repeats are decoded once: each connection still records its secret references
    /// under its own key path (at the anchor's position), and an issue its vendor raises is its own.
    @Test func aliasedCredentialsAreDecodedOnceAndReportedPerConnection() throws {
        let yaml = configYAML(
            connections: """
                      - {identifier: a, vendor: GITHUB, credentials: &shared {token: {credential: gh}}}
                      - {identifier: b, vendor: GITHUB, credentials: *shared}
                      - {identifier: c, vendor: GITHUB, credentials: *shared}
                """)
        let parsed = try ConfigParser.parseWithPositions(yaml, path: "t.yaml")
        let references = parsed.secretReferences.filter { $0.keyPath.hasPrefix("organizations") }
        #expect(references.map(\.keyPath) == (0..<3).map { "organizations[0].connections[\($0)].credentials.token" })
        #expect(references.allSatisfy { $0.source == .credential("gh") && $0.line == 7 })
        #expect(Set(references.map(\.column)).count == 1)
        let written = try ConfigParser.parseWithPositions(
            configYAML(
                connections: """
                          - {identifier: a, vendor: GITHUB, credentials: {token: {credential: gh}}}
                          - {identifier: b, vendor: GITHUB, credentials: {token: {credential: gh}}}
                          - {identifier: c, vendor: GITHUB, credentials: {token: {credential: gh}}}
                    """), path: "t.yaml")
        #expect(written.configuration == parsed.configuration)
        #expect(written.secretReferences.map(\.keyPath) == parsed.secretReferences.map(\.keyPath))

        // The same credentials for a vendor that needs other fields: reported for that connection.
        let mismatched = configIssues(
            configYAML(
                connections: """
                          - {identifier: a, vendor: GITHUB, credentials: &shared {token: {credential: gh}}}
                          - {identifier: b, vendor: TENABLE, credentials: *shared}
                          - {identifier: c, vendor: GITHUB, credentials: *shared}
                    """))
        #expect(!mismatched.isEmpty)
        #expect(mismatched.allSatisfy { $0.contains("organizations[0].connections[1].credentials") })
    }

    /// Equal credentials, by alias or written out twice, are held once; different ones stay apart. Seen in
    /// the enum's bits: an indirect enum is a reference to its box.
    @Test func equalCredentialTemplatesShareOneCopy() throws {
        let yaml = configYAML(
            connections: """
                      - {identifier: a, vendor: GITHUB, credentials: &shared {token: {credential: gh}}}
                      - {identifier: b, vendor: GITHUB, credentials: *shared}
                      - {identifier: c, vendor: GITHUB, credentials: {token: {credential: gh}}}
                      - {identifier: d, vendor: GITHUB, credentials: {token: {credential: other}}}
                """)
        let configuration = try ConfigParser.parse(yaml, path: "t.yaml")
        let templates = configuration.organizations[0].connections.map { $0.credentials! }
        func bits(_ template: CredentialTemplate) -> [UInt8] { withUnsafeBytes(of: template) { Array($0) } }
        #expect(MemoryLayout<CredentialTemplate>.size == MemoryLayout<UnsafeRawPointer>.size)
        #expect(bits(templates[0]) == bits(templates[1]))
        #expect(bits(templates[0]) == bits(templates[2]))
        #expect(bits(templates[0]) != bits(templates[3]))
        #expect(templates[3] == .object(["token": .secret(.credential("other"))]))
    }

    /// The declared connections are kept for the daemon's life: their array is sized to the list, not grown
    /// by appending (which left room for 128 of 100).
    @Test func connectionListsAreSizedToTheirItems() throws {
        let connections = (1...100).map { "      - {identifier: c\($0), vendor: SNYK}" }.joined(separator: "\n")
        let configuration = try ConfigParser.parse(configYAML(connections: connections), path: "t.yaml")
        let kept = configuration.organizations[0].connections
        #expect(kept.count == 100)
        #expect(kept.capacity < 110, "capacity \(kept.capacity)")
    }

    @Test func snykTakesCredentialsOrNone() {
        let with = "      - {identifier: s, vendor: SNYK, credentials: {base_url: https://app.us.snyk.io}}"
        let without = "      - {identifier: s, vendor: SNYK}"
        #expect(configIssues(configYAML(connections: with)) == [])
        #expect(configIssues(configYAML(connections: without)) == [])
    }

    // MARK: Errors

    /// One broken thing per case: the YAML (built on `configYAML`) and the exact issues.
    static let errorCases: [(String, String, [String])] = [
        // Structure and keys
        ("empty file", "", ["t.yaml:1:1: the file is empty"]),
        ("comments only", "# nothing\n", ["t.yaml:1:1: the file is empty"]),
        ("root is a list", "- a\n- b\n", ["t.yaml:1:1: expected a mapping, found a list"]),
        (
            "missing api and organizations", "poll: {interval: 5s}\n",
            ["t.yaml:1:1: missing required key 'api'", "t.yaml:1:1: missing required key 'organizations'"]
        ),
        (
            "unknown key with suggestion", configYAML(rest: "pol:\n  interval: 5s"),
            ["t.yaml:7:1: unknown key 'pol'; did you mean 'poll'?"]
        ),
        (
            "unknown key without suggestion", configYAML(rest: "colour: red"),
            [
                "t.yaml:7:1: unknown key 'colour'; expected 'api', 'poll', 'state_directory', 'metrics', 'events', "
                    + "'alerting', 'shard' or 'organizations'"
            ]
        ),
        (
            "unknown nested key", configYAML(rest: "poll:\n  intervall: 5s"),
            ["t.yaml:8:3: poll: unknown key 'intervall'; did you mean 'interval'?"]
        ),
        (
            "section of the wrong type", configYAML(rest: "poll: fast"),
            ["t.yaml:7:7: poll: expected a mapping, found 'fast'"]
        ),
        // YAML syntax
        (
            "bad indentation", "api:\n  region: us\n key: x\n",
            ["t.yaml:3:2: invalid YAML: did not find expected key (while parsing a block mapping at line 1, column 1)"]
        ),
        (
            "unclosed flow mapping", "api: {region: us\n",
            [
                "t.yaml:2:1: invalid YAML: did not find expected ',' or '}' "
                    + "(while parsing a flow mapping at line 1, column 6)"
            ]
        ),
        (
            "control character", "api:\n  region: \u{07}\n",
            ["t.yaml:2:11: invalid YAML: control characters are not allowed"]
        ),
        (
            "undefined alias", configYAML(rest: "poll: *defaults"),
            ["t.yaml:7:7: invalid YAML: found undefined alias"]
        ),
        (
            "duplicate key", "api:\n  region: us\n  region: eu\n",
            ["t.yaml:2:3: invalid YAML: key 'region' is given more than once in one mapping"]
        ),
        // api
        (
            "region and base_url", configYAML(api: "api:\n  region: us\n  base_url: http://x/v1\n  key: {file: /k}"),
            ["t.yaml:3:3: api: give either 'region' or 'base_url', not both"]
        ),
        (
            "no endpoint", configYAML(api: "api:\n  key: {file: /k}\n  timeout: 5s"),
            ["t.yaml:2:3: api: missing 'region' or 'base_url' (give one)"]
        ),
        (
            "unknown region", configYAML(api: "api:\n  region: mars\n  key: {file: /k}"),
            ["t.yaml:2:11: api.region: expected 'us', 'eu' or 'apac', found 'mars'"]
        ),
        (
            "region in capitals", configYAML(api: "api:\n  region: US\n  key: {file: /k}"),
            ["t.yaml:2:11: api.region: expected 'us', 'eu' or 'apac', found 'US'; did you mean 'us'?"]
        ),
        (
            "base_url not http", configYAML(api: "api:\n  base_url: ftp://x/v1\n  key: {file: /k}"),
            [
                "t.yaml:2:13: api.base_url: expected an http:// or https:// URL such as http://127.0.0.1:8080/v1, "
                    + "found 'ftp://x/v1'"
            ]
        ),
        (
            "base_url without /v1", configYAML(api: "api:\n  base_url: http://127.0.0.1:8080\n  key: {file: /k}"),
            [
                "t.yaml:2:13: api.base_url: must end with the API version /v1 (e.g. http://127.0.0.1:8080/v1), "
                    + "found 'http://127.0.0.1:8080'"
            ]
        ),
        (
            "missing key", configYAML(api: "api:\n  region: us\n  timeout: 5s"),
            ["t.yaml:2:3: api: missing required key 'key'"]
        ),
        (
            "inline api key", configYAML(api: "api:\n  region: us\n  key: \"lk_live_0123456789\""),
            [
                "t.yaml:3:8: api.key: must come from a file or credential, never be written in the configuration: "
                    + "use {credential: NAME} or {file: PATH}"
            ]
        ),
        (
            "credential and file", configYAML(api: "api:\n  region: us\n  key: {credential: a, file: /b}"),
            ["t.yaml:3:24: api.key: give either 'credential' or 'file', not both"]
        ),
        (
            "file and credential", configYAML(api: "api:\n  region: us\n  key: {file: /b, credential: a}"),
            ["t.yaml:3:19: api.key: give either 'credential' or 'file', not both"]
        ),
        (
            "empty secret reference", configYAML(api: "api:\n  region: us\n  key: {}"),
            ["t.yaml:3:8: api.key: missing 'credential' or 'file' (give one)"]
        ),
        (
            "misspelt secret reference", configYAML(api: "api:\n  region: us\n  key: {path: /k}"),
            [
                "t.yaml:3:8: api.key: missing 'credential' or 'file' (give one)",
                "t.yaml:3:9: api.key: unknown key 'path'; expected 'credential' or 'file'",
            ]
        ),
        (
            "relative secret file", configYAML(api: "api:\n  region: us\n  key: {file: etc/key}"),
            ["t.yaml:3:15: api.key.file: must be an absolute path (starting with /)"]
        ),
        (
            "credential name with a slash", configYAML(api: "api:\n  region: us\n  key: {credential: a/b}"),
            ["t.yaml:3:21: api.key.credential: must be a credential name: a file name, without '/'"]
        ),
        (
            "zero timeout", configYAML(api: "api:\n  region: us\n  key: {file: /k}\n  timeout: 0s"),
            ["t.yaml:4:12: api.timeout: must be greater than zero, found 0s"]
        ),
        (
            "negative timeout", configYAML(api: "api:\n  region: us\n  key: {file: /k}\n  timeout: -5s"),
            ["t.yaml:4:12: api.timeout: must be greater than zero, found -5s"]
        ),
        (
            "timeout not a duration", configYAML(api: "api:\n  region: us\n  key: {file: /k}\n  timeout: soon"),
            ["t.yaml:4:12: api.timeout: expected a duration such as 30s, 5m, 1h30m or 250ms, found 'soon'"]
        ),
        (
            "duration with a space", configYAML(api: "api:\n  region: us\n  key: {file: /k}\n  timeout: 1h 30m"),
            ["t.yaml:4:12: api.timeout: expected a duration such as 30s, 5m, 1h30m or 250ms, found '1h 30m'"]
        ),
        (
            "zero attempts", configYAML(api: "api:\n  region: us\n  key: {file: /k}\n  attempts: 0"),
            ["t.yaml:4:13: api.attempts: must be between 1 and 10, found 0"]
        ),
        (
            "attempts not a number", configYAML(api: "api:\n  region: us\n  key: {file: /k}\n  attempts: 2.5"),
            ["t.yaml:4:13: api.attempts: expected a whole number, found '2.5'"]
        ),
        // poll
        (
            "zero interval", configYAML(rest: "poll:\n  interval: 0"),
            ["t.yaml:8:13: poll.interval: must be greater than zero, found 0"]
        ),
        (
            "zero max_backoff", configYAML(rest: "poll:\n  max_backoff: 0ms"),
            ["t.yaml:8:16: poll.max_backoff: must be greater than zero, found 0ms"]
        ),
        (
            "jitter too large", configYAML(rest: "poll:\n  jitter: 60%"),
            ["t.yaml:8:11: poll.jitter: must be between 0 and 0.5 (50%), found 60%"]
        ),
        (
            "jitter as a bare percentage", configYAML(rest: "poll:\n  jitter: 10"),
            ["t.yaml:8:11: poll.jitter: must be between 0 and 0.5 (50%), found 10; write 10% for a percentage"]
        ),
        (
            "negative jitter", configYAML(rest: "poll:\n  jitter: -0.1"),
            ["t.yaml:8:11: poll.jitter: must be between 0 and 0.5 (50%), found -0.1"]
        ),
        (
            "jitter not a number", configYAML(rest: "poll:\n  jitter: some"),
            ["t.yaml:8:11: poll.jitter: expected a fraction such as 0.1 or a percentage such as 10%, found 'some'"]
        ),
        (
            "zero concurrency", configYAML(rest: "poll:\n  concurrency: 0"),
            ["t.yaml:8:16: poll.concurrency: must be at least 1, found 0"]
        ),
        (
            "page_size too large", configYAML(rest: "poll:\n  page_size: 1001"),
            ["t.yaml:8:14: poll.page_size: must be between 1 and 1000, found 1001"]
        ),
        (
            "page_size zero", configYAML(rest: "poll:\n  page_size: 0"),
            ["t.yaml:8:14: poll.page_size: must be between 1 and 1000, found 0"]
        ),
        (
            "unknown pagination", configYAML(rest: "poll:\n  pagination: pages"),
            ["t.yaml:8:15: poll.pagination: expected 'offset' or 'cursor', found 'pages'"]
        ),
        // state_directory, metrics, events
        (
            "relative state_directory", configYAML(rest: "state_directory: var/lib/leen"),
            ["t.yaml:7:18: state_directory: must be an absolute path (starting with /)"]
        ),
        (
            "listen without port", configYAML(rest: "metrics:\n  listen: localhost"),
            ["t.yaml:8:11: metrics.listen: expected HOST:PORT such as 127.0.0.1:9464, or off, found 'localhost'"]
        ),
        (
            "listen without host", configYAML(rest: "metrics:\n  listen: :9464"),
            ["t.yaml:8:11: metrics.listen: expected HOST:PORT such as 127.0.0.1:9464, or off, found ':9464'"]
        ),
        (
            "listen port out of range", configYAML(rest: "metrics:\n  listen: 127.0.0.1:70000"),
            ["t.yaml:8:11: metrics.listen: port must be between 1 and 65535, found 70000"]
        ),
        (
            "listen on", configYAML(rest: "metrics:\n  listen: on"),
            ["t.yaml:8:11: metrics.listen: expected HOST:PORT such as 127.0.0.1:9464, or off, found 'on'"]
        ),
        (
            "unknown stderr_format", configYAML(rest: "events:\n  stderr_format: xml"),
            ["t.yaml:8:18: events.stderr_format: expected 'logfmt' or 'json', found 'xml'"]
        ),
        // organizations
        (
            "no organizations", "api:\n  region: us\n  key: {file: /k}\norganizations: []\n",
            ["t.yaml:4:16: organizations: must list at least one organization"]
        ),
        (
            "organizations not a list", "api:\n  region: us\n  key: {file: /k}\norganizations: acme\n",
            ["t.yaml:4:16: organizations: expected a list, found 'acme'"]
        ),
        (
            "organization without id", "api:\n  region: us\n  key: {file: /k}\norganizations:\n  - name: Acme\n",
            ["t.yaml:5:5: organizations[0]: missing required key 'id'"]
        ),
        (
            "organization id not a UUID", "api:\n  region: us\n  key: {file: /k}\norganizations:\n  - id: acme\n",
            [
                "t.yaml:5:9: organizations[0].id: must be a UUID such as 3c90c3cc-0d44-4b50-8888-8dd25736052a, "
                    + "found 'acme'"
            ]
        ),
        (
            "duplicate organization id (other case)",
            configYAML(rest: "  - id: 3C90C3CC-0D44-4B50-8888-8DD25736052A"),
            [
                "t.yaml:7:9: organizations[1].id: organization 3c90c3cc-0d44-4b50-8888-8dd25736052a is already "
                    + "declared at organizations[0] (line 5)"
            ]
        ),
        (
            "empty organization name", configYAML(rest: "    name: ''"),
            ["t.yaml:7:11: organizations[0].name: must not be empty"]
        ),
        // connections
        (
            "connections not a list", configYAML(connections: "      tenable"),
            ["t.yaml:7:7: organizations[0].connections: expected a list, found 'tenable'"]
        ),
        (
            "duplicate identifier in an organization",
            configYAML(
                connections: """
                          - {identifier: gh, vendor: GITHUB, credentials: {token: {file: /a}}}
                          - {identifier: gh, vendor: GITLAB, credentials: {token: {file: /b}}}
                    """),
            [
                "t.yaml:8:22: organizations[0].connections[1].identifier: 'gh' is already the identifier of "
                    + "organizations[0].connections[0] (line 7); identifiers must be unique within an organization"
            ]
        ),
        (
            "missing identifier and vendor", configYAML(connections: "      - credentials: {token: {file: /a}}"),
            [
                "t.yaml:7:9: organizations[0].connections[0]: missing required key 'identifier'",
                "t.yaml:7:9: organizations[0].connections[0]: missing required key 'vendor'",
            ]
        ),
        (
            "unknown connection key", configYAML(connections: "      - {identifier: e, vendr: MS_ENTRA}"),
            [
                "t.yaml:7:9: organizations[0].connections[0]: missing required key 'vendor'",
                "t.yaml:7:25: organizations[0].connections[0]: unknown key 'vendr'; did you mean 'vendor'?",
            ]
        ),
        (
            "empty identifier", configYAML(connections: "      - {identifier: '', vendor: MS_ENTRA}"),
            ["t.yaml:7:22: organizations[0].connections[0].identifier: must not be empty"]
        ),
        (
            "identifier with a newline", configYAML(connections: "      - {identifier: \"a\\nb\", vendor: MS_ENTRA}"),
            [
                "t.yaml:7:22: organizations[0].connections[0].identifier: must be at most 255 characters, without "
                    + "control characters or surrounding spaces"
            ]
        ),
        (
            "connection not a mapping", configYAML(connections: "      - tenable"),
            ["t.yaml:7:9: organizations[0].connections[0]: expected a mapping, found 'tenable'"]
        ),
        (
            "misspelt vendor", configYAML(connections: "      - {identifier: t, vendor: TENABEL}"),
            ["t.yaml:7:33: organizations[0].connections[0].vendor: unknown vendor 'TENABEL'; did you mean 'TENABLE'?"]
        ),
        (
            "vendor in lower case", configYAML(connections: "      - {identifier: e, vendor: ms_entra}"),
            [
                "t.yaml:7:33: organizations[0].connections[0].vendor: unknown vendor 'ms_entra'; "
                    + "did you mean 'MS_ENTRA'?"
            ]
        ),
        (
            "unknown vendor", configYAML(connections: "      - {identifier: p, vendor: PROCESSUNITY}"),
            [
                "t.yaml:7:33: organizations[0].connections[0].vendor: unknown vendor 'PROCESSUNITY'; expected one of "
                    + Vendor.documentedValues.map(\.rawValue).joined(separator: ", ")
            ]
        ),
        (
            "credentials missing for a credentials vendor",
            configYAML(connections: "      - {identifier: t, vendor: TENABLE}"),
            [
                "t.yaml:7:9: organizations[0].connections[0]: missing required key 'credentials' "
                    + "(TENABLE connections are created with credentials)"
            ]
        ),
        (
            "empty credentials", configYAML(connections: "      - {identifier: t, vendor: TENABLE, credentials: {}}"),
            [
                "t.yaml:7:55: organizations[0].connections[0].credentials: must not be empty "
                    + "(TENABLE connections are created with credentials)"
            ]
        ),
        (
            "credentials for an OAuth vendor",
            configYAML(connections: "      - {identifier: e, vendor: MS_ENTRA, credentials: {token: {file: /t}}}"),
            [
                "t.yaml:7:43: organizations[0].connections[0].credentials: MS_ENTRA connects through OAuth2 and takes "
                    + "no credentials: remove them (an administrator grants access at the connection's "
                    + "oauth2_authorize_url)"
            ]
        ),
        (
            "inline secret credential",
            configYAML(
                connections: "      - {identifier: t, vendor: TENABLE, credentials: "
                    + "{client_key: {file: /c}, secret_key: s3cr3t}}"),
            [
                "t.yaml:7:92: organizations[0].connections[0].credentials.secret_key: must come from a file or "
                    + "credential, never be written in the configuration: use {credential: NAME} or {file: PATH}"
            ]
        ),
        (
            "missing documented field",
            configYAML(connections: "      - {identifier: t, vendor: TENABLE, credentials: {client_key: {file: /c}}}"),
            [
                "t.yaml:7:55: organizations[0].connections[0].credentials: missing field 'secret_key', which TENABLE "
                    + "requires"
            ]
        ),
        (
            "missing nested AWS field",
            configYAML(
                connections: """
                          - identifier: a
                            vendor: AWS_INSPECTOR2
                            credentials:
                              aws:
                                aws_access_key_id: {file: /id}
                                aws_secret_access_key: {file: /secret}
                    """),
            [
                "t.yaml:11:13: organizations[0].connections[0].credentials.aws: missing field 'aws.type', which "
                    + "AWS_INSPECTOR2 requires"
            ]
        ),
        (
            "whole credentials from one file",
            configYAML(connections: "      - {identifier: t, vendor: TENABLE, credentials: {file: /creds.json}}"),
            [
                "t.yaml:7:55: organizations[0].connections[0].credentials: expected a mapping of credential fields, "
                    + "each from a file or credential (such as client_key: {file: PATH}), found a single secret "
                    + "reference"
            ]
        ),
        (
            "secret reference with an extra key",
            configYAML(
                connections: "      - {identifier: g, vendor: GITHUB, credentials: {token: {file: /t, mode: 600}}}"),
            [
                "t.yaml:7:73: organizations[0].connections[0].credentials.token: unknown key 'mode'; expected "
                    + "'credential' or 'file'"
            ]
        ),
        (
            "options not a mapping", configYAML(connections: "      - {identifier: e, vendor: MS_ENTRA, options: [a]}"),
            ["t.yaml:7:52: organizations[0].connections[0].options: expected a mapping, found a list"]
        ),
        (
            "bad redirect URLs",
            configYAML(
                connections: "      - {identifier: e, vendor: MS_ENTRA, options: {oauth2_redirect_urls: {success: ok}}}"
            ),
            [
                "t.yaml:7:75: organizations[0].connections[0].options.oauth2_redirect_urls: missing required key "
                    + "'error'",
                "t.yaml:7:85: organizations[0].connections[0].options.oauth2_redirect_urls.success: expected an "
                    + "http:// or https:// URL, found 'ok'",
            ]
        ),
    ]

    @Test(arguments: errorCases)
    func reportsError(_ name: String, _ yaml: String, _ expected: [String]) {
        #expect(configIssues(yaml) == expected, "\(name)")
    }

    @Test func everyErrorIsReportedInFileOrder() {
        let yaml = """
            api:
              region: mars
              key: secret-value
            poll:
              interval: 0s
              jitter: 90%
              page_sise: 10
            metrics:
              listen: nowhere
            organizations:
              - id: 3c90c3cc-0d44-4b50-8888-8dd25736052a
                connections:
                  - {identifier: t, vendor: TENABLE}
                  - {identifier: t, vendor: MS_ENTRA, credentials: {token: {file: /t}}}
              - id: 3c90c3cc-0d44-4b50-8888-8dd25736052a
            """
        #expect(
            configIssues(yaml) == [
                "t.yaml:2:11: api.region: expected 'us', 'eu' or 'apac', found 'mars'",
                "t.yaml:3:8: api.key: must come from a file or credential, never be written in the configuration: "
                    + "use {credential: NAME} or {file: PATH}",
                "t.yaml:5:13: poll.interval: must be greater than zero, found 0s",
                "t.yaml:6:11: poll.jitter: must be between 0 and 0.5 (50%), found 90%",
                "t.yaml:7:3: poll: unknown key 'page_sise'; did you mean 'page_size'?",
                "t.yaml:9:11: metrics.listen: expected HOST:PORT such as 127.0.0.1:9464, or off, found 'nowhere'",
                "t.yaml:13:9: organizations[0].connections[0]: missing required key 'credentials' "
                    + "(TENABLE connections are created with credentials)",
                "t.yaml:14:22: organizations[0].connections[1].identifier: 't' is already the identifier of "
                    + "organizations[0].connections[0] (line 13); identifiers must be unique within an organization",
                "t.yaml:14:43: organizations[0].connections[1].credentials: MS_ENTRA connects through OAuth2 and "
                    + "takes no credentials: remove them (an administrator grants access at the connection's "
                    + "oauth2_authorize_url)",
                "t.yaml:15:9: organizations[1].id: organization 3c90c3cc-0d44-4b50-8888-8dd25736052a is already "
                    + "declared at organizations[0] (line 11)",
            ])
    }

    /// A secret written in the file is never repeated in an error.
    @Test func inlineSecretsAreNotEchoed() {
        let yaml = configYAML(
            api: "api:\n  region: us\n  key: hunter2-api",
            connections: "      - {identifier: q, vendor: QUALYS, credentials: {username: u, password: hunter2-pw}}")
        let issues = configIssues(yaml)
        #expect(issues.count == 2)
        #expect(!issues.joined().contains("hunter2"))
    }

    @Test func issueDescriptions() {
        #expect(ConfigIssue(path: "a.yaml", line: 3, column: 7, message: "bad").description == "a.yaml:3:7: bad")
        #expect(
            ConfigIssue(path: "a.yaml", line: 0, column: 0, message: "unreadable").description == "a.yaml: unreadable")
        let errors = ConfigErrors(issues: [
            ConfigIssue(path: "a", line: 1, column: 2, message: "x"),
            ConfigIssue(path: "a", line: 3, column: 4, message: "y"),
        ])
        #expect(errors.description == "a:1:2: x\na:3:4: y")
    }

    @Test(
        arguments: [
            ("intervall", ["interval", "jitter"], "interval"), ("TENABEL", ["TENABLE", "QUALYS"], "TENABLE"),
            ("pol", ["poll", "api"], "poll"), ("colour", ["api", "poll"], nil), ("k", ["key"], nil),
        ] as [(String, [String], String?)])
    func suggestions(_ name: String, _ known: [String], _ expected: String?) {
        #expect(ConfigContext.closest(to: name, among: known) == expected)
    }

    // MARK: Inputs that trapped (Fuzz/, docs/reliability.md)

    /// A whole part just below the limit plus a fraction overflowed Int64 when the two were added.
    @Test(arguments: ["9223372036.9s", "106751.99999d", "2562047h47m16.9s", "9223372036854.9ms"])
    func durationFractionOverflow(_ text: String) {
        #expect(
            configIssues(configYAML(rest: "poll:\n  interval: \(text)"))
                == ["t.yaml:8:13: poll.interval: expected a duration such as 30s, 5m, 1h30m or 250ms, found '\(text)'"])
    }
}
