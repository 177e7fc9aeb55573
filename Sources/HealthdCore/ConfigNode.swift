import Yams

/// A YAML node of the configuration, composed by ``ConfigComposer``: what ``ConfigurationDecoder`` reads.
///
/// Values, not Yams's `Node`: a Yams node holds a `Tag` object (allocated for every node, and resolved in
/// place when read), which made composing and decoding a configuration of 100,000 connections take 2.7 s
/// on one thread at each start (perf, 2026-12-03). A configuration node is immutable and `Sendable`.
enum ConfigNode: Sendable {
    case scalar(Scalar)
    case mapping(Mapping)
    case sequence(Sequence)

    struct Scalar: Sendable {
        var string: String
        /// `.implicit` for a plain scalar without a tag; a quoted scalar's is `str` (as libyaml and Yams say).
        var tag: Tag.Name
        var position: ConfigPosition
    }

    struct Mapping: Sendable, RandomAccessCollection {
        var pairs: [(key: ConfigNode, value: ConfigNode)]
        var tag: Tag.Name
        var position: ConfigPosition

        var startIndex: Int { pairs.startIndex }
        var endIndex: Int { pairs.endIndex }
        subscript(position: Int) -> (key: ConfigNode, value: ConfigNode) { pairs[position] }

        var keys: [ConfigNode] { pairs.map(\.key) }

        /// The value of the first key that is the scalar `key`.
        subscript(key: String) -> ConfigNode? {
            pairs.first { $0.key.string == key }?.value
        }
    }

    struct Sequence: Sendable, RandomAccessCollection {
        var nodes: [ConfigNode]
        var tag: Tag.Name
        var position: ConfigPosition

        var startIndex: Int { nodes.startIndex }
        var endIndex: Int { nodes.endIndex }
        subscript(position: Int) -> ConfigNode { nodes[position] }
    }

    var position: ConfigPosition {
        switch self {
        case .scalar(let scalar): scalar.position
        case .mapping(let mapping): mapping.position
        case .sequence(let sequence): sequence.position
        }
    }

    var string: String? {
        if case .scalar(let scalar) = self { return scalar.string }
        return nil
    }

    var scalar: Scalar? {
        if case .scalar(let scalar) = self { return scalar }
        return nil
    }

    var mapping: Mapping? {
        if case .mapping(let mapping) = self { return mapping }
        return nil
    }

    /// The scalar as Yams's node, for its resolver and constructors (rarely: see ``configTag``).
    private var yamsScalar: Node.Scalar? {
        guard case .scalar(let scalar) = self else { return nil }
        return Node.Scalar(scalar.string, Tag(scalar.tag))
    }

    var int: Int? { yamsScalar.flatMap(Int.construct) }
    var bool: Bool? { yamsScalar.flatMap(Bool.construct) }
    var float: Double? { yamsScalar.flatMap(Double.construct) }

    /// The tag's name as Yams's default resolver reads it. An explicit tag, and a quoted scalar's, is kept.
    ///
    /// Yams resolves a plain scalar by trying the default rules' regular expressions one after the other, a
    /// sixth of the time to read a configuration of 100k connections (perf). Every rule but `bool` and `null`
    /// matches only text that starts with one of ``ruleStarts``, and those two only the spellings below:
    /// other plain text (a name, a path) is a string, found without a regular expression.
    var configTag: Tag.Name {
        switch self {
        case .mapping(let mapping): return mapping.tag == .implicit ? .map : mapping.tag
        case .sequence(let sequence): return sequence.tag == .implicit ? .seq : sequence.tag
        case .scalar(let scalar):
            guard scalar.tag == .implicit else { return scalar.tag }
            if let first = scalar.string.utf8.first, !Self.ruleStarts.contains(first),
                !Self.letterSpellings.contains(scalar.string)
            {
                return .str
            }
            return Resolver.default.resolveTag(of: Node.scalar(Node.Scalar(scalar.string)))
        }
    }

    /// What the default rules other than `bool` and `null` can start with: a sign, a digit, `.` (`.5`,
    /// `.inf`), `<<`, `~` and `=`.
    private static let ruleStarts = Set("-+0123456789.<~=".utf8)

    /// The plain scalars outside ``ruleStarts`` that Yams's default resolver does not read as strings: its
    /// `bool` and `null` rules (the empty string is null too, and has no first byte).
    private static let letterSpellings: Set<String> = [
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON",
        "off", "Off", "OFF", "null", "Null", "NULL",
    ]
}

extension ConfigNode {
    /// Yams's node as a configuration node (the composer's way for a document it leaves to Yams). Yams
    /// replaces an alias by its anchor's node while composing; `.alias` is only made for emitting.
    init(_ node: Node) {
        func position(_ mark: Mark?) -> ConfigPosition { ConfigPosition(line: mark?.line ?? 1, column: mark?.column ?? 1) }
        func name(_ tag: Tag) -> Tag.Name { Tag.Name(rawValue: tag.description) }
        switch node {
        case .scalar(let scalar):
            self = .scalar(Scalar(string: scalar.string, tag: name(scalar.tag), position: position(scalar.mark)))
        case .mapping(let mapping):
            self = .mapping(
                Mapping(
                    pairs: mapping.map { (ConfigNode($0.key), ConfigNode($0.value)) }, tag: name(mapping.tag),
                    position: position(mapping.mark)))
        case .sequence(let sequence):
            self = .sequence(
                Sequence(nodes: sequence.map(ConfigNode.init), tag: name(sequence.tag), position: position(sequence.mark)))
        case .alias:
            // Never composed (see above); read as nothing, which every key that wants a value reports.
            self = .scalar(Scalar(string: "", tag: .null, position: position(nil)))
        }
    }
}
