import Foundation
import Synchronization
import SystemdSupport

/// Keeps every entry it is sent.
final class RecordingSink: JournalSink {
    private let received = Mutex<[JournalEntry]>([])

    var entries: [JournalEntry] { received.withLock { $0 } }

    func send(_ entry: JournalEntry) throws {
        received.withLock { $0.append(entry) }
    }
}

struct SinkFailure: Error, Equatable {
    var id: Int
}

/// Refuses every entry.
struct FailingSink: JournalSink {
    var id: Int

    func send(_ entry: JournalEntry) throws { throw SinkFailure(id: id) }
}

/// Runs `body` with the write end of a pipe while a separate thread drains the read end (so writers never
/// wait on the test), and returns everything written once `body` is done.
func captureOutput(_ body: (_ descriptor: Int32) async throws -> Void) async throws -> String {
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else { throw SinkFailure(id: Int(errno)) }
    let reader = PipeReader(descriptor: ends[0])
    defer { close(ends[0]) }
    do {
        try await body(ends[1])
    } catch {
        close(ends[1])
        _ = reader.wait()
        throw error
    }
    close(ends[1])
    return String(decoding: reader.wait(), as: UTF8.self)
}

/// Reads a descriptor to its end on its own thread.
final class PipeReader: Sendable {
    private let bytes = Mutex<[UInt8]>([])
    private let finished = DispatchSemaphore(value: 0)

    init(descriptor: Int32) {
        Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = read(descriptor, &buffer, buffer.count)
                if count > 0 {
                    bytes.withLock { $0 += buffer[0..<count] }
                } else if count < 0, errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            finished.signal()
        }.start()
    }

    func wait() -> [UInt8] {
        finished.wait()
        return bytes.withLock { $0 }
    }
}
