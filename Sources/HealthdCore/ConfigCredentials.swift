import LeenAPI
import Yams

/// The `credentials` of a connection once checked: nil for a connection without credentials.
struct DecodedCredentials {
    var template: CredentialTemplate?

    /// A connection's `credentials` node, by where it starts in the file (one node starts at one place;
    /// hashing the node itself cost as much as half its decoding), for the vendor it was checked against.
    struct Key: Hashable {
        var line: Int
        var column: Int
        var vendor: Vendor?
    }

    /// What decoding a `credentials` node gave: the template, and the secret references it recorded (by
    /// their key path after the node's).
    struct Decoded {
        var template: CredentialTemplate
        var secretReferences: [(suffix: Substring, reference: SecretReference)]
    }
}

extension ConfigurationDecoder {
    /// True for a credential field whose value must come from a file or credential: its name contains `key`,
    /// `secret`, `password`, `passwd`, `passphrase`, `token` or `private` (any case).
    static func isSecretField(_ name: String) -> Bool {
        let name = name.lowercased()
        return ["key", "secret", "password", "passwd", "passphrase", "token", "private"].contains {
            name.contains($0)
        }
    }

    static let neverInline =
        "must come from a file or credential, never be written in the configuration: "
        + "use {credential: NAME} or {file: PATH}"

    /// `{credential: NAME}` or `{file: PATH}`, recorded with its position. A literal is reported without its
    /// value (it is a secret).
    func secretSource(_ node: ConfigNode, keyPath: String) -> SecretSource? {
        switch node {
        case .mapping: break
        case .scalar where !ConfigContext.isNull(node):
            context.report(Self.neverInline, keyPath: keyPath, at: node)
            return nil
        default:
            context.reportExpected("{credential: NAME} or {file: PATH}", keyPath: keyPath, found: node)
            return nil
        }
        guard let mapping = context.mapping(node, keyPath: keyPath, known: ConfigKeys.secretSource) else { return nil }
        switch context.oneOf("credential", "file", in: mapping) {
        case let credential? where credential.key == "credential":
            if let name = context.value(
                credential.value, keyPath: mapping.path("credential"), expected: "a credential name",
                ConfigValues.credentialName)
            {
                context.addSecretReference(.credential(name), keyPath: keyPath, at: credential.value)
                return .credential(name)
            }
        case let file?:
            if let path = context.value(
                file.value, keyPath: mapping.path("file"), expected: "an absolute path", ConfigValues.absolutePath)
            {
                context.addSecretReference(.file(path), keyPath: keyPath, at: file.value)
                return .file(path)
            }
        case nil:
            break
        }
        return nil
    }

    static func isSecretReference(_ node: ConfigNode) -> Bool {
        guard case .mapping(let mapping) = node else { return false }
        return mapping.keys.contains { key in ConfigKeys.secretSource.contains { key.string == $0 } }
    }

    // MARK: Credentials

    /// The connection's `credentials`, checked against what its vendor needs; nil, reported, when invalid.
    func credentials(in connection: ConfigMapping, vendor: Vendor?) -> DecodedCredentials? {
        let keyPath = connection.path("credentials")
        guard let entry = connection.entry("credentials"), !ConfigContext.isNull(entry.value) else {
            if let vendor, vendor.authorization == .credentials {
                context.report(
                    "missing required key 'credentials' (\(vendor) connections are created with credentials)",
                    keyPath: connection.keyPath, at: connection.position)
                return nil
            }
            return DecodedCredentials(template: nil)
        }
        if let vendor, vendor.authorization == .oauth2 {
            context.report(
                "\(vendor) connects through OAuth2 and takes no credentials: remove them (an administrator grants "
                    + "access at the connection's oauth2_authorize_url)",
                keyPath: keyPath, at: entry.keyNode)
            return nil
        }
        if Self.isSecretReference(entry.value) {
            context.report(
                "expected a mapping of credential fields, each from a file or credential "
                    + "(such as client_key: {file: PATH}), found a single secret reference",
                keyPath: keyPath, at: entry.value)
            return nil
        }
        guard case .mapping(let mapping) = entry.value else {
            context.reportExpected("a mapping of credential fields", keyPath: keyPath, found: entry.value)
            return nil
        }
        if mapping.isEmpty, let vendor, vendor.authorization == .credentials {
            context.report(
                "must not be empty (\(vendor) connections are created with credentials)", keyPath: keyPath,
                at: entry.value)
            return nil
        }
        // Connections that share credentials through a YAML alias (`credentials: *aws`) have the same node,
        // with its position: decoded once, with what it recorded replayed under each connection's key
        // path. Decoding each again was a third of a configuration's load at 100k connections (perf), which
        // a restart waits for. Equal credentials written out again elsewhere are at another position, and
        // decoded on their own.
        let position = entry.value.position
        let key = DecodedCredentials.Key(line: position.line, column: position.column, vendor: vendor)
        if let decoded = context.decodedCredentials[key] {
            context.replaySecretReferences(decoded.secretReferences, under: keyPath)
            return DecodedCredentials(template: decoded.template)
        }
        let (issues, references) = (context.issues.count, context.secretReferences.count)
        guard let template = credentialTemplate(entry.value, keyPath: keyPath, field: nil) else { return nil }
        if let vendor {
            for field in Self.requiredFields(of: vendor, in: template) where template.member(at: field) == nil {
                let (node, path) = deepestMapping(entry.value, keyPath: keyPath, toward: field)
                context.report("missing field '\(field)', which \(vendor) requires", keyPath: path, at: node)
            }
        }
        let shared = context.shared(template)
        // Only credentials without an issue: each connection's issues are reported under its own key path.
        if context.issues.count == issues {
            context.decodedCredentials[key] = DecodedCredentials.Decoded(
                template: shared, secretReferences: context.secretReferences(from: references, under: keyPath))
        }
        return DecodedCredentials(template: shared)
    }

    /// The vendor's documented credential fields; for AWS vendors whose `aws.type` is given and is not
    /// `direct_access` (role-based access), only `aws.type`.
    static func requiredFields(of vendor: Vendor, in template: CredentialTemplate) -> [String] {
        let fields = vendor.documentedCredentialFields
        if fields.contains("aws.type"), let type = template.member(at: "aws.type"),
            type != .literal(.string("direct_access"))
        {
            return ["aws.type"]
        }
        return fields
    }

    /// The deepest mapping along a dotted `field` path that exists under `node`, and its key path.
    private func deepestMapping(_ node: ConfigNode, keyPath: String, toward field: String) -> (ConfigNode, String) {
        var node = node
        var keyPath = keyPath
        for component in field.split(separator: ".").dropLast() {
            guard case .mapping(let mapping) = node, let child = mapping[String(component)],
                case .mapping = child
            else { break }
            node = child
            keyPath = ConfigContext.join(keyPath, String(component))
        }
        return (node, keyPath)
    }

    /// A credential value: a secret reference, a nested object, or a literal when the field is not secret.
    private func credentialTemplate(_ node: ConfigNode, keyPath: String, field: String?) -> CredentialTemplate? {
        if Self.isSecretReference(node) {
            return secretSource(node, keyPath: keyPath).map(CredentialTemplate.secret)
        }
        if case .mapping = node {
            return members(node, keyPath: keyPath) { credentialTemplate($0, keyPath: $1, field: $2) }
                .map(CredentialTemplate.object)
        }
        if let field, Self.isSecretField(field) {
            if case .scalar = node, !ConfigContext.isNull(node) {
                context.report(Self.neverInline, keyPath: keyPath, at: node)
            } else {
                context.reportExpected("{credential: NAME} or {file: PATH}", keyPath: keyPath, found: node)
            }
            return nil
        }
        return json(node, keyPath: keyPath).map(CredentialTemplate.literal)
    }

    // MARK: Options

    /// `options`, verbatim as JSON; `oauth2_redirect_urls`, when present, is checked.
    func options(_ node: ConfigNode, keyPath: String) -> JSONValue? {
        guard case .mapping(let mapping) = node else {
            context.reportExpected("a mapping", keyPath: keyPath, found: node)
            return nil
        }
        if let urls = mapping["oauth2_redirect_urls"] {
            let urlsPath = ConfigContext.join(keyPath, "oauth2_redirect_urls")
            if let urlsMapping = context.mapping(urls, keyPath: urlsPath, known: ConfigKeys.redirectURLs) {
                for key in ConfigKeys.redirectURLs {
                    guard let url = context.require(key, in: urlsMapping) else { continue }
                    _ = context.value(
                        url, keyPath: urlsMapping.path(key), expected: "an http:// or https:// URL", ConfigValues.webURL
                    )
                }
            }
        }
        return json(node, keyPath: keyPath)
    }

    /// Any YAML value as JSON: plain scalars keep their YAML type (quote a value to keep it a string);
    /// timestamps stay strings.
    func json(_ node: ConfigNode, keyPath: String) -> JSONValue? {
        switch node {
        case .scalar(let scalar):
            switch node.configTag {
            case .null: return .null
            case .bool: return node.bool.map(JSONValue.bool)
            case .int:
                guard let value = node.int else {
                    context.report("integer \(scalar.string) is out of range", keyPath: keyPath, at: node)
                    return nil
                }
                return .integer(Int64(value))
            case .float:
                guard let value = node.float, value.isFinite else {
                    context.report("\(scalar.string) is not a finite number", keyPath: keyPath, at: node)
                    return nil
                }
                return .number(value)
            default: return .string(scalar.string)
            }
        case .sequence(let sequence):
            let items = sequence.enumerated().map { json($1, keyPath: ConfigContext.index(keyPath, $0)) }
            let values = items.compactMap { $0 }
            return values.count == items.count ? .array(values) : nil
        case .mapping:
            return members(node, keyPath: keyPath) { value, path, _ in json(value, keyPath: path) }
                .map(JSONValue.object)
        }
    }

    /// Every member of a mapping with any keys, decoded by `decode(value, keyPath, key)`; nil when one fails (all
    /// are decoded anyway, so all problems are reported).
    private func members<Value>(_ node: ConfigNode, keyPath: String, _ decode: (ConfigNode, String, String) -> Value?)
        -> [String: Value]?
    {
        guard let mapping = context.mapping(node, keyPath: keyPath, known: nil) else { return nil }
        var members: [String: Value] = [:]
        var complete = true
        for entry in mapping.entries {
            if let value = decode(entry.value, mapping.path(entry.key), entry.key) {
                members[entry.key] = value
            } else {
                complete = false
            }
        }
        return complete ? members : nil
    }
}

extension CredentialTemplate {
    /// The member at a dotted path (`aws.type`), if present.
    func member(at path: String) -> CredentialTemplate? {
        var current: CredentialTemplate? = self
        for key in path.split(separator: ".") {
            guard case .object(let members)? = current else { return nil }
            current = members[String(key)]
        }
        return current
    }
}
