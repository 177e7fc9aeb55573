import Yams

/// A 1-based line and column in the configuration file.
struct ConfigPosition: Hashable {
    var line: Int
    var column: Int

    init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    init(_ node: ConfigNode) { self = node.position }
}

/// A YAML mapping whose keys were checked against the known ones.
struct ConfigMapping {
    struct Entry {
        var key: String
        var keyNode: ConfigNode
        var value: ConfigNode
    }

    let node: ConfigNode
    let keyPath: String
    let entries: [Entry]

    var position: ConfigPosition { ConfigPosition(node) }
    var isEmpty: Bool { entries.isEmpty }

    func entry(_ key: String) -> Entry? { entries.first { $0.key == key } }
    func value(_ key: String) -> ConfigNode? { entry(key)?.value }
    func path(_ key: String) -> String { ConfigContext.join(keyPath, key) }
}

/// Collects issues and secret references while a configuration is decoded, and reads YAML nodes with checks.
final class ConfigContext {
    let path: String
    private(set) var issues: [ConfigIssue] = []
    private(set) var secretReferences: [SecretReference] = []
    /// Every distinct credential template decoded so far (see ``shared(_:)``).
    private var templates: Set<CredentialTemplate> = []

    /// Connections' credentials already decoded without an issue, by their node (a YAML alias repeats its
    /// anchor's node, position included) and vendor (see ``ConfigurationDecoder/credentials(in:vendor:)``).
    var decodedCredentials: [DecodedCredentials.Key: DecodedCredentials.Decoded] = [:]

    init(path: String) { self.path = path }

    /// Secret references recorded from `start` on (decoding one value), for ``replaySecretReferences(_:under:)``.
    func secretReferences(from start: Int, under keyPath: String) -> [(suffix: Substring, reference: SecretReference)] {
        secretReferences[start...].map { ($0.keyPath.dropFirst(keyPath.count), $0) }
    }

    /// Records `references` again for a value decoded the same way at `keyPath`.
    func replaySecretReferences(_ references: [(suffix: Substring, reference: SecretReference)], under keyPath: String) {
        for (suffix, reference) in references {
            var reference = reference
            reference.keyPath = keyPath + suffix
            secretReferences.append(reference)
        }
    }

    /// `template`, or an equal one decoded before, so that connections with the same credentials (a YAML
    /// alias, or the same files written out again) hold one copy: with one per connection, the templates took
    /// 20 MB of the daemon's heap at 100,000 connections (jemalloc's allocated bytes, 243 MB before, 222 after).
    func shared(_ template: CredentialTemplate) -> CredentialTemplate {
        templates.insert(template).memberAfterInsert
    }

    static func join(_ keyPath: String, _ key: String) -> String { keyPath.isEmpty ? key : "\(keyPath).\(key)" }
    static func index(_ keyPath: String, _ index: Int) -> String { "\(keyPath)[\(index)]" }

    // MARK: Reporting

    func report(_ message: String, keyPath: String, at position: ConfigPosition) {
        let text = keyPath.isEmpty ? message : "\(keyPath): \(message)"
        issues.append(ConfigIssue(path: path, line: position.line, column: position.column, message: text))
    }

    func report(_ message: String, keyPath: String, at node: ConfigNode) {
        report(message, keyPath: keyPath, at: ConfigPosition(node))
    }

    func addSecretReference(_ source: SecretSource, keyPath: String, at node: ConfigNode) {
        let position = ConfigPosition(node)
        secretReferences.append(
            SecretReference(keyPath: keyPath, source: source, line: position.line, column: position.column))
    }

    /// The YAML tree of `text`, nil for an empty document; a syntax error is one issue at its position.
    func compose(_ text: String) throws(ConfigErrors) -> ConfigNode? {
        do {
            // Yams's `.basic` resolver where Yams composes: keys are strings, as every key of ours is, without
            // the default resolver's regular expressions; values are resolved by `configTag`, with the
            // default rules.
            return try ConfigComposer.compose(text)
        } catch {
            throw ConfigErrors(issues: [issue(forYAMLError: error)])
        }
    }

    /// A Yams error as an issue at the position Yams reports.
    func issue(forYAMLError error: any Error) -> ConfigIssue {
        func issue(_ message: String, _ line: Int, _ column: Int) -> ConfigIssue {
            ConfigIssue(path: path, line: line, column: column, message: message)
        }
        guard let error = error as? YamlError else { return issue("invalid YAML: \(error)", 0, 0) }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let during = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return issue("invalid YAML: \(problem)\(during)", mark.line, mark.column)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            let noun = duplicates.count == 1 ? "key \(keys) is" : "keys \(keys) are"
            return issue(
                "invalid YAML: \(noun) given more than once in one mapping", context.mark.line,
                context.mark.column)
        case .reader(let problem, let offset, _, let yaml):
            let (line, column) = offset.map { Self.lineAndColumn(ofCharacterOffset: $0, in: yaml) } ?? (0, 0)
            return issue("invalid YAML: \(problem)", line, column)
        default:
            return issue("invalid YAML: \(error)", 0, 0)
        }
    }

    static func lineAndColumn(ofCharacterOffset offset: Int, in text: String) -> (Int, Int) {
        var line = 1
        var column = 1
        for character in text.prefix(offset) {
            if character.isNewline {
                line += 1
                column = 1
            } else {
                column += character.unicodeScalars.count
            }
        }
        return (line, column)
    }

    // MARK: Reading nodes

    /// What a node is, for "expected …, found …" messages.
    static func describe(_ node: ConfigNode) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let scalar):
            return node.configTag == .null ? "nothing" : "'\(scalar.string)'"
        }
    }

    static func isNull(_ node: ConfigNode) -> Bool {
        if case .scalar = node { return node.configTag == .null }
        return false
    }

    func reportExpected(_ expected: String, keyPath: String, found node: ConfigNode) {
        report("expected \(expected), found \(Self.describe(node))", keyPath: keyPath, at: node)
    }

    /// A mapping whose keys are all in `known` (each unknown key is reported, with a suggestion when a known key
    /// is close); nil, reported, when the node is not a mapping.
    func mapping(_ node: ConfigNode, keyPath: String, known: [String]?) -> ConfigMapping? {
        guard case .mapping(let mapping) = node else {
            reportExpected("a mapping", keyPath: keyPath, found: node)
            return nil
        }
        var entries: [ConfigMapping.Entry] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode, !Self.isNull(keyNode) else {
                report("keys must be plain names, found \(Self.describe(keyNode))", keyPath: keyPath, at: keyNode)
                continue
            }
            if let known, !known.contains(scalar.string) {
                report(
                    "unknown key '\(scalar.string)'; \(Self.suggestion(for: scalar.string, among: known))",
                    keyPath: keyPath, at: keyNode)
                continue
            }
            entries.append(ConfigMapping.Entry(key: scalar.string, keyNode: keyNode, value: value))
        }
        return ConfigMapping(node: node, keyPath: keyPath, entries: entries)
    }

    /// A section that may be left out or empty (`poll:`): nil when absent or null.
    func optionalMapping(_ key: String, in parent: ConfigMapping, known: [String]) -> ConfigMapping? {
        guard let node = parent.value(key), !Self.isNull(node) else { return nil }
        return mapping(node, keyPath: parent.path(key), known: known)
    }

    /// The value of a required key; reported at the mapping when missing.
    func require(_ key: String, in mapping: ConfigMapping) -> ConfigNode? {
        guard let node = mapping.value(key) else {
            report("missing required key '\(key)'", keyPath: mapping.keyPath, at: mapping.position)
            return nil
        }
        return node
    }

    /// The entry of whichever of `first` and `second` the mapping has; reported when it has neither or both (at
    /// the later of the two).
    func oneOf(_ first: String, _ second: String, in mapping: ConfigMapping) -> ConfigMapping.Entry? {
        switch (mapping.entry(first), mapping.entry(second)) {
        case (nil, nil):
            report("missing '\(first)' or '\(second)' (give one)", keyPath: mapping.keyPath, at: mapping.position)
        case (let a?, let b?):
            let (positionA, positionB) = (ConfigPosition(a.keyNode), ConfigPosition(b.keyNode))
            let later = (positionA.line, positionA.column) > (positionB.line, positionB.column) ? a : b
            report("give either '\(first)' or '\(second)', not both", keyPath: mapping.keyPath, at: later.keyNode)
        case (let entry?, nil), (nil, let entry?):
            return entry
        }
        return nil
    }

    /// A required key's value checked by `parse`, with its node.
    func requiredValue<Value>(
        _ key: String, in mapping: ConfigMapping, expected: String,
        _ parse: (String) -> Result<Value, ConfigValueError>
    ) -> (Value, ConfigNode)? {
        guard let node = require(key, in: mapping),
            let value = value(node, keyPath: mapping.path(key), expected: expected, parse)
        else { return nil }
        return (value, node)
    }

    /// The text of a scalar that is not null; reported otherwise.
    func text(_ node: ConfigNode, keyPath: String, expected: String) -> String? {
        guard case .scalar(let scalar) = node, !Self.isNull(node) else {
            reportExpected(expected, keyPath: keyPath, found: node)
            return nil
        }
        return scalar.string
    }

    /// A non-empty string without surrounding spaces.
    func nonEmptyString(_ node: ConfigNode, keyPath: String) -> String? {
        guard let text = text(node, keyPath: keyPath, expected: "a string") else { return nil }
        guard !text.isEmpty else {
            report("must not be empty", keyPath: keyPath, at: node)
            return nil
        }
        return text
    }

    /// A whole number within `range`.
    func integer(_ node: ConfigNode, keyPath: String, in range: ClosedRange<Int>) -> Int? {
        guard let text = text(node, keyPath: keyPath, expected: "a whole number") else { return nil }
        guard node.configTag == .int, let value = node.int else {
            reportExpected("a whole number", keyPath: keyPath, found: node)
            return nil
        }
        guard range.contains(value) else {
            let bounds =
                range.upperBound == .max
                ? "at least \(range.lowerBound)" : "between \(range.lowerBound) and \(range.upperBound)"
            report("must be \(bounds), found \(text)", keyPath: keyPath, at: node)
            return nil
        }
        return value
    }

    /// One of `choices` (exact spelling).
    func choice<Value>(_ node: ConfigNode, keyPath: String, _ choices: [(String, Value)]) -> Value? {
        let names = choices.map(\.0)
        let expected = Self.list(names)
        guard let text = text(node, keyPath: keyPath, expected: expected) else { return nil }
        guard let value = choices.first(where: { $0.0 == text })?.1 else {
            let hint = Self.closest(to: text, among: names).map { "; did you mean '\($0)'?" } ?? ""
            report("expected \(expected), found '\(text)'\(hint)", keyPath: keyPath, at: node)
            return nil
        }
        return value
    }

    /// A scalar checked by `parse`, which returns the value or what is wrong.
    func value<Value>(
        _ node: ConfigNode, keyPath: String, expected: String, _ parse: (String) -> Result<Value, ConfigValueError>
    ) -> Value? {
        guard let text = text(node, keyPath: keyPath, expected: expected) else { return nil }
        switch parse(text) {
        case .success(let value): return value
        case .failure(.invalid):
            reportExpected(expected, keyPath: keyPath, found: node)
        case .failure(.outOfRange(let message)):
            report(message, keyPath: keyPath, at: node)
        }
        return nil
    }

    // MARK: Suggestions

    /// `'a', 'b' or 'c'`.
    static func list(_ names: [String]) -> String {
        let quoted = names.map { "'\($0)'" }
        guard quoted.count > 1 else { return quoted.first ?? "nothing" }
        return quoted.dropLast().joined(separator: ", ") + " or " + quoted.last!
    }

    /// "did you mean 'x'?" when a known name is close, otherwise the list of known names.
    static func suggestion(for name: String, among known: [String]) -> String {
        if let close = closest(to: name, among: known) { return "did you mean '\(close)'?" }
        return "expected \(list(known))"
    }

    /// The known name nearest to `name` (ignoring case, transpositions counting as one edit), if close enough:
    /// at most 2 edits, and fewer than half of the name's length.
    static func closest(to name: String, among known: [String]) -> String? {
        let target = Array(name.lowercased())
        let scored = known.map { (name: $0, distance: editDistance(target, Array($0.lowercased()))) }
        guard let best = scored.min(by: { $0.distance < $1.distance }) else { return nil }
        let limit = min(2, max(1, (target.count - 1) / 2))
        return best.distance <= limit ? best.name : nil
    }

    /// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var best = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    best = min(best, table[i - 2][j - 2] + 1)
                }
                table[i][j] = best
            }
        }
        return table[a.count][b.count]
    }
}

/// Why a scalar was rejected by a value parser.
enum ConfigValueError: Error, Equatable {
    /// Not of the expected form: reported as "expected …, found '…'".
    case invalid
    /// Of the right form but not acceptable: the message says why.
    case outOfRange(String)
}
