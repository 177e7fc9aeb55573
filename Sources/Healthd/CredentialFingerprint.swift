import Crypto
import Foundation
import LeenAPI

/// A salted hash of resolved credentials (HMAC-SHA-256 of their canonical JSON, keyed with the state
/// directory's random salt), so a change can be detected without keeping the secret.
public enum CredentialFingerprint {
    public static func of(_ credentials: JSONValue, salt: String) -> String {
        // Sorted keys give the same bytes for the same credentials; encoding a JSONValue cannot fail.
        let canonical = try! JSONEncoder.compact.encode(credentials)
        return "hmac-sha256:" + hmacSHA256(key: Array(salt.utf8), message: Array(canonical))
            .map { String(format: "%02x", $0) }.joined()
    }

    /// What is recorded for a connection declared without credentials (OAuth).
    public static let none = "none"

    /// HMAC-SHA-256 (RFC 2104).
    static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }
}
