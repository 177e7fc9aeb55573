import HealthdTestSupport
import Foundation
import HealthdCore
import LeenAPI
import Testing

@testable import Healthd

/// A temporary directory with a config file and secret files; removed when the test ends.
private final class ConfigSandbox {
    let directory: String
    let credentials: String

    init() throws {
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("config-loader-\(UUID().uuidString)")
            .path
        credentials = directory + "/credentials"
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Writes `text` to `name` in the sandbox (or at an absolute `name`) with `mode`; returns the path.
    @discardableResult
    func write(_ name: String, _ text: String, mode: Int = 0o600) throws -> String {
        let path = name.hasPrefix("/") ? name : "\(directory)/\(name)"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    var environment: [String: String] { ["CREDENTIALS_DIRECTORY": credentials] }

    /// A config whose API key is `key` (a YAML flow mapping) and whose one TENABLE connection takes its keys from
    /// `clientKey` and `secretKey`. The API key reference is on line 3 (its `{` at column 8), `client_key` on line 10
    /// and `secret_key` on line 11 (their values at column 23).
    func config(key: String, clientKey: String, secretKey: String) throws -> String {
        try write(
            "leen-healthd.yaml",
            """
            api:
              region: us
              key: \(key)
            organizations:
              - id: 3c90c3cc-0d44-4b50-8888-8dd25736052a
                connections:
                  - identifier: tenable
                    vendor: TENABLE
                    credentials:
                      client_key: \(clientKey)
                      secret_key: \(secretKey)
            """, mode: 0o644)
    }

    /// An expected issue about the TENABLE connection's credential `field`.
    static func credentialIssue(_ line: Int, _ column: Int, _ field: String, _ message: String) -> String {
        "$SANDBOX/leen-healthd.yaml:\(line):\(column): organizations[0].connections[0].credentials.\(field): \(message)"
    }

    /// The issues ConfigLoader reports, as strings, with the sandbox's path shortened to `$SANDBOX`.
    func issues(_ path: String, environment: [String: String]? = nil) -> [String] {
        do {
            _ = try ConfigLoader.load(path: path, environment: environment ?? self.environment)
            return []
        } catch {
            return error.issues.map { $0.description.replacingOccurrences(of: directory, with: "$SANDBOX") }
        }
    }
}

@Suite("Configuration loader and secrets")
struct ConfigLoaderTests {
    @Test func loadsAValidConfigurationWithReadableSecrets() throws {
        let sandbox = try ConfigSandbox()
        try sandbox.write("credentials/leen-api-key", "api-key\n", mode: 0o400)
        let client = try sandbox.write("client", "client\n")
        try sandbox.write("credentials/secret", "secret", mode: 0o640)
        let path = try sandbox.config(
            key: "{credential: leen-api-key}", clientKey: "{file: \(client)}", secretKey: "{credential: secret}")
        let configuration = try ConfigLoader.load(path: path, environment: sandbox.environment)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(configuration == (try ConfigParser.parse(text, path: path)))
        let reader = SecretReader(environment: sandbox.environment)
        #expect(try reader.read(configuration.api.key) == "api-key")
        let credentials = try #require(configuration.organizations.first?.connections.first?.credentials)
        #expect(try credentials.resolve { try reader.read($0) } == ["client_key": "client", "secret_key": "secret"])
    }

    @Test func anUnreadableConfigFileIsOneIssueForTheWholeFile() throws {
        let sandbox = try ConfigSandbox()
        #expect(
            sandbox.issues(sandbox.directory + "/missing.yaml") == [
                "$SANDBOX/missing.yaml: the configuration file does not exist"
            ])
        #expect(
            sandbox.issues(sandbox.credentials) == [
                "$SANDBOX/credentials: the configuration file is not a regular file"
            ])
        let binary = try sandbox.write("binary.yaml", "")
        try Data([0x61, 0x3A, 0x20, 0xFF, 0xFE]).write(to: URL(fileURLWithPath: binary))
        #expect(sandbox.issues(binary) == ["$SANDBOX/binary.yaml: the configuration file is not UTF-8 text"])
    }

    /// Each broken secret is reported at its reference, and every one is reported.
    @Test func secretProblemsPointAtTheirReferences() throws {
        let sandbox = try ConfigSandbox()
        let open = try sandbox.write("open", "value\n", mode: 0o644)
        let empty = try sandbox.write("empty", "\n")
        let path = try sandbox.config(
            key: "{credential: absent}", clientKey: "{file: \(open)}", secretKey: "{file: \(empty)}")
        #expect(
            sandbox.issues(path) == [
                "$SANDBOX/leen-healthd.yaml:3:21: api.key: credential 'absent' ($SANDBOX/credentials/absent) does not "
                    + "exist",
                ConfigSandbox.credentialIssue(
                    10, 30, "client_key", "file $SANDBOX/open is readable by every user; chmod 600 it"),
                ConfigSandbox.credentialIssue(11, 30, "secret_key", "file $SANDBOX/empty is empty"),
            ])
    }

    /// A file named by several references is read once, and a problem with it is reported at each of them.
    @Test func oneBrokenFileNamedTwiceIsReportedTwice() throws {
        let sandbox = try ConfigSandbox()
        try sandbox.write("credentials/key", "k")
        let path = try sandbox.config(
            key: "{credential: key}", clientKey: "{file: \(sandbox.directory)/nope}",
            secretKey: "{file: \(sandbox.directory)/nope}")
        #expect(
            sandbox.issues(path) == [
                ConfigSandbox.credentialIssue(10, 30, "client_key", "file $SANDBOX/nope does not exist"),
                ConfigSandbox.credentialIssue(11, 30, "secret_key", "file $SANDBOX/nope does not exist"),
            ])
    }

    @Test func missingAndNonRegularSecretFiles() throws {
        let sandbox = try ConfigSandbox()
        try sandbox.write("credentials/key", "k")
        let path = try sandbox.config(
            key: "{credential: key}", clientKey: "{file: \(sandbox.directory)/nope}",
            secretKey: "{file: \(sandbox.credentials)}")
        #expect(
            sandbox.issues(path) == [
                ConfigSandbox.credentialIssue(10, 30, "client_key", "file $SANDBOX/nope does not exist"),
                ConfigSandbox.credentialIssue(
                    11, 30, "secret_key", "file $SANDBOX/credentials is not a regular file"),
            ])
    }

    @Test(.enabled(if: geteuid() != 0, "root reads any file"))
    func unreadableSecretFile() throws {
        let sandbox = try ConfigSandbox()
        try sandbox.write("credentials/key", "k")
        let locked = try sandbox.write("locked", "x", mode: 0o000)
        let path = try sandbox.config(
            key: "{credential: key}", clientKey: "{file: \(locked)}", secretKey: "{file: \(locked)}")
        let issues = sandbox.issues(path)
        #expect(issues.count == 2)
        #expect(issues.allSatisfy { $0.hasSuffix("file $SANDBOX/locked cannot be read: Permission denied") })
    }

    @Test func credentialsNeedCredentialsDirectory() throws {
        let sandbox = try ConfigSandbox()
        let file = try sandbox.write("file", "x")
        let path = try sandbox.config(
            key: "{credential: leen-api-key}", clientKey: "{file: \(file)}", secretKey: "{credential: tenable}")
        let unset = [
            "$SANDBOX/leen-healthd.yaml:3:21: api.key: credential 'leen-api-key' cannot be found: "
                + "$CREDENTIALS_DIRECTORY is not set (run under systemd with LoadCredential=leen-api-key:PATH or "
                + "LoadCredentialEncrypted=leen-api-key:PATH)",
            ConfigSandbox.credentialIssue(
                11, 36, "secret_key",
                "credential 'tenable' cannot be found: $CREDENTIALS_DIRECTORY is not set (run under systemd with "
                    + "LoadCredential=tenable:PATH or LoadCredentialEncrypted=tenable:PATH)"),
        ]
        #expect(sandbox.issues(path, environment: [:]) == unset)
        #expect(sandbox.issues(path, environment: ["CREDENTIALS_DIRECTORY": ""]) == unset)
    }

    /// Syntax and value errors come with the secret problems of the references that were well formed.
    @Test func parseErrorsAndSecretErrorsTogether() throws {
        let sandbox = try ConfigSandbox()
        let path = try sandbox.config(
            key: "{credential: leen-api-key}", clientKey: "literal-secret", secretKey: "{file: /nonexistent/secret}")
        #expect(
            sandbox.issues(path) == [
                "$SANDBOX/leen-healthd.yaml:3:21: api.key: credential 'leen-api-key' "
                    + "($SANDBOX/credentials/leen-api-key) does not exist",
                ConfigSandbox.credentialIssue(
                    10, 23, "client_key",
                    "must come from a file or credential, never be written in the configuration: use "
                        + "{credential: NAME} or {file: PATH}"),
                ConfigSandbox.credentialIssue(11, 30, "secret_key", "file /nonexistent/secret does not exist"),
            ])
    }

    // MARK: SecretReader

    @Test(arguments: [
        ("value", "value"), ("value\n", "value"), ("value\n\n", "value\n"), ("value\r\n", "value"),
        ("  spaced value  ", "  spaced value  "), ("multi\nline\n", "multi\nline"), ("\tx\n", "\tx"),
    ])
    func readerTrimsOneTrailingNewline(_ content: String, _ expected: String) throws {
        let sandbox = try ConfigSandbox()
        let path = try sandbox.write("secret", content)
        #expect(try SecretReader(environment: [:]).read(.file(path)) == expected)
    }

    @Test func readerErrorsNameTheSourceNeverTheValue() throws {
        let sandbox = try ConfigSandbox()
        let open = try sandbox.write("credentials/open", "hunter2\n", mode: 0o604)
        let reader = SecretReader(environment: sandbox.environment)
        #expect(throws: SecretError.self) { try reader.read(.credential("open")) }
        do {
            _ = try reader.read(.file(open))
            Issue.record("a world-readable secret was read")
        } catch {
            #expect(error.source == .file(open))
            #expect(error.message == "file \(open) is readable by every user; chmod 600 it")
            #expect(!"\(error)".contains("hunter2"))
        }
        #expect(try reader.path(of: .credential("x")) == sandbox.credentials + "/x")
        #expect(
            try SecretReader(environment: ["CREDENTIALS_DIRECTORY": "/run/credentials/a/"]).path(of: .credential("x"))
                == "/run/credentials/a/x")
    }

    @Test func readerRefusesLargeFiles() throws {
        let sandbox = try ConfigSandbox()
        let path = try sandbox.write("large", String(repeating: "x", count: SecretReader.maximumBytes + 1))
        #expect(throws: SecretError(source: .file(path), message: "file \(path) is larger than 64 KiB")) {
            try SecretReader(environment: [:]).read(.file(path))
        }
    }
}
