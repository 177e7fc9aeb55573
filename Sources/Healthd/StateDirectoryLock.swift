import Foundation

/// An exclusive lock on a state directory (`flock` on `<directory>/lock`), held for the life of the process.
///
/// Two daemons on one state directory would both poll and both write every event, and overwrite each other's
/// files. The kernel drops the lock when the process ends, however it ends, so a crash never leaves it stale.
public final class StateDirectoryLock: Sendable {
    let descriptor: Int32

    /// Another process holds the lock.
    public struct Busy: Error, CustomStringConvertible, Sendable {
        public var directory: String
        public var holder: String?
        public var description: String {
            "state directory \(directory) is in use by another leen-healthd"
                + (holder.map { " (pid \($0))" } ?? "")
                + "; each instance needs its own state_directory"
        }
    }

    /// Takes the lock, creating the directory (0700) and the lock file (0600) when needed; throws ``Busy`` at once
    /// (never waits) when another process holds it, or ``StateError`` when the directory cannot be used.
    public init(directory: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StateError(path: directory, reason: "cannot create directory: \(error.localizedDescription)")
        }
        let path = directory + "/lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StateError(path: path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let failure = errno
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            if failure == EWOULDBLOCK {
                throw Busy(directory: directory, holder: holder?.isEmpty == false ? holder : nil)
            }
            throw StateError(path: path, reason: String(cString: strerror(failure)))
        }
        // The holder's pid, for the message a second instance prints; informative only, the flock decides.
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 { _ = pid.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) } }
        descriptor = fd
    }

    deinit { close(descriptor) }
}
