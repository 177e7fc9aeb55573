import Foundation
import LeenAPI
import LeenAPIClient
import LeenSimulator
import Testing

@Suite("Errors never quote secrets back")
struct EchoedSecretTests {
    let secret = "s3cr3t-VALUE/with\"quote-0123456789"

    @Test("every whole occurrence, as written or JSON-escaped, is replaced")
    func whole() {
        let escaped = #"s3cr3t-VALUE\/with\"quote-0123456789"#
        let text = "refused key \(secret) in body {\"k\":\"\(escaped)\"} and \(secret)"
        let redacted = SecretRedaction.redact(text, secrets: [secret, ""])
        #expect(redacted == "refused key <redacted> in body {\"k\":\"<redacted>\"} and <redacted>")
        #expect(SecretRedaction.redact("nothing here", secrets: [secret]) == "nothing here")
    }

    @Test("a quote cut short (8 characters or more of a secret) withholds the whole text")
    func partial() {
        #expect(SecretRedaction.redact("body: {\"k\":\"s3cr3t-VA", secrets: [secret]) == SecretRedaction.withheld)
        #expect(SecretRedaction.redact("…quote-0123456789", secrets: [secret]) == SecretRedaction.withheld)
        #expect(SecretRedaction.redact("s3cr3t-", secrets: [secret]) == "s3cr3t-")
    }

    @Test("credential values are those under `credentials`, at any depth")
    func credentialValues() {
        let body = #"{"identifier":"x","credentials":{"a":"one","aws":{"b":"two","n":3},"list":["three"]}}"#
        #expect(Set(SecretRedaction.credentialValues(inJSON: Array(body.utf8))) == ["one", "two", "three"])
        #expect(SecretRedaction.credentialValues(inJSON: Array("not json".utf8)).isEmpty)
    }

    @Test("a server that quotes the refused request (key and credentials) is not repeated by the error")
    func echoedRequest() async throws {
        let clientKey = "client-key-CANARY-4b1d9e"
        let secretKey = "secret-key-CANARY-77c0aa"
        try await withClient { client, simulator, _ in
            let org = simulator.state.organizationIDs()[0]
            simulator.state.enqueueFaults([QueuedFault(kind: .echo, status: 400, pathContains: "/connections")])
            let error = try #require(
                await apiError {
                    _ = try await client.createConnection(
                        organizationID: org,
                        .init(
                            vendor: .tenable,
                            credentials: VendorCredentials([
                                "client_key": .string(clientKey), "secret_key": .string(secretKey),
                            ]), identifier: "tenable-echo"))
                })
            #expect(error.status == 400)
            let detail = try #require(error.detail)
            // The server did quote them: the detail says where, with the secrets taken out.
            #expect(detail.contains("X-API-KEY <redacted>"))
            #expect(detail.contains("<redacted>"))
            for secret in [testKey, clientKey, secretKey] {
                #expect(!error.description.contains(secret))
                #expect(!error.description.contains(secret.prefix(SecretRedaction.partLength)))
            }
        }
    }
}
