import CMalloc
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// The process's memory allocator.
///
/// The `leen-healthd` executable links jemalloc (Package.swift), which then serves every `malloc` of the
/// process. Measured at 100k connections on this 2-core VM (docs/benchmarks.md, sixth round), against glibc
/// with two arenas and a trim every minute: 385 MB resident against 570 MB, and a fifth less CPU while
/// polling. glibc kept a third of its heap as fragments that polls and scrapes left between long-lived
/// state. Other programs linking these modules (the tests, the benchmarks) keep glibc, which is tuned here
/// as before.
public enum Allocator {
    enum Kind: Equatable, Sendable {
        /// `arenas`: jemalloc's `opt.narenas` (leen-healthd builds in one, CJemallocOptions).
        case jemalloc(version: String, arenas: Int)
        case glibc
    }

    /// jemalloc when its `mallctl` is in the process (`leen-healthd` links it), glibc otherwise.
    static let current: Kind = {
        // RTLD_DEFAULT: the symbol wherever the process has it.
        guard let symbol = dlsym(nil, "mallctl") else { return .glibc }
        typealias MallCtl =
            @convention(c) (
                UnsafePointer<CChar>?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?,
                UnsafeMutableRawPointer?, Int
            ) -> Int32
        let mallctl = unsafeBitCast(symbol, to: MallCtl.self)
        var version: UnsafePointer<CChar>? = nil
        var length = MemoryLayout<UnsafePointer<CChar>?>.size
        let named = mallctl("version", &version, &length, nil, 0) == 0 ? version.map { String(cString: $0) } : nil
        var arenas: UInt32 = 0
        length = MemoryLayout<UInt32>.size
        let counted = mallctl("opt.narenas", &arenas, &length, nil, 0) == 0
        return .jemalloc(version: named ?? "unknown", arenas: counted ? Int(arenas) : 0)
    }()

    /// For the log: which allocator, and how it is set.
    public static var summary: String {
        switch current {
        case .glibc: "glibc"
        case .jemalloc(let version, let arenas): "jemalloc \(version), \(arenas) arena\(arenas == 1 ? "" : "s")"
        }
    }

    /// Sets the allocator up for a long-lived daemon; made first thing, before threads allocate.
    ///
    /// glibc: at most two arenas (its default allows eight per core). Every thread otherwise gets an arena of
    /// its own, and what one thread freed serves no other: at 100k connections the daemon held 739 MB with
    /// the default, 688 MB with two. True when glibc took the setting. jemalloc needs nothing.
    @discardableResult
    static func setUp() -> Bool {
        guard current == .glibc else { return true }
        return mallopt(M_ARENA_MAX, 2) == 1
    }

    /// Gives glibc's free heap pages back to the system. On a global queue: it holds the arenas' locks while
    /// it walks them, which must not stop the cooperative pool or the journal's thread.
    static func trim() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global(qos: .background).async {
                _ = malloc_trim(0)
                continuation.resume()
            }
        }
    }

    /// Under glibc, trims now and then every `period` until cancelled: polls and scrapes leave freed pages
    /// behind. jemalloc returns unused pages by itself, over its decay time (1 s, built in).
    static func trimPeriodically(every period: Duration = .seconds(60)) async {
        guard current == .glibc else { return }
        while !Task.isCancelled {
            await trim()
            try? await Task.sleep(for: period)
        }
    }
}
