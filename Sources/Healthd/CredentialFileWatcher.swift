import Foundation
import Glibc
import Synchronization

/// Watches directories with inotify and reports the names that changed in each, from a thread of its own
/// (a blocking `poll` must not hold a thread of the cooperative pool). What a change means is decided by
/// ``CredentialWatch`` and debounced by the daemon's loop; this only reports.
///
/// Directories, not files: a rename over a file (editors, `install`, atomic replaces) gives the path a new
/// inode that a watch on the old one never sees, while the directory sees `IN_MOVED_TO`. In-place writes are
/// `IN_CLOSE_WRITE` (and `IN_MODIFY` for a writer that keeps the file open).
public final class CredentialFileWatcher: Sendable {
    static let mask: UInt32 = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY | IN_ATTRIB | IN_DELETE)

    private let descriptor: Int32
    /// Written to end the thread's `poll`.
    private let wake: (read: Int32, write: Int32)
    /// Watch descriptor -> directory, and the reverse.
    private let watches = Mutex<(byDescriptor: [Int32: String], byDirectory: [String: Int32])>(([:], [:]))
    private let changed: @Sendable (_ directory: String, _ names: Set<String>) -> Void

    /// Starts the thread. `changed` is called on it, once per batch of events read for each directory.
    public init(changed: @escaping @Sendable (_ directory: String, _ names: Set<String>) -> Void) throws {
        let descriptor = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else {
            close(descriptor)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        self.descriptor = descriptor
        wake = (pipeEnds[0], pipeEnds[1])
        self.changed = changed
        let thread = Thread { [self] in readLoop() }
        thread.name = "leen-healthd credential watcher"
        thread.start()
    }

    /// Watches exactly `directories` from now on. Returns the directories that cannot be watched, with why
    /// (a missing directory is reported, not fatal: the files in it are read at the next reload anyway).
    @discardableResult
    public func watch(_ directories: Set<String>) -> [String: String] {
        var problems: [String: String] = [:]
        watches.withLock { watches in
            for (directory, wd) in watches.byDirectory where !directories.contains(directory) {
                inotify_rm_watch(descriptor, wd)
                watches.byDirectory[directory] = nil
                watches.byDescriptor[wd] = nil
            }
            for directory in directories where watches.byDirectory[directory] == nil {
                let wd = inotify_add_watch(descriptor, directory, Self.mask)
                guard wd >= 0 else {
                    problems[directory] = String(cString: strerror(errno))
                    continue
                }
                watches.byDirectory[directory] = wd
                watches.byDescriptor[wd] = directory
            }
        }
        return problems
    }

    /// Ends the thread and closes the descriptors (it closes them itself once it sees the wake-up).
    public func stop() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
    }

    private func readLoop() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var descriptors = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
        while true {
            let ready = poll(&descriptors, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if descriptors[1].revents != 0 { break }
            guard descriptors[0].revents & Int16(POLLIN) != 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { continue }
            for (directory, names) in parse(buffer, count: count) { changed(directory, names) }
        }
        close(descriptor)
        close(wake.read)
        close(wake.write)
    }

    /// The names in a buffer of `struct inotify_event`s, by watched directory. An overflow (`IN_Q_OVERFLOW`)
    /// reports `..overflow` for every directory, which ``HealthdCore/CredentialWatch`` reads as "all files".
    private func parse(_ buffer: [UInt8], count: Int) -> [String: Set<String>] {
        let header = MemoryLayout<inotify_event>.size
        var result: [String: Set<String>] = [:]
        let byDescriptor = watches.withLock { $0.byDescriptor }
        var offset = 0
        while offset + header <= count {
            let (wd, mask, length) = buffer.withUnsafeBytes { raw in
                let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                return (event.wd, event.mask, Int(event.len))
            }
            let nameBytes = buffer[(offset + header)..<min(count, offset + header + length)].prefix { $0 != 0 }
            offset += header + length
            if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                for directory in byDescriptor.values { result[directory, default: []].insert("..overflow") }
                continue
            }
            guard let directory = byDescriptor[wd], !nameBytes.isEmpty else { continue }
            result[directory, default: []].insert(String(decoding: nameBytes, as: UTF8.self))
        }
        return result
    }
}
