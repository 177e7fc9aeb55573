import Foundation
import HealthdCore

/// Loads and fully validates the configuration file: `leen-healthd check-config`, startup and reload.
///
/// On top of ``ConfigParser`` (syntax, types, ranges, vendors, duplicates), it reads the file and checks every
/// secret the configuration references (`api.key` and each credential leaf) with ``SecretReader``: the systemd
/// credential or file must exist, be a readable, non-empty regular file, and not be readable by every user.
/// Secret problems are reported at the position of the reference. Secret values never appear in errors.
public enum ConfigLoader {
    /// The largest configuration file accepted: room for some 400,000 declared connections (100,000 with
    /// realistic identifiers and credential references take about 15 MB).
    public static let maximumBytes = 64 << 20

    /// The validated configuration; every problem otherwise, in file order. With a shard (`shard` says
    /// which), only its organizations, and only their secrets are checked.
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        shard: ShardSelection = .fromFile
    ) throws(ConfigErrors) -> Configuration {
        try loadWithPositions(path: path, environment: environment, shard: shard).configuration
    }

    /// ``load(path:environment:shard:)`` that also returns where each secret is referenced.
    public static func loadWithPositions(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        shard: ShardSelection = .fromFile
    ) throws(ConfigErrors) -> ParsedConfiguration {
        let text = try readText(path: path)
        let reader = SecretReader(environment: environment)
        let parsed: ParsedConfiguration
        do {
            parsed = try ConfigParser.parseWithPositions(text, path: path, shard: shard)
        } catch {
            // Still check the secrets that were written correctly, so one run reports everything.
            let all = error.issues + secretIssues(error.secretReferences, path: path, reader: reader)
            throw ConfigErrors(issues: ConfigErrors.inFileOrder(all), secretReferences: error.secretReferences)
        }
        let issues = secretIssues(parsed.secretReferences, path: path, reader: reader)
        guard issues.isEmpty else { throw ConfigErrors(issues: issues, secretReferences: parsed.secretReferences) }
        return parsed
    }

    /// One issue per secret reference that cannot be read, at the reference.
    public static func secretIssues(_ references: [SecretReference], path: String, reader: SecretReader)
        -> [ConfigIssue]
    {
        // Each source is read once: a fleet often names one file for many connections (100k reads of the
        // same file were a tenth of the time to check a configuration of 100k connections).
        var problems: [SecretSource: String?] = [:]
        return references.compactMap { reference -> ConfigIssue? in
            let problem: String?
            if let known = problems[reference.source] {
                problem = known
            } else {
                do throws(SecretError) {
                    _ = try reader.read(reference.source)
                    problem = nil
                } catch {
                    problem = error.message
                }
                problems[reference.source] = .some(problem)
            }
            return problem.map {
                ConfigIssue(path: path, line: reference.line, column: reference.column, message: "\(reference.keyPath): \($0)")
            }
        }
    }

    /// The file's text; an issue for the whole file (line 0) when it cannot be read.
    static func readText(path: String) throws(ConfigErrors) -> String {
        func failure(_ message: String) -> ConfigErrors {
            ConfigErrors(issues: [ConfigIssue(path: path, line: 0, column: 0, message: message)])
        }
        let bytes: [UInt8]
        do {
            bytes = try RegularFile.contents(of: path, limit: maximumBytes, refuseWorldReadable: false)
        } catch {
            throw failure("the configuration file \(error.problem)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw failure("the configuration file is not UTF-8 text")
        }
        return text
    }
}
