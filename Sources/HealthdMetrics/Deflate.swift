import CZlib
import NIOCore

/// A run of exposition text compressed on its own as raw deflate, ready to be spliced into a gzip body.
///
/// The run ends with a sync flush: its last block is not final and it ends on a byte boundary, and it was
/// compressed from a reset stream, so it refers to nothing before it. Runs like this, written one after
/// the other, form one valid deflate stream (the technique `pigz` uses for parallel gzip); ``GzipBody``
/// adds the gzip header, a final empty block and the trailer, whose CRC-32 it combines from the runs' own
/// (`crc32_combine`) without reading the text again.
///
/// This is what lets a gzip scrape of 100,000 connections cost milliseconds: each organization's lines are
/// compressed once per change of its state (``ConnectionRowsCache``), not once per scrape.
struct DeflatedText: Sendable {
    /// The compressed bytes.
    var bytes: ByteBuffer
    /// CRC-32 of the uncompressed text.
    var crc: UInt32
    /// Length of the uncompressed text.
    var length: Int

    static let empty = DeflatedText(bytes: ByteBuffer(), crc: 0, length: 0)
}

/// One zlib deflate stream, reset for every run (``deflate(_:)``).
///
/// A class for its `deinit` (`deflateEnd`) and because zlib keeps a pointer back to the `z_stream`, which
/// must therefore never move: it lives in memory allocated here. Not `Sendable`: each render owns its own.
final class Deflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let ready: Bool
    private var scratch = ByteBuffer()

    /// zlib's level for everything, the fastest. Runs kept between scrapes (``ConnectionRows/deflate()``)
    /// were made at the default, 6, for a smaller body, until a changing fleet showed the cost: an
    /// organization's runs are made again after each poll that changes any of its connections, and at 10k
    /// connections zlib was then a third of the daemon's CPU. On that fleet's exposition, in runs of one
    /// family and organization, level 1 takes half the time of level 6 for a body 12% larger.
    static let level: Int32 = 1

    init(level: Int32 = level) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        ready = leen_deflate_init_raw(stream, level) == Z_OK
    }

    deinit {
        if ready { deflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    struct Failure: Error, CustomStringConvertible {
        var code: Int32
        var description: String { "zlib deflate failed (\(code))" }
    }

    /// `text` as a self-contained raw deflate run (see ``DeflatedText``).
    func deflate(_ text: UnsafeRawBufferPointer) throws -> DeflatedText {
        guard text.count > 0 else { return .empty }
        guard ready else { throw Failure(code: Z_STREAM_ERROR) }
        guard deflateReset(stream) == Z_OK else { throw Failure(code: Z_STREAM_ERROR) }
        let length = text.count
        let crc = UInt32(text.baseAddress.map { crc32(0, $0.assumingMemoryBound(to: Bytef.self), uInt(length)) } ?? 0)
        // Compress into the reused scratch buffer, then keep a copy sized for the output: runs live until
        // their organization changes, and a buffer sized for the worst case is eight times too large. (NIO
        // rounds every ByteBuffer's capacity up to a power of two, so the copy can still be up to twice its
        // bytes; blocks, `DeflatedRuns.block`, are rounded the same way.)
        scratch.clear()
        scratch.reserveCapacity(Int(deflateBound(stream, uLong(length))) + 64)
        stream.pointee.next_in = UnsafeMutablePointer(mutating: text.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(length)
        while true {
            var code: Int32 = Z_OK
            var full = false
            scratch.writeWithUnsafeMutableBytes(minimumWritableBytes: 4096) { raw in
                let room = min(raw.count, Int(UInt32.max))
                stream.pointee.next_out = raw.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(room)
                code = CZlib.deflate(stream, Z_SYNC_FLUSH)
                full = stream.pointee.avail_out == 0
                return room - Int(stream.pointee.avail_out)
            }
            stream.pointee.next_in = nil
            guard code == Z_OK || code == Z_BUF_ERROR else { throw Failure(code: code) }
            // Done once the input is consumed and zlib had room left over (the flush is complete).
            if stream.pointee.avail_in == 0, !full { break }
        }
        var output = ByteBufferAllocator().buffer(capacity: scratch.readableBytes)
        output.writeImmutableBuffer(scratch)
        return DeflatedText(bytes: output, crc: crc, length: length)
    }

    /// The readable bytes of `buffer` as a run.
    func deflate(_ buffer: ByteBuffer) throws -> DeflatedText {
        try buffer.withUnsafeReadableBytes { try deflate($0) }
    }
}

/// ``DeflatedText`` runs spliced in order: their bytes coalesced into chunks of about `chunkSize` (so a
/// server writes a few large buffers, not thousands of small ones), their CRC-32s combined and their
/// lengths added. A finished sequence can itself be appended to another without copying its chunks (the
/// endpoint keeps the per-connection part of a scrape this way, see ``ConnectionRowsCache``).
struct DeflatedRuns: Sendable {
    private(set) var chunks: [ByteBuffer] = []
    /// The chunk being filled; allocated on first use (no capacity until then).
    private var current = ByteBuffer()
    private let chunkSize: Int
    /// The capacity of a new chunk.
    private let initialCapacity: Int
    /// CRC-32 of the text so far.
    private(set) var crc: UInt32 = 0
    /// Length of the text so far.
    private(set) var length = 0

    /// - Parameter capacity: of the first chunk, when the total is known (a block); else 64 KiB, which
    ///   grows as runs are added (a small header between two blocks should not cost a megabyte).
    init(chunkSize: Int = 1 << 20, capacity: Int? = nil) {
        self.chunkSize = chunkSize
        initialCapacity = capacity ?? min(chunkSize, 65_536)
    }

    /// The compressed size so far.
    var compressedBytes: Int { chunks.reduce(current.readableBytes) { $0 + $1.readableBytes } }

    mutating func append(_ run: DeflatedText) {
        guard run.length > 0 else { return }
        combine(crc: run.crc, length: run.length)
        if current.readableBytes + run.bytes.readableBytes > chunkSize, current.readableBytes > 0 { seal() }
        if current.capacity == 0 {
            current = ByteBufferAllocator().buffer(capacity: max(initialCapacity, run.bytes.readableBytes))
        }
        current.writeImmutableBuffer(run.bytes)
    }

    /// `runs` copied into one chunk, and each run again as a slice of that chunk: a caller that keeps both
    /// the block and the runs (to make the block again when one of them changes) holds the bytes once.
    static func block(_ runs: [DeflatedText]) -> (block: DeflatedRuns, runs: [DeflatedText]) {
        var block = DeflatedRuns(chunkSize: .max, capacity: runs.reduce(0) { $0 + $1.bytes.readableBytes })
        var offsets: [Int] = []
        offsets.reserveCapacity(runs.count)
        for run in runs {
            offsets.append(block.current.readableBytes)
            block.append(run)
        }
        block.seal()
        guard let chunk = block.chunks.first, block.chunks.count == 1 else { return (block, runs) }
        let sliced = zip(runs, offsets).map { run, offset in
            guard run.length > 0,
                let bytes = chunk.getSlice(at: chunk.readerIndex + offset, length: run.bytes.readableBytes)
            else { return run }
            return DeflatedText(bytes: bytes, crc: run.crc, length: run.length)
        }
        return (block, sliced)
    }

    /// Appends another sequence's runs; its chunks are shared, not copied.
    mutating func append(_ other: DeflatedRuns) {
        guard other.length > 0 else { return }
        seal()
        chunks += other.chunks
        if other.current.readableBytes > 0 { chunks.append(other.current) }
        combine(crc: other.crc, length: other.length)
    }

    /// Ends the current chunk: everything so far is in ``chunks``.
    mutating func seal() {
        if current.readableBytes > 0 {
            chunks.append(current)
            current = ByteBuffer()
        }
    }

    private mutating func combine(crc runCRC: UInt32, length runLength: Int) {
        crc = UInt32(crc32_combine(uLong(crc), uLong(runCRC), off_t(runLength)))
        length += runLength
    }

    /// The gzip header (RFC 1952): deflate, no name or time, XFL 4 ("fastest"), OS 3 (Unix).
    static let gzipHeader: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 4, 3]
    /// A final, empty fixed-Huffman block: ends the deflate stream the runs form.
    static let finalBlock: [UInt8] = [0x03, 0x00]

    /// The runs as one gzip member: header, runs, final block, and the trailer (CRC-32 and length modulo
    /// 2^32, little-endian).
    func gzip() -> [ByteBuffer] {
        var trailer = ByteBuffer()
        trailer.writeBytes(Self.finalBlock)
        trailer.writeInteger(crc, endianness: .little)
        trailer.writeInteger(UInt32(truncatingIfNeeded: length), endianness: .little)
        var first = ByteBuffer(bytes: Self.gzipHeader)
        var all = chunks
        if current.readableBytes > 0 { all.append(current) }
        if all.isEmpty {
            first.writeImmutableBuffer(trailer)
            return [first]
        }
        // Small pieces ride with their neighbours rather than being written on their own.
        if all[0].readableBytes < 65_536 {
            first.writeImmutableBuffer(all.removeFirst())
        }
        if let last = all.indices.last, all[last].readableBytes < 65_536 {
            all[last].writeImmutableBuffer(trailer)
        } else {
            all.append(trailer)
        }
        return [first] + all
    }

    /// `buffer` gzip-compressed (small bodies such as `/status`).
    static func gzip(_ buffer: ByteBuffer) throws -> [ByteBuffer] {
        var runs = DeflatedRuns(chunkSize: .max)
        runs.append(try Deflater().deflate(buffer))
        return runs.gzip()
    }
}
