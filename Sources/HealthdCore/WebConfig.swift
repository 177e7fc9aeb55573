/// The metrics endpoint's web configuration (`--web.config.file`, `metrics.web_config_file`): TLS and basic
/// authentication, with the key names and meanings of Prometheus's exporter-toolkit so one file can serve both.
///
/// A pure value: file paths are resolved (relative ones against the web configuration file's directory, as
/// exporter-toolkit does) but not read; `HealthdMetrics.WebSecurity` reads them.
public struct WebConfig: Sendable, Hashable {
    /// Serve HTTPS with this certificate; nil serves plain HTTP.
    public var tls: TLSServer?
    /// Username → bcrypt hash. Empty: no authentication.
    public var basicAuthUsers: [String: String]

    public init(tls: TLSServer? = nil, basicAuthUsers: [String: String] = [:]) {
        self.tls = tls
        self.basicAuthUsers = basicAuthUsers
    }

    public struct TLSServer: Sendable, Hashable {
        public var certFile: String
        public var keyFile: String
        public var clientCAFile: String?
        public var clientAuth: ClientAuthType
        public var minVersion: TLSVersion
        public var maxVersion: TLSVersion

        public init(
            certFile: String, keyFile: String, clientCAFile: String? = nil, clientAuth: ClientAuthType = .none,
            minVersion: TLSVersion = .tls12, maxVersion: TLSVersion = .tls13
        ) {
            self.certFile = certFile
            self.keyFile = keyFile
            self.clientCAFile = clientCAFile
            self.clientAuth = clientAuth
            self.minVersion = minVersion
            self.maxVersion = maxVersion
        }

        /// Every file the TLS setup reads: a change to any of them is a reload.
        public var files: [String] { [certFile, keyFile] + (clientCAFile.map { [$0] } ?? []) }
    }

    /// exporter-toolkit's `client_auth_type` values (Go's `tls.ClientAuthType` names).
    public enum ClientAuthType: String, Sendable, Hashable, CaseIterable {
        case none = "NoClientCert"
        /// Asks for a certificate, accepts any or none.
        case request = "RequestClientCert"
        /// Requires a certificate, does not verify it.
        case requireAny = "RequireAnyClientCert"
        /// Verifies a certificate when one is given.
        case verifyIfGiven = "VerifyClientCertIfGiven"
        /// Requires a certificate signed by `client_ca_file`: the only setting that authenticates clients.
        case requireAndVerify = "RequireAndVerifyClientCert"

        /// Whether a presented certificate is checked against `client_ca_file`.
        public var verifies: Bool { self == .verifyIfGiven || self == .requireAndVerify }
    }

    public enum TLSVersion: String, Sendable, Hashable, CaseIterable, Comparable {
        case tls10 = "TLS10"
        case tls11 = "TLS11"
        case tls12 = "TLS12"
        case tls13 = "TLS13"

        public static func < (a: Self, b: Self) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    /// Every file the configuration reads besides itself.
    public var files: [String] { tls?.files ?? [] }
}
