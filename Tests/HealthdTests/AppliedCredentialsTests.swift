import Foundation
import LeenAPI
import Testing

@testable import Healthd

@Suite("Applied credentials, kept compact")
struct AppliedCredentialsTests {
    static let organization = OrganizationID(rawValue: "3c90c3cc-0d44-4b50-8888-8dd25736052a")

    @Test("Every fingerprint reads back as it was written, whatever its form, by key and through the file")
    func roundTrip() throws {
        let salt = "2711c7a6"
        let real = CredentialFingerprint.of(.object(["secret": .string("s3cr3t")]), salt: salt)
        let leadingZeros = "hmac-sha256:" + String(repeating: "0", count: 40) + "00ff00ff00ff00ff00ff00ff"
        let flat = [
            StateStore.AppliedCredentials.key(Self.organization, "okta-idp-1"): real,
            StateStore.AppliedCredentials.key(Self.organization, "a/b"): leadingZeros,
            StateStore.AppliedCredentials.key(Self.organization, "entra"): CredentialFingerprint.none,
            "other-org/upper": "hmac-sha256:" + String(repeating: "A", count: 64),
            "other-org/short": "hmac-sha256:1a67",
            "no-organization": "hmac-sha256:00",
        ]
        let credentials = StateStore.AppliedCredentials(salt: salt, applied: flat)
        #expect(credentials.applied == flat)
        #expect(credentials[Self.organization, "okta-idp-1"] == real)
        #expect(credentials[Self.organization, "a/b"] == leadingZeros)
        #expect(credentials[OrganizationID(rawValue: "other-org"), "short"] == "hmac-sha256:1a67")
        #expect(credentials[Self.organization, "missing"] == nil)

        let file = try JSONEncoder().encode(credentials)
        let decoded = try JSONDecoder().decode(StateStore.AppliedCredentials.self, from: file)
        #expect(decoded == credentials && decoded.applied == flat && decoded.salt == salt)
        #expect(StateStore.AppliedCredentials.readByHand(file) == credentials)

        var changed = credentials
        changed[Self.organization, "okta-idp-1"] = leadingZeros
        changed[Self.organization, "entra"] = nil
        changed[OrganizationID(rawValue: "new-org"), "n"] = real
        var expected = flat
        expected[StateStore.AppliedCredentials.key(Self.organization, "okta-idp-1")] = leadingZeros
        expected[StateStore.AppliedCredentials.key(Self.organization, "entra")] = nil
        expected["new-org/n"] = real
        #expect(changed.applied == expected)
        #expect(changed != credentials)

        // Removing what was added gives back an equal value.
        var removed = credentials
        removed[OrganizationID(rawValue: "new-org"), "n"] = real
        removed[OrganizationID(rawValue: "new-org"), "n"] = nil
        #expect(removed == credentials)
    }

    @Test("Many identifiers, recorded in any order and some removed, are each found, and only those")
    func manyIdentifiers() {
        var credentials = StateStore.AppliedCredentials(salt: "s", applied: [:])
        let identifiers = (0..<300).map { "conn-\($0 * 7919 % 300)" }
        for (index, identifier) in identifiers.enumerated() {
            credentials[Self.organization, identifier] = "hmac-sha256:" + String(repeating: "0", count: 60) + String(format: "%04x", index)
        }
        for identifier in identifiers.prefix(100) { credentials[Self.organization, identifier] = nil }
        for (index, identifier) in identifiers.enumerated() {
            let expected = index < 100 ? nil : "hmac-sha256:" + String(repeating: "0", count: 60) + String(format: "%04x", index)
            #expect(credentials[Self.organization, identifier] == expected, "\(identifier)")
        }
        #expect(credentials.applied.count == 200)
        #expect(credentials[Self.organization, "conn-300"] == nil && credentials[Self.organization, ""] == nil)
    }
}
