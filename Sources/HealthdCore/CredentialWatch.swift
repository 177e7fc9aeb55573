import Foundation
import LeenAPI

/// Which credential files the configuration reads, which directories to watch for them, and which
/// organizations a change in a directory concerns. Pure: the watcher (inotify) reports names, this decides.
///
/// Directories are watched, not files: an editor's save or a deployment tool replaces a file by renaming a
/// new one over it, which a watch on the old file (its inode) never sees.
public struct CredentialWatch: Sendable, Hashable {
    /// Organizations whose declared connections read each file (`{file: PATH}` credential sources).
    public private(set) var organizationsByFile: [String: Set<OrganizationID>] = [:]

    public init(_ configuration: Configuration) {
        // Each organization's distinct files first: its connections mostly share a few.
        var paths = Set<String>()
        for organization in configuration.organizations {
            paths.removeAll(keepingCapacity: true)
            for connection in organization.connections {
                connection.credentials?.forEachSource { source in
                    if case .file(let path) = source { paths.insert(path) }
                }
            }
            for path in paths { organizationsByFile[Self.normalized(path), default: []].insert(organization.id) }
        }
    }

    /// The directories to watch.
    public var directories: Set<String> { Set(organizationsByFile.keys.map { Self.split($0).directory }) }

    /// The organizations concerned by changes of `names` in `directory`, in id order. A name that is one of
    /// the files concerns its organizations; a name starting with `..` concerns every file of the directory
    /// (systemd's and Kubernetes' secret directories swap a `..data` symlink to replace all files at once).
    public func organizations(changedIn directory: String, names: Set<String>) -> [OrganizationID] {
        let directory = Self.normalized(directory)
        var affected = Set<OrganizationID>()
        let everything = names.contains { $0.hasPrefix("..") }
        for (path, organizations) in organizationsByFile {
            let (fileDirectory, name) = Self.split(path)
            guard fileDirectory == directory, everything || names.contains(name) else { continue }
            affected.formUnion(organizations)
        }
        return affected.sorted()
    }

    static func normalized(_ path: String) -> String {
        var path = path
        while path.utf8.count > 1, path.utf8.last == UInt8(ascii: "/") { path.removeLast() }
        return path
    }

    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }
}

/// Collects changes until they have been quiet for `quiet`, so one save (an editor's write, rename and
/// chmod; a tool's truncate and writes) is acted on once, when finished. Pure: the caller gives the time.
public struct Debouncer<Key: Hashable & Sendable>: Sendable {
    public let quiet: Duration
    /// Each pending key and when it last changed.
    private var pending: [Key: ContinuousClock.Instant] = [:]

    public init(quiet: Duration) { self.quiet = quiet }

    /// Records changes; returns when to call ``take(now:)`` next.
    public mutating func note(_ keys: some Sequence<Key>, now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        for key in keys { pending[key] = now }
        return now + quiet
    }

    /// The keys quiet for `quiet` by `now`, removed from the pending set.
    public mutating func take(now: ContinuousClock.Instant) -> Set<Key> {
        let ready = Set(pending.filter { now - $0.value >= quiet }.keys)
        for key in ready { pending[key] = nil }
        return ready
    }

    /// When the next pending key becomes quiet; nil when none waits.
    public var deadline: ContinuousClock.Instant? { pending.values.min().map { $0 + quiet } }

    public var isEmpty: Bool { pending.isEmpty }
}
