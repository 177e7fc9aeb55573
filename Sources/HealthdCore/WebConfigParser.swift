import Yams

/// Parses and validates a web configuration file (exporter-toolkit's format; the reference is
/// `docs/metrics.md`, "Securing the endpoint").
///
/// Pure, like ``ConfigParser``: every problem is reported at its line and column with its key path, and thrown
/// together. Messages never repeat a `basic_auth_users` value: a password written there by mistake stays out
/// of the logs.
public enum WebConfigParser {
    static let rootKeys = ["tls_server_config", "basic_auth_users"]
    static let tlsKeys = ["cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version", "max_version"]
    /// exporter-toolkit keys this build does not implement: named as such rather than as typos.
    static let unsupportedRootKeys = ["http_server_config", "rate_limit"]
    static let unsupportedTLSKeys = [
        "cert", "key", "client_ca", "client_allowed_sans", "cipher_suites", "prefer_server_cipher_suites",
        "curve_preferences",
    ]

    /// Parses `text`; `path` names the file in issues and anchors relative file names.
    public static func parse(_ text: String, path: String) throws(ConfigErrors) -> WebConfig {
        let context = ConfigContext(path: path)
        let root = try context.compose(text)
        // An empty file, as with exporter-toolkit, asks for nothing: plain HTTP without authentication.
        guard let root, !ConfigContext.isNull(root) else { return WebConfig() }
        let config = WebConfigDecoder(context: context, directory: directory(of: path)).config(root)
        guard let config, context.issues.isEmpty else {
            throw ConfigErrors(issues: ConfigErrors.inFileOrder(context.issues))
        }
        return config
    }

    /// The directory relative names are resolved against: the file's own.
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// `$2a$`, `$2b$` or `$2y$`, a two-digit cost from 4 to 31, `$`, then 53 characters of bcrypt's base-64.
    static func isBcryptHash(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 60, bytes[0] == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: "2"),
            [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(bytes[2]),
            bytes[3] == UInt8(ascii: "$"), bytes[6] == UInt8(ascii: "$"),
            let cost = Int(String(decoding: bytes[4..<6], as: UTF8.self)), (4...31).contains(cost)
        else { return false }
        return bytes[7...].allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "/")
        }
    }
}

struct WebConfigDecoder {
    let context: ConfigContext
    let directory: String

    func config(_ node: ConfigNode) -> WebConfig? {
        guard
            let root = context.mapping(
                node, keyPath: "", known: WebConfigParser.rootKeys + WebConfigParser.unsupportedRootKeys)
        else { return nil }
        reportUnsupported(WebConfigParser.unsupportedRootKeys, in: root)
        var config = WebConfig()
        if let mapping = context.optionalMapping(
            "tls_server_config", in: root, known: WebConfigParser.tlsKeys + WebConfigParser.unsupportedTLSKeys)
        {
            reportUnsupported(WebConfigParser.unsupportedTLSKeys, in: mapping)
            config.tls = tls(mapping)
        }
        if let node = root.value("basic_auth_users"), !ConfigContext.isNull(node) {
            config.basicAuthUsers = users(node, keyPath: "basic_auth_users") ?? [:]
        }
        return config
    }

    private func reportUnsupported(_ keys: [String], in mapping: ConfigMapping) {
        for key in keys {
            guard let entry = mapping.entry(key) else { continue }
            context.report(
                "'\(key)' (from Prometheus's exporter-toolkit) is not supported by leen-healthd",
                keyPath: mapping.path(key), at: entry.keyNode)
        }
    }

    private func tls(_ mapping: ConfigMapping) -> WebConfig.TLSServer? {
        let cert = context.require("cert_file", in: mapping).flatMap { file($0, keyPath: mapping.path("cert_file")) }
        let key = context.require("key_file", in: mapping).flatMap { file($0, keyPath: mapping.path("key_file")) }
        let clientCA = mapping.value("client_ca_file").flatMap { file($0, keyPath: mapping.path("client_ca_file")) }
        var clientAuth = WebConfig.ClientAuthType.none
        if let node = mapping.value("client_auth_type") {
            clientAuth =
                context.choice(
                    node, keyPath: mapping.path("client_auth_type"),
                    WebConfig.ClientAuthType.allCases.map { ($0.rawValue, $0) }) ?? clientAuth
        }
        let versions = WebConfig.TLSVersion.allCases.map { ($0.rawValue, $0) }
        var minVersion = WebConfig.TLSVersion.tls12
        var maxVersion = WebConfig.TLSVersion.tls13
        if let node = mapping.value("min_version") {
            minVersion = context.choice(node, keyPath: mapping.path("min_version"), versions) ?? minVersion
        }
        if let node = mapping.value("max_version") {
            maxVersion = context.choice(node, keyPath: mapping.path("max_version"), versions) ?? maxVersion
            if maxVersion < minVersion {
                context.report(
                    "must not be below min_version (\(minVersion.rawValue)), found \(maxVersion.rawValue)",
                    keyPath: mapping.path("max_version"), at: node)
            }
        }
        // The same two refusals as exporter-toolkit: a CA that nothing uses is a forgotten client_auth_type,
        // and verifying against no CA cannot work.
        if let entry = mapping.entry("client_ca_file"), clientAuth == .none {
            context.report(
                "a client CA is given but client_auth_type is NoClientCert: set client_auth_type to "
                    + "RequireAndVerifyClientCert to require client certificates",
                keyPath: mapping.path("client_ca_file"), at: entry.keyNode)
        }
        if clientAuth.verifies, mapping.entry("client_ca_file") == nil, let node = mapping.value("client_auth_type") {
            context.report(
                "\(clientAuth.rawValue) verifies client certificates: give client_ca_file",
                keyPath: mapping.path("client_auth_type"), at: node)
        }
        guard let cert, let key else { return nil }
        return WebConfig.TLSServer(
            certFile: cert, keyFile: key, clientCAFile: clientCA, clientAuth: clientAuth, minVersion: minVersion,
            maxVersion: maxVersion)
    }

    /// A file name: absolute, or relative to the web configuration file's directory.
    private func file(_ node: ConfigNode, keyPath: String) -> String? {
        guard let text = context.nonEmptyString(node, keyPath: keyPath) else { return nil }
        if text.hasPrefix("/") { return text }
        return directory == "/" ? "/\(text)" : "\(directory)/\(text)"
    }

    private func users(_ node: ConfigNode, keyPath: String) -> [String: String]? {
        guard let mapping = context.mapping(node, keyPath: keyPath, known: nil) else { return nil }
        var users: [String: String] = [:]
        for entry in mapping.entries {
            let userPath = mapping.path(entry.key)
            // RFC 7617: the user-id cannot contain a colon, the first colon ends it.
            guard !entry.key.isEmpty, !entry.key.contains(":") else {
                context.report("a username must not be empty or contain ':'", keyPath: keyPath, at: entry.keyNode)
                continue
            }
            guard case .scalar(let scalar) = entry.value, !ConfigContext.isNull(entry.value),
                WebConfigParser.isBcryptHash(scalar.string)
            else {
                // The value is not repeated: it may be a password written in clear by mistake.
                context.report(
                    "must be a bcrypt hash ($2y$, $2b$ or $2a$, the cost, then 53 characters, such as "
                        + "`htpasswd -nbBC 10 USER PASSWORD` prints after the colon), never a password",
                    keyPath: userPath, at: entry.value)
                continue
            }
            users[entry.key] = scalar.string
        }
        return users
    }
}
