import Foundation
import HTTPTypes
import HealthdBenchmarks
import HealthdCore
import LeenAPI
import NIOCore
import Testing

@testable import HealthdMetrics

/// Decodes a gzip body with gzip(1), an implementation independent of ours; gzip checks the CRC-32 and the
/// length in the trailer, and fails on any error.
private func gunzip(_ chunks: [ByteBuffer]) throws -> String {
    var data = Data()
    for chunk in chunks { data.append(contentsOf: chunk.readableBytesView) }
    let decoded = try runProcess("/bin/gzip", ["-dc"], stdin: data)
    #expect(decoded.status == 0, "gzip -dc failed")
    return decoded.output
}

/// The address of a run's bytes: the same address means the same (reused) storage.
private func address(_ bytes: ArraySlice<UInt8>) -> UInt? {
    bytes.withUnsafeBufferPointer { $0.baseAddress.map { UInt(bitPattern: $0) } }
}

@Suite("Gzip bodies spliced from pre-compressed runs")
struct CompressedBodyTests {
    @Test("Runs compressed on their own decode, spliced, to their concatenation, whatever the chunking")
    func splicedRuns() throws {
        // Repetitive text, UTF-8, an empty run, a run larger than a chunk, and one that hardly compresses.
        var large = ""
        for index in 0..<40_000 { large += "leen_connection_healthy{identifier=\"id-\(index)\"} \(index % 2)\n" }
        var generator = SystemRandomNumberGenerator()
        let noise = String((0..<300_000).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x21...0x7E, using: &generator))) })
        let texts = ["# HELP a b\n", "", "ünïcödé \"quoted\" \\ back\n", large, noise, "tail\n"]
        let deflater = Deflater()
        let runs = try texts.map { try deflater.deflate(ByteBuffer(string: $0)) }
        #expect(runs[1].length == 0 && runs[1].bytes.isEmpty)
        #expect(runs[3].bytes.count < large.utf8.count / 5, "compressed")
        var body = GzipMember()
        for run in runs { body.append(run) }
        #expect(body.length == texts.reduce(0) { $0 + $1.utf8.count })
        for chunkSize in [64, 4_096, 1 << 20, .max] {
            let chunks = body.chunks(of: chunkSize)
            #expect(chunks.reduce(0) { $0 + $1.readableBytes } == body.bytes, "the length sent as Content-Length")
            // At most the chunk size, but for a run larger than it, which comes alone.
            for chunk in chunks where chunk.readableBytes > chunkSize {
                #expect(runs.contains { $0.bytes.count + 10 >= chunk.readableBytes && $0.bytes.count > chunkSize - 10 })
            }
            // A chunk of 1 MiB is allocated as 1 MiB (a ByteBuffer's capacity is a power of two).
            if chunkSize == 1 << 20 { #expect(chunks.allSatisfy { $0.capacity <= 1 << 20 }) }
            if chunkSize == 64 { #expect(chunks.count >= 4, "split into several chunks") }
            if chunkSize == .max { #expect(chunks.count == 1) }
            #expect(try gunzip(chunks) == texts.joined())
        }
    }

    @Test("Runs compressed with a code sampled from other text decode, spliced with level 1's, and as small")
    func sampledCode() throws {
        #expect(Deflater().sampledCode() == nil)
        #expect(Deflater(sample: 1 << 20).sampledCode() == nil, "nothing sampled yet")
        let sampler = Deflater(sample: 1 << 20)
        _ = try sampler.deflate(ByteBuffer(string: render(SyntheticFleet.input(connections: 300))))
        let code = try #require(sampler.sampledCode())

        // Text like the sample, and text unlike it: every byte value, UTF-8, noise, nothing.
        let alike = render(SyntheticFleet.input(connections: 2_000))
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let texts: [ByteBuffer] = [
            ByteBuffer(string: alike), ByteBuffer(bytes: Array(0...255) + Array((0...255).reversed())),
            ByteBuffer(string: "ünïcödé \"quoted\"\n"), ByteBuffer(bytes: noise), ByteBuffer(),
        ]
        // A code from a single byte of sample (a tiny fleet's) still writes everything.
        let tiny = Deflater(sample: 1 << 20)
        _ = try tiny.deflate(ByteBuffer(string: "a"))
        let (coded, plain, tinyCoded) = (Deflater(code: code), Deflater(), Deflater(code: try #require(tiny.sampledCode())))
        var body = GzipMember()
        var expected = Data()
        for (index, text) in texts.enumerated() {
            body.append(try tinyCoded.deflate(text))
            expected.append(contentsOf: text.readableBytesView)
            let run = try coded.deflate(text)
            #expect(run.length == text.readableBytes)
            body.append(run)
            // Every other one spliced with a run of level 1 between.
            if index % 2 == 0 {
                body.append(try plain.deflate(text))
                expected.append(contentsOf: text.readableBytesView)
            }
            expected.append(contentsOf: text.readableBytesView)
        }
        // Binary: gzip(1) decodes the body to a file, cmp(1) compares it with what went in.
        var data = Data()
        for chunk in body.chunks() { data.append(contentsOf: chunk.readableBytesView) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("leen-code-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try data.write(to: directory.appendingPathComponent("body.gz"))
        try expected.write(to: directory.appendingPathComponent("expected"))
        let compared = try runProcess("/bin/sh", ["-c", "gzip -dc body.gz | cmp - expected"], directory: directory)
        #expect(compared.status == 0, "\(compared.output)")

        // The text it was made for compresses about as well as with a code made for it.
        let (withCode, levelOne) = (try coded.deflate(texts[0]).bytes.count, try plain.deflate(texts[0]).bytes.count)
        #expect(Double(withCode) < 1.1 * Double(levelOne), "\(withCode) bytes with the sampled code, \(levelOne) at level 1")

        // A cache makes its code at its first compression, and compresses changes with it.
        let cache = ConnectionRowsCache()
        #expect(cache.huffmanCode == nil)
        var input = SyntheticFleet.input(connections: 500)
        _ = try cache.refresh(input.organizations, deflated: true)
        #expect(cache.huffmanCode != nil)
        let key = input.organizations[2].state.connections.keys.sorted()[0]
        input.organizations[2].state.connections[key]!.observation.health = unauthorized
        let body2 = try MetricsRenderer.render(input, format: .text, process: fixedProcess, gzip: true, cache: cache)
        #expect(try gunzip(body2.chunks) == render(input))
    }

    @Test("A body with nothing in it is still a valid, empty gzip stream")
    func emptyBody() throws {
        #expect(try gunzip(GzipMember().chunks()) == "")
        #expect(try gunzip(GzipMember.gzip(ByteBuffer())) == "")
        #expect(try gunzip(GzipMember.gzip(ByteBuffer(string: "{}"))) == "{}")
    }

    @Test("A gzip scrape is exactly the text scrape, compressed, in both formats and across changes")
    func gzipMatchesText() throws {
        let cache = ConnectionRowsCache()
        var input = SyntheticFleet.input(connections: 4_000)
        #expect(input.organizations.count == 40)
        for format in ExpositionFormat.allCases {
            let body = try MetricsRenderer.render(input, format: format, process: fixedProcess, gzip: true, cache: cache)
            #expect(body.gzip)
            let text = render(input, format)
            #expect(body.uncompressedBytes == text.utf8.count)
            #expect(try gunzip(body.chunks) == text)
        }

        // Two organizations change: their runs are made again, every other organization's are reused.
        let before = cache.segments
        let changedIDs: Set = [input.organizations[1].id, input.organizations[25].id]
        for index in [1, 25] {
            let key = input.organizations[index].state.connections.keys.sorted()[0]
            input.organizations[index].state.connections[key]!.observation.health = unauthorized
            input.organizations[index].state.connections[key]!.transitions += 1
        }
        let body = try MetricsRenderer.render(input, format: .text, process: fixedProcess, gzip: true, cache: cache)
        #expect(try gunzip(body.chunks) == render(input))
        #expect(render(input).contains("health_name=\"UNAUTHORIZED\""))
        let after = cache.segments
        #expect(after.count == input.organizations.count)
        for (id, segment) in after {
            #expect((segment.serial == before[id]!.serial) == !changedIDs.contains(id), "organization \(id)")
        }
        // The body splices the cache's runs: no organization's lines were compressed for the scrape.
        let member = try MetricsRenderer.gzipMember(input, format: .text, process: fixedProcess, cache: cache)
        let kept = Set(after.values.flatMap { $0.deflated ?? [] }.compactMap { address($0.bytes) })
        #expect(member.runs.count(where: { address($0.bytes).map(kept.contains) == true }) == 40 * MetricsRenderer.ConnectionFamily.allCases.count)

        // Uncompressed, from the same cache (whose segments dropped their label bytes): the same text.
        #expect(after.values.allSatisfy { $0.bytes.isEmpty && $0.deflated != nil })
        for format in ExpositionFormat.allCases {
            let plain = try MetricsRenderer.render(input, format: format, process: fixedProcess, gzip: false, cache: cache)
            #expect(!plain.gzip)
            #expect(plain.chunks.map { String(buffer: $0) }.joined() == render(input, format))
        }
        // The bytes were written again for those renderings only.
        #expect(cache.segments.values.allSatisfy { $0.bytes.isEmpty && $0.deflated != nil })

        // A removed organization leaves the cache with its series.
        input.organizations.remove(at: 0)
        let smaller = try MetricsRenderer.render(input, format: .text, process: fixedProcess, gzip: true, cache: cache)
        #expect(try gunzip(smaller.chunks) == render(input))
        #expect(cache.segments.count == input.organizations.count)

        // Listed in another order (a reload): each organization's segment is found by its id and kept. Then,
        // in that order, one change: only its organization is flattened again.
        let unordered = cache.segments.mapValues(\.serial)
        input.organizations.swapAt(0, 20)
        input.organizations.reverse()
        let reordered = try MetricsRenderer.render(input, format: .text, process: fixedProcess, gzip: true, cache: cache)
        #expect(try gunzip(reordered.chunks) == render(input))
        #expect(cache.segments.mapValues(\.serial) == unordered)
        let key = input.organizations[3].state.connections.keys.sorted()[0]
        input.organizations[3].state.connections[key]!.transitions += 1
        let changedOnce = try MetricsRenderer.render(input, format: .text, process: fixedProcess, gzip: true, cache: cache)
        #expect(try gunzip(changedOnce.chunks) == render(input))
        for (id, serial) in cache.segments.mapValues(\.serial) {
            #expect((serial == unordered[id]) == (id != input.organizations[3].id), "organization \(id)")
        }
    }

    @Test("An organization's runs are kept back to back in one array, also after a change kept some of them")
    func runsArePacked() throws {
        func expectPacked(_ rows: ConnectionRows, sourceLocation: SourceLocation = #_sourceLocation) throws {
            for segment in rows.segments {
                let runs = try #require(segment.deflated, sourceLocation: sourceLocation)
                for (run, next) in zip(runs, runs.dropFirst()) {
                    #expect(next.bytes.startIndex == run.bytes.endIndex, sourceLocation: sourceLocation)
                    #expect(address(next.bytes) == address(run.bytes).map { $0 + UInt(run.bytes.count) }, sourceLocation: sourceLocation)
                }
            }
        }
        var input = SyntheticFleet.input(connections: 300)
        var rows = ConnectionRows(input.organizations)
        try rows.deflate()
        try expectPacked(rows)
        let previous = Dictionary(uniqueKeysWithValues: rows.segments.map { ($0.id, $0) })
        let key = input.organizations[1].state.connections.keys.sorted()[0]
        input.organizations[1].state.connections[key]!.transitions += 1
        var changed = ConnectionRows(input.organizations, previous: previous)
        #expect(try changed.deflate(previous: previous) == 1)
        try expectPacked(changed)
    }

    @Test("A changed organization compresses again only the families whose lines changed")
    func unchangedFamiliesKeepTheirRuns() throws {
        var input = SyntheticFleet.input(connections: 300)
        var rows = ConnectionRows(input.organizations)
        #expect(try rows.deflate() == 3 * MetricsRenderer.ConnectionFamily.allCases.count)
        let previous = Dictionary(uniqueKeysWithValues: rows.segments.map { ($0.id, $0) })

        // A health change (not confirmed yet): every family but the state set, OAuth, flapping and the
        // confirmation has a line that changed.
        let key = input.organizations[1].state.connections.keys.sorted()[0]
        input.organizations[1].state.connections[key]!.observation.health = unauthorized
        input.organizations[1].state.connections[key]!.transitions += 1
        input.organizations[1].state.connections[key]!.healthSince = Date(timeIntervalSince1970: 1_900_000_000)
        input.organizations[1].state.connections[key]!.changedAt = Date(timeIntervalSince1970: 1_900_000_000)
        var changed = ConnectionRows(input.organizations, previous: previous)
        #expect(try changed.deflate(previous: previous) == 7)
        let kept: [MetricsRenderer.ConnectionFamily] = [.state, .oauthPending, .flapping, .unhealthyConfirmed]
        for (index, family) in MetricsRenderer.ConnectionFamily.allCases.enumerated() {
            let run = try #require(changed.segments[1].deflated?[index])
            let earlier = try #require(previous[input.organizations[1].id]?.deflated?[index])
            // Kept runs are copied into the segment's one array (``DeflatedText/packed(_:)``): the same bytes.
            #expect((run.bytes == earlier.bytes) == kept.contains(family), "\(family)")
        }
        var unpaused = input
        // The spliced body is still exactly the text.
        let cache = ConnectionRowsCache()
        _ = try MetricsRenderer.render(input, format: .text, process: fixedProcess, gzip: true, cache: cache)
        let other = input.organizations[2].state.connections.keys.sorted()[0]
        input.organizations[2].state.connections[other]!.observation.state = .paused
        let body = try MetricsRenderer.render(input, format: .text, process: fixedProcess, gzip: true, cache: cache)
        #expect(try gunzip(body.chunks) == render(input))

        // A row is compact (ConnectionRows.Row): one is kept for every connection.
        #expect(MemoryLayout<ConnectionRows.Row>.stride == 48)
        // The organization's id starts every row's labels and is kept once, in the segment's prefix.
        let segment = changed.segments[1]
        let id = Array(segment.id.rawValue.utf8)
        #expect(segment.prefix == Array("organization_id=\"\(segment.id.rawValue)\",connection_id=\"".utf8))
        let (labels, madeRows) = segment.rendering()
        #expect(!labels.indices.contains { labels[$0...].starts(with: id) }, "the id is not in the rows' bytes")
        // Compressed, a segment drops its label bytes and rows, and makes the same ones again when asked.
        #expect(segment.bytes.isEmpty && segment.rows.isEmpty && !labels.isEmpty)
        let flattened = ConnectionRows(input.organizations).segments[1]
        #expect(labels == flattened.bytes)
        #expect(madeRows.count == flattened.rows.count && segment.rowCount == madeRows.count)
        #expect(zip(madeRows, flattened.rows).allSatisfy { new, old in
            new.labels == old.labels && new.reason == old.reason
                && MetricsRenderer.ConnectionFamily.allCases.allSatisfy { new.sameValue(as: old, for: $0) }
        })
        // Found while flattening, compared with the segment given, and only with it.
        let earlier = try #require(previous[input.organizations[1].id])
        let compared = ConnectionRows.segment(unpaused.organizations[1], comparedWith: earlier)
        #expect(compared.unchangedFamilies(since: earlier) == MetricsRenderer.ConnectionFamily.allCases.map(kept.contains))
        #expect(compared.unchangedFamilies(since: changed.segments[1]).allSatisfy { !$0 })
        #expect(ConnectionRows.segment(unpaused.organizations[1]).unchangedFamilies(since: earlier).allSatisfy { !$0 })
        // Turned stale: the families the effective status writes change, on rows whose fields did not.
        var stale = unpaused.organizations[2]
        stale.state.api = .unreachable(since: Date(timeIntervalSince1970: 1_800_000_000), reason: "timeout")
        let earlierThree = try #require(previous[stale.id])
        let staleFamilies = ConnectionRows.segment(stale, comparedWith: earlierThree).unchangedFamilies(since: earlierThree)
        // (No connection of this organization is confirmed UNHEALTHY, so that family's lines stay.)
        let statusFamilies: [MetricsRenderer.ConnectionFamily] = [.healthy, .status]
        #expect(staleFamilies == MetricsRenderer.ConnectionFamily.allCases.map { !statusFamilies.contains($0) })

        // A connection gone (fewer rows) compresses every family again.
        unpaused.organizations[1].state.connections[key] = nil
        var fewer = ConnectionRows(unpaused.organizations, previous: previous)
        #expect(try fewer.deflate(previous: previous) == MetricsRenderer.ConnectionFamily.allCases.count)
    }

    @Test("A refresh makes again only the changed organizations' segments, and never touches rows a scrape holds")
    func refreshInPlace() throws {
        let cache = ConnectionRowsCache()
        var input = SyntheticFleet.input(connections: 1_000)
        let held = try cache.refresh(input.organizations, deflated: true)
        let heldSerials = held.segments.map(\.serial)
        // Nothing changed: every segment is the one kept.
        #expect(try cache.refresh(input.organizations, deflated: true).segments.map(\.serial) == heldSerials)

        let changed = 3
        let key = input.organizations[changed].state.connections.keys.sorted()[0]
        let health = input.organizations[changed].state.connections[key]!.observation.health
        try #require(health != unauthorized)
        input.organizations[changed].state.connections[key]!.observation.health = unauthorized
        let next = try cache.refresh(input.organizations, deflated: true)
        let index = try #require(next.segments.firstIndex { $0.id == input.organizations[changed].id })
        for (position, segment) in next.segments.enumerated() {
            #expect((segment.serial == heldSerials[position]) == (position != index), "segment \(position)")
            #expect(segment.deflated != nil)
        }
        // Compared with the segment it replaced: the families the change left kept their runs.
        let (runs, heldRuns) = (try #require(next.segments[index].deflated), try #require(held.segments[index].deflated))
        #expect(zip(runs, heldRuns).contains { $0.bytes == $1.bytes })
        #expect(zip(runs, heldRuns).contains { $0.bytes != $1.bytes })
        // The rows an earlier scrape still sends are as they were.
        #expect(held.segments.map(\.serial) == heldSerials)
        #expect(held.segments[index].connections[key]?.observation.health == health)

        // Reordered (a reload): every unchanged organization's segment found again by its id.
        var reordered = input
        reordered.organizations.reverse()
        let again = try cache.refresh(reordered.organizations, deflated: true)
        #expect(again.segments.map(\.serial) == next.segments.map(\.serial))
        let body = try MetricsRenderer.render(reordered, format: .text, process: fixedProcess, gzip: true, cache: cache)
        #expect(try gunzip(body.chunks) == render(reordered))
    }

    @Test("Across random changes of every kind, a gzip scrape through the cache is still exactly the text")
    func keptRunsFollowRandomChanges() throws {
        var random = SeededGenerator(seed: 12)
        let cache = ConnectionRowsCache()
        var input = SyntheticFleet.input(connections: 1_000)
        let other = ConnectionObservation.Health(status: .unhealthy, name: .vendorServerError, resolutionOwner: .leen)
        var kept = 0
        for _ in 0..<40 {
            // A few changes in a few organizations, each of a kind that moves some families' lines.
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let organization = Int.random(in: 0..<input.organizations.count, using: &random)
                let keys = input.organizations[organization].state.connections.keys.sorted()
                let key = keys[Int.random(in: 0..<keys.count, using: &random)]
                var tracked = input.organizations[organization].state.connections[key]!
                switch Int.random(in: 0..<9, using: &random) {
                case 0: tracked.observation.health = [nil, unauthorized, other].randomElement(using: &random)!
                case 1: tracked.observation.state = [.active, .paused, .pending, nil].randomElement(using: &random)!
                case 2: tracked.observation.oauthPending.toggle()
                case 3: tracked.transitions += 1
                case 4: tracked.changedAt += 60
                case 5: tracked.missing.toggle()
                case 6: tracked.observation.vendor = [.aikido, .arnica, .checkmarx].randomElement(using: &random)!
                case 7:
                    let stale = input.organizations[organization].state.isStale
                    input.organizations[organization].state.api =
                        stale ? .ok : .unreachable(since: Date(timeIntervalSince1970: 1_800_000_000), reason: "timeout")
                default:
                    input.organizations[organization].state.connections[key] = nil
                    continue
                }
                input.organizations[organization].state.connections[key] = tracked
            }
            let before = cache.segments.mapValues { $0.deflated ?? [] }
            let body = try MetricsRenderer.render(input, format: .text, process: fixedProcess, gzip: true, cache: cache)
            #expect(try gunzip(body.chunks) == render(input))
            // Some families of changed organizations kept their runs (the same bytes, copied into the new set).
            for (id, segment) in cache.segments {
                guard let earlier = before[id], let runs = segment.deflated else { continue }
                kept += zip(runs, earlier).count { $0.bytes == $1.bytes }
            }
        }
        #expect(kept > 0)
    }

    @Test("Uncompressed, the text is produced chunk by chunk, and the chunks add up to the whole text")
    func streamedText() async throws {
        let input = SyntheticFleet.input(connections: 2_500)
        for format in ExpositionFormat.allCases {
            var cursor = TextCursor(input, rows: ConnectionRows(input.organizations), format: format, process: fixedProcess)
            var chunks: [ByteBuffer] = []
            while let chunk = cursor.next(chunkSize: 32_768) { chunks.append(chunk) }
            #expect(cursor.next(chunkSize: 32_768) == nil)
            let text = render(input, format)
            #expect(chunks.count >= text.utf8.count / 150_000)
            // No chunk much larger than asked: at most one organization's lines of one family beyond it (the
            // state set's 4 lines for each of 100 connections, about 110 KB).
            #expect(chunks.allSatisfy { $0.readableBytes < 32_768 + 150_000 })
            #expect(chunks.map { String(buffer: $0) }.joined() == text)
        }
        // Through the endpoint: a stream, without Content-Length, with the same text.
        let endpoint = MetricsEndpoint(provider: { input }, processMetrics: { fixedProcess })
        let reply = await endpoint.respond(
            to: HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: "/metrics"))
        #expect(reply.stream != nil && reply.chunks.isEmpty && reply.contentLength == nil)
        #expect(String(buffer: await reply.collect()) == render(input))
    }

    @Test("Between scrapes, prepare() compresses what changed, once a scrape asked for gzip")
    func prepare() async throws {
        let box = SnapshotBox(SyntheticFleet.input(connections: 300))
        let endpoint = MetricsEndpoint(provider: { box.value }, processMetrics: { fixedProcess })
        await endpoint.prepare()
        #expect(endpoint.rowsCache.segments.isEmpty, "nothing prepared before a gzip scrape")

        var request = HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: "/metrics")
        request.headerFields[.acceptEncoding] = "gzip"
        let first = await endpoint.respond(to: request)
        #expect(first.headers[.contentEncoding] == "gzip")

        // Even organizations: a connection changed; odd ones: only the poll time.
        let before = endpoint.rowsCache.segments
        box.update { input in
            for index in input.organizations.indices {
                input.organizations[index].state.lastSuccessfulPoll = referenceNow.addingTimeInterval(Double(index))
                if index.isMultiple(of: 2), let identifier = input.organizations[index].state.connections.keys.first {
                    input.organizations[index].state.connections[identifier]!.transitions += 1
                }
            }
        }
        let changed = box.value
        await endpoint.prepare()
        let prepared = endpoint.rowsCache.segments
        #expect(prepared.count == changed.organizations.count)
        for (index, organization) in changed.organizations.enumerated() {
            let segment = try #require(prepared[organization.id])
            #expect(segment.isMade(from: organization.state))
            #expect(segment.deflated?.count == MetricsRenderer.ConnectionFamily.allCases.count)
            // A poll that changed no connection keeps the organization's rows and runs.
            #expect((segment.serial == before[organization.id]?.serial) == !index.isMultiple(of: 2))
        }
        // The next scrape serves the prepared runs, and they decode to the current text.
        let second = await endpoint.respond(to: request)
        // Streamed, with its length known in advance.
        #expect(second.stream != nil && second.chunks.isEmpty)
        let collected = await second.collect()
        #expect(second.contentLength == collected.readableBytes)
        #expect(try gunzip([collected]) == render(changed))
        #expect(address(endpoint.rowsCache.segments[changed.organizations[0].id]!.deflated![0].bytes)
            == address(prepared[changed.organizations[0].id]!.deflated![0].bytes))
    }
}
