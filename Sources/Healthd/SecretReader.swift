import Foundation
import HealthdCore

// `struct stat` is attributed to the module that first imported <sys/stat.h>; on Linux that is CDispatch (through
// Foundation), and member import visibility then wants it imported to use `st_mode`.
#if canImport(CDispatch)
    import CDispatch
#endif

/// Why a secret could not be read. The message names the secret's source, never its value.
public struct SecretError: Error, Sendable, Hashable, CustomStringConvertible {
    public var source: SecretSource
    /// E.g. `file /etc/leen-healthd/api-key is readable by every user; chmod 600 it`.
    public var message: String

    public init(source: SecretSource, message: String) {
        self.source = source
        self.message = message
    }

    public var description: String { message }
}

/// Reads secrets from files and systemd credentials (`$CREDENTIALS_DIRECTORY/NAME`).
///
/// A secret must be a regular, non-empty, UTF-8 file of at most ``maximumBytes`` that is not readable by every
/// user (mode `& 0o004` clear). One trailing newline (`\n` or `\r\n`) is removed; nothing else is trimmed.
public struct SecretReader: Sendable {
    public static let maximumBytes = 64 * 1024

    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// The file a source names.
    public func path(of source: SecretSource) throws(SecretError) -> String {
        switch source {
        case .file(let path):
            return path
        case .credential(let name):
            guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
                throw SecretError(
                    source: source,
                    message: "credential '\(name)' cannot be found: $CREDENTIALS_DIRECTORY is not set (run under "
                        + "systemd with LoadCredential=\(name):PATH or LoadCredentialEncrypted=\(name):PATH)")
            }
            return directory.hasSuffix("/") ? directory + name : "\(directory)/\(name)"
        }
    }

    /// The secret's value, without one trailing newline.
    public func read(_ source: SecretSource) throws(SecretError) -> String {
        let path = try path(of: source)
        let subject: String
        switch source {
        case .file(let path): subject = "file \(path)"
        case .credential(let name): subject = "credential '\(name)' (\(path))"
        }
        func failure(_ problem: String) -> SecretError { SecretError(source: source, message: "\(subject) \(problem)") }

        var bytes: [UInt8]
        do {
            bytes = try RegularFile.contents(of: path, limit: Self.maximumBytes, refuseWorldReadable: true)
        } catch {
            throw failure(error.problem)
        }
        if bytes.last == UInt8(ascii: "\n") {
            bytes.removeLast()
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        }
        guard let value = String(validating: bytes, as: UTF8.self) else { throw failure("is not UTF-8 text") }
        guard !value.isEmpty else { throw failure("is empty") }
        return value
    }
}

/// Reads a whole regular file with POSIX calls, so problems keep their `errno`.
enum RegularFile {
    enum Failure: Error {
        case system(Int32)
        case notRegular
        case tooLarge(Int)
        case worldReadable

        /// Completes "file PATH …".
        var problem: String {
            switch self {
            case .system(let code) where code == ENOENT: "does not exist"
            case .system(let code): "cannot be read: \(String(cString: strerror(code)))"
            case .notRegular: "is not a regular file"
            case .tooLarge(let limit): "is larger than \(limit / 1024) KiB"
            case .worldReadable: "is readable by every user; chmod 600 it"
            }
        }
    }

    static func contents(of path: String, limit: Int, refuseWorldReadable: Bool) throws(Failure) -> [UInt8] {
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is then refused as not regular).
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw .system(errno) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system(errno) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .notRegular }
        if refuseWorldReadable, status.st_mode & S_IROTH != 0 { throw .worldReadable }
        guard Int(status.st_size) <= limit else { throw .tooLarge(limit) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw .system(errno)
            }
            if count == 0 { break }
            bytes += buffer[..<count]
            guard bytes.count <= limit else { throw .tooLarge(limit) }
        }
        return bytes
    }
}
