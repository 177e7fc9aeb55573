import LeenAPI
import Yams

/// One problem in a configuration file, at a 1-based line and column.
///
/// Line 0 means the problem concerns the whole file (it cannot be read, say); it prints as `PATH: message`.
public struct ConfigIssue: Error, Hashable, Sendable, CustomStringConvertible {
    /// The configuration file, as it was named to the parser.
    public var path: String
    public var line: Int
    public var column: Int
    /// What is wrong, prefixed with the key path when there is one (`poll.interval: must be greater than zero`).
    public var message: String

    public init(path: String, line: Int, column: Int, message: String) {
        self.path = path
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        line > 0 ? "\(path):\(line):\(column): \(message)" : "\(path): \(message)"
    }
}

/// Every problem found in a configuration file, in file order.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigIssue]
    /// The secret references that were valid, so that file checks can still report on them.
    public var secretReferences: [SecretReference]

    public init(issues: [ConfigIssue], secretReferences: [SecretReference] = []) {
        self.issues = issues
        self.secretReferences = secretReferences
    }

    /// One issue per line.
    public var description: String { issues.map(\.description).joined(separator: "\n") }

    /// `issues` sorted by line and column; issues at one position keep their order.
    public static func inFileOrder(_ issues: [ConfigIssue]) -> [ConfigIssue] {
        issues.enumerated().sorted { a, b in
            (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
        }.map(\.element)
    }
}

/// Where the configuration refers to a secret: `api.key` or a credential leaf.
public struct SecretReference: Sendable, Hashable {
    /// The key path, e.g. `api.key` or `organizations[0].connections[1].credentials.aws.aws_secret_access_key`.
    public var keyPath: String
    public var source: SecretSource
    /// Position of the credential name or file path in the configuration file.
    public var line: Int
    public var column: Int

    public init(keyPath: String, source: SecretSource, line: Int, column: Int) {
        self.keyPath = keyPath
        self.source = source
        self.line = line
        self.column = column
    }
}

/// A configuration with the positions of its secret references, for checks that need the file system.
public struct ParsedConfiguration: Sendable, Hashable {
    public var configuration: Configuration
    /// In file order.
    public var secretReferences: [SecretReference]
    /// The file's `shard` key, whether or not it is the shard in force (``Configuration/shard``).
    public var shardInFile: Shard?

    public init(configuration: Configuration, secretReferences: [SecretReference], shardInFile: Shard? = nil) {
        self.configuration = configuration
        self.secretReferences = secretReferences
        self.shardInFile = shardInFile
    }

    /// Only `shard`'s organizations, and only the secrets the rest of the file (`api.key`) and they
    /// reference: a shard's host needs no other shard's credentials. The secret references' key paths
    /// index the file's organizations, as ``Configuration/organizations`` does before the restriction.
    func restricted(to shard: Shard?) -> ParsedConfiguration {
        var restricted = self
        restricted.configuration = configuration.restricted(to: shard)
        guard let shard else { return restricted }
        let owned = configuration.organizations.map { shard.owns($0.id) }
        restricted.secretReferences = secretReferences.filter { reference in
            guard let index = Self.organizationIndex(reference.keyPath), owned.indices.contains(index) else {
                return true
            }
            return owned[index]
        }
        return restricted
    }

    /// `3` for `organizations[3].connections[0].credentials.x`; nil outside the organizations.
    static func organizationIndex(_ keyPath: String) -> Int? {
        let prefix = "organizations["
        guard keyPath.hasPrefix(prefix), let close = keyPath.firstIndex(of: "]") else { return nil }
        return Int(keyPath[keyPath.index(keyPath.startIndex, offsetBy: prefix.count)..<close])
    }
}

/// Parses and validates leen-healthd's YAML configuration (the reference is `docs/configuration.md`).
///
/// Pure: no file or environment access. It reports every problem it finds, each at the line and column of the
/// offending key or value (a missing key: at the mapping that lacks it), and throws them all together.
public enum ConfigParser {
    /// Parses `text`; `path` is only used in the issues. With a shard (`shard` says which), the result holds
    /// only that shard's organizations (``Configuration/restricted(to:)``).
    public static func parse(_ text: String, path: String, shard: ShardSelection = .fromFile) throws(ConfigErrors)
        -> Configuration
    {
        try parseWithPositions(text, path: path, shard: shard).configuration
    }

    /// Parses `text` and also returns where each secret is referenced (with a shard, in its organizations and
    /// outside any organization only).
    public static func parseWithPositions(
        _ text: String, path: String, shard: ShardSelection = .fromFile
    ) throws(ConfigErrors) -> ParsedConfiguration {
        let context = ConfigContext(path: path)
        let root = try context.compose(text)
        guard let root else {
            throw ConfigErrors(issues: [ConfigIssue(path: path, line: 1, column: 1, message: "the file is empty")])
        }
        let configuration = ConfigurationDecoder(context: context).configuration(root)
        guard let configuration, context.issues.isEmpty else {
            throw ConfigErrors(
                issues: ConfigErrors.inFileOrder(context.issues), secretReferences: context.secretReferences)
        }
        return ParsedConfiguration(
            configuration: configuration, secretReferences: context.secretReferences, shardInFile: configuration.shard
        ).restricted(to: shard.resolve(file: configuration.shard))
    }
}
