import Testing
import Yams

@testable import HealthdCore

/// `ConfigNode.configTag` finds most plain strings' tag without Yams's regular expressions: it must name the tag
/// Yams's default resolver would, for every kind of plain scalar.
@Suite("Config: scalar tags")
struct ConfigTagTests {
    static let plain = [
        "tenable-prod", "TENABLE", "a", "Z", "yes", "Yes", "YES", "no", "NO", "true", "True", "TRUE", "false", "False",
        "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "nULL", "tRUE", "y", "n", "inf", "nan",
        "Infinity", "x1", "e5", "~", "", "0", "-1", "+7", "0x1F", "0o17", "0b101", "1_000", "1:30", "1.5", "-.5e3",
        ".inf", "-.Inf", ".NaN", "<<", "=", "2026-12-01", "2026-12-01T10:00:00Z", "é", "Ünïcode", "_underscore",
        "/path", "@at", "`tick", "{", "yes please", "null value", "true\u{0}", "/tmp/a b", "%x", "!x", "\"q", "*", "#",
    ]

    @Test("a plain scalar's tag is the one Yams's default resolver gives it")
    func plainScalars() {
        for text in Self.plain {
            let expected = Resolver.default.resolveTag(of: Node(text))
            let node = ConfigNode.scalar(.init(string: text, tag: .implicit, position: ConfigPosition(line: 1, column: 1)))
            #expect(node.configTag.rawValue == expected.rawValue, "\(text)")
        }
    }

    @Test("in a document composed as the parser does, values are resolved by the default rules; quoted and explicitly tagged scalars keep their tag")
    func quotedAndTagged() throws {
        let yaml = "a: 'true'\nb: \"null\"\nc: !!str 12\nd: !!int '7'\ne: word\nf: null\ng: 12\nh: ~\ni: off\n"
        let node = try #require(try ConfigContext(path: "t.yaml").compose(yaml))
        let tags = try #require(node.mapping).reduce(into: [String: String]()) { tags, pair in
            tags[pair.key.string ?? ""] = pair.value.configTag.rawValue
        }
        #expect(
            tags == [
                "a": Tag.Name.str.rawValue, "b": Tag.Name.str.rawValue, "c": Tag.Name.str.rawValue,
                "d": Tag.Name.int.rawValue, "e": Tag.Name.str.rawValue, "f": Tag.Name.null.rawValue,
                "g": Tag.Name.int.rawValue, "h": Tag.Name.null.rawValue, "i": Tag.Name.bool.rawValue,
            ])
    }
}
