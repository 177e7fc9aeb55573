import Dispatch
import CMalloc

/// glibc's allocator, set up for a long-lived daemon whose many threads (the concurrency pool, NIO's event
/// loops, the blocking pools) allocate and free a lot between polls.
///
/// Measured at 100k connections (2-core VM, docs/benchmarks.md): the daemon held 739 MB, of which
/// `malloc_trim` gave back 134 MB at once; with two arenas it held 688 MB, 580 MB after a trim. Every thread
/// otherwise gets an arena of its own, and what one thread freed serves no other.
enum Allocator {
    /// At most two arenas (glibc's default allows eight per core). Arenas made before the call stay, so it is
    /// made first thing; contention costs little at two cores' worth of threads. True when glibc took it.
    @discardableResult
    static func limitArenas() -> Bool {
        mallopt(M_ARENA_MAX, 2) == 1
    }

    /// Gives free heap pages back to the system. On a global queue: it holds the arenas' locks while it
    /// walks them, which must not stop the cooperative pool or the journal's thread.
    static func trim() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global(qos: .background).async {
                _ = malloc_trim(0)
                continuation.resume()
            }
        }
    }

    /// Trims now and then every `period` until cancelled: polls and scrapes leave freed pages behind.
    static func trimPeriodically(every period: Duration = .seconds(60)) async {
        while !Task.isCancelled {
            await trim()
            try? await Task.sleep(for: period)
        }
    }
}
