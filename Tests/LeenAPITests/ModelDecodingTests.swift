import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import LeenAPI
@testable import LeenAPIClient

// MARK: - Fixture helpers

/// Loads the JSON fixtures copied into the test bundle (`resources: [.copy("Fixtures")]`).
enum Fixture {
    /// Every fixture this file expects; `allFixturesAreListed` keeps it in step with the directory.
    static let all: [String] = [
        "connection-create-current", "connection-create-oldest", "connection-get", "connection-demo-mock",
        "connection-unknown-values", "health-healthy", "health-unauthorized", "page-offset",
        "page-offset-no-total", "page-cursor", "page-cursor-minimal", "page-organizations", "organization",
        "validation-error-v1", "validation-error-v2", "validation-error-index", "error-401",
        "test-credentials-valid", "test-credentials-invalid", "request-create-ms-entra", "request-create-tenable",
        "request-create-aws-inspector2", "request-create-ms-defender-vms",
    ]

    static func url(_ name: String) throws -> URL {
        try #require(
            Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"),
            "fixture \(name).json is not in the test bundle")
    }

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: url(name))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try JSONDecoder().decode(T.self, from: data(name))
    }

    static func json(_ name: String) throws -> JSONValue {
        try decode(JSONValue.self, name)
    }
}

fileprivate extension JSONValue {
    /// The value with every object member whose value is `null` removed, at any depth.
    var strippingNulls: JSONValue {
        switch self {
        case .object(let members):
            .object(members.filter { $0.value != .null }.mapValues(\.strippingNulls))
        case .array(let elements):
            .array(elements.map(\.strippingNulls))
        default:
            self
        }
    }

    /// The value with the named object members removed, at any depth.
    func removingMembers(_ keys: Set<String>) -> JSONValue {
        switch self {
        case .object(let members):
            .object(members.filter { !keys.contains($0.key) }.mapValues { $0.removingMembers(keys) })
        case .array(let elements):
            .array(elements.map { $0.removingMembers(keys) })
        default:
            self
        }
    }

    subscript(index: Int) -> JSONValue? {
        if case .array(let a) = self, a.indices.contains(index) { return a[index] }
        return nil
    }
}

private func compactString(_ value: some Encodable) throws -> String {
    String(decoding: try JSONEncoder.compact.encode(value), as: UTF8.self)
}

private func samePage<Item: Equatable>(_ a: Page<Item>, _ b: Page<Item>) -> Bool {
    a.items == b.items && a.count == b.count && a.total == b.total && a.nextCursor == b.nextCursor
        && a.previousCursor == b.previousCursor && a.isCursorPage == b.isCursorPage
}

// MARK: - Every fixture

/// One fixture, the model it decodes into, and the members the model deliberately does not keep.
struct RoundTripCase: Sendable, CustomTestStringConvertible {
    let fixture: String
    /// Members (at any depth) the model ignores: unknown fields, pydantic v2 `input`/`ctx`.
    let ignored: Set<String>
    /// Decodes the fixture, re-encodes it with `encoder`, decodes that, and says whether both decodes agree.
    let roundTrip: @Sendable (Data, JSONEncoder) throws -> (reencoded: Data, equal: Bool)

    var testDescription: String { fixture }

    static func of<T: Codable & Equatable & Sendable>(_ fixture: String, _ type: T.Type, ignoring: Set<String> = []) -> Self {
        RoundTripCase(fixture: fixture, ignored: ignoring) { data, encoder in
            let first = try JSONDecoder().decode(T.self, from: data)
            let reencoded = try encoder.encode(first)
            let second = try JSONDecoder().decode(T.self, from: reencoded)
            return (reencoded, first == second)
        }
    }

    static func page<Item: Codable & Equatable & Sendable>(_ fixture: String, of item: Item.Type) -> Self {
        RoundTripCase(fixture: fixture, ignored: []) { data, encoder in
            let first = try JSONDecoder().decode(Page<Item>.self, from: data)
            let reencoded = try encoder.encode(first)
            let second = try JSONDecoder().decode(Page<Item>.self, from: reencoded)
            return (reencoded, samePage(first, second))
        }
    }

    static let all: [RoundTripCase] = [
        .of("connection-create-current", Connection.self),
        .of("connection-create-oldest", Connection.self),
        .of("connection-get", Connection.self),
        .of("connection-demo-mock", Connection.self, ignoring: ["api_credentials"]),
        .of("connection-unknown-values", Connection.self, ignoring: ["environment_id"]),
        .of("health-healthy", ConnectionHealthStatus.self),
        .of("health-unauthorized", ConnectionHealthStatus.self),
        .page("page-offset", of: Connection.self),
        .page("page-offset-no-total", of: Connection.self),
        .page("page-cursor", of: Connection.self),
        .page("page-cursor-minimal", of: Connection.self),
        .page("page-organizations", of: Organization.self),
        .of("organization", Organization.self),
        .of("validation-error-v1", HTTPValidationError.self),
        .of("validation-error-v2", HTTPValidationError.self, ignoring: ["input", "ctx"]),
        .of("validation-error-index", HTTPValidationError.self),
        .of("error-401", JSONValue.self),
        .of("test-credentials-valid", ConnectionTestResult.self),
        .of("test-credentials-invalid", ConnectionTestResult.self),
        .of("request-create-ms-entra", CreateConnectionRequest.self),
        .of("request-create-tenable", CreateConnectionRequest.self),
        .of("request-create-aws-inspector2", CreateConnectionRequest.self),
        .of("request-create-ms-defender-vms", CreateConnectionRequest.self),
    ]
}

@Suite("Fixtures round-trip")
struct FixtureRoundTripTests {
    @Test func allFixturesAreListed() throws {
        let directory = try Fixture.url("organization").deletingLastPathComponent()
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        let names = Set(files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(".json".count)) })
        #expect(files.allSatisfy { $0.hasSuffix(".json") }, "stray files: \(files)")
        #expect(names == Set(Fixture.all))
        #expect(Set(RoundTripCase.all.map(\.fixture)) == Set(Fixture.all))
        #expect(RoundTripCase.all.count == Fixture.all.count)
    }

    @Test(arguments: RoundTripCase.all, EncoderKind.allCases)
    func decodeEncodeDecodeIsLossless(_ testCase: RoundTripCase, encoder: EncoderKind) throws {
        let data = try Fixture.data(testCase.fixture)
        let (reencoded, equal) = try testCase.roundTrip(data, encoder.encoder)
        #expect(equal, "decode → encode → decode changed \(testCase.fixture)")

        // Everything the model knows about is written back with the same JSON value; only nulls may be
        // added (nullable fields the API always sends) and ignored members dropped.
        let original = try JSONDecoder().decode(JSONValue.self, from: data)
        let written = try JSONDecoder().decode(JSONValue.self, from: reencoded)
        #expect(written.strippingNulls == original.removingMembers(testCase.ignored).strippingNulls)
    }
}

/// The encoders a model must round-trip through: leen-healthd's compact one and a plain `JSONEncoder()`
/// (what ``LeenClient`` sends bodies with).
enum EncoderKind: String, Sendable, CaseIterable {
    case compact, plain

    var encoder: JSONEncoder { self == .compact ? JSONEncoder.compact : JSONEncoder() }
}

// MARK: - Connections

@Suite("Connection decoding")
struct ConnectionDecodingTests {
    @Test func currentCreateResponse() throws {
        let c = try Fixture.decode(Connection.self, "connection-create-current")
        #expect(c.id == "3c90c3cc-0d44-4b50-8888-8dd25736052a")
        #expect(c.id.rawValue == "3c90c3cc-0d44-4b50-8888-8dd25736052a")
        #expect(c.vendor == .msEntra)
        #expect(c.vendor.isDocumented)
        #expect(c.isActive == true)
        #expect(c.refreshIntervalSecs == 14400)
        #expect(c.timeoutSecs == 1800)
        #expect(c.organizationID == OrganizationID("5d2f4c1e-8a7b-4c3d-9e0f-1a2b3c4d5e6f"))
        #expect(c.state == .pending)
        #expect(
            c.oauth2AuthorizeURL
                == "https://login.microsoftonline.com/organizations/adminconsent?client_id=8a1b2c3d-0000-4000-8000-000000000001&state=3c90c3cc-0d44-4b50-8888-8dd25736052a"
        )
        #expect(c.identifier == "acme-ms-entra")
        #expect(c.createdAt?.rawValue == "2023-11-07T05:31:56Z")
        #expect(c.createdAt?.date == Date(timeIntervalSince1970: 1_699_335_116))
        #expect(c.updatedAt?.rawValue == "2023-11-07T05:31:56Z")
        #expect(c.health == nil)
        #expect(c.organizationName == nil)
        #expect(c.direction == nil)
    }

    @Test func oldestReducedCreateResponse() throws {
        let c = try Fixture.decode(Connection.self, "connection-create-oldest")
        #expect(c.id == "3c90c3cc-0d44-4b50-8888-8dd25736052a")
        #expect(c.vendor == .tenable)
        #expect(c.refreshIntervalSecs == 14400)
        #expect(c.timeoutSecs == 1800)
        #expect(c.organizationID == "5d2f4c1e-8a7b-4c3d-9e0f-1a2b3c4d5e6f")
        #expect(c.oauth2AuthorizeURL == nil)
        #expect(c.identifier == "acme-tenable")
        // Absent from the oldest response: decoded as nil rather than failing.
        #expect(c.isActive == nil)
        #expect(c.state == nil)
        #expect(c.createdAt == nil)
        #expect(c.updatedAt == nil)
        #expect(c.health == nil)
    }

    @Test func oldestResponseEncodesOnlyWhatItHas() throws {
        let c = try Fixture.decode(Connection.self, "connection-create-oldest")
        let json = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder.compact.encode(c))
        let object = try #require(json.objectValue)
        // Nullable fields are always written (as null when empty); unknown-era optional fields are omitted.
        #expect(
            Set(object.keys) == [
                "id", "vendor", "refresh_interval_secs", "timeout_secs", "organization_id", "oauth2_authorize_url",
                "identifier", "health",
            ])
        #expect(object["oauth2_authorize_url"] == .null)
        #expect(object["health"] == .null)
        #expect(object["identifier"] == .string("acme-tenable"))
    }

    @Test func getConnectionWithOrganizationNameAndHealth() throws {
        let c = try Fixture.decode(Connection.self, "connection-get")
        #expect(c.organizationName == "Acme Corp")
        #expect(c.vendor == .snyk)
        #expect(c.state == .active)
        #expect(c.isActive == true)
        #expect(c.updatedAt?.rawValue == "2023-11-07T09:31:56Z")
        let health = try #require(c.health)
        #expect(health.name == .healthy)
        #expect(health.status == .healthy)
        #expect(health.resolutionOwner == .leen)
        #expect(health.description == "Connection is healthy")
        #expect(health.details == nil)
        #expect(health == ConnectionHealthStatus(documented: .healthy))
    }

    @Test func leenDemoMockWithDirectionAndAPICredentials() throws {
        let c = try Fixture.decode(Connection.self, "connection-demo-mock")
        #expect(c.id == "7b1e6a52-3f0d-4c8e-9a21-5d4b8c7e6f10")
        #expect(c.vendor == .crowdStrike)
        #expect(c.isActive == true)
        #expect(c.timeoutSecs == 3600)
        #expect(c.direction == .source)
        #expect(c.direction?.isDocumented == true)
        #expect(c.identifier == "demo-crowdstrike")
        // The mock has no state, timestamps or health.
        #expect(c.state == nil)
        #expect(c.createdAt == nil)
        #expect(c.health == nil)
        // `api_credentials` is not modelled and must not be written back.
        #expect(try !compactString(c).contains("api_credentials"))
    }

    @Test func unknownValuesArePreservedVerbatim() throws {
        let c = try Fixture.decode(Connection.self, "connection-unknown-values")
        #expect(c.id.rawValue == "9F1E2D3C-4B5A-4697-8877-665544332211")  // no case folding
        #expect(c.vendor.rawValue == "PROCESSUNITY")
        #expect(!c.vendor.isDocumented)
        #expect(c.vendor != .tenable)
        #expect(c.state?.rawValue == "ARCHIVED")
        #expect(c.state?.isDocumented == false)
        #expect(c.direction?.rawValue == "PUSH_DESTINATION")
        #expect(c.direction?.isDocumented == false)
        let health = try #require(c.health)
        #expect(health.name.rawValue == "PARTIAL_DATA_ACCESS")
        #expect(!health.name.isDocumented)
        #expect(health.name.documented == nil)
        #expect(health.status.rawValue == "DEGRADED")
        #expect(!health.status.isDocumented)
        #expect(health.resolutionOwner.rawValue == "PARTNER")
        #expect(!health.resolutionOwner.isDocumented)
        #expect(health.description == "Some export types could not be read")
        let details = try #require(health.details)
        #expect(details.count == 2)
        #expect(details[0].endpoint == "/v1/vulnerabilities")
        #expect(details[0].dataExportType.rawValue == "vulnerabilities")
        #expect(!details[0].dataExportType.isDocumented)
        #expect(details[1].dataExportType == .alerts)
        #expect(details[1].dataExportType.isDocumented)
        // `+00:00` and fractional-second timestamps parse and keep their spelling.
        #expect(c.createdAt?.rawValue == "2024-02-29T12:00:00+00:00")
        #expect(c.createdAt?.date == Date(timeIntervalSince1970: 1_709_208_000))
        #expect(c.updatedAt?.rawValue == "2024-03-01T08:15:30.123456Z")
        let updated = try #require(c.updatedAt?.date)
        #expect(abs(updated.timeIntervalSince1970 - 1_709_280_930.123456) < 0.001)
    }

    @Test func unknownValuesReencodeByteExact() throws {
        let c = try Fixture.decode(Connection.self, "connection-unknown-values")
        let text = try compactString(c)
        for fragment in [
            #""id":"9F1E2D3C-4B5A-4697-8877-665544332211""#,
            #""vendor":"PROCESSUNITY""#,
            #""state":"ARCHIVED""#,
            #""direction":"PUSH_DESTINATION""#,
            #""created_at":"2024-02-29T12:00:00+00:00""#,
            #""updated_at":"2024-03-01T08:15:30.123456Z""#,
            #""name":"PARTIAL_DATA_ACCESS""#,
            #""status":"DEGRADED""#,
            #""resolution_owner":"PARTNER""#,
            #""data_export_type":"vulnerabilities""#,
        ] {
            #expect(text.contains(fragment), "missing \(fragment) in \(text)")
        }
        #expect(!text.contains("environment_id"))
    }

    @Test func authorizeURLReencodesByteExact() throws {
        let c = try Fixture.decode(Connection.self, "connection-create-current")
        let text = try compactString(c)
        #expect(
            text.contains(
                #""oauth2_authorize_url":"https://login.microsoftonline.com/organizations/adminconsent?client_id=8a1b2c3d-0000-4000-8000-000000000001&state=3c90c3cc-0d44-4b50-8888-8dd25736052a""#
            ))
        #expect(text.contains(#""organization_id":"5d2f4c1e-8a7b-4c3d-9e0f-1a2b3c4d5e6f""#))
        #expect(text.contains(#""created_at":"2023-11-07T05:31:56Z""#))
        #expect(text.contains(#""health":null"#))
    }

    @Test func healthNullVersusPresent() throws {
        let withNull = try Fixture.decode(Connection.self, "connection-create-current")
        let withHealth = try Fixture.decode(Connection.self, "connection-get")
        #expect(withNull.health == nil)
        #expect(withHealth.health != nil)
        // A missing `health` key decodes like an explicit null.
        let missing = try Fixture.decode(Connection.self, "connection-demo-mock")
        #expect(missing.health == nil)
    }

    @Test func missingRequiredFieldFails() throws {
        let json = #"{"id":"x","vendor":"TENABLE","timeout_secs":1800,"organization_id":"o"}"#
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Connection.self, from: Data(json.utf8))
        }
    }

    @Test func unparseableTimestampDoesNotFailDecoding() throws {
        let json = #"""
            {"id":"x","vendor":"TENABLE","refresh_interval_secs":1,"timeout_secs":2,"organization_id":"o",
             "created_at":"yesterday at noon"}
            """#
        let c = try JSONDecoder().decode(Connection.self, from: Data(json.utf8))
        #expect(c.createdAt?.rawValue == "yesterday at noon")
        #expect(c.createdAt?.date == nil)
        #expect(try compactString(c).contains(#""created_at":"yesterday at noon""#))
    }

    @Test func memberwiseConnectionEncodesLikeTheAPI() throws {
        let c = Connection(
            id: "c1", vendor: .qualys, isActive: false, refreshIntervalSecs: 14400, timeoutSecs: 1800,
            organizationID: "o1", state: .paused)
        #expect(
            try compactString(c)
                == #"{"health":null,"id":"c1","identifier":null,"is_active":false,"oauth2_authorize_url":null,"organization_id":"o1","refresh_interval_secs":14400,"state":"PAUSED","timeout_secs":1800,"vendor":"QUALYS"}"#
        )
    }
}

// MARK: - Health

struct HealthRow: Sendable, CustomTestStringConvertible {
    let name: String
    let status: String
    let owner: String
    let description: String
    var testDescription: String { name }
}

@Suite("Connection health")
struct HealthTests {
    /// The Connection Health page's table, copied from CONTRACT.md §3.2.
    static let contractTable: [HealthRow] = [
        HealthRow(name: "HEALTHY", status: "HEALTHY", owner: "LEEN", description: "Connection is healthy"),
        HealthRow(name: "EXECUTION_TIMEOUT", status: "UNHEALTHY", owner: "LEEN", description: "Execution timeout"),
        HealthRow(name: "RATE_LIMIT_EXCEEDED", status: "UNHEALTHY", owner: "LEEN", description: "Rate limit exceeded"),
        HealthRow(
            name: "VENDOR_CLIENT_ERROR", status: "UNHEALTHY", owner: "LEEN",
            description: "Vendor returned a 4xx client error"),
        HealthRow(name: "INTERNAL_ERROR", status: "UNHEALTHY", owner: "LEEN", description: "Internal error"),
        HealthRow(
            name: "VENDOR_SERVER_ERROR", status: "UNHEALTHY", owner: "VENDOR",
            description: "Vendor returned a 5xx server error"),
        HealthRow(
            name: "UNAUTHORIZED", status: "UNHEALTHY", owner: "CUSTOMER", description: "Connection is unauthorized"),
    ]

    @Test(arguments: contractTable)
    func documentedRowMatchesContract(_ row: HealthRow) throws {
        let name = HealthName(rawValue: row.name)
        #expect(name.isDocumented)
        let documented = try #require(name.documented)
        #expect(documented.status.rawValue == row.status)
        #expect(documented.resolutionOwner.rawValue == row.owner)
        #expect(documented.description == row.description)

        let health = try #require(ConnectionHealthStatus(documented: name))
        #expect(health.name == name)
        #expect(health.status.rawValue == row.status)
        #expect(health.resolutionOwner.rawValue == row.owner)
        #expect(health.description == row.description)
        #expect(health.details == nil)
    }

    @Test func documentedValuesAreExactlyTheTableInOrder() {
        #expect(HealthName.documentedValues.map(\.rawValue) == Self.contractTable.map(\.name))
        #expect(HealthName.documentedValues.allSatisfy { $0.documented != nil })
    }

    @Test func otherDocumentedEnumerations() {
        #expect(HealthStatus.documentedValues.map(\.rawValue) == ["HEALTHY", "UNHEALTHY"])
        #expect(ResolutionOwner.documentedValues.map(\.rawValue) == ["LEEN", "CUSTOMER", "VENDOR"])
        #expect(ConnectionState.documentedValues.map(\.rawValue) == ["PENDING", "ACTIVE", "PAUSED", "DELETED"])
        #expect(DataExportType.documentedValues.map(\.rawValue) == ["alerts"])
        #expect(ConnectionDirection.documentedValues.map(\.rawValue) == ["SOURCE", "PULL_DESTINATION"])
    }

    /// A decoded documented value longer than Swift's inline strings shares its constant's storage; others
    /// keep their own spelling.
    @Test func longDocumentedValuesShareTheirConstantsString() throws {
        func storage(_ text: String) -> UnsafeRawPointer? {
            var text = text
            return text.withUTF8 { UnsafeRawPointer($0.baseAddress) }
        }
        func decoded<T: OpenEnumeration>(_ type: T.Type, _ raw: String) throws -> T {
            try JSONDecoder().decode(T.self, from: Data("\"\(raw)\"".utf8))
        }
        let name = try decoded(HealthName.self, "RATE_LIMIT_EXCEEDED")
        #expect(name == .rateLimitExceeded && storage(name.rawValue) == storage(HealthName.rateLimitExceeded.rawValue))
        let vendor = try decoded(Vendor.self, "MS_DEFENDER_VMS_GCC_HIGH")
        #expect(vendor == .msDefenderVMSGCCHigh && storage(vendor.rawValue) == storage(Vendor.msDefenderVMSGCCHigh.rawValue))
        let undocumented = try decoded(HealthName.self, "PARTIAL_DATA_ACCESS_DENIED")
        #expect(undocumented.rawValue == "PARTIAL_DATA_ACCESS_DENIED" && !undocumented.isDocumented)
        #expect(try decoded(ResolutionOwner.self, "CUSTOMER") == .customer)
    }

    @Test func undocumentedNameHasNoRow() {
        #expect(HealthName(rawValue: "PARTIAL_DATA_ACCESS").documented == nil)
        #expect(HealthName(rawValue: "healthy").documented == nil)  // case-sensitive
        #expect(ConnectionHealthStatus(documented: "PARTIAL_DATA_ACCESS") == nil)
    }

    @Test func healthyFixtureHasNullDetails() throws {
        let h = try Fixture.decode(ConnectionHealthStatus.self, "health-healthy")
        #expect(h.name == .healthy)
        #expect(h.status == .healthy)
        #expect(h.resolutionOwner == .leen)
        #expect(h.description == "Connection is healthy")
        #expect(h.details == nil)
        #expect(h == ConnectionHealthStatus(documented: .healthy))
        // `details` is written back as an explicit null, as the API sends it.
        #expect(try compactString(h).contains(#""details":null"#))
    }

    @Test func unauthorizedFixtureHasDetailsArray() throws {
        let h = try Fixture.decode(ConnectionHealthStatus.self, "health-unauthorized")
        #expect(h.name == .unauthorized)
        #expect(h.status == .unhealthy)
        #expect(h.resolutionOwner == .customer)
        #expect(h.description == "Connection is unauthorized")
        #expect(h.details == [HealthDetail(endpoint: "/alerts/queries/alerts/v2", dataExportType: .alerts)])
        #expect(
            h
                == ConnectionHealthStatus(
                    documented: .unauthorized,
                    details: [HealthDetail(endpoint: "/alerts/queries/alerts/v2", dataExportType: .alerts)]))
        #expect(
            try compactString(h).contains(
                #""details":[{"data_export_type":"alerts","endpoint":"/alerts/queries/alerts/v2"}]"#))
    }

    @Test func detailsNullVersusEmptyVersusMissing() throws {
        let base = #""name":"HEALTHY","status":"HEALTHY","description":"d","resolution_owner":"LEEN""#
        let null = try JSONDecoder().decode(ConnectionHealthStatus.self, from: Data("{\(base),\"details\":null}".utf8))
        let empty = try JSONDecoder().decode(ConnectionHealthStatus.self, from: Data("{\(base),\"details\":[]}".utf8))
        let missing = try JSONDecoder().decode(ConnectionHealthStatus.self, from: Data("{\(base)}".utf8))
        #expect(null.details == nil)
        #expect(empty.details == [])
        #expect(missing.details == nil)
        #expect(null != empty)
        #expect(try compactString(empty).contains(#""details":[]"#))
    }

    @Test func nilDescriptionEncodesAsNull() throws {
        let h = ConnectionHealthStatus(
            name: .internalError, status: .unhealthy, description: nil, resolutionOwner: .leen, details: nil)
        #expect(
            try compactString(h)
                == #"{"description":null,"details":null,"name":"INTERNAL_ERROR","resolution_owner":"LEEN","status":"UNHEALTHY"}"#
        )
    }

    @Test func healthDetailsSortByEndpointThenType() {
        let a = HealthDetail(endpoint: "/a", dataExportType: "vulnerabilities")
        let b = HealthDetail(endpoint: "/a", dataExportType: .alerts)
        let c = HealthDetail(endpoint: "/b", dataExportType: .alerts)
        #expect([c, a, b].sorted() == [b, a, c])
        #expect(b < a)
        #expect(!(a < b))
    }
}

// MARK: - Vendors and open enumerations

@Suite("Vendors")
struct VendorTests {
    /// CONTRACT.md §4.1, verbatim.
    static let contractList =
        "AIKIDO, ARNICA, AWS_ACCESS_ANALYSER, AWS_INSPECTOR2, AWS_SECURITYHUB, BIT_SIGHT, BLACK_KITE, CHECKMARX, CROWDSTRIKE, CROWDSTRIKE_SPOTLIGHT, GITHUB, GITLAB, INSIGHTVM, JIRA, LACEWORK_CSPM, MEND, MS_DEFENDER_CLOUD, MS_DEFENDER_ENDPOINT, MS_DEFENDER_VMS, MS_DEFENDER_VMS_GCC_HIGH, MS_ENTRA, OKTA_IDP, ORCA, QUALYS, SEMGREP, SENTINELONE, SENTINELONE_VMS, SERVICENOW, SNYK, TANIUM_VMS, TENABLE, UPWIND, WIZ_CODE, WIZ_VMS"
        .components(separatedBy: ", ")

    @Test func documentedValuesAreTheContractsListInOrder() {
        #expect(Self.contractList.count == 34)
        #expect(Vendor.documentedValues.count == 34)
        #expect(Vendor.documentedValues.map(\.rawValue) == Self.contractList)
        #expect(Set(Vendor.documentedValues).count == 34)
    }

    @Test func olderPageVersionsAreSubsets() {
        let oldest: [Vendor] = [
            "TENABLE", "QUALYS", "SNYK", "CROWDSTRIKE", "MS_DEFENDER_ENDPOINT", "SENTINELONE", "SEMGREP", "INSIGHTVM",
        ]
        #expect(oldest.allSatisfy { $0.isDocumented })
        let addedLast: [Vendor] = ["MS_DEFENDER_VMS_GCC_HIGH", "JIRA", "BLACK_KITE", "BIT_SIGHT"]
        #expect(addedLast.allSatisfy { $0.isDocumented })
    }

    @Test(arguments: Vendor.documentedValues)
    func documentedVendorRoundTrips(_ vendor: Vendor) throws {
        #expect(vendor.isDocumented)
        let encoded = try JSONEncoder().encode(vendor)
        #expect(String(decoding: encoded, as: UTF8.self) == "\"\(vendor.rawValue)\"")
        #expect(try JSONDecoder().decode(Vendor.self, from: encoded) == vendor)
        #expect(Vendor(rawValue: vendor.rawValue, documentedOnly: true) == vendor)
        #expect(vendor.description == vendor.rawValue)
    }

    @Test(arguments: ["PROCESSUNITY", "SECURITY_SCORECARD", "SERVICENOW_VR", "tenable", ""])
    func undocumentedVendorsAreKeptButFlagged(_ raw: String) throws {
        let vendor = Vendor(rawValue: raw)
        #expect(!vendor.isDocumented)
        #expect(Vendor(rawValue: raw, documentedOnly: true) == nil)
        #expect(Vendor(rawValue: raw, documentedOnly: false)?.rawValue == raw)
        let decoded = try JSONDecoder().decode(Vendor.self, from: Data("\"\(raw)\"".utf8))
        #expect(decoded.rawValue == raw)
        #expect(String(decoding: try JSONEncoder().encode(decoded), as: UTF8.self) == "\"\(raw)\"")
        #expect(vendor.authorization == .credentials)
        #expect(vendor.documentedCredentialFields.isEmpty)
    }

    @Test(arguments: Vendor.documentedValues)
    func authorizationStyle(_ vendor: Vendor) {
        let expected: Vendor.Authorization =
            switch vendor.rawValue {
            case "MS_DEFENDER_VMS", "MS_DEFENDER_VMS_GCC_HIGH", "MS_ENTRA", "MS_DEFENDER_ENDPOINT": .oauth2
            case "SNYK": .oauth2UnlessAPIKey
            default: .credentials
            }
        #expect(vendor.authorization == expected)
    }

    @Test func documentedCredentialFieldsMatchContractExamples() {
        #expect(Vendor.tenable.documentedCredentialFields == ["client_key", "secret_key"])
        #expect(Vendor.qualys.documentedCredentialFields == ["username", "password"])
        #expect(Vendor.insightVM.documentedCredentialFields == ["base_url", "api_key"])
        #expect(Vendor.sentinelOneVMS.documentedCredentialFields == ["base_url", "api_token"])
        #expect(Vendor.crowdStrikeSpotlight.documentedCredentialFields == ["client_id", "client_secret"])
        #expect(
            Vendor.awsInspector2.documentedCredentialFields == [
                "aws.aws_access_key_id", "aws.aws_secret_access_key", "aws.type",
            ])
        // OAuth vendors and vendors without a confirmed example have none.
        #expect(Vendor.msEntra.documentedCredentialFields.isEmpty)
        #expect(Vendor.msDefenderVMS.documentedCredentialFields.isEmpty)
        #expect(Vendor.semgrep.documentedCredentialFields.isEmpty)
    }

    @Test func stringLiteralsAndRawValuesAgree() {
        let literal: Vendor = "MS_ENTRA"
        #expect(literal == .msEntra)
        #expect(Vendor(rawValue: "MS_ENTRA") == .msEntra)
        #expect(Vendor(rawValue: "ms_entra") != .msEntra)
        #expect("\(Vendor.wizVMS)" == "WIZ_VMS")
    }

    @Test func openEnumerationsSwitchOnDocumentedConstants() {
        func classify(_ owner: ResolutionOwner?) -> String {
            switch owner {
            case .customer?: "customer"
            case .vendor?, .leen?: "wait"
            default: "unknown"
            }
        }
        #expect(classify("CUSTOMER") == "customer")
        #expect(classify("VENDOR") == "wait")
        #expect(classify("LEEN") == "wait")
        #expect(classify("PARTNER") == "unknown")
        #expect(classify(nil) == "unknown")
    }

    @Test(arguments: [
        ("PENDING", true), ("ACTIVE", true), ("PAUSED", true), ("DELETED", true), ("ARCHIVED", false),
        ("active", false),
    ])
    func connectionStateDocumentation(_ raw: String, _ documented: Bool) throws {
        let state = try JSONDecoder().decode(ConnectionState.self, from: Data("\"\(raw)\"".utf8))
        #expect(state.rawValue == raw)
        #expect(state.isDocumented == documented)
    }
}

// MARK: - Identifiers

@Suite("Identifiers")
struct IdentifierTests {
    @Test func idsAreKeptVerbatimAndEncodeAsStrings() throws {
        let upper = ConnectionID("3C90C3CC-0D44-4B50-8888-8DD25736052A")
        let lower = ConnectionID("3c90c3cc-0d44-4b50-8888-8dd25736052a")
        #expect(upper != lower)
        #expect(upper.description == "3C90C3CC-0D44-4B50-8888-8DD25736052A")
        #expect(
            String(decoding: try JSONEncoder().encode(lower), as: UTF8.self)
                == "\"3c90c3cc-0d44-4b50-8888-8dd25736052a\"")
        let decoded = try JSONDecoder().decode(OrganizationID.self, from: Data("\"not-a-uuid\"".utf8))
        #expect(decoded.rawValue == "not-a-uuid")
        #expect(OrganizationID(rawValue: "a") < OrganizationID(rawValue: "b"))
        #expect([ConnectionID("b"), "a", "c"].sorted() == ["a", "b", "c"])
    }

    @Test func nonStringIDFailsToDecode() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(ConnectionID.self, from: Data("42".utf8))
        }
    }
}

// MARK: - Requests

@Suite("Request bodies")
struct RequestBodyTests {
    @Test func oauthCreateBodyIsJustTheVendor() throws {
        let request = CreateConnectionRequest(vendor: .msEntra)
        #expect(try compactString(request) == #"{"vendor":"MS_ENTRA"}"#)
        #expect(String(decoding: try JSONEncoder().encode(request), as: UTF8.self) == #"{"vendor":"MS_ENTRA"}"#)
        let fixture = try Fixture.decode(CreateConnectionRequest.self, "request-create-ms-entra")
        #expect(fixture == request)
        #expect(fixture.credentials == nil)
    }

    @Test func tenableCreateBodyCarriesCredentials() throws {
        let request = CreateConnectionRequest(
            vendor: .tenable,
            credentials: VendorCredentials([
                "client_key": .string("tenable-client-key-SECRET"), "secret_key": .string("tenable-secret-key-SECRET"),
            ]),
            identifier: "acme-tenable")
        #expect(
            try compactString(request)
                == #"{"credentials":{"client_key":"tenable-client-key-SECRET","secret_key":"tenable-secret-key-SECRET"},"identifier":"acme-tenable","vendor":"TENABLE"}"#
        )
        #expect(try Fixture.decode(CreateConnectionRequest.self, "request-create-tenable") == request)
    }

    @Test func awsCredentialsKeepTheirNesting() throws {
        let request = try Fixture.decode(CreateConnectionRequest.self, "request-create-aws-inspector2")
        let credentials = try #require(request.credentials)
        #expect(request.vendor == .awsInspector2)
        #expect(!credentials.isEmpty)
        #expect(credentials[path: "aws.type"] == .string("direct_access"))
        #expect(credentials[path: "aws.aws_region_name"]?.stringValue == "us-east-1")
        #expect(credentials[path: "aws.aws_access_key_id"] == .string("AKIAEXAMPLESECRET"))
        #expect(credentials[path: "aws.missing"] == nil)
        #expect(credentials[path: "aws.type.deeper"] == nil)
        for field in Vendor.awsInspector2.documentedCredentialFields {
            #expect(credentials[path: field] != nil, "\(field) missing")
        }
        #expect(
            try compactString(request)
                == #"{"credentials":{"aws":{"aws_access_key_id":"AKIAEXAMPLESECRET","aws_region_name":"us-east-1","aws_secret_access_key":"aws-secret-access-key-SECRET","type":"direct_access"}},"vendor":"AWS_INSPECTOR2"}"#
        )
    }

    @Test func oauthRedirectOptionsAreSentVerbatim() throws {
        let request = try Fixture.decode(CreateConnectionRequest.self, "request-create-ms-defender-vms")
        #expect(request.vendor == .msDefenderVMS)
        #expect(request.vendor.authorization == .oauth2)
        #expect(request.credentials == nil)
        #expect(request.identifier == "acme-defender-vms")
        #expect(request.options?[path: "oauth2_redirect_urls.success"] == .string("https://app.example.com/leen/success"))
        #expect(request.options?[path: "oauth2_redirect_urls.error"] == .string("https://app.example.com/leen/error"))
        #expect(
            try compactString(request)
                == #"{"identifier":"acme-defender-vms","options":{"oauth2_redirect_urls":{"error":"https://app.example.com/leen/error","success":"https://app.example.com/leen/success"}},"vendor":"MS_DEFENDER_VMS"}"#
        )
    }

    @Test func emptyCredentialsObjectIsSentAsEmptyObject() throws {
        let request = CreateConnectionRequest(vendor: .msEntra, credentials: VendorCredentials([:]))
        #expect(request.credentials?.isEmpty == true)
        #expect(try compactString(request) == #"{"credentials":{},"vendor":"MS_ENTRA"}"#)
    }

    @Test func updateEncodesOnlySetFields() throws {
        #expect(try compactString(UpdateConnectionRequest()) == "{}")
        #expect(try compactString(UpdateConnectionRequest(state: .paused)) == #"{"state":"PAUSED"}"#)
        #expect(try compactString(UpdateConnectionRequest(state: .active)) == #"{"state":"ACTIVE"}"#)
        #expect(try compactString(UpdateConnectionRequest(identifier: "new-ref")) == #"{"identifier":"new-ref"}"#)
        #expect(
            try compactString(UpdateConnectionRequest(credentials: VendorCredentials(["api_token": .string("t0k")])))
                == #"{"credentials":{"api_token":"t0k"}}"#)
        #expect(
            try compactString(
                UpdateConnectionRequest(
                    credentials: VendorCredentials(["username": .string("u"), "password": .string("p")]), identifier: "i",
                    state: .deleted))
                == #"{"credentials":{"password":"p","username":"u"},"identifier":"i","state":"DELETED"}"#)
    }

    @Test func updateDecodesWhatItEncodes() throws {
        let update = UpdateConnectionRequest(
            credentials: VendorCredentials(["client_id": .string("id"), "client_secret": .string("s")]), state: .paused)
        let back = try JSONDecoder().decode(UpdateConnectionRequest.self, from: JSONEncoder.compact.encode(update))
        #expect(back == update)
        #expect(back.identifier == nil)
    }

    @Test func createOrganizationBody() throws {
        let request = CreateOrganizationRequest(name: "Acme Corp", identifier: "acme")
        #expect(try compactString(request) == #"{"identifier":"acme","name":"Acme Corp"}"#)
    }

    @Test func credentialValuesKeepTheirJSONTypes() throws {
        let json = #"{"s":"x","i":42,"d":1.5,"b":true,"n":null,"a":[1,"two"],"o":{"k":false}}"#
        let credentials = try JSONDecoder().decode(VendorCredentials.self, from: Data(json.utf8))
        #expect(credentials.fields["s"] == .string("x"))
        #expect(credentials.fields["i"] == .integer(42))
        #expect(credentials.fields["d"] == .number(1.5))
        #expect(credentials.fields["b"] == .bool(true))
        #expect(credentials.fields["n"] == .null)
        #expect(credentials.fields["a"] == .array([.integer(1), .string("two")]))
        #expect(credentials.fields["o"] == .object(["k": .bool(false)]))
        #expect(
            try compactString(credentials) == #"{"a":[1,"two"],"b":true,"d":1.5,"i":42,"n":null,"o":{"k":false},"s":"x"}"#)
    }
}

// MARK: - Secrets

@Suite("Secrets never print")
struct SecretRedactionTests {
    /// Every way a value commonly ends up in a log line.
    static func renderings(of value: some Any) -> [String: String] {
        var dumped = ""
        dump(value, to: &dumped)
        return [
            "description": String(describing: value),
            "reflecting": String(reflecting: value),
            "interpolation": "\(value)",
            "dump": dumped,
        ]
    }

    @Test func vendorCredentialsShowOnlyFieldNames() {
        let credentials = VendorCredentials([
            "client_key": .string("ck-SECRET-VALUE-1"), "secret_key": .string("sk-SECRET-VALUE-2"),
        ])
        #expect(credentials.description == "<redacted credentials: client_key, secret_key>")
        #expect(credentials.debugDescription == "VendorCredentials(<redacted credentials: client_key, secret_key>)")
        for (how, text) in Self.renderings(of: credentials) {
            #expect(!text.contains("SECRET-VALUE"), "\(how) leaked: \(text)")
            #expect(text.contains("redacted"), "\(how): \(text)")
        }
        #expect(Mirror(reflecting: credentials).children.isEmpty)
    }

    @Test func nestedCredentialsDoNotLeak() {
        let credentials = VendorCredentials([
            "aws": .object(["aws_access_key_id": .string("AKIA-SECRET-VALUE"), "aws_secret_access_key": .string("SECRET-VALUE-aws")])
        ])
        for (how, text) in Self.renderings(of: credentials) {
            #expect(!text.contains("SECRET-VALUE"), "\(how) leaked: \(text)")
        }
    }

    @Test func requestsHoldingCredentialsDoNotLeak() {
        let credentials = VendorCredentials(["api_token": .string("tok-SECRET-VALUE")])
        let values: [any Sendable] = [
            CreateConnectionRequest(vendor: .sentinelOneVMS, credentials: credentials, identifier: "s1"),
            UpdateConnectionRequest(credentials: credentials, state: .active),
            [credentials],
            Optional(credentials),
        ]
        for value in values {
            for (how, text) in Self.renderings(of: value) {
                #expect(!text.contains("SECRET-VALUE"), "\(how) leaked: \(text)")
            }
        }
    }

    @Test func apiKeyIsRedacted() {
        let key = LeenAPIKey("leen-api-key-SECRET-VALUE")
        #expect(key.secretValue == "leen-api-key-SECRET-VALUE")
        #expect(key.description == "<redacted>")
        #expect(key.debugDescription == "LeenAPIKey(<redacted>)")
        for (how, text) in Self.renderings(of: key) {
            #expect(!text.contains("SECRET-VALUE"), "\(how) leaked: \(text)")
            #expect(text.contains("<redacted>"), "\(how): \(text)")
        }
        #expect(Mirror(reflecting: key).children.isEmpty)
    }

    @Test func configurationHoldingTheKeyDoesNotLeak() {
        let configuration = LeenClient.Configuration(endpoint: .eu, apiKey: LeenAPIKey("cfg-SECRET-VALUE"))
        for (how, text) in Self.renderings(of: configuration) {
            #expect(!text.contains("SECRET-VALUE"), "\(how) leaked: \(text)")
        }
        #expect(configuration.apiKey.secretValue == "cfg-SECRET-VALUE")
    }

    @Test func credentialsStillEncodeTheirSecretForTheWire() throws {
        let credentials = VendorCredentials(["secret_key": .string("sk-SECRET-VALUE")])
        #expect(try compactString(credentials) == #"{"secret_key":"sk-SECRET-VALUE"}"#)
    }
}

// MARK: - Pages

@Suite("List envelopes")
struct PageDecodingTests {
    @Test func offsetEnvelope() throws {
        let page = try Fixture.decode(Page<Connection>.self, "page-offset")
        #expect(page.count == 2)
        #expect(page.total == 57)
        #expect(page.items.count == 2)
        #expect(page.items.map(\.id) == ["3c90c3cc-0d44-4b50-8888-8dd25736052a", "a4d2c1b0-9e8f-4a7b-8c6d-5e4f3a2b1c0d"])
        #expect(page.items[0].health == ConnectionHealthStatus(documented: .healthy))
        #expect(page.items[1].health?.name == .unauthorized)
        #expect(page.items[1].health?.details?.first?.dataExportType == .alerts)
        #expect(page.nextCursor == nil)
        #expect(page.previousCursor == nil)
        #expect(!page.isCursorPage)
    }

    @Test func offsetEnvelopeWithoutTotal() throws {
        let page = try Fixture.decode(Page<Connection>.self, "page-offset-no-total")
        #expect(page.count == 1)
        #expect(page.total == nil)
        #expect(page.items.first?.identifier == nil)
        #expect(page.items.first?.state == .paused)
        #expect(page.items.first?.isActive == false)
        #expect(!page.isCursorPage)
        #expect(try compactString(page).contains(#""total":null"#))
    }

    @Test func cursorEnvelope() throws {
        let page = try Fixture.decode(Page<Connection>.self, "page-cursor")
        #expect(page.isCursorPage)
        #expect(page.nextCursor == "eyJvZmZzZXQiOjJ9")
        #expect(page.previousCursor == nil)
        #expect(page.count == 2)
        #expect(page.total == 5)
        #expect(page.items[1].vendor == .msDefenderVMS)
        #expect(page.items[1].oauth2AuthorizeURL != nil)
        let text = try compactString(page)
        #expect(text.contains(#""next_cursor":"eyJvZmZzZXQiOjJ9""#))
        #expect(text.contains(#""previous_cursor":null"#))
        // The cursor is base64 JSON, as in Leen's pagination guide.
        let next = try #require(page.nextCursor)
        let decoded = try #require(Data(base64Encoded: next))
        #expect(String(decoding: decoded, as: UTF8.self) == #"{"offset":2}"#)
    }

    @Test func minimalCursorEnvelope() throws {
        let page = try Fixture.decode(Page<Connection>.self, "page-cursor-minimal")
        #expect(page.isCursorPage)
        #expect(page.count == nil)
        #expect(page.total == nil)
        #expect(page.nextCursor == nil)
        #expect(page.previousCursor == "eyJvZmZzZXQiOjJ9")
        #expect(page.items.map(\.vendor) == [.sentinelOneVMS])
        #expect(try !compactString(page).contains(#""count""#))
    }

    @Test func organizationsEnvelope() throws {
        let page = try Fixture.decode(Page<Organization>.self, "page-organizations")
        #expect(page.count == 1)
        #expect(page.total == 1)
        #expect(page.items == [Organization(id: "5d2f4c1e-8a7b-4c3d-9e0f-1a2b3c4d5e6f", name: "Acme Corp", identifier: "acme")])
        #expect(!page.isCursorPage)
    }

    @Test(arguments: [
        (#"{"items":[]}"#, false),
        (#"{"items":[],"count":0,"total":null}"#, false),
        (#"{"items":[],"next_cursor":null}"#, true),
        (#"{"items":[],"previous_cursor":null}"#, true),
        (#"{"items":[],"next_cursor":"abc","previous_cursor":"def"}"#, true),
    ])
    func isCursorPageDependsOnCursorKeysOnly(_ json: String, _ expected: Bool) throws {
        let page = try JSONDecoder().decode(Page<Organization>.self, from: Data(json.utf8))
        #expect(page.isCursorPage == expected)
        // The flag survives a round trip.
        let back = try JSONDecoder().decode(Page<Organization>.self, from: JSONEncoder.compact.encode(page))
        #expect(back.isCursorPage == expected)
    }

    @Test func itemsAreRequired() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Page<Organization>.self, from: Data(#"{"count":0,"total":0}"#.utf8))
        }
    }

    @Test func memberwiseOffsetPageEncodesWithoutCursorKeys() throws {
        let page = Page<Organization>(items: [], count: 0, total: 0)
        #expect(try compactString(page) == #"{"count":0,"items":[],"total":0}"#)
        let cursor = Page<Organization>(items: [], nextCursor: "n", isCursorPage: true)
        #expect(try compactString(cursor) == #"{"items":[],"next_cursor":"n","previous_cursor":null,"total":null}"#)
    }
}

// MARK: - Other bodies

@Suite("Other response bodies")
struct OtherBodyTests {
    @Test func organization() throws {
        let org = try Fixture.decode(Organization.self, "organization")
        #expect(org.id == "5d2f4c1e-8a7b-4c3d-9e0f-1a2b3c4d5e6f")
        #expect(org.name == "Acme Corp")
        #expect(org.identifier == "acme")
        #expect(org.createdAt == nil)
        #expect(org.updatedAt == nil)
        #expect(try compactString(org) == #"{"id":"5d2f4c1e-8a7b-4c3d-9e0f-1a2b3c4d5e6f","identifier":"acme","name":"Acme Corp"}"#)
    }

    @Test func testCredentialsResults() throws {
        let valid = try Fixture.decode(ConnectionTestResult.self, "test-credentials-valid")
        #expect(valid == ConnectionTestResult(isValid: true, message: "Credentials are valid"))
        let invalid = try Fixture.decode(ConnectionTestResult.self, "test-credentials-invalid")
        #expect(invalid.isValid == false)
        #expect(invalid.message == nil)
        #expect(try compactString(valid) == #"{"is_valid":true,"message":"Credentials are valid"}"#)
    }

    @Test func validationErrorPydanticV1() throws {
        let error = try Fixture.decode(HTTPValidationError.self, "validation-error-v1")
        let issue = try #require(error.detail.first)
        #expect(error.detail.count == 1)
        #expect(issue.loc == [.key("body"), .key("vendor")])
        #expect(issue.msg == "field required")
        #expect(issue.type == "value_error.missing")
        #expect(issue.description == "body.vendor: field required")
    }

    @Test func validationErrorPydanticV2DropsInputAndContext() throws {
        let error = try Fixture.decode(HTTPValidationError.self, "validation-error-v2")
        #expect(error.detail.count == 3)
        #expect(error.detail.map(\.type) == ["missing", "uuid_parsing", "greater_than"])
        #expect(error.detail[0].loc == ["body", "credentials", "client_key"])
        #expect(error.detail[0].description == "body.credentials.client_key: Field required")
        #expect(error.detail[1].description.hasPrefix("path.organization_id: Input should be a valid UUID"))
        #expect(error.detail[2].description == "query.limit: Input should be greater than 0")
        let text = try compactString(error)
        #expect(!text.contains("sk-LEAKED-SECRET-0001"))
        #expect(!text.contains("\"input\""))
        #expect(!text.contains("\"ctx\""))
        #expect(!String(describing: error).contains("sk-LEAKED-SECRET-0001"))
    }

    @Test func validationErrorWithIntegerIndex() throws {
        let error = try Fixture.decode(HTTPValidationError.self, "validation-error-index")
        let issue = try #require(error.detail.first)
        #expect(issue.loc == [.key("body"), .key("items"), .index(0), .key("vendor")])
        #expect(issue.description == "body.items.0.vendor: field required")
        // The index is written back as a JSON number, not a string.
        let json = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder.compact.encode(error))
        #expect(json[path: "detail"]?[0]?[path: "loc"] == .array([.string("body"), .string("items"), .integer(0), .string("vendor")]))
    }

    @Test func numericStringInLocStaysAKey() throws {
        let json = #"{"detail":[{"loc":["body","0"],"msg":"m","type":"t"}]}"#
        let error = try JSONDecoder().decode(HTTPValidationError.self, from: Data(json.utf8))
        #expect(error.detail[0].loc == [.key("body"), .key("0")])
        #expect(try compactString(error).contains(#""loc":["body","0"]"#))
    }

    @Test func unauthorizedDetailBody() throws {
        let body = try Fixture.decode(DetailBody.self, "error-401")
        #expect(body.detail == .string("Invalid Organization ID"))
        #expect(try Fixture.json("error-401") == .object(["detail": .string("Invalid Organization ID")]))
    }
}

// MARK: - Timestamps

@Suite("Timestamps")
struct TimestampTests {
    static let reference = Date(timeIntervalSince1970: 1_699_335_116)  // 2023-11-07T05:31:56Z

    @Test(arguments: [
        "2023-11-07T05:31:56Z", "2023-11-07T05:31:56+00:00", "2023-11-07T07:31:56+02:00",
        "2023-11-07T00:31:56-05:00",
    ])
    func wholeSecondForms(_ text: String) {
        let timestamp = Timestamp(rawValue: text)
        #expect(timestamp.rawValue == text)
        #expect(timestamp.date == Self.reference)
        #expect(timestamp.description == text)
    }

    @Test(arguments: [
        ("2023-11-07T05:31:56.5Z", 0.5), ("2023-11-07T05:31:56.123Z", 0.123),
        ("2023-11-07T05:31:56.123456+00:00", 0.123456),
    ])
    func fractionalSeconds(_ text: String, _ fraction: Double) throws {
        let timestamp = Timestamp(rawValue: text)
        let date = try #require(timestamp.date)
        #expect(abs(date.timeIntervalSince(Self.reference) - fraction) < 0.000_5)
        #expect(timestamp.rawValue == text)
    }

    @Test(arguments: ["", "yesterday", "2023-11-07", "2023-11-07 05:31:56", "1699335116", "2023-13-45T99:99:99Z"])
    func unparseableStringsAreKept(_ text: String) throws {
        let timestamp = Timestamp(rawValue: text)
        #expect(timestamp.date == nil)
        #expect(timestamp.rawValue == text)
        let decoded = try JSONDecoder().decode(Timestamp.self, from: JSONEncoder().encode(timestamp))
        #expect(decoded == timestamp)
        #expect(decoded.date == nil)
    }

    @Test func spellingsOfTheSameInstantStayDistinct() {
        let z = Timestamp(rawValue: "2023-11-07T05:31:56Z")
        let offset = Timestamp(rawValue: "2023-11-07T05:31:56+00:00")
        #expect(z.date == offset.date)
        #expect(z != offset)  // kept verbatim, so they do not compare equal
    }

    @Test func formatsDatesLikeLeenExamples() throws {
        let timestamp = Timestamp(Date(timeIntervalSince1970: 1_699_335_116.987))
        #expect(timestamp.rawValue == "2023-11-07T05:31:56Z")
        #expect(timestamp.date == Self.reference)
        #expect(Timestamp(rawValue: timestamp.rawValue) == timestamp)
        #expect(String(decoding: try JSONEncoder.compact.encode(timestamp), as: UTF8.self) == #""2023-11-07T05:31:56Z""#)
    }

    @Test("The common spelling is kept as its instant and spelled back exactly as Foundation formats it")
    func canonicalSpelling() throws {
        // Leap days, century years, the epoch, before it, the ends of the range, and a spread of instants.
        var seconds: [Int64] = [
            0, -1, 86_399, 86_400, 951_782_400, 951_868_799, 4_107_542_400, 1_699_335_116, -12_212_553_600,
            253_402_300_799, -2_208_988_800, 1_709_164_800,
        ]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<2_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            seconds.append(Int64(state >> 33) % 16_000_000_000 - 6_000_000_000)
        }
        for second in seconds {
            let date = Date(timeIntervalSince1970: TimeInterval(second))
            let foundation = date.formatted(Date.ISO8601FormatStyle())
            #expect(Timestamp.canonical(date) == foundation, "\(second)")
            let timestamp = Timestamp(rawValue: foundation)
            #expect(timestamp.isCanonical && timestamp.rawValue == foundation && timestamp.date == date)
            // Read by hand as Foundation reads it.
            #expect(Timestamp.parseCanonical(foundation) == date && Timestamp.parse(foundation) == date, "\(foundation)")
        }
        // What the hand reader leaves to Foundation: no such day or time, outside 1583...9999, other forms.
        for text in [
            "2023-02-29T00:00:00Z", "2023-04-31T00:00:00Z", "2023-11-07T24:00:00Z", "2023-11-07T23:60:00Z",
            "2016-12-31T23:59:60Z", "1582-10-15T00:00:00Z", "2023-11-07T05:31:56z", "2023-11-07T05:31:5aZ",
            "+023-11-07T05:31:56Z", "2023-11-07T05:31:56+00:00",
        ] {
            #expect(Timestamp.parseCanonical(text) == nil, "\(text)")
        }
        #expect(Timestamp.parseCanonical("2024-02-29T23:59:59Z") == Timestamp.parse("2024-02-29T23:59:59Z"))
        #expect(Timestamp.canonical(Date(timeIntervalSince1970: 0.5)) == nil)
        #expect(Timestamp.canonical(Date(timeIntervalSince1970: 253_402_300_800)) == nil, "year 10000")
        #expect(Timestamp.canonical(Date(timeIntervalSince1970: -12_212_553_601)) == nil, "1582, Julian to Foundation")
        #expect(Timestamp(Date(timeIntervalSince1970: 1_699_335_116.987)).isCanonical)
        // Other spellings are kept as they came.
        for text in ["2023-11-07T05:31:56+00:00", "2023-11-07T05:31:56.5Z", "yesterday", "2023-02-29T00:00:00Z"] {
            let timestamp = Timestamp(rawValue: text)
            #expect(!timestamp.isCanonical && timestamp.rawValue == text, "\(text)")
        }
    }

    @Test func nonStringTimestampFailsToDecode() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Timestamp.self, from: Data("1699335116".utf8))
        }
    }
}

// MARK: - Error mapping

@Suite("HTTP error mapping")
struct ErrorMappingTests {
    static let endpoint = LeenClient.Endpoint(
        operation: "get_connection_by_id", method: .GET,
        path: ["provisioning", "organizations", "o1", "connections", "c1"], idempotent: true)

    static func map(_ status: Int, body: Data, headers: [(String, String)] = []) -> LeenAPIError {
        LeenClient.error(
            for: LeenClient.RawResponse(status: status, headers: HTTPHeaders(headers), body: ByteBuffer(bytes: body)),
            endpoint: endpoint)
    }

    @Test func unauthorizedFixture() throws {
        let error = Self.map(401, body: try Fixture.data("error-401"))
        #expect(error.kind == .unauthorized)
        #expect(error.status == 401)
        #expect(error.detail == "Invalid Organization ID")
        #expect(error.validationIssues.isEmpty)
        #expect(error.retryAfter == nil)
        #expect(!error.isTransient)
        #expect(error.operation == "get_connection_by_id")
        #expect(error.request == "GET /provisioning/organizations/o1/connections/c1")
        #expect(
            error.description
                == "get_connection_by_id failed: GET /provisioning/organizations/o1/connections/c1 answered HTTP 401: Invalid Organization ID"
        )
    }

    @Test func validationFixture() throws {
        let error = Self.map(422, body: try Fixture.data("validation-error-v2"))
        #expect(error.kind == .validation)
        #expect(error.validationIssues.count == 3)
        #expect(error.detail == nil)
        #expect(error.description.contains("body.credentials.client_key: Field required; path.organization_id"))
        #expect(!error.description.contains("sk-LEAKED-SECRET-0001"))
    }

    @Test func validationStatusWithStringDetail() {
        let error = Self.map(422, body: Data(#"{"detail":"bad cursor"}"#.utf8))
        #expect(error.kind == .validation)
        #expect(error.validationIssues.isEmpty)
        #expect(error.detail == "bad cursor")
    }

    @Test(arguments: [
        (401, LeenAPIError.Kind.unauthorized), (403, .forbidden), (404, .notFound), (409, .http), (418, .http),
        (422, .validation), (429, .rateLimited), (500, .server), (502, .server), (599, .server), (302, .http),
    ])
    func statusKinds(_ status: Int, _ kind: LeenAPIError.Kind) {
        let error = Self.map(status, body: Data())
        #expect(error.kind == kind)
        #expect(error.status == status)
        #expect(error.isTransient == (kind == .rateLimited || kind == .server))
    }

    @Test func retryAfterOnlyForRateLimitAndServerErrors() {
        #expect(Self.map(429, body: Data(), headers: [("Retry-After", "7")]).retryAfter == .seconds(7))
        #expect(Self.map(503, body: Data(), headers: [("retry-after", "2")]).retryAfter == .seconds(2))
        #expect(Self.map(404, body: Data(), headers: [("Retry-After", "7")]).retryAfter == nil)
        #expect(Self.map(429, body: Data(), headers: [("Retry-After", "soon")]).retryAfter == nil)
        let error = Self.map(429, body: Data(), headers: [("Retry-After", "7")])
        #expect(error.description.hasSuffix("[Retry-After 7s]"))
    }

    @Test func nonJSONBodyHasNoDetail() {
        let error = Self.map(502, body: Data("<html>Bad Gateway</html>".utf8))
        #expect(error.kind == .server)
        #expect(error.detail == nil)
    }

    @Test func longDetailIsTruncated() {
        let long = String(repeating: "x", count: 2000)
        let error = Self.map(404, body: Data(#"{"detail":"\#(long)"}"#.utf8))
        #expect(error.detail?.count == ServerText.maximumLength)
        #expect(error.detail?.hasSuffix("…") == true)
    }

    @Test(arguments: [
        ("Invalid credentials: password=hunter2secret for user bob", "Invalid credentials: password=<redacted> for user bob"),
        (#"could not parse {"api_key":"lk_live_abc"} in body"#, #"could not parse {"api_key":<redacted> in body"#),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9 rejected", "Authorization: Bearer <redacted> rejected"),
        ("token 9f8e7d6c5b4a39281706f5e4d3c2b1a0 expired", "token <redacted> expired"),
        ("key AKIAIOSFODNN7EXAMPLE1234567 is not valid", "key <redacted> is not valid"),
        ("Organization not found", "Organization not found"),
        (
            "GET /provisioning/organizations/3c90c3cc-0d44-4b50-8888-8dd25736052a/connections failed",
            "GET /provisioning/organizations/3c90c3cc-0d44-4b50-8888-8dd25736052a/connections failed"
        ),
        ("line one\nline\u{7}two", "line one line two"),
    ])
    func detailsAreScrubbed(_ detail: String, _ expected: String) throws {
        #expect(ServerText.sanitize(detail) == expected)
        // Through the client's mapping as well, from a JSON body.
        let body = try JSONEncoder().encode(["detail": detail])
        #expect(Self.map(404, body: body).detail == expected)
    }

    @Test func validationMessagesAreScrubbed() {
        let body = #"{"detail":[{"loc":["body","credentials","secret_key"],"msg":"secret_key=wJalrXUtnFEMIK7MDENGbPxRfiCY1234 is invalid","type":"value_error"}]}"#
        let error = Self.map(422, body: Data(body.utf8))
        #expect(error.description.contains("body.credentials.secret_key: secret_key=<redacted> is invalid"))
        #expect(!error.description.contains("wJalrXUtnFEMI"))
    }

    @Test func transientKinds() {
        let transient: [LeenAPIError.Kind] = [.transport, .timeout, .server, .rateLimited]
        let permanent: [LeenAPIError.Kind] = [
            .unauthorized, .forbidden, .notFound, .validation, .http, .malformedResponse, .cancelled,
        ]
        for kind in transient {
            #expect(LeenAPIError(kind: kind, operation: "op", request: "GET /").isTransient, "\(kind)")
        }
        for kind in permanent {
            #expect(!LeenAPIError(kind: kind, operation: "op", request: "GET /").isTransient, "\(kind)")
        }
    }

    @Test func descriptionMentionsAttemptsAndCause() {
        let error = LeenAPIError(
            kind: .timeout, operation: "list_connections", request: "GET /provisioning/organizations/o/connections",
            attempts: 3)
        #expect(
            error.description == "list_connections failed: GET /provisioning/organizations/o/connections timed out after 3 attempts")
        let malformed = LeenAPIError(
            kind: .malformedResponse, operation: "op", request: "GET /x", status: 200, underlying: "missing key 'id'")
        #expect(
            malformed.description
                == "op failed: GET /x answered HTTP 200 returned a body that is not the expected JSON (missing key 'id')")
    }

    @Test func decodingErrorSummariesNamePathNotBody() throws {
        struct Envelope: Decodable { var items: [Connection] }
        do {
            _ = try JSONDecoder().decode(Envelope.self, from: Data(#"{"items":[{"id":"x","vendor":"TENABLE"}]}"#.utf8))
            Issue.record("expected a decoding error")
        } catch {
            let summary = LeenClient.summary(of: error)
            #expect(summary.hasPrefix("missing key '"))
            #expect(summary.contains("at items.0"))
        }
    }

    @Test func anUndecodableItemDoesNotFailItsPage() throws {
        // The second item has a null where a number belongs, and a secret-looking value the reason must not echo.
        let good = String(decoding: try Fixture.data("connection-get"), as: UTF8.self)
        let goodID = try Fixture.decode(Connection.self, "connection-get").id
        var bad = try #require(try JSONSerialization.jsonObject(with: Data(good.utf8)) as? [String: Any])
        bad["id"] = "conn-bad"
        bad["identifier"] = "bad-one"
        bad["refresh_interval_secs"] = NSNull()
        bad["timeout_secs"] = "sk_live_SECRET"
        let badJSON = String(decoding: try JSONSerialization.data(withJSONObject: bad), as: UTF8.self)
        let body = #"{"count":3,"total":3,"items":[\#(good),\#(badJSON),[1,2]]}"#
        let page = try JSONDecoder().decode(Page<Connection>.self, from: Data(body.utf8))
        #expect(page.items.map(\.id) == [goodID])
        #expect(page.undecodable.count == 2)
        let first = try #require(page.undecodable.first)
        #expect(first.index == 1)
        #expect(first.id == "conn-bad")
        #expect(first.identifier == "bad-one")
        #expect(first.reason.contains("refresh_interval_secs") || first.reason.contains("timeout_secs"))
        #expect(!first.reason.contains("SECRET"))
        #expect(page.undecodable.last == UndecodableItem(index: 2, id: nil, identifier: nil, reason: page.undecodable[1].reason))
    }
}

// MARK: - Endpoints

@Suite("Endpoints")
struct EndpointTests {
    @Test(arguments: [
        ("us", "https://api.leen.dev/v1"), ("US", "https://api.leen.dev/v1"), ("eu", "https://api.eu-c1.leen.dev/v1"),
        ("apac", "https://api.ap-se2.leen.dev/v1"), ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
        ("https://api.dev.leen.dev/v1/", "https://api.dev.leen.dev/v1"),
    ])
    func parsing(_ text: String, _ baseURL: String) throws {
        let endpoint = try #require(LeenEndpoint(parsing: text))
        #expect(endpoint.baseURL == baseURL)
        #expect(endpoint.description == baseURL)
    }

    @Test(arguments: ["", "mars", "api.leen.dev", "ftp://api.leen.dev/v1"])
    func rejects(_ text: String) {
        #expect(LeenEndpoint(parsing: text) == nil)
    }
}
