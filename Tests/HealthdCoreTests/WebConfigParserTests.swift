import Testing

@testable import HealthdCore

/// The issues `WebConfigParser` reports for `yaml`, as `/etc/w/web.yml:LINE:COLUMN: message` lines.
private func webIssues(_ yaml: String) -> [String] {
    do {
        _ = try WebConfigParser.parse(yaml, path: "/etc/w/web.yml")
        return []
    } catch {
        return error.issues.map(\.description)
    }
}

private let hash = "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"

@Suite("Web configuration parser")
struct WebConfigParserTests {
    @Test func fullFileWithExporterToolkitKeys() throws {
        let config = try WebConfigParser.parse(
            """
            tls_server_config:
              cert_file: server.crt
              key_file: /etc/ssl/private/server.key
              client_ca_file: ca/clients.pem
              client_auth_type: RequireAndVerifyClientCert
              min_version: TLS13
            basic_auth_users:
              prometheus: \(hash)
              alice: "$2b$12$abcdefghijklmnopqrstuu5KkgaTmjRDWlGyU.xy7Q1H8jZQmzw2e"
            """, path: "/etc/w/web.yml")
        // Relative names are relative to the file's directory, as exporter-toolkit resolves them.
        #expect(
            config.tls
                == WebConfig.TLSServer(
                    certFile: "/etc/w/server.crt", keyFile: "/etc/ssl/private/server.key",
                    clientCAFile: "/etc/w/ca/clients.pem", clientAuth: .requireAndVerify, minVersion: .tls13))
        #expect(config.basicAuthUsers.keys.sorted() == ["alice", "prometheus"])
        #expect(config.files == ["/etc/w/server.crt", "/etc/ssl/private/server.key", "/etc/w/ca/clients.pem"])
    }

    @Test func emptyFileAsksForNothing() throws {
        #expect(try WebConfigParser.parse("", path: "w.yml") == WebConfig())
        #expect(try WebConfigParser.parse("basic_auth_users:\n", path: "w.yml") == WebConfig())
        #expect(WebConfigParser.directory(of: "w.yml") == ".")
        #expect(WebConfigParser.directory(of: "/w.yml") == "/")
    }

    @Test func problemsNameTheKeyPathAndPosition() {
        #expect(
            webIssues(
                """
                tls_server_config:
                  cert_file: a.crt
                  client_auth_type: RequireAndVerifyClientCrt
                  min_version: TLS1.3
                basic_auth_users:
                  alice: hunter2
                  bob: ["x"]
                  "a:b": \(hash)
                rate_limits: {}
                """)
                == [
                    "/etc/w/web.yml:2:3: tls_server_config: missing required key 'key_file'",
                    "/etc/w/web.yml:3:21: tls_server_config.client_auth_type: expected 'NoClientCert', "
                        + "'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven' or "
                        + "'RequireAndVerifyClientCert', found 'RequireAndVerifyClientCrt'; did you mean "
                        + "'RequireAndVerifyClientCert'?",
                    "/etc/w/web.yml:4:16: tls_server_config.min_version: expected 'TLS10', 'TLS11', 'TLS12' or "
                        + "'TLS13', found 'TLS1.3'; did you mean 'TLS13'?",
                    "/etc/w/web.yml:6:10: basic_auth_users.alice: must be a bcrypt hash ($2y$, $2b$ or $2a$, the "
                        + "cost, then 53 characters, such as `htpasswd -nbBC 10 USER PASSWORD` prints after the "
                        + "colon), never a password",
                    "/etc/w/web.yml:7:8: basic_auth_users.bob: must be a bcrypt hash ($2y$, $2b$ or $2a$, the "
                        + "cost, then 53 characters, such as `htpasswd -nbBC 10 USER PASSWORD` prints after the "
                        + "colon), never a password",
                    "/etc/w/web.yml:8:3: basic_auth_users: a username must not be empty or contain ':'",
                    "/etc/w/web.yml:9:1: unknown key 'rate_limits'; did you mean 'rate_limit'?",
                ])
    }

    @Test func aPasswordWrittenInClearIsNeverRepeated() {
        let issues = webIssues("basic_auth_users:\n  alice: correct-horse-battery-staple\n")
        #expect(issues.count == 1)
        #expect(!issues.joined().contains("correct-horse"))
    }

    @Test func clientCertificateRulesOfExporterToolkit() {
        #expect(
            webIssues("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n")
                == [
                    "/etc/w/web.yml:4:3: tls_server_config.client_ca_file: a client CA is given but client_auth_type "
                        + "is NoClientCert: set client_auth_type to RequireAndVerifyClientCert to require client "
                        + "certificates"
                ])
        #expect(
            webIssues("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: VerifyClientCertIfGiven\n")
                == [
                    "/etc/w/web.yml:4:21: tls_server_config.client_auth_type: VerifyClientCertIfGiven verifies "
                        + "client certificates: give client_ca_file"
                ])
        // Asking for any certificate needs no CA.
        #expect(webIssues("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAnyClientCert\n").isEmpty)
        #expect(
            webIssues("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n")
                == ["/etc/w/web.yml:5:16: tls_server_config.max_version: must not be below min_version (TLS13), found TLS12"])
    }

    @Test func exporterToolkitKeysThisBuildLacksAreNamedAsSuch() {
        #expect(
            webIssues("http_server_config:\n  http2: true\ntls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: []\n")
                == [
                    "/etc/w/web.yml:1:1: http_server_config: 'http_server_config' (from Prometheus's exporter-toolkit) is not supported by leen-healthd",
                    "/etc/w/web.yml:6:3: tls_server_config.cipher_suites: 'cipher_suites' (from Prometheus's exporter-toolkit) is not supported by leen-healthd",
                ])
    }

    @Test func invalidYAMLIsAnIssueAtItsPosition() {
        let issues = webIssues("tls_server_config:\n  cert_file: [a\n")
        #expect(issues.count == 1)
        #expect(issues.first?.hasPrefix("/etc/w/web.yml:") == true)
        #expect(issues.first?.contains("invalid YAML") == true)
    }

    static let hashShapes: [(String, Bool)] = {
        let body53 = String(repeating: "a", count: 53)
        return [
            (hash, true), ("$2a$04$" + body53, true), ("$2x$10$" + body53, false), ("$2b$3$a" + body53, false),
            ("$2b$10$" + body53.dropLast(), false), ("$2b$10$" + String(repeating: "!", count: 53), false),
            ("{SHA}abc", false),
        ]
    }()

    @Test(arguments: hashShapes)
    func bcryptHashShape(_ text: String, _ valid: Bool) {
        #expect(WebConfigParser.isBcryptHash(text) == valid)
    }

    @Test func metricsWebConfigFileKey() throws {
        let base = "api:\n  region: us\n  key: {credential: k}\norganizations:\n  - id: 3c90c3cc-0d44-4b50-8888-8dd25736052a\n"
        let configuration = try ConfigParser.parse(base + "metrics:\n  web_config_file: /etc/leen-healthd/web.yml\n", path: "t.yaml")
        #expect(configuration.metrics.webConfigFile == "/etc/leen-healthd/web.yml")
        #expect(try ConfigParser.parse(base, path: "t.yaml").metrics.webConfigFile == nil)
        do {
            _ = try ConfigParser.parse(base + "metrics:\n  web_config_file: web.yml\n", path: "t.yaml")
            Issue.record("a relative web_config_file was accepted")
        } catch {
            #expect(error.issues.map(\.description) == ["t.yaml:7:20: metrics.web_config_file: must be an absolute path (starting with /)"])
        }
    }
}
