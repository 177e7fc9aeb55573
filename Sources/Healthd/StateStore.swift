import Foundation
import HealthdCore
import LeenAPI

/// The state directory: one file per organization (`organizations/<id>.json`, written after each of its
/// polls: its state, its event stream and its unsent events), `daemon.json` (the daemon's own event stream
/// and unsent events) and `credentials.json` (the salted hashes of the credentials last applied, never the
/// secrets).
///
/// One file per organization rather than one for everything: a poll rewrites only its own organization
/// (a few KiB), so persisting after every poll stays cheap with a thousand organizations.
/// Every write is atomic: a temporary file in the same directory, fsync, rename, fsync of the directory.
public struct StateStore: Sendable {
    public let directory: URL

    public init(directory: String) {
        self.directory = URL(fileURLWithPath: directory, isDirectory: true)
    }

    var organizationsDirectory: URL { directory.appendingPathComponent("organizations", isDirectory: true) }
    var credentialsFile: URL { directory.appendingPathComponent("credentials.json") }
    var daemonFile: URL { directory.appendingPathComponent("daemon.json") }

    /// The salted hashes of applied credentials, keyed `<organization id>/<identifier>`.
    public struct AppliedCredentials: Codable, Sendable, Hashable {
        public var version = 1
        /// Random per state directory; keyed into every hash.
        public var salt: String
        public var applied: [String: String]

        public static func key(_ organization: OrganizationID, _ identifier: String) -> String {
            "\(organization.rawValue)/\(identifier)"
        }
    }

    /// What one stream's file holds besides an organization's state: its event ids and unsent events.
    public struct Delivery: Codable, Hashable, Sendable {
        public var stream: EventStream
        /// Events committed and perhaps not yet in the journal, oldest first (``Outbox``).
        public var outbox: [Outbox.Pending]

        public init(stream: EventStream = EventStream(), outbox: [Outbox.Pending] = []) {
            self.stream = stream
            self.outbox = outbox
        }
    }

    /// One organization's file. Version 1 (before the outbox) had no `delivery`: it reads as a new stream
    /// with nothing unsent.
    struct OrganizationFile: Codable {
        var version = 2
        var organizationID: OrganizationID
        var state: OrganizationState
        var delivery: Delivery?
    }

    /// `daemon.json`.
    struct DaemonFile: Codable {
        var version = 1
        var delivery: Delivery
    }

    /// An organization as its file left it.
    public struct StoredOrganization: Sendable {
        public var state: OrganizationState
        public var delivery: Delivery
    }

    /// Every organization's state, for readers that need no delivery data (`leen-healthd status`).
    public func loadOrganizations() throws -> [OrganizationID: OrganizationState] {
        try loadStoredOrganizations().mapValues(\.state)
    }

    public func loadStoredOrganizations() throws -> [OrganizationID: StoredOrganization] {
        let files: [URL]
        do {
            files = try FileManager.default.contentsOfDirectory(
                at: organizationsDirectory, includingPropertiesForKeys: nil)
        } catch CocoaError.fileReadNoSuchFile {
            return [:]
        } catch let error as NSError where error.domain == NSCocoaErrorDomain || error.domain == NSPOSIXErrorDomain {
            if !FileManager.default.fileExists(atPath: organizationsDirectory.path) { return [:] }
            throw StateError(path: organizationsDirectory.path, reason: error.localizedDescription)
        }
        var result: [OrganizationID: StoredOrganization] = [:]
        for file in files where file.pathExtension == "json" {
            let (id, stored) = try Self.readOrganization(try Self.contents(of: file), path: file.path)
            result[id] = stored
        }
        return result
    }

    /// An organization's file, from its bytes: the organization it is for and what it holds, or a
    /// ``StateError`` naming `path`. Pure, so the fuzz targets (`Fuzz/`) read files as the daemon does.
    public static func readOrganization(_ data: Data, path: String) throws -> (OrganizationID, StoredOrganization) {
        let file = try decode(OrganizationFile.self, from: data, path: path)
        return (file.organizationID, StoredOrganization(state: file.state, delivery: file.delivery ?? Delivery()))
    }

    /// `daemon.json`, from its bytes.
    public static func readDaemon(_ data: Data, path: String) throws -> Delivery {
        try decode(DaemonFile.self, from: data, path: path).delivery
    }

    /// `credentials.json`, from its bytes.
    public static func readCredentials(_ data: Data, path: String) throws -> AppliedCredentials {
        try decode(AppliedCredentials.self, from: data, path: path)
    }

    /// Writes an organization's state with its stream and unsent events, in one atomic replacement: the
    /// commit point of a poll.
    public func save(_ state: OrganizationState, delivery: Delivery, for organization: OrganizationID) throws {
        try write(
            OrganizationFile(organizationID: organization, state: state, delivery: delivery),
            to: organizationsDirectory.appendingPathComponent(Self.fileName(organization)))
    }

    public func loadDaemon() throws -> Delivery {
        guard FileManager.default.fileExists(atPath: daemonFile.path) else { return Delivery() }
        return try Self.readDaemon(try Self.contents(of: daemonFile), path: daemonFile.path)
    }

    public func saveDaemon(_ delivery: Delivery) throws {
        try write(DaemonFile(delivery: delivery), to: daemonFile)
    }

    /// Forgets an organization no longer in the config.
    public func remove(_ organization: OrganizationID) throws {
        let file = organizationsDirectory.appendingPathComponent(Self.fileName(organization))
        if FileManager.default.fileExists(atPath: file.path) { try FileManager.default.removeItem(at: file) }
    }

    public func loadCredentials() throws -> AppliedCredentials {
        guard FileManager.default.fileExists(atPath: credentialsFile.path) else {
            var bytes = SystemRandomNumberGenerator()
            let salt = (0..<4).map { _ in String(bytes.next(), radix: 16) }.joined()
            return AppliedCredentials(salt: salt, applied: [:])
        }
        return try Self.readCredentials(try Self.contents(of: credentialsFile), path: credentialsFile.path)
    }

    public func save(_ credentials: AppliedCredentials) throws {
        try write(credentials, to: credentialsFile)
    }

    /// A file name safe for any organization id.
    static func fileName(_ organization: OrganizationID) -> String {
        let safe = organization.rawValue.unicodeScalars.map {
            CharacterSet.alphanumerics.contains($0) || $0 == "-" ? String($0) : "_"
        }.joined()
        return safe + ".json"
    }

    static func contents(of file: URL) throws -> Data {
        do {
            return try Data(contentsOf: file)
        } catch {
            throw StateError(path: file.path, reason: "unreadable state: \(error)")
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data, path: String) throws -> T {
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(T.self, from: data)
        } catch {
            throw StateError(path: path, reason: "unreadable state: \(error)")
        }
    }

    func write<T: Encodable>(_ value: T, to file: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(value)
        try AtomicFile.write(data, to: file.path)
    }
}

/// A state file or directory that cannot be read or written.
public struct StateError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Crash-safe replacement of a file's contents.
public enum AtomicFile {
    /// Writes `data` to a temporary file beside `path` (mode 0600), fsyncs it, renames it over `path`, and
    /// fsyncs the directory, creating the directory (0700) when needed. Readers see the old or the new
    /// contents, never a mix, even across a crash.
    public static func write(_ data: Data, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StateError(path: directory, reason: "cannot create directory: \(error.localizedDescription)")
        }
        let temporary = "\(directory)/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StateError(path: temporary, reason: String(cString: strerror(errno))) }
        var failure: String?
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if let failure {
            unlink(temporary)
            throw StateError(path: temporary, reason: failure)
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw StateError(path: path, reason: reason)
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }
}
