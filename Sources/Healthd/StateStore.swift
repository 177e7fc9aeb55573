import Foundation
import HealthdCore
import LeenAPI
import Synchronization

/// The state directory: one file per organization (`organizations/<id>.json`: its state, its event stream
/// and its unsent events) with its log (`organizations/<id>.log`: what each poll changed since the file was
/// written), `changes.log` (every organization's records again, the file synced before events go,
/// ``ChangeLog``), `daemon.json` (the daemon's own event stream and unsent events) and `credentials.json`
/// (the salted hashes of the credentials last applied, never the secrets).
///
/// One file per organization rather than one for everything: a poll writes only its own organization, so
/// persisting after every poll stays cheap with a thousand organizations. A poll's write appends a record
/// of what changed to the log and the change log, and `fdatasync`s the change log, at once or with the
/// commits around it (``OrganizationLog``, ``GroupCommit``; not when the poll made no event, see
/// ``save(_:delivery:for:compact:durable:deferSync:)``); once the records outgrow half the
/// file, the file is written again in full and the log removed. Full writes are atomic: a temporary file in
/// the same directory, fsync, rename, fsync of the directory. A record cut short by a crash was never
/// committed (its events were not sent) and is ignored when the log is read.
public struct StateStore: Sendable {
    public let directory: URL

    /// What was last written for each organization, for the next write to append to; only the blocking-I/O
    /// thread writes, so the lock is never contended. Empty at start: each organization's first write
    /// replaces its file, which also drops a record a crash cut short.
    let written = WrittenOrganizations()

    final class WrittenOrganizations: Sendable {
        let logs = Mutex<[OrganizationID: OrganizationLog]>([:])
        let unsyncedAppends = Atomic<Int>(0)
        let changes = Mutex(ChangeLog())
        let syncs = Atomic<Int>(0)
        deinit { changes.withLock { if $0.descriptor >= 0 { close($0.descriptor) } } }
    }

    /// Records appended that no `fdatasync` of the change log was asked for, since the store was made (for
    /// the tests).
    var unsyncedAppends: Int { written.unsyncedAppends.load(ordering: .relaxed) }
    /// `fdatasync`s of the change log since the store was made (for the tests).
    var changeLogSyncs: Int { written.syncs.load(ordering: .relaxed) }

    /// How large the change log (``ChangeLog``) may grow before a write empties it (a checkpoint, which
    /// syncs every organization's log appended since the last one: about 1,000 `fdatasync`s at 100k
    /// connections). 64 MiB: a checkpoint every few minutes in a fleet of 100k connections of which 4% change
    /// every 20 s; at 16 MiB the checkpoints took 4% of the daemon's CPU there (perf, docs/benchmarks.md,
    /// the eighteenth round). A start after a crash reads the file whole, skipping undecoded what the
    /// organizations' logs gave.
    let changeLogBudget: Int

    /// ``changeLogFile``, made once (a `URL` built for every append took 1.4% of the daemon's CPU, perf).
    let changeLogFile: String

    /// ``organizationsDirectory``'s path, made once: building a `URL` for every poll's write took 0.7% of
    /// the daemon's CPU at 100k connections (perf).
    private let organizationsPath: String

    public init(directory: String, changeLogBudget: Int = 64 << 20) {
        self.directory = URL(fileURLWithPath: directory, isDirectory: true)
        self.changeLogBudget = changeLogBudget
        changeLogFile = self.directory.appendingPathComponent("changes.log").path
        organizationsPath = self.directory.appendingPathComponent("organizations", isDirectory: true).path
    }

    var organizationsDirectory: URL { URL(fileURLWithPath: organizationsPath, isDirectory: true) }

    /// The path of an organization's file.
    func organizationFile(_ organization: OrganizationID) -> String {
        organizationsPath + "/" + Self.fileName(organization)
    }
    /// The path of an organization's log.
    func logFile(_ organization: OrganizationID) -> String {
        Self.logPath(forFile: organizationFile(organization))
    }
    static func logPath(forFile path: String) -> String { String(path.dropLast(".json".count)) + ".log" }
    var credentialsFile: URL { directory.appendingPathComponent("credentials.json") }
    var daemonFile: URL { directory.appendingPathComponent("daemon.json") }

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

    /// One organization's file, as read (``OrganizationFileEncoder`` writes it). Version 1 (before the
    /// outbox) had no `delivery`: it reads as a new stream with nothing unsent. Version 2 had no `log`: no
    /// log follows it. Version 3 is version 2 with `log`; a build that reads only 1...2 sets it aside rather
    /// than miss the records of its log.
    struct OrganizationFile: VersionedStateFile {
        var version = 3
        var organizationID: OrganizationID
        var state: OrganizationState
        var delivery: Delivery?
        /// The ``OrganizationLog/token`` that this file's log records carry.
        var log: String?

        static func readByHand(_ data: Data) -> Self? {
            StateFileReader.read(data) { reader throws(StateFileReader.Mismatch) in try reader.organizationFile() }
        }
    }

    /// `daemon.json`.
    struct DaemonFile: Codable, VersionedStateFile {
        var version = 1
        var delivery: Delivery
    }

    /// An organization as its file left it.
    public struct StoredOrganization: Sendable {
        public var state: OrganizationState
        public var delivery: Delivery
    }

    /// What a load does with a file it cannot use (undecodable, or in a format version it does not know).
    public enum Unusable: Sendable {
        /// Throw: nothing may go on without it.
        case fail
        /// Leave it where it is and go on without it (read-only tools).
        case skip
        /// Move it to `set-aside/` (kept for inspection) and go on without it (the daemon, which reports it).
        case setAside
    }

    /// A file a load could not use and moved aside.
    public struct SetAside: Sendable, Hashable {
        /// Where it was and where it is now.
        public var path: String
        public var movedTo: String
        /// Why it could not be used (a decoder's description or the version; never the contents).
        public var reason: String
    }

    var setAsideDirectory: URL { directory.appendingPathComponent("set-aside", isDirectory: true) }

    /// Every organization's state, for readers that need no delivery data (`leen-healthd status`): a file it
    /// cannot use is skipped, and left for the daemon to set aside.
    public func loadOrganizations() throws -> [OrganizationID: OrganizationState] {
        var ignored: [SetAside] = []
        return try loadStoredOrganizations(unusable: .skip, setAside: &ignored).mapValues(\.state)
    }

    /// Every organization's file; throws on one that cannot be used.
    public func loadStoredOrganizations() throws -> [OrganizationID: StoredOrganization] {
        var ignored: [SetAside] = []
        return try loadStoredOrganizations(unusable: .fail, setAside: &ignored)
    }

    /// Every organization's file. One that cannot be used is handled as `unusable` says; those moved aside
    /// are appended to `setAside`, and their organizations start again from an empty baseline.
    public func loadStoredOrganizations(
        unusable: Unusable = .fail, setAside: inout [SetAside]
    ) throws -> [OrganizationID: StoredOrganization] {
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
        let organizationFiles = files.filter { $0.pathExtension == "json" }.sorted { $0.path < $1.path }
        let logs = Set(files.filter { $0.pathExtension == "log" }.map(\.path))
        // Read and decoded on every core at once (each file on its own): JSONDecoder over the files was most
        // of a restart at 100k connections (perf). What cannot be used is then handled in file order.
        let attempts = Mutex([Result<(OrganizationFile, Int), LoadFailure>?](repeating: nil, count: organizationFiles.count))
        DispatchQueue.concurrentPerform(iterations: organizationFiles.count) { index in
            let file = organizationFiles[index]
            let log = Self.logPath(forFile: file.path)
            let attempt = Self.attemptOrganizationCounting(file, log: logs.contains(log) ? URL(fileURLWithPath: log) : nil)
            attempts.withLock { $0[index] = attempt }
        }
        var loaded = attempts.withLock { $0 }
        try applyChangeLog(to: &loaded, files: organizationFiles)
        written.changes.withLock { $0.unsyncedLogs.formUnion(logs) }
        var result: [OrganizationID: StoredOrganization] = [:]
        for (file, attempt) in zip(organizationFiles, loaded) {
            let moved = setAside.count
            guard let decoded = try handle(attempt!, from: file, unusable: unusable, setAside: &setAside)?.0 else {
                // The log goes with its file: its records mean nothing without it.
                let log = URL(fileURLWithPath: Self.logPath(forFile: file.path))
                if setAside.count > moved, logs.contains(log.path) {
                    try setAside.append(moveAside(log, reason: "its organization's file was set aside"))
                }
                continue
            }
            result[decoded.organizationID] = StoredOrganization(
                state: decoded.state, delivery: decoded.delivery ?? Delivery())
        }
        return result
    }

    /// An organization's file read and decoded, with its log's records applied; pure, so files can be tried
    /// at once.
    ///
    /// A log gone since the directory was listed reads as none: a reader beside the running daemon
    /// (`leen-healthd status`) can see the daemon replace the file and remove the log in between, and the
    /// file it read is then a consistent, slightly older state (records of a newer file are skipped too).
    static func attemptOrganization(_ file: URL, log: URL?) -> Result<OrganizationFile, LoadFailure> {
        attemptOrganizationCounting(file, log: log).map(\.0)
    }

    /// As ``attemptOrganization(_:log:)``, with how many records of its log the file took.
    static func attemptOrganizationCounting(_ file: URL, log: URL?) -> Result<(OrganizationFile, Int), LoadFailure> {
        let attempt = attempt(OrganizationFile.self, from: file, versions: organizationVersions).map { ($0, 0) }
        guard case .success(var (decoded, _)) = attempt, let log else { return attempt }
        let data: Data
        do {
            data = try Data(contentsOf: log)
        } catch CocoaError.fileReadNoSuchFile {
            return attempt
        } catch {
            return .failure(.unreadable(StateError(path: log.path, reason: "cannot read: \(error.localizedDescription)")))
        }
        do {
            let applied = try applyLog(data, to: &decoded, path: log.path)
            return .success((decoded, applied))
        } catch let error as StateError {
            return .failure(.unusable(problem: error.reason))
        } catch {
            return .failure(.unusable(problem: Self.describe(error)))
        }
    }

    /// Applies the records of an organization's log (its bytes) to its file, in order. Lines of another
    /// file (a crash between a file's replacement and its log's removal) are skipped, and bytes after the
    /// last newline (a record a crash cut short, never committed) ignored; a complete line that cannot be
    /// read, or a record out of order, makes the organization unusable (a ``StateError`` naming `path`).
    @discardableResult
    static func applyLog(_ data: Data, to file: inout OrganizationFile, path: String) throws -> Int {
        // Files before version 3 have no log.
        guard let token = file.log else { return 0 }
        // Taken out of `file`, so that the records change them in place.
        var state = file.state
        var delivery = file.delivery ?? Delivery()
        file.state = OrganizationState()
        file.delivery = nil
        var applied = 0
        var line = 0
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        for (start, newline) in lineBounds(data) {
            let bytes = data[start..<newline]
            line += 1
            guard
                let record = StateFileReader.read(bytes, { reader throws(StateFileReader.Mismatch) in try reader.changeRecord() })
                    ?? (try? decoder.decode(ChangeRecord.self, from: bytes))
            else {
                throw StateError(path: path, reason: "line \(line) of the log is unreadable")
            }
            guard record.log == token else { continue }
            guard record.record == applied + 1 else {
                throw StateError(path: path, reason: "line \(line) of the log is record \(record.record), after record \(applied)")
            }
            record.apply(to: &state, delivery: &delivery)
            applied += 1
        }
        file.state = state
        file.delivery = delivery
        return applied
    }

    /// Applies the change log (``ChangeLog``), if there is one, to the organizations read (`loaded`, in the
    /// order of `files`); an organization whose records there cannot be applied fails as its own log's would.
    private func applyChangeLog(to loaded: inout [Result<(OrganizationFile, Int), LoadFailure>?], files: [URL]) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: changeLogFile))
        } catch CocoaError.fileReadNoSuchFile {
            return
        } catch {
            throw StateError(path: changeLogFile, reason: "cannot read: \(error.localizedDescription)")
        }
        var byToken: [String: (index: Int, file: OrganizationFile, applied: Int)] = [:]
        for index in loaded.indices {
            guard case .success(let (file, applied))? = loaded[index], let token = file.log else { continue }
            byToken[token] = (index, file, applied)
        }
        let (taken, failed) = Self.applyChanges(data, to: &byToken, path: changeLogFile)
        for (token, entry) in byToken {
            if let problem = failed[token] {
                loaded[entry.index] = .failure(.unusable(problem: problem))
            } else if taken.contains(entry.file.organizationID) {
                loaded[entry.index] = .success((entry.file, entry.applied))
            }
        }
        written.changes.withLock { $0.awaitingReplacement.formUnion(taken) }
    }

    /// Each complete line's start and end (its newline) in `data`; bytes after the last newline are not a
    /// line. Found with `memchr`: `Data`'s own `firstIndex(of:)` went through its storage byte by byte, with
    /// an exclusivity check for each, and was 18% of the CPU of a start after a crash at 100k connections
    /// (perf), when most organizations have a log of up to half their file.
    static func lineBounds(_ data: Data) -> [(start: Data.Index, newline: Data.Index)] {
        data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            guard let base = buffer.baseAddress else { return [] }
            var bounds: [(start: Data.Index, newline: Data.Index)] = []
            var offset = 0
            while offset < buffer.count, let found = memchr(base + offset, Int32(UInt8(ascii: "\n")), buffer.count - offset) {
                let newline = UnsafeRawPointer(found) - base
                bounds.append((data.startIndex + offset, data.startIndex + newline))
                offset = newline + 1
            }
            return bounds
        }
    }

    /// An organization's file, from its bytes: the organization it is for and what it holds, or a
    /// ``StateError`` naming `path`. Pure, so the fuzz targets (`Fuzz/`) read files as the daemon does.
    public static func readOrganization(_ data: Data, log: Data? = nil, path: String) throws -> (OrganizationID, StoredOrganization) {
        var file = try read(OrganizationFile.self, from: data, path: path, versions: organizationVersions)
        if let log { try applyLog(log, to: &file, path: logPath(forFile: path)) }
        return (file.organizationID, StoredOrganization(state: file.state, delivery: file.delivery ?? Delivery()))
    }

    /// `daemon.json`, from its bytes.
    public static func readDaemon(_ data: Data, path: String) throws -> Delivery {
        try read(DaemonFile.self, from: data, path: path, versions: 1...1).delivery
    }

    /// `credentials.json`, from its bytes.
    public static func readCredentials(_ data: Data, path: String) throws -> AppliedCredentials {
        try read(AppliedCredentials.self, from: data, path: path, versions: 1...1)
    }

    /// The organization file's versions this build reads (1: before the outbox; 2: before the log).
    static let organizationVersions = 1...3

    /// Writes an organization's state with its stream and unsent events before returning: the commit point
    /// of a poll. Appends what changed to the organization's log when it can, else (the first write of this
    /// process, a new stream, records past the ``OrganizationLog/budget``, a failed write before, or
    /// `compact`) replaces its file and removes the log.
    ///
    /// Durably unless `durable` is false, which only an append honours: the record is then left in the
    /// kernel's page cache without `fdatasync`. For a commit that releases no event (a poll that counted an
    /// unhealthy connection towards its confirmation, say): a crash of the daemon loses nothing, since the
    /// kernel keeps what was written, and a power loss can lose only such records at the change log's end
    /// (the next durable append's `fdatasync` flushes the ones before it): the poll counts they carried,
    /// never an event. Replacing a file is always durable. An append is made durable by the change log's
    /// `fdatasync` (``ChangeLog``), the organization's log being synced only at a checkpoint.
    ///
    /// - Parameter deferSync: leave a durable append's sync to ``syncChanges()``, which the caller runs
    ///   before releasing the commit's events (``GroupCommit``).
    /// - Returns: whether the write waits for ``syncChanges()`` to be durable.
    @discardableResult
    public func save(
        _ state: OrganizationState, delivery: Delivery, for organization: OrganizationID, compact: Bool = false,
        durable: Bool = true, deferSync: Bool = false
    ) throws -> Bool {
        let last = written.logs.withLock { $0.removeValue(forKey: organization) }
        // Until this write succeeds the organization has nothing to append to: a failed write replaces the
        // file next time.
        if !compact, var log = last, let change = log.change(to: state, delivery: delivery) {
            let line = OrganizationFileEncoder.encode(change)
            if log.admits(line.count) {
                let path = logFile(organization)
                try AtomicFile.append(line, to: path, creating: log.records == 0, sync: false)
                try appendChange(
                    ChangeLog.line(token: change.log, record: change.record, json: line), log: path,
                    sync: durable && !deferSync)
                if !durable { written.unsyncedAppends.add(1, ordering: .relaxed) }
                log.appended(change, bytes: line.count, state: state, delivery: delivery)
                written.logs.withLock { $0[organization] = log }
                return durable && deferSync
            }
        }
        let token = OrganizationLog.newToken()
        let file = OrganizationFileEncoder.encode(state, delivery: delivery, for: organization, log: token)
        try AtomicFile.write(file, to: organizationFile(organization))
        // After the rename, so the records it holds are never without the file that has them. Left there
        // (by a crash) they are skipped: they carry the old file's token. One that cannot be removed
        // fails the write, which is tried again, since records appended after it would follow its end.
        let log = logFile(organization)
        if last.map({ $0.records > 0 }) ?? true {
            if unlink(log) != 0, errno != ENOENT {
                throw StateError(path: log, reason: String(cString: strerror(errno)))
            }
        }
        replaced(organization, log: log)
        written.logs.withLock {
            $0[organization] = OrganizationLog(token: token, fileBytes: file.count, state: state, stream: delivery.stream)
        }
        return false
    }

    public func loadDaemon(unusable: Unusable = .fail, setAside: inout [SetAside]) throws -> Delivery {
        guard FileManager.default.fileExists(atPath: daemonFile.path) else { return Delivery() }
        return try load(DaemonFile.self, from: daemonFile, versions: 1...1, unusable: unusable, setAside: &setAside)?
            .delivery ?? Delivery()
    }

    public func saveDaemon(_ delivery: Delivery) throws {
        try write(DaemonFile(delivery: delivery), to: daemonFile)
    }

    /// Forgets an organization no longer in the config.
    public func remove(_ organization: OrganizationID) throws {
        written.logs.withLock { _ = $0.removeValue(forKey: organization) }
        replaced(organization, log: logFile(organization))
        // The log first: a log left without its file is ignored, a file without its log would be read
        // without its last changes.
        for file in [logFile(organization), organizationFile(organization)] where FileManager.default.fileExists(atPath: file) {
            try FileManager.default.removeItem(atPath: file)
        }
    }

    /// Without a usable file, a new salt and nothing applied: provisioning then adopts what exists.
    public func loadCredentials(unusable: Unusable = .fail, setAside: inout [SetAside]) throws -> AppliedCredentials {
        try loadCredentials(attemptCredentials(), unusable: unusable, setAside: &setAside)
    }

    /// `credentials.json` read and decoded, nil when there is none; pure, so it can run beside other loads.
    func attemptCredentials() -> Result<AppliedCredentials, LoadFailure>? {
        guard FileManager.default.fileExists(atPath: credentialsFile.path) else { return nil }
        return Self.attempt(AppliedCredentials.self, from: credentialsFile, versions: 1...1)
    }

    /// The credentials an attempt found, or new ones (a new salt) when there was no file or it was set aside.
    func loadCredentials(
        _ attempt: Result<AppliedCredentials, LoadFailure>?, unusable: Unusable, setAside: inout [SetAside]
    ) throws -> AppliedCredentials {
        if let attempt, let loaded = try handle(attempt, from: credentialsFile, unusable: unusable, setAside: &setAside) {
            return loaded
        }
        var bytes = SystemRandomNumberGenerator()
        let salt = (0..<4).map { _ in String(bytes.next(), radix: 16) }.joined()
        return AppliedCredentials(salt: salt, applied: [:])
    }

    public func loadCredentials() throws -> AppliedCredentials {
        var ignored: [SetAside] = []
        return try loadCredentials(setAside: &ignored)
    }

    /// Unsorted: with 100,000 connections, sorting the keys was most of the cost of a write.
    public func save(_ credentials: AppliedCredentials) throws {
        try write(credentials, to: credentialsFile, sortedKeys: false)
    }

    /// A file name safe for any organization id.
    static func fileName(_ organization: OrganizationID) -> String {
        // Ids are UUIDs: ASCII letters, digits and hyphens are kept as they are, without a `CharacterSet`
        // lookup and a `String` per character.
        let raw = organization.rawValue
        if raw.utf8.allSatisfy({ byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D
        }) {
            return raw + ".json"
        }
        let safe = raw.unicodeScalars.map {
            CharacterSet.alphanumerics.contains($0) || $0 == "-" ? String($0) : "_"
        }.joined()
        return safe + ".json"
    }

    /// The `version` every state file carries.
    struct VersionProbe: Decodable { var version: Int? }

    /// A state file's top level, which names its format version.
    protocol VersionedStateFile: Decodable {
        var version: Int { get }
        /// The file read by ``StateFileReader``, or nil where it gives up (and `JSONDecoder` reads it).
        static func readByHand(_ data: Data) -> Self?
    }

    /// A state file's bytes as `T` when its `version` is one of `versions` (a file without one counts as 1),
    /// else a ``StateError`` naming `path` that says why without quoting the contents. Pure: the fuzz
    /// targets (`Fuzz/`) read files as the daemon does.
    static func read<T: VersionedStateFile>(_ type: T.Type, from data: Data, path: String, versions: ClosedRange<Int>) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        // One parse for a good file: probing the version first parsed every file twice. Anything else takes
        // the path below, which says why.
        if let file = T.readByHand(data) ?? (try? decoder.decode(T.self, from: data)), versions.contains(file.version) {
            return file
        }
        let version: Int
        do {
            version = try decoder.decode(VersionProbe.self, from: data).version ?? 1
        } catch {
            throw StateError(path: path, reason: "unreadable state: \(describe(error))")
        }
        guard versions.contains(version) else {
            throw StateError(
                path: path,
                reason: "format version \(version) (this leen-healthd reads \(versions.lowerBound)...\(versions.upperBound))")
        }
        do {
            return try decoder.decode(T.self, from: data)
        } catch {
            throw StateError(path: path, reason: "unreadable state: \(describe(error))")
        }
    }

    /// Reads `file` as `T` when its `version` is one of `versions` (a file without one counts as 1). A file
    /// that cannot be read at all (permissions, I/O) always throws: moving it would not help.
    func load<T: VersionedStateFile>(
        _ type: T.Type, from file: URL, versions: ClosedRange<Int>, unusable: Unusable, setAside: inout [SetAside]
    ) throws -> T? {
        try handle(Self.attempt(type, from: file, versions: versions), from: file, unusable: unusable, setAside: &setAside)
    }

    /// Why a file could not be used: it could not be read (always an error), or what it holds cannot be used
    /// (handled as ``Unusable`` says).
    enum LoadFailure: Error, Sendable {
        case unreadable(StateError)
        case unusable(problem: String)
    }

    /// A file read and decoded; pure, so files can be tried at once.
    static func attempt<T: VersionedStateFile>(_ type: T.Type, from file: URL, versions: ClosedRange<Int>) -> Result<T, LoadFailure> {
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            return .failure(.unreadable(StateError(path: file.path, reason: "cannot read: \(error.localizedDescription)")))
        }
        do {
            return .success(try Self.read(T.self, from: data, path: file.path, versions: versions))
        } catch let error as StateError {
            return .failure(.unusable(problem: error.reason))
        } catch {
            return .failure(.unusable(problem: Self.describe(error)))
        }
    }

    /// The value of an attempt; nil for a file that cannot be used when `unusable` says to go on without it.
    func handle<T>(
        _ attempt: Result<T, LoadFailure>, from file: URL, unusable: Unusable, setAside: inout [SetAside]
    ) throws -> T? {
        let problem: String
        switch attempt {
        case .success(let value): return value
        case .failure(.unreadable(let error)): throw error
        case .failure(.unusable(let reason)): problem = reason
        }
        switch unusable {
        case .fail:
            throw StateError(path: file.path, reason: problem)
        case .skip:
            return nil
        case .setAside:
            setAside.append(try moveAside(file, reason: problem))
            return nil
        }
    }

    /// Moves `file` to `set-aside/`, its name stamped with the time.
    func moveAside(_ file: URL, reason: String) throws -> SetAside {
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let target = setAsideDirectory.appendingPathComponent("\(file.lastPathComponent).\(stamp)")
        do {
            try FileManager.default.createDirectory(
                at: setAsideDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
            try FileManager.default.moveItem(at: file, to: target)
        } catch {
            throw StateError(path: file.path, reason: "\(reason); cannot move it aside: \(error.localizedDescription)")
        }
        return SetAside(path: file.path, movedTo: target.path, reason: reason)
    }

    /// A decoding error's path and kind, without the offending value.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "not JSON" }
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(type)"
        case .valueNotFound(let type, let context): return "\(path(context)): expected \(type), found null"
        case .keyNotFound(let key, let context): return "\(path(context)): missing \(key.stringValue)"
        case .dataCorrupted(let context): return context.codingPath.isEmpty ? "not JSON" : "\(path(context)): invalid"
        @unknown default: return "undecodable"
        }
    }

    func write<T: Encodable>(_ value: T, to file: URL, sortedKeys: Bool = true) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = sortedKeys ? [.sortedKeys] : []
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

/// Crash-safe replacement of a file's contents, and appends.
public enum AtomicFile {
    /// Appends `data` to the file at `path` and `fdatasync`s it (unless `sync` is false); with `creating`,
    /// makes the file first (mode 0600, emptied if it was there) and `fsync`s it and its directory, so that
    /// its name survives a crash too, whatever `sync` says. A failure may leave part of `data` at the end:
    /// the caller must not append after it.
    public static func append(_ data: Data, to path: String, creating: Bool, sync: Bool = true) throws {
        let flags = O_WRONLY | O_APPEND | O_CLOEXEC | (creating ? O_CREAT | O_TRUNC : 0)
        let fd = open(path, flags, 0o600)
        guard fd >= 0 else { throw StateError(path: path, reason: String(cString: strerror(errno))) }
        var failure = writeAll(data, to: fd)
        if failure == nil, creating || sync, (creating ? fsync(fd) : fdatasync(fd)) != 0 {
            failure = String(cString: strerror(errno))
        }
        close(fd)
        if let failure { throw StateError(path: path, reason: failure) }
        if creating { syncDirectory(of: path) }
    }

    /// nil, or why `data` could not all be written.
    static func writeAll(_ data: Data, to fd: Int32) -> String? {
        data.withUnsafeBytes { raw -> String? in
            var offset = 0
            while offset < raw.count {
                let written = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return String(cString: strerror(errno))
                }
                offset += written
            }
            return nil
        }
    }

    static func syncDirectory(of path: String) {
        let directoryFD = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Writes `data` to a temporary file beside `path` (mode 0600), fsyncs it, renames it over `path`, and
    /// fsyncs the directory, creating the directory (0700) when needed. Readers see the old or the new
    /// contents, never a mix, even across a crash.
    public static func write(_ data: Data, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = "\(directory)/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
        func openTemporary() -> Int32 { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) }
        var fd = openTemporary()
        // The directory is made only when missing: Foundation's check before every write took 0.2% of the
        // daemon's CPU at 100k connections (perf).
        if fd < 0, errno == ENOENT {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw StateError(path: directory, reason: "cannot create directory: \(error.localizedDescription)")
            }
            fd = openTemporary()
        }
        guard fd >= 0 else { throw StateError(path: temporary, reason: String(cString: strerror(errno))) }
        var failure = writeAll(data, to: fd)
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
        syncDirectory(of: path)
    }
}

extension StateStore.VersionedStateFile {
    /// The small files are left to `JSONDecoder`.
    static func readByHand(_ data: Data) -> Self? { nil }
}
