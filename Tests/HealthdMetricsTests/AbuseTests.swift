import Foundation
import HealthdBenchmarks
import HealthdCore
import NIOCore
import NIOPosix
import Testing

@testable import HealthdMetrics

#if canImport(Glibc)
import Glibc
#endif

/// A raw TCP client socket to 127.0.0.1:`port`, for what no HTTP client does on purpose.
struct RawSocket {
    let fd: Int32

    /// Starts a non-blocking connect (thousands can be under way at once).
    static func connect(port: Int) -> RawSocket? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 || errno == EINPROGRESS else {
            Glibc.close(fd)
            return nil
        }
        return RawSocket(fd: fd)
    }

    // The waits below sleep with Task.sleep, never usleep or a blocking poll: the tests share the two
    // threads of Swift's cooperative pool with every other suite and with the servers' accept loops.

    /// Waits until the connect finished (or `timeout` passed): data sent before would be refused.
    @discardableResult
    func waitConnected(timeout: Duration = .seconds(5)) async -> Bool {
        await eventually(timeout: timeout) { isConnected }
    }

    /// Sends what fits now; false when the peer has closed. MSG_NOSIGNAL: a closed peer is EPIPE, not SIGPIPE.
    @discardableResult
    func send(_ text: String) async -> Bool {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent > 0 {
                offset += sent
            } else if sent < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINPROGRESS {
                try? await Task.sleep(for: .milliseconds(1))
            } else {
                return false
            }
        }
        return true
    }

    /// True once the TCP handshake completed. A connect the kernel dropped from a full accept queue is still
    /// being retried by TCP (after 1, 3, 7… seconds): such a socket never reached the server.
    var isConnected: Bool {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) == 0 }
        }
    }

    /// True once the server closed the connection (end of file or reset), without consuming data.
    var isClosedByPeer: Bool {
        var byte: UInt8 = 0
        let received = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if received == 0 { return true }
        if received < 0 { return errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN }
        return false
    }

    /// Everything the server sends until it closes or `timeout` passes.
    func readAll(timeout: Duration) async -> String {
        var data: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while ContinuousClock.now < deadline {
            let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if received > 0 {
                data += buffer[0..<received]
            } else if received == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN) {
                break
            } else {
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// What the server sends until `marker` arrived (a kept-alive connection does not close), or `timeout`.
    func readUntil(_ marker: String, timeout: Duration) async -> String {
        var text = ""
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline, !text.contains(marker) {
            let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if received > 0 {
                text += String(decoding: buffer[0..<received], as: UTF8.self)
            } else if received == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                break
            } else {
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        return text
    }

    func close() { _ = Glibc.close(fd) }
}

/// File descriptors of this process that are server-side TCP connections on `port` (local port `port`, not
/// the listener). Exact even while other suites open sockets in the same process: connections still in the
/// kernel's accept queue have no inode yet, and the test's own client sockets have `port` as remote port.
func serverConnectionFDs(port: Int) -> Int {
    // Read to the end: procfs files report size 0, and a sized read would stop early.
    guard let data = FileHandle(forReadingAtPath: "/proc/self/net/tcp")?.readDataToEndOfFile() else { return -1 }
    let table = String(decoding: data, as: UTF8.self)
    let suffix = String(format: ":%04X", port)
    var inodes = Set<String>()
    for line in table.split(separator: "\n").dropFirst() {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > 9, fields[1].hasSuffix(suffix), fields[3] != "0A", fields[9] != "0" else { continue }
        inodes.insert(String(fields[9]))
    }
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return fds.filter { fd in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)"),
            target.hasPrefix("socket:[")
        else { return false }
        return inodes.contains(String(target.dropFirst("socket:[".count).dropLast()))
    }.count
}

func openFDCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

func residentBytes() -> Int {
    Int(ProcessMetrics.current()?.residentMemoryBytes ?? 0)
}

@Suite("The metrics endpoint under abuse", .serialized)
struct AbuseTests {
    static let limits = HTTPLimits(
        idleTimeout: .seconds(2), maximumConnections: 256, maximumHeaderBytes: 16 * 1024, maximumHeaderFields: 100)

    @Test("2000 idle sockets, slowloris senders and oversized heads: scrapes stay fast, fds and memory bounded")
    func flood() async throws {
        // Its own event loop: the flood must not starve the servers of the suites running beside it.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            try await flood(group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    func flood(_ group: MultiThreadedEventLoopGroup) async throws {
        try await withSecuredServer(security: nil, limits: Self.limits, eventLoopGroup: group) { port in
            _ = try await fetch(port: port)  // warm: the first scrape builds caches
            let baselineFDs = openFDCount()
            let baselineRSS = residentBytes()

            let idle = (0..<2000).compactMap { _ in RawSocket.connect(port: port) }
            #expect(idle.count == 2000)

            // Slowloris: a head that never ends, one byte every 200 ms.
            let slow = (0..<20).compactMap { _ in RawSocket.connect(port: port) }
            try await Task.sleep(for: .milliseconds(100))
            for socket in slow {
                await socket.waitConnected()
                await socket.send("GET /metrics HTTP/1.1\r\nHost: x\r\n")
            }
            let trickle = Task {
                while !Task.isCancelled {
                    for socket in slow { await socket.send("X") }
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }

            // Oversized heads: one 100 KB header, and 5000 small ones.
            let big = (0..<10).compactMap { _ in RawSocket.connect(port: port) }
            let many = (0..<10).compactMap { _ in RawSocket.connect(port: port) }
            try await Task.sleep(for: .milliseconds(100))
            for socket in big + many { await socket.waitConnected() }
            for socket in big {
                await socket.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 100_000))\r\n\r\n")
            }
            let manyHeaders = (0..<5000).map { "X-\($0): 1\r\n" }.joined()
            for socket in many { await socket.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\(manyHeaders)\r\n") }

            // Scrapes during the flood.
            let clock = ContinuousClock()
            var slowest = Duration.zero
            for _ in 0..<5 {
                let elapsed = try await clock.measure {
                    let reply = try await fetch(port: port)
                    #expect(reply.status == 200)
                    #expect(reply.text.contains("leen_connection_healthy{"))
                }
                slowest = max(slowest, elapsed)
            }
            // Usually well under a second. The bound allows for TCP's SYN retries (1 s, then 2 s more): on a
            // loaded machine the flood can fill the accept queue for a moment, and a scrape's SYN is dropped.
            #expect(slowest < .seconds(8), "a scrape took \(slowest) during the flood")

            for socket in big + many {
                let answer = await socket.readAll(timeout: .seconds(2))
                #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 400"), "\(answer.prefix(80))")
            }

            // The server's share of this process's descriptors: its accepted connections.
            let serverFDs = serverConnectionFDs(port: port)
            let allFDs = openFDCount() - baselineFDs
            let rssGrowth = residentBytes() - baselineRSS
            print(
                "abuse: server-side connection fds \(serverFDs) (limit \(Self.limits.maximumConnections)), all fds "
                    + "+\(allFDs) (the test holds \(idle.count + slow.count + big.count + many.count)), RSS growth "
                    + "\(rssGrowth >> 20) MiB, slowest scrape \(slowest)")
            #expect(serverFDs >= 0 && serverFDs <= Self.limits.maximumConnections)
            #expect(rssGrowth < 128 << 20)

            // After the idle timeout every idle and slowloris connection that reached the server is closed by it.
            func stillOpen(_ sockets: [RawSocket]) -> Int {
                sockets.filter { $0.isConnected && !$0.isClosedByPeer }.count
            }
            // Generous: the backlog holds connections the server accepts only as slots free, each then idle
            // for the timeout; with the other suites running in parallel on 2 cores, 300 were still queued 12 s
            // on. On an idle machine this returns about 2 s after the last accept.
            let closing = ContinuousClock.now
            var closedInTime = await eventually(timeout: Self.limits.idleTimeout + .seconds(15)) {
                stillOpen(idle) == 0 && stillOpen(slow) == 0
            }
            if !closedInTime {
                // Connects that completed on this side only: when the server's accept queue overflows, Linux
                // (tcp_abort_on_overflow=0) drops the handshake's last ACK and later forgets the connection
                // without a word, so the server never had it and has nothing to close. A byte settles each:
                // the server's kernel resets an unknown connection, or completes the handshake, and the
                // server must then close it after its idle timeout like any other.
                let halfOpen = idle.filter { $0.isConnected && !$0.isClosedByPeer }
                print("abuse: \(halfOpen.count) idle connects still open \(ContinuousClock.now - closing) on; probing them")
                for socket in halfOpen { _ = await socket.send("G") }
                closedInTime = await eventually(timeout: Self.limits.idleTimeout + .seconds(60)) {
                    stillOpen(idle) == 0 && stillOpen(slow) == 0
                }
            }
            #expect(closedInTime, "still open: \(stillOpen(idle)) idle, \(stillOpen(slow)) slowloris")
            print("abuse: every idle and slowloris connection closed \(ContinuousClock.now - closing) after the scrapes")
            print("abuse: \(idle.filter { !$0.isConnected }.count) of the 2000 connects still in SYN retries")
            #expect(try await fetch(port: port).status == 200)

            // Closed before the server stops: a connection accepted but not yet handled when the server task
            // is cancelled would trap in NIO (an unfinished NIOAsyncChannel writer).
            trickle.cancel()
            (idle + slow + big + many).forEach { $0.close() }
            try await Task.sleep(for: .milliseconds(300))
        }
    }

    @Test("Odd methods, paths and request lines get a 4xx, and the server keeps serving")
    func oddRequests() async throws {
        try await withSecuredServer(security: nil, limits: Self.limits) { port in
            let requests = [
                "BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
                "DELETE / HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /metrics%00 HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /\(String(repeating: "a", count: 8000)) HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n",
                "\u{1}\u{2}\u{3} garbage\r\n\r\n",
            ]
            for request in requests {
                guard let socket = RawSocket.connect(port: port) else { continue }
                defer { socket.close() }
                await socket.waitConnected()
                await socket.send(request)
                let answer = await socket.readAll(timeout: .milliseconds(800))
                let status = answer.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) }
                #expect(
                    answer.isEmpty || status.map { (400..<500).contains($0) } == true,
                    "\(request.prefix(30)) → \(answer.prefix(60))")
            }
            // Hummingbird folds repeated slashes: the same page, not an error.
            let doubled = try await fetch(port: port, path: "//metrics")
            #expect(doubled.status == 200)
            #expect(try await fetch(port: port).status == 200)
        }
    }

    @Test("A client that does not read its response is closed after the request timeout")
    func slowReader() async throws {
        let limits = HTTPLimits(idleTimeout: .seconds(30), requestTimeout: .seconds(1))
        let box = SnapshotBox(SyntheticFleet.input(connections: 6_000))
        try await withSecuredServer(security: nil, limits: limits, box: box) { port in
            let reader = try #require(RawSocket.connect(port: port))
            defer { reader.close() }
            await reader.waitConnected()
            // Uncompressed: about 17 MB, far more than the socket buffers hold.
            await reader.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await eventually(timeout: .seconds(3)) { serverConnectionFDs(port: port) == 1 })
            let start = ContinuousClock.now
            #expect(await eventually(timeout: .seconds(10)) { serverConnectionFDs(port: port) == 0 })
            print("abuse: a non-reading client was closed \(ContinuousClock.now - start) after its request")
        }
    }

    @Test("At the limit, the oldest idle connection makes room for a new one")
    func registryEvictsOldestIdle() async throws {
        try await withSecuredServer(security: nil, limits: HTTPLimits(idleTimeout: .seconds(30), maximumConnections: 4)) {
            port in
            // One at a time: connections are registered on several event loops, so a burst has no set order.
            var first: [RawSocket] = []
            for _ in 0..<4 {
                first.append(try #require(RawSocket.connect(port: port)))
                try await Task.sleep(for: .milliseconds(100))
            }
            defer { first.forEach { $0.close() } }
            // Five connections for four slots: the oldest goes, the others stay.
            let fifth = try #require(RawSocket.connect(port: port))
            defer { fifth.close() }
            #expect(await eventually(timeout: .seconds(3)) { first[0].isClosedByPeer })
            try await Task.sleep(for: .milliseconds(200))
            #expect(first[1...].allSatisfy { !$0.isClosedByPeer })
            #expect(!fifth.isClosedByPeer)
            // A scrape still gets in, evicting the next oldest.
            #expect(try await fetch(port: port).status == 200)
            #expect(await eventually(timeout: .seconds(3)) { first[1].isClosedByPeer })
        }
    }
}
