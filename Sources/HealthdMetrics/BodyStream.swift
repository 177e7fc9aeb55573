import NIOCore
import NIOPosix
import Synchronization

/// A response body produced as it is sent: each ``next()`` makes the following chunk on the thread pool,
/// rendering text (``TextCursor``) or copying compressed runs (``GzipMember/Cursor``). One reader at a time
/// (the server writing the response).
public final class BodyStream: Sendable {
    enum Cursor: Sendable {
        case text(TextCursor)
        case gzip(GzipMember.Cursor)

        mutating func next() -> ByteBuffer? {
            switch self {
            case .text(var cursor):
                let chunk = cursor.next()
                self = .text(cursor)
                return chunk
            case .gzip(var cursor):
                let chunk = cursor.next()
                self = .gzip(cursor)
                return chunk
            }
        }
    }

    private let cursor: Mutex<Cursor?>
    private let threadPool: NIOThreadPool
    /// The body's length when known in advance (gzip), for `Content-Length`; nil sends it chunked.
    public let length: Int?

    init(_ cursor: Cursor, length: Int? = nil, threadPool: NIOThreadPool) {
        self.cursor = Mutex(cursor)
        self.length = length
        self.threadPool = threadPool
    }

    /// The next chunk, nil at the end.
    public func next() async -> ByteBuffer? {
        guard let current = cursor.withLock({ $0.take() }) else { return nil }
        let render: @Sendable () -> (Cursor, ByteBuffer?) = {
            var advanced = current
            let chunk = advanced.next()
            return (advanced, chunk)
        }
        let result: (Cursor, ByteBuffer?)
        if let rendered = try? await threadPool.runIfActive(render) { result = rendered } else { result = render() }
        let (advanced, chunk) = result
        if chunk != nil { cursor.withLock { $0 = advanced } }
        return chunk
    }
}
