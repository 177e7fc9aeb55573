import Foundation
import Healthd
import Synchronization
import Testing

/// The inotify watcher against a real directory: a rename over a file and a write in place are both seen,
/// by name; a directory no longer watched reports nothing.
@Suite("Credential file watcher (inotify)")
struct CredentialFileWatcherTests {
    final class Seen: Sendable {
        let names = Mutex<[String: Set<String>]>([:])
        func contains(_ directory: String, _ name: String) -> Bool {
            names.withLock { $0[directory]?.contains(name) ?? false }
        }
        func reset() { names.withLock { $0 = [:] } }
    }

    func waitFor(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<100 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    @Test("renames over a file and in-place writes are reported by name; unwatched directories are not")
    func reportsChanges() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("leen-watch-\(UUID().uuidString)").path
        let other = directory + "-other"
        for path in [directory, other] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        defer { for path in [directory, other] { try? FileManager.default.removeItem(atPath: path) } }
        let seen = Seen()
        let watcher = try CredentialFileWatcher { directory, names in
            seen.names.withLock { $0[directory, default: []].formUnion(names) }
        }
        defer { watcher.stop() }
        #expect(watcher.watch([directory, other, directory + "/missing"]) .keys.sorted() == [directory + "/missing"])

        // Atomic replace: a temporary file renamed over the secret.
        try "one".write(toFile: directory + "/secret", atomically: true, encoding: .utf8)
        #expect(try await waitFor { seen.contains(directory, "secret") })
        // In place: the same inode, truncated and written.
        seen.reset()
        let handle = try #require(FileHandle(forWritingAtPath: directory + "/secret"))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data("two".utf8))
        try handle.close()
        #expect(try await waitFor { seen.contains(directory, "secret") })

        // No longer watched: nothing more from it.
        watcher.watch([directory])
        seen.reset()
        try "x".write(toFile: other + "/secret", atomically: false, encoding: .utf8)
        try "y".write(toFile: directory + "/marker", atomically: false, encoding: .utf8)
        #expect(try await waitFor { seen.contains(directory, "marker") })
        #expect(!seen.contains(other, "secret"))
    }
}
