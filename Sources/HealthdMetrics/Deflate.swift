import CIsal
import CZlib
import NIOCore

/// A run of exposition text compressed on its own as raw deflate, ready to be spliced into a gzip body.
///
/// The run ends with a sync flush: its last block is not final and it ends on a byte boundary, and it was
/// compressed from a reset stream, so it refers to nothing before it. Runs like this, written one after
/// the other, form one valid deflate stream (the technique `pigz` uses for parallel gzip); ``GzipMember``
/// adds the gzip header, a final empty block and the trailer, whose CRC-32 it combines from the runs' own
/// (`crc32_combine`) without reading the text again.
///
/// This is what lets a gzip scrape of 100,000 connections cost milliseconds: each organization's lines are
/// compressed once per change of its state (``ConnectionRowsCache``), not once per scrape.
struct DeflatedText: Sendable {
    /// The compressed bytes: an array of their size, or their part of one that holds several runs
    /// (``Deflater/finishPack()``). Not a `ByteBuffer`, whose capacity is a power of two (at 100k
    /// connections the blocks of runs took 54 MB of 64 and 128 KiB allocations, jemalloc's statistics).
    var bytes: ArraySlice<UInt8>
    /// CRC-32 of the uncompressed text.
    var crc: UInt32
    /// Length of the uncompressed text.
    var length: Int

    init(bytes: [UInt8], crc: UInt32, length: Int) {
        self.bytes = bytes[...]
        self.crc = crc
        self.length = length
    }

    static let empty = DeflatedText(bytes: [], crc: 0, length: 0)
}

/// One deflate stream (ISA-L's igzip), reset for every run (``deflate(_:)``).
///
/// A class for its `deinit` and because the stream must never move (igzip keeps pointers into it): it lives
/// in memory allocated here, with the level buffer it needs. Not `Sendable`: each render owns its own.
///
/// igzip rather than zlib: an organization's runs are made again after each poll that changes any of its
/// connections, and on a changing fleet of 100k connections zlib's fastest level was a fifth of the
/// daemon's CPU. On 3,000 runs taken from a scrape, igzip's level 1 compressed 1,320 MB/s against zlib's
/// 350–390, to 11.7% of the text against 12.6% (docs/benchmarks.md); its CRC-32 is five times as fast.
///
/// With a ``HuffmanCode`` made from the same kind of text, runs are compressed at igzip's level 0 with that
/// code instead: level 1 builds a code for every run (counting its symbols first), which on the runs of a
/// scrape at 100k connections cost a third more CPU than level 0 with one code made from a sample, for 2 to
/// 4% more bytes (docs/benchmarks.md, the nineteenth round).
final class Deflater {
    private let stream: UnsafeMutablePointer<isal_zstream>
    private let levelBuffer: UnsafeMutableRawBufferPointer?
    private let tables: UnsafeMutablePointer<isal_hufftables>?
    private var scratch = ByteBuffer()
    /// The symbols of the text compressed so far, for ``sampledCode()``, while fewer than `sampleLimit`
    /// bytes were counted.
    private var histogram: UnsafeMutablePointer<isal_huff_histogram>?
    private var sampled = 0
    private let sampleLimit: Int

    /// - Parameters:
    ///   - code: compress at level 0 with this code; nil: level 1, a code made for each run.
    ///   - sample: count the symbols of up to this many bytes of the text compressed, for ``sampledCode()``.
    init(code: HuffmanCode? = nil, sample: Int = 0) {
        // Zeroed in place: the structure is 82 KB, too large for a value on a thread's stack.
        stream = Self.zeroed(isal_zstream.self)
        isal_deflate_init(stream)
        if let code {
            levelBuffer = nil
            let tables = UnsafeMutablePointer<isal_hufftables>.allocate(capacity: 1)
            tables.initialize(to: code.tables)
            self.tables = tables
            // Fails only in a state other than a new stream's.
            let configured = leen_isal_configure_coded_runs(stream, tables)
            precondition(configured == COMP_OK, "igzip refused a Huffman code on a new stream")
        } else {
            let levelBuffer = UnsafeMutableRawBufferPointer.allocate(
                byteCount: Int(leen_isal_level1_buffer_size()), alignment: 64)
            self.levelBuffer = levelBuffer
            tables = nil
            leen_isal_configure_runs(
                stream, levelBuffer.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt32(levelBuffer.count))
        }
        sampleLimit = sample
        if sample > 0 { histogram = Self.zeroed(isal_huff_histogram.self) }
    }

    private static func zeroed<T>(_ type: T.Type) -> UnsafeMutablePointer<T> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<T>.size)
        return raw.bindMemory(to: T.self, capacity: 1)
    }

    deinit {
        stream.deallocate()
        levelBuffer?.deallocate()
        tables?.deallocate()
        histogram?.deallocate()
    }

    /// A code made from the text sampled so far (``init(code:sample:)``); nil when none was.
    func sampledCode() -> HuffmanCode? {
        guard let histogram, sampled > 0 else { return nil }
        var tables = isal_hufftables()
        guard isal_create_hufftables(&tables, histogram) == 0 else { return nil }
        return HuffmanCode(tables: tables)
    }

    struct Failure: Error, CustomStringConvertible {
        var code: Int32
        var description: String { "igzip deflate failed (\(code))" }
    }

    /// `text` as a self-contained raw deflate run (see ``DeflatedText``).
    func deflate(_ text: UnsafeRawBufferPointer) throws -> DeflatedText {
        // Compress into the reused scratch buffer, then keep a copy sized for the output: runs live until
        // their organization changes, and a buffer sized for the worst case is eight times too large.
        scratch.clear()
        guard let crc = try compress(text, appendingTo: &scratch) else { return .empty }
        return DeflatedText(bytes: scratch.withUnsafeReadableBytes { Array($0) }, crc: crc, length: text.count)
    }

    /// Appends `text` compressed as a run to `output`; returns the text's CRC-32, nil for an empty text (which
    /// writes nothing).
    private func compress(_ text: UnsafeRawBufferPointer, appendingTo output: inout ByteBuffer) throws -> UInt32? {
        guard let base = text.baseAddress, text.count > 0 else { return nil }
        // igzip's lengths are 32 bits; a run is one family of one organization, far below.
        guard let length = UInt32(exactly: text.count) else { throw Failure(code: ISAL_INVALID_OPERATION) }
        if let histogram, sampled < sampleLimit {
            let counted = min(text.count, sampleLimit - sampled)
            isal_update_histogram(
                UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self)), Int32(counted), histogram)
            sampled += counted
        }
        isal_deflate_reset(stream)
        let crc = crc32_gzip_refl(0, base.assumingMemoryBound(to: UInt8.self), UInt64(length))
        output.reserveCapacity(output.writerIndex + text.count + text.count / 8 + 1024)
        stream.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = length
        while true {
            var code: Int32 = COMP_OK
            var full = false
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: 4096) { raw in
                let room = min(raw.count, Int(UInt32.max))
                stream.pointee.next_out = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
                stream.pointee.avail_out = UInt32(room)
                code = isal_deflate(stream)
                full = stream.pointee.avail_out == 0
                return room - Int(stream.pointee.avail_out)
            }
            guard code == COMP_OK else { throw Failure(code: code) }
            // Done once the input is consumed and igzip had room left over (its header says the flush is then
            // complete).
            if stream.pointee.avail_in == 0, !full { break }
        }
        stream.pointee.next_in = nil
        return crc
    }

    /// Runs made one after the other (``packRun(_:)``, ``packKept(_:)``) and kept back to back in one array
    /// of their total size (``finishPack()``), each run its part of it.
    ///
    /// An organization's runs (one per family, a few KB each) are kept together this way: held in arrays of
    /// their own, made and freed as organizations change, they were spread over the allocator's 3 to 7 KB
    /// classes, whose slabs stayed a third empty (10 MB at 100k connections, jemalloc's statistics), beside
    /// what each array's rounding up to its class took. A run kept from an earlier set is copied in too, so
    /// that no set holds on to another's array.
    private var pack = ByteBuffer()
    /// The runs of ``pack`` so far: CRC-32 and length of each one's text, and where its bytes end.
    private var packed: [(crc: UInt32, length: Int, end: Int)] = []

    /// Starts a new set of runs.
    func startPack() {
        pack.clear()
        packed.removeAll(keepingCapacity: true)
    }

    /// Adds `text`, compressed, to the set.
    func packRun(_ text: UnsafeRawBufferPointer) throws {
        let crc = try compress(text, appendingTo: &pack)
        packed.append((crc: crc ?? 0, length: crc == nil ? 0 : text.count, end: pack.writerIndex))
    }

    /// Adds a run made earlier to the set, as it is.
    func packKept(_ run: DeflatedText) {
        pack.writeBytes(run.bytes)
        packed.append((crc: run.crc, length: run.length, end: pack.writerIndex))
    }

    /// The set's runs, in the order added, in one array of their size.
    func finishPack() -> [DeflatedText] {
        let bytes = pack.withUnsafeReadableBytes { Array($0) }
        var start = 0
        return packed.map { run in
            defer { start = run.end }
            var text = DeflatedText(bytes: [], crc: run.crc, length: run.length)
            text.bytes = bytes[start..<run.end]
            return text
        }
    }

    /// The readable bytes of `buffer` as a run.
    func deflate(_ buffer: ByteBuffer) throws -> DeflatedText {
        try buffer.withUnsafeReadableBytes { try deflate($0) }
    }
}

/// A Huffman code for deflate, made from a sample of the text it will compress (``Deflater/sampledCode()``):
/// every literal, length and distance has a code, so any text can be compressed with it, though text unlike
/// the sample compresses less well. The code is written at the head of each run's block, as a code made
/// for the run would be.
struct HuffmanCode: Sendable {
    let tables: isal_hufftables

    /// How much text a code is made from. A code made from the first 11 runs of a scrape at 100k
    /// connections (one family of 11 organizations) compressed the whole scrape to 13.5% of its text, one
    /// made from a run in a thousand to 13.3%, level 1 to 13.0%.
    static let sampleBytes = 1 << 20
}

/// ``DeflatedText`` runs spliced in order into one gzip member (RFC 1952), written a chunk at a time.
///
/// The member holds the runs, not their bytes copied together: a `/metrics` scrape at 100k connections
/// splices some 11,000 runs (45 MB), which ``Cursor`` copies into chunks of about 1 MiB as the response is
/// sent, so a scrape holds about one chunk. Keeping them spliced in advance instead, in blocks of a few
/// organizations made again whenever one of them changed, was a third of the daemon's allocated bytes and
/// 4.5% of its CPU at 100k connections (jemalloc's heap profile, perf).
struct GzipMember: Sendable {
    private(set) var runs: [DeflatedText] = []
    /// Length of the text so far.
    private(set) var length = 0
    private var runBytes = 0

    init() {}

    mutating func append(_ run: DeflatedText) {
        guard run.length > 0 else { return }
        runs.append(run)
        length += run.length
        runBytes += run.bytes.count
    }

    /// The size of the body: header, runs, final block and trailer.
    var bytes: Int { Self.gzipHeader.count + runBytes + Self.finalBlock.count + 8 }

    /// The gzip header: deflate, no name or time, XFL 4 ("fastest"), OS 3 (Unix).
    static let gzipHeader: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 4, 3]
    /// A final, empty fixed-Huffman block: ends the deflate stream the runs form.
    static let finalBlock: [UInt8] = [0x03, 0x00]

    /// The whole body, in chunks of about `chunkSize` (small bodies, tests).
    func chunks(of chunkSize: Int = MetricsRenderer.chunkSize) -> [ByteBuffer] {
        var cursor = Cursor(self, chunkSize: chunkSize)
        var chunks: [ByteBuffer] = []
        while let chunk = cursor.next() { chunks.append(chunk) }
        return chunks
    }

    /// `buffer` gzip-compressed, in one chunk (small bodies such as `/status`).
    static func gzip(_ buffer: ByteBuffer) throws -> [ByteBuffer] {
        var member = GzipMember()
        member.append(try Deflater().deflate(buffer))
        return member.chunks(of: .max)
    }

    /// The member's bytes in order: each ``next()`` copies the following runs into a chunk of at most
    /// `chunkSize` bytes (unless one run is larger), combining their CRC-32s for the trailer as it goes.
    /// At most: a `ByteBuffer`'s capacity is a power of two, and a chunk just over 1 MiB would take 2.
    struct Cursor: Sendable {
        private let member: GzipMember
        private let chunkSize: Int
        private var index = 0
        private var crc: UInt32 = 0
        private var finished = false

        init(_ member: GzipMember, chunkSize: Int = MetricsRenderer.chunkSize) {
            self.member = member
            self.chunkSize = max(1, chunkSize)
        }

        /// The next chunk, nil once the trailer was written.
        mutating func next() -> ByteBuffer? {
            guard !finished else { return nil }
            let runs = member.runs
            // Room for the final block and the trailer, whichever chunk they end up in.
            let budget = chunkSize - GzipMember.finalBlock.count - 8
            var size = index == 0 ? GzipMember.gzipHeader.count : 0
            var end = index
            while end < runs.count {
                let next = runs[end].bytes.count
                if end > index, size + next > budget { break }
                size += next
                end += 1
            }
            let last = end == runs.count
            var chunk = ByteBufferAllocator().buffer(capacity: size + (last ? GzipMember.finalBlock.count + 8 : 0))
            if index == 0 { chunk.writeBytes(GzipMember.gzipHeader) }
            for run in runs[index..<end] {
                chunk.writeBytes(run.bytes)
                crc = UInt32(crc32_combine(uLong(crc), uLong(run.crc), off_t(run.length)))
            }
            index = end
            if last {
                chunk.writeBytes(GzipMember.finalBlock)
                chunk.writeInteger(crc, endianness: .little)
                chunk.writeInteger(UInt32(truncatingIfNeeded: member.length), endianness: .little)
                finished = true
            }
            return chunk
        }
    }
}
