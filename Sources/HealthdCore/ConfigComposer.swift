import CYaml
import Yams

/// Composes a YAML document into ``ConfigNode``s from libyaml's events, as `Yams.compose(yaml:_:)` with the
/// `.basic` resolver composes its nodes, without what made Yams's composer 60% of a start at 100,000
/// connections (1.6 s; perf, 2026-12-03): an object per event and per tag, and every mapping's keys hashed
/// as nodes into a dictionary to find repeated keys.
///
/// It reads only documents it can vouch for: at a syntax error, an alias of no anchor, a second document,
/// a repeated key or a key that is not an untagged scalar, it gives up (``composeQuickly(_:)`` returns
/// `.leftToYams`) and ``compose(_:)`` lets Yams compose the text, which reports the error as it always did,
/// or composes what it accepts.
enum ConfigComposer {
    enum Outcome {
        case composed(ConfigNode?)
        case leftToYams
    }

    /// The document's root, nil for an empty document; throws Yams's error for a document it rejects.
    static func compose(_ text: String) throws -> ConfigNode? {
        if case .composed(let root) = composeQuickly(text) { return root }
        return try Yams.compose(yaml: text, .basic).map(ConfigNode.init)
    }

    /// The document's root from libyaml's events, or `.leftToYams`.
    static func composeQuickly(_ text: String) -> Outcome {
        var text = text
        return text.withUTF8 { bytes in
            let composer = Composer(bytes)
            defer { composer.close() }
            return composer.document().map(Outcome.composed) ?? .leftToYams
        }
    }

    /// One parse; its parser and current event are freed by ``close()``.
    private final class Composer {
        private var parser = yaml_parser_t()
        private var event = yaml_event_t()
        private var anchors: [String: ConfigNode] = [:]

        init(_ bytes: UnsafeBufferPointer<UInt8>) {
            yaml_parser_initialize(&parser)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)
        }

        func close() {
            yaml_event_delete(&event)
            yaml_parser_delete(&parser)
        }

        /// Parses the next event into ``event``; false at an error.
        private func next() -> Bool {
            yaml_event_delete(&event)
            return yaml_parser_parse(&parser, &event) == 1
        }

        /// `.some(nil)` for an empty stream, `.some(root)` for a single document, nil to leave it to Yams.
        func document() -> ConfigNode?? {
            guard next(), event.type == YAML_STREAM_START_EVENT, next() else { return nil }
            if event.type == YAML_STREAM_END_EVENT { return .some(nil) }
            guard event.type == YAML_DOCUMENT_START_EVENT, next(), let root = node() else { return nil }
            guard next(), event.type == YAML_DOCUMENT_END_EVENT, next(), event.type == YAML_STREAM_END_EVENT
            else { return nil }
            return .some(root)
        }

        /// The node that starts at the current event; nil to leave the document to Yams.
        private func node() -> ConfigNode? {
            switch event.type {
            case YAML_ALIAS_EVENT:
                return Self.string(event.data.alias.anchor).flatMap { anchors[$0] }
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let tag = scalar.quoted_implicit == 1 ? Tag.Name.str : Self.tagName(scalar.tag)
                let value = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                return anchored(Self.string(scalar.anchor), .scalar(.init(string: value, tag: tag, position: position)))
            case YAML_SEQUENCE_START_EVENT:
                let start = event.data.sequence_start
                let (anchor, position) = (Self.string(start.anchor), self.position)
                let tag = start.implicit != 0 ? Tag.Name.implicit : Self.tagName(start.tag)
                var nodes: [ConfigNode] = []
                while true {
                    guard next() else { return nil }
                    if event.type == YAML_SEQUENCE_END_EVENT { break }
                    guard let item = node() else { return nil }
                    nodes.append(item)
                }
                return anchored(anchor, .sequence(.init(nodes: nodes, tag: tag, position: position)))
            case YAML_MAPPING_START_EVENT:
                let start = event.data.mapping_start
                let (anchor, position) = (Self.string(start.anchor), self.position)
                let tag = start.implicit != 0 ? Tag.Name.implicit : Self.tagName(start.tag)
                var pairs: [(key: ConfigNode, value: ConfigNode)] = []
                while true {
                    guard next() else { return nil }
                    if event.type == YAML_MAPPING_END_EVENT { break }
                    guard let key = self.key(), next(), let value = node() else { return nil }
                    pairs.append((key, value))
                }
                guard !Self.repeatsAKey(pairs) else { return nil }
                return anchored(anchor, .mapping(.init(pairs: pairs, tag: tag, position: position)))
            default:
                return nil
            }
        }

        /// A mapping's key: an untagged scalar (plain or quoted), tagged `str`, as Yams's `.basic` resolver
        /// leaves a key once it has hashed it to look for repeats. Anything else is left to Yams.
        private func key() -> ConfigNode? {
            guard event.type == YAML_SCALAR_EVENT else { return nil }
            let scalar = event.data.scalar
            guard scalar.plain_implicit == 1 || scalar.quoted_implicit == 1 else { return nil }
            let value = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            return anchored(Self.string(scalar.anchor), .scalar(.init(string: value, tag: .str, position: position)))
        }

        /// Keys are `str` scalars here, so two are the same key exactly when their text is.
        private static func repeatsAKey(_ pairs: [(key: ConfigNode, value: ConfigNode)]) -> Bool {
            if pairs.count <= 8 {
                for i in pairs.indices.dropFirst() {
                    for j in 0..<i where pairs[i].key.string == pairs[j].key.string { return true }
                }
                return false
            }
            var seen = Set<String>(minimumCapacity: pairs.count)
            return pairs.contains { !seen.insert($0.key.string ?? "").inserted }
        }

        /// `node`, remembered under `anchor` for the aliases that follow (a later anchor of the same name
        /// replaces it, as in Yams).
        private func anchored(_ anchor: String?, _ node: ConfigNode) -> ConfigNode {
            if let anchor { anchors[anchor] = node }
            return node
        }

        /// The current event's start, 1-based (libyaml counts from 0, columns in Unicode scalars).
        private var position: ConfigPosition {
            ConfigPosition(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
        }

        private static func tagName(_ tag: UnsafeMutablePointer<UInt8>?) -> Tag.Name {
            string(tag).map(Tag.Name.init(rawValue:)) ?? .implicit
        }

        private static func string(_ pointer: UnsafeMutablePointer<UInt8>?) -> String? {
            pointer.map { String(cString: $0) }
        }
    }
}
