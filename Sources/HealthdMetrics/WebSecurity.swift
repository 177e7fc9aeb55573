import Foundation
import HTTPTypes
import HealthdCore
import HummingbirdBcrypt
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A web configuration file read, checked and ready to serve: the parsed ``WebConfig`` and, for TLS, the
/// `NIOSSLContext` that new connections use (it holds the certificate and key loaded from their files).
public struct LoadedWebConfig: Sendable {
    public let config: WebConfig
    let sslContext: NIOSSLContext?
    /// `RequestClientCert` and `RequireAnyClientCert` take any certificate: verification is overridden.
    let acceptsAnyClientCertificate: Bool
    /// The identity of the file and of every file it names, when it was read.
    let signature: [FileSignature]

    /// The largest web configuration file accepted (it holds a few users and file names).
    public static let maximumBytes = 1 << 20

    /// Reads `path`, parses it and loads the TLS material it names. Problems are ``ConfigErrors`` naming
    /// `path`, like the main configuration's (`check-config` exits 78 on them).
    public static func load(path: String) throws(ConfigErrors) -> LoadedWebConfig {
        func failure(_ message: String) -> ConfigErrors {
            ConfigErrors(issues: [ConfigIssue(path: path, line: 0, column: 0, message: message)])
        }
        // Taken before reading, so a change made while we read is seen by the next check.
        let before = FileSignature.of(path)
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard data.count <= maximumBytes else { throw failure("the web configuration file is larger than 1 MiB") }
            guard let string = String(data: data, encoding: .utf8) else {
                throw failure("the web configuration file is not UTF-8 text")
            }
            text = string
        } catch let error as ConfigErrors {
            throw error
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw failure("the web configuration file \(reason)")
        }
        let config = try WebConfigParser.parse(text, path: path)
        let signature = [before] + config.files.map(FileSignature.of)
        guard let tls = config.tls else {
            return LoadedWebConfig(config: config, sslContext: nil, acceptsAnyClientCertificate: false, signature: signature)
        }
        do {
            let (context, acceptsAny) = try makeContext(tls)
            return LoadedWebConfig(
                config: config, sslContext: context, acceptsAnyClientCertificate: acceptsAny, signature: signature)
        } catch let error as TLSSetupError {
            throw failure("tls_server_config.\(error.key): \(error.message)")
        } catch {
            throw failure("tls_server_config: \(error)")
        }
    }

    struct TLSSetupError: Error {
        var key: String
        var message: String
    }

    static func makeContext(_ tls: WebConfig.TLSServer) throws -> (NIOSSLContext, Bool) {
        func load<T>(_ key: String, _ file: String, _ body: () throws -> T) throws -> T {
            guard FileManager.default.fileExists(atPath: file) else {
                throw TLSSetupError(key: key, message: "file \(file) does not exist")
            }
            do {
                return try body()
            } catch {
                throw TLSSetupError(key: key, message: "cannot load \(file): \(error)")
            }
        }
        let chain = try load("cert_file", tls.certFile) { try NIOSSLCertificate.fromPEMFile(tls.certFile) }
        guard !chain.isEmpty else {
            throw TLSSetupError(key: "cert_file", message: "\(tls.certFile) holds no PEM certificate")
        }
        let key = try load("key_file", tls.keyFile) { try NIOSSLPrivateKey(file: tls.keyFile, format: .pem) }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = Self.version(tls.minVersion)
        configuration.maximumTLSVersion = Self.version(tls.maxVersion)
        if let ca = tls.clientCAFile {
            let roots = try load("client_ca_file", ca) { try NIOSSLCertificate.fromPEMFile(ca) }
            configuration.trustRoots = .certificates(roots)
            // Lets a client with several certificates pick the one this CA signed.
            configuration.sendCANameList = true
        }
        switch tls.clientAuth {
        case .none: configuration.certificateVerification = .none
        case .request, .verifyIfGiven: configuration.certificateVerification = .optionalVerification
        case .requireAny, .requireAndVerify: configuration.certificateVerification = .noHostnameVerification
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError(key: "key_file", message: "the key does not match the certificate or is unusable: \(error)")
        }
        return (context, tls.clientAuth == .request || tls.clientAuth == .requireAny)
    }

    static func version(_ version: WebConfig.TLSVersion) -> TLSVersion {
        switch version {
        case .tls10: .tlsv1
        case .tls11: .tlsv11
        case .tls12: .tlsv12
        case .tls13: .tlsv13
        }
    }
}

/// A file's identity: device, inode, size and modification time. A replaced (renamed-over) or rewritten file
/// gets a new one; `nil` fields stand for a file that is missing.
struct FileSignature: Hashable, Sendable {
    var device: UInt64?
    var inode: UInt64?
    var size: Int64?
    var modified: Date?

    /// Through Foundation, not `stat(2)` from Swift: which C module the compiler attributes `struct stat`'s
    /// members to (Glibc's or one of NIO's) changed with the order of this module's files, and the release
    /// build failed on it (MemberImportVisibility). Read at most once per request.
    static func of(_ path: String) -> FileSignature {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return FileSignature() }
        return FileSignature(
            device: (attributes[.systemNumber] as? NSNumber)?.uint64Value,
            inode: (attributes[.systemFileNumber] as? NSNumber)?.uint64Value,
            size: (attributes[.size] as? NSNumber)?.int64Value,
            modified: attributes[.modificationDate] as? Date)
    }
}

/// The live web configuration of the metrics endpoint: TLS for new connections and basic authentication for
/// each request, re-read when the file (or a certificate, key or CA file it names) changes.
///
/// A file that fails on a change keeps the previous configuration in force; the error is logged (never a
/// password) and reported to `onReload(false)`.
public final class WebSecurity: Sendable {
    public let path: String
    private struct State {
        var current: LoadedWebConfig
        /// The signature of the last attempt, good or bad: a broken file is reported once, not every check.
        var attempted: [FileSignature]
    }
    private let state: Mutex<State>
    /// One reload at a time (the watcher, or a caller such as a test): each change is loaded and reported once.
    private let reloading = Mutex(())
    let verifier = BasicAuthVerifier()
    /// How often the server looks for a changed file: a few `stat` calls, cheap enough to do often.
    public let checkInterval: Duration
    let logger: Logger
    let onReload: @Sendable (_ success: Bool) -> Void

    public init(
        path: String, initial: LoadedWebConfig, checkInterval: Duration = .seconds(2), logger: Logger,
        onReload: @escaping @Sendable (Bool) -> Void = { _ in }
    ) {
        self.path = path
        state = Mutex(State(current: initial, attempted: initial.signature))
        self.checkInterval = checkInterval
        self.logger = logger
        self.onReload = onReload
    }

    /// Loads `path` (a problem is a configuration error: the caller exits 78).
    public convenience init(
        path: String, checkInterval: Duration = .seconds(2), logger: Logger,
        onReload: @escaping @Sendable (Bool) -> Void = { _ in }
    ) throws(ConfigErrors) {
        self.init(
            path: path, initial: try LoadedWebConfig.load(path: path), checkInterval: checkInterval, logger: logger,
            onReload: onReload)
    }

    public var current: LoadedWebConfig { state.withLock { $0.current } }

    public enum ReloadOutcome: Sendable, Equatable {
        case unchanged
        case reloaded
        /// The file changed but is not valid: the previous configuration stays.
        case failed(String)
    }

    /// Reloads when the file or one it names changed since the last attempt. Blocking file I/O: call it off
    /// the event loops and the concurrency pool's hot paths (``watch(every:)`` does).
    @discardableResult
    public func reloadIfChanged() -> ReloadOutcome {
        reloading.withLock { _ in reloadIfChangedLocked() }
    }

    private func reloadIfChangedLocked() -> ReloadOutcome {
        let (attempted, files) = state.withLock { ($0.attempted, $0.current.config.files) }
        let now = [FileSignature.of(path)] + files.map(FileSignature.of)
        guard now != attempted else { return .unchanged }
        do {
            let loaded = try LoadedWebConfig.load(path: path)
            state.withLock {
                $0.current = loaded
                $0.attempted = loaded.signature
            }
            logger.info(
                "web configuration reloaded",
                metadata: [
                    "path": "\(path)", "tls": "\(loaded.config.tls != nil)",
                    "users": "\(loaded.config.basicAuthUsers.count)",
                ])
            onReload(true)
            return .reloaded
        } catch {
            state.withLock { $0.attempted = now }
            logger.error(
                "web configuration not reloaded; the previous one stays in force",
                metadata: ["path": "\(path)", "error": "\(error)"])
            onReload(false)
            return .failed(error.description)
        }
    }

    /// Checks for changes every `interval` until cancelled, on NIO's blocking thread pool.
    public func watch(every interval: Duration) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
                _ = try await NIOThreadPool.singleton.runIfActive { self.reloadIfChanged() }
            } catch {
                return
            }
        }
    }

    // MARK: Serving

    /// The TLS handler for a new connection with the configuration in force now; nil for plain HTTP.
    func tlsHandler() -> NIOSSLServerHandler? {
        let current = state.withLock { $0.current }
        guard let context = current.sslContext else { return nil }
        if current.acceptsAnyClientCertificate {
            return NIOSSLServerHandler(
                context: context, customVerificationCallback: { _, promise in promise.succeed(.certificateVerified) })
        }
        return NIOSSLServerHandler(context: context)
    }

    /// Whether a request with this `Authorization` header may proceed: always when no users are configured.
    public func authorize(_ authorization: String?) async -> Bool {
        let users = state.withLock { $0.current.config.basicAuthUsers }
        guard !users.isEmpty else { return true }
        guard let (user, password) = Self.basicCredentials(authorization) else { return false }
        return await verifier.verify(user: user, password: password, hash: users[user])
    }

    /// `Basic base64(user:password)` → (user, password).
    static func basicCredentials(_ header: String?) -> (String, String)? {
        guard let header, let space = header.firstIndex(of: " "),
            header[..<space].lowercased() == "basic",
            let data = Data(base64Encoded: header[header.index(after: space)...].trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// The header a 401 carries.
    public static let challenge = #"Basic realm="leen-healthd", charset="UTF-8""#
}

/// Checks passwords against bcrypt hashes, remembering successes.
///
/// bcrypt is slow on purpose (about 50–100 ms at cost 10): without the cache each scrape would pay it. The
/// cache holds SHA-256 digests of (a per-process salt, user, hash, password), never a password, and an entry
/// only matches while the user's hash is unchanged. Verifications run one at a time on their own thread, so a
/// flood of wrong passwords neither blocks an event loop nor takes the threads that render `/metrics`.
final class BasicAuthVerifier: Sendable {
    static let maximumEntries = 1024
    private let cache = Mutex<Set<[UInt8]>>([])
    private let salt: [UInt8] = (0..<32).map { _ in UInt8.random(in: .min ... .max) }
    /// Never shut down: process-wide, like `NIOThreadPool.singleton`.
    private static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()
    /// Compared against when the user is unknown, so the answer takes as long as for a known user.
    private static let unknownUserHash = "$2b$10$" + String(repeating: "A", count: 53)

    /// Verifications that went to bcrypt (not answered by the cache): for tests.
    let computed = Atomic<Int>(0)

    func verify(user: String, password: String, hash: String?) async -> Bool {
        guard let hash else {
            _ = try? await Self.pool.runIfActive { Bcrypt.verify(password, hash: Self.unknownUserHash) }
            return false
        }
        // NUL separators: ("ab", "c") and ("a", "bc") must not meet (a user name never contains one).
        var material = salt
        material += Array(user.utf8)
        material.append(0)
        material += Array(hash.utf8)
        material.append(0)
        material += Array(password.utf8)
        let key = SHA256.digest(material)
        if cache.withLock({ $0.contains(key) }) { return true }
        computed.add(1, ordering: .relaxed)
        // `$2y$` (htpasswd's) is the same algorithm as `$2b$`; the bcrypt code here reads only `$2a$`/`$2b$`.
        let normalized = hash.hasPrefix("$2y$") ? "$2b$" + hash.dropFirst(4) : hash
        let ok = (try? await Self.pool.runIfActive { Bcrypt.verify(password, hash: normalized) }) ?? false
        if ok {
            cache.withLock {
                if $0.count >= Self.maximumEntries { $0.removeAll() }
                $0.insert(key)
            }
        }
        return ok
    }
}
