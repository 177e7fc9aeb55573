import CCrypto
import Foundation
import LeenAPI

/// A salted hash of resolved credentials (HMAC-SHA-256 of their canonical JSON, keyed with the state
/// directory's random salt), so a change can be detected without keeping the secret.
///
/// The HMAC comes from the system's libcrypto (OpenSSL 3, libssl3) rather than swift-crypto: this is the
/// daemon's only cryptography, and swift-crypto compiled a second BoringSSL (AsyncHTTPClient's NIOSSL
/// already has one) for it. The values are the same bytes either way; state files keep them, so they must
/// never change (CredentialFingerprintTests pins them).
public enum CredentialFingerprint {
    public static func of(_ credentials: JSONValue, salt: String) -> String {
        // Sorted keys give the same bytes for the same credentials; encoding a JSONValue cannot fail.
        let canonical = try! JSONEncoder.compact.encode(credentials)
        return "hmac-sha256:" + hex(hmacSHA256(key: Array(salt.utf8), message: Array(canonical)))
    }

    /// Lower-case hex. By table: `String(format: "%02x")` per byte was 13% of a restart's CPU at 100k
    /// connections, whose every credential is fingerprinted again (perf).
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: bytes.count * 2) { buffer in
            for (index, byte) in bytes.enumerated() {
                buffer[2 * index] = digits[Int(byte >> 4)]
                buffer[2 * index + 1] = digits[Int(byte & 0x0F)]
            }
            return bytes.count * 2
        }
    }

    /// What is recorded for a connection declared without credentials (OAuth).
    public static let none = "none"

    /// HMAC-SHA-256 (RFC 2104), OpenSSL's one-shot `HMAC`.
    static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var code = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // A zero-length array may hand out a null pointer, which HMAC does not take for the key: append a
        // byte the length excludes so both pointers are always real.
        let result = (key + [0]).withUnsafeBufferPointer { key in
            (message + [0]).withUnsafeBufferPointer { message in
                code.withUnsafeMutableBufferPointer { code in
                    HMAC(
                        EVP_sha256(), key.baseAddress, Int32(key.count - 1), message.baseAddress,
                        message.count - 1, code.baseAddress, &length)
                }
            }
        }
        // Fails only when libcrypto cannot allocate or lacks SHA-256; a fingerprint cannot be made then.
        precondition(result != nil && length == 32, "libcrypto HMAC-SHA-256 failed")
        return Array(code.prefix(Int(length)))
    }
}
