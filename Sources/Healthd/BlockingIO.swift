import Dispatch
import LeenAPI

/// Runs blocking calls (journal sends, fsync'd state writes) on one dedicated thread, in the order they are
/// submitted. A slow disk or a stalled journald then holds that thread only, never the cooperative pool the
/// actors share; the order keeps each organization's events in the order its polls made them.
public final class BlockingIO: Sendable {
    fileprivate let queue: DispatchQueue

    public init(label: String = "leen-healthd.io") {
        queue = DispatchQueue(label: label, qos: .utility)
    }

    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }
}

extension BlockingIO {
    /// Runs `body` on the same thread, after `delay`, in order with what is submitted by then.
    func runAfter(_ delay: Duration, _ body: @escaping @Sendable () -> Void) {
        queue.asyncAfter(deadline: .now() + delay.seconds) { body() }
    }
}
