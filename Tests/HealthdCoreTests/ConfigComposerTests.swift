import Testing
import Yams

@testable import HealthdCore

/// ``ConfigComposer`` reads libyaml's events itself; what it composes must be what Yams composes (with the
/// `.basic` resolver), and what it cannot vouch for must be left to Yams.
@Suite("Config: composing YAML")
struct ConfigComposerTests {
    /// A node's kind, tag, position and contents, to compare trees.
    static func outline(_ node: ConfigNode) -> String {
        let where_ = "\(node.position.line):\(node.position.column)"
        switch node {
        case .scalar(let scalar):
            return "\(where_) \(scalar.tag.rawValue) \(String(reflecting: scalar.string))"
        case .sequence(let sequence):
            return "\(where_) \(sequence.tag.rawValue) [" + sequence.map(outline).joined(separator: ", ") + "]"
        case .mapping(let mapping):
            return "\(where_) \(mapping.tag.rawValue) {"
                + mapping.map { outline($0.key) + ": " + outline($0.value) }.joined(separator: ", ") + "}"
        }
    }

    static let documents = [
        "",
        "# only a comment\n",
        "---\n",
        "plain\n",
        "a: 1\nb: two\n'c': \"three\"\nd:\ne: ~\n",
        "list:\n- 1\n- {x: y, 'z': !!int '7'}\n- [a, b, [c]]\n- !!str 12\n",
        "top:\n  anchor: &a {k: v, n: [1, 2]}\n  again: *a\n  scalar: &s text\n  copy: *s\n",
        "shadow: &x 1\nfirst: *x\nredefined: &x 2\nsecond: *x\n",
        "block: |\n  line one\n  line two\nfolded: >-\n  folded\n  text\nunicode: \"é\\u00fc\\t\"\n",
        "? explicit key\n: value\nnumbers: [0x1F, 1_000, -.5e3, .inf, 2026-12-01]\n",
        "seq: !!seq [a]\nmap: !custom {a: b}\nbare: ! x\n",
        "organizations:\n- id: c15c0289-ec2d-4a91-a7ec-8e65a18debbe\n  connections:\n"
            + "  - {identifier: a, vendor: TENABLE, credentials: &v0 {api_key: {file: /run/k}}}\n"
            + "  - {identifier: b, vendor: TENABLE, credentials: *v0}\n",
        "k1: 1\nk2: 2\nk3: 3\nk4: 4\nk5: 5\nk6: 6\nk7: 7\nk8: 8\nk9: 9\nk10: 10\n",
    ]

    @Test("a document it composes is the tree Yams composes, tags and positions included")
    func sameAsYams() throws {
        for text in Self.documents {
            guard case .composed(let quick) = ConfigComposer.composeQuickly(text) else {
                Issue.record("left to Yams: \(String(reflecting: text))")
                continue
            }
            let yams = try Yams.compose(yaml: text, .basic).map(ConfigNode.init)
            #expect(quick.map(Self.outline) == yams.map(Self.outline), "\(String(reflecting: text))")
        }
    }

    @Test("what it cannot vouch for is left to Yams, which reports the error or composes it")
    func leftToYams() throws {
        let rejected = [
            "a: [1, 2\n",  // a syntax error
            "a: *nowhere\n",  // an alias of no anchor
            "a: 1\n---\nb: 2\n",  // a second document
            "a: 1\nb: 2\na: 3\n",  // a repeated key
            "k1: 1\nk2: 2\nk3: 3\nk4: 4\nk5: 5\nk6: 6\nk7: 7\nk8: 8\nk9: 9\nk1: 10\n",  // repeated, in a larger mapping
            "'a': 1\na: 2\n",  // the same key, quoted once
            "!!int 1: one\n",  // a tagged key
            "[a]: list key\n",  // a key that is not a scalar
        ]
        for text in rejected {
            guard case .leftToYams = ConfigComposer.composeQuickly(text) else {
                Issue.record("composed: \(String(reflecting: text))")
                continue
            }
        }
        // Yams accepts the last two: they are composed through it.
        let tagged = try #require(try ConfigComposer.compose("!!int 1: one\n"))
        #expect(tagged.mapping?.first?.key.configTag == .int)
        #expect(throws: YamlError.self) { try ConfigComposer.compose("a: 1\nb: 2\na: 3\n") }
    }

    @Test("errors are reported as Yams words them, at their position")
    func errors() throws {
        let context = ConfigContext(path: "t.yaml")
        #expect(throws: ConfigErrors.self) { try context.compose("a: 1\nb: 2\na: 3\n") }
        do {
            _ = try context.compose("a: 1\nb: 2\na: 3\n")
        } catch {
            #expect(error.issues.map(\.message) == ["invalid YAML: key 'a' is given more than once in one mapping"])
            #expect(error.issues.map(\.line) == [1])
        }
        do {
            _ = try context.compose("a: *nowhere\n")
            Issue.record("an undefined alias was accepted")
        } catch {
            #expect(error.issues.first?.message.contains("found undefined alias") == true)
        }
    }
}
