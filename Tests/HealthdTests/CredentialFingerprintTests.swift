import Foundation
@testable import Healthd
import LeenAPI
import Testing

@Suite("Credential fingerprints")
struct CredentialFingerprintTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var key: [UInt8]
        var message: [UInt8]
        var mac: String
        var testDescription: String { name }
    }

    /// RFC 4231, section 4 (test case 5, a truncated output, compares the first 16 bytes).
    static let rfc4231Cases: [Vector] = [
        .init(
            name: "1: 20-byte key", key: .init(repeating: 0x0b, count: 20), message: Array("Hi There".utf8),
            mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        .init(
            name: "2: key shorter than the output", key: Array("Jefe".utf8),
            message: Array("what do ya want for nothing?".utf8),
            mac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        .init(
            name: "3: 50 bytes of data", key: .init(repeating: 0xaa, count: 20),
            message: .init(repeating: 0xdd, count: 50),
            mac: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        .init(
            name: "4: 25-byte key", key: Array(1...25), message: .init(repeating: 0xcd, count: 50),
            mac: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        .init(
            name: "5: truncated to 128 bits", key: .init(repeating: 0x0c, count: 20),
            message: Array("Test With Truncation".utf8), mac: "a3b6167473100ee06e0c796c2955552b"),
        .init(
            name: "6: key larger than the block", key: .init(repeating: 0xaa, count: 131),
            message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        .init(
            name: "7: key and data larger than the block", key: .init(repeating: 0xaa, count: 131),
            message: Array(
                ("This is a test using a larger than block-size key and a larger than block-size data. The key "
                    + "needs to be hashed before being used by the HMAC algorithm.").utf8),
            mac: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ]

    @Test("HMAC-SHA-256 gives RFC 4231's values", arguments: rfc4231Cases)
    func rfc4231(_ vector: Vector) {
        let mac = hex(CredentialFingerprint.hmacSHA256(key: vector.key, message: vector.message))
        #expect(mac.count == 64)
        #expect(mac.hasPrefix(vector.mac))
    }

    struct Known: Sendable, CustomTestStringConvertible {
        var name: String
        var credentials: JSONValue
        var salt: String
        var canonical: String
        var fingerprint: String
        var testDescription: String { name }
    }

    /// Fingerprints as the daemon writes them to `credentials.json`, computed by swift-crypto's
    /// `HMAC<SHA256>` (the implementation up to 7038821) and checked with Python's hmac module. A different
    /// value for the same credentials and salt would make every daemon re-send every credential after an
    /// upgrade, so these must never change.
    static let knownCases: [Known] = [
        .init(
            name: "two secrets, a 64-character salt",
            credentials: .object([
                "secret_key": .string("tenable-secret-SECRET"), "client_key": .string("tenable-access-key-0123"),
            ]),
            salt: "8d2f3b1a9c4e7f605e1d2c3b4a5968771f2e3d4c5b6a79889a8b7c6d5e4f3021",
            canonical: #"{"client_key":"tenable-access-key-0123","secret_key":"tenable-secret-SECRET"}"#,
            fingerprint: "hmac-sha256:a7ba652ed92d8cd53a500d4d3e172e77bbb34d9b22e17147a56466a911498870"),
        .init(
            name: "every kind of value, escapes and non-ASCII text, a short salt",
            credentials: .object([
                "domain": .string("https://initech.okta.example/api"),
                "api_token": .string("tök€n \"quoted\" \\ 🔑\n"),
                "scopes": .array([.string("read"), .string("write")]),
                "port": .integer(8443), "ratio": .number(0.25), "verify": .bool(true), "proxy": .null,
                "nested": .object(["b": .integer(-1), "a": .array([])]),
            ]),
            salt: "3b9ac9ff5e1d2c3b4a59687",
            canonical: #"{"api_token":"tök€n \"quoted\" \\ 🔑\n","domain":"https://initech.okta.example/api","#
                + #""nested":{"a":[],"b":-1},"port":8443,"proxy":null,"ratio":0.25,"scopes":["read","write"],"#
                + #""verify":true}"#,
            fingerprint: "hmac-sha256:764aa1426fa5f9009b307b54126fb67f02a6e0bd8c800913ae475b2cae9cdb7a"),
        .init(
            name: "no fields, an empty salt", credentials: .object([:]), salt: "", canonical: "{}",
            fingerprint: "hmac-sha256:22f8eea909400af98adf3681a9f31923ef6b7fcba4abb553d92823a3e9d5c25e"),
        .init(
            name: "a salt longer than SHA-256's block",
            credentials: .object(["token": .string("github_pat_0123456789abcdef")]),
            salt: String(repeating: "0123456789abcdef", count: 6) + "f00d",
            canonical: #"{"token":"github_pat_0123456789abcdef"}"#,
            fingerprint: "hmac-sha256:7c8389281bec5b5bc70c15097dc9b064bb24a6a36b9137f799adcb73be47a352"),
    ]

    @Test("the fingerprints already in state files stay the same", arguments: knownCases)
    func knownFingerprints(_ known: Known) throws {
        // The input of the HMAC, checked on its own so a change of encoding is told apart from one of HMAC.
        #expect(String(decoding: try JSONEncoder.compact.encode(known.credentials), as: UTF8.self) == known.canonical)
        #expect(CredentialFingerprint.of(known.credentials, salt: known.salt) == known.fingerprint)
    }

    @Test("a fingerprint depends on the salt and on every credential, and on nothing else")
    func dependsOnSaltAndCredentials() {
        let credentials: JSONValue = .object(["client_key": .string("a"), "secret_key": .string("b")])
        let value = CredentialFingerprint.of(credentials, salt: "5a17")
        #expect(value.hasPrefix("hmac-sha256:"))
        #expect(value.dropFirst("hmac-sha256:".count).allSatisfy { "0123456789abcdef".contains($0) })
        #expect(value.count == "hmac-sha256:".count + 64)
        #expect(CredentialFingerprint.of(credentials, salt: "5a17") == value)
        #expect(CredentialFingerprint.of(credentials, salt: "5a18") != value)
        #expect(CredentialFingerprint.of(.object(["client_key": .string("a"), "secret_key": .string("c")]), salt: "5a17") != value)
        #expect(CredentialFingerprint.of(.object(["client_key": .string("a")]), salt: "5a17") != value)
        #expect(CredentialFingerprint.none != value)
    }

    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
