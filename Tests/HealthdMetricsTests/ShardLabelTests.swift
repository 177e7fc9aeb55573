import Foundation
import HealthdBenchmarks
import HealthdCore
import HealthdMetrics
import LeenAPI
import NIOCore
import Testing

/// A sharded instance labels every sample with its shard, in every way `/metrics` is rendered; an unsharded
/// one writes no such label (existing dashboards and alerts see what they always saw).
@Suite("The shard label")
struct ShardLabelTests {
    static func input(shard: Shard?) -> MonitorSnapshot {
        var input = PromtoolTests.richInput()
        input.daemon.shard = shard
        input.daemon.pollInterval = .seconds(60)
        input.daemon.polls = [.init(organization: organizationB, result: "timeout"): 2]
        input.daemon.requests = [.init(operation: "list_connections", code: "200"): 5]
        input.daemon.retries = ["list_connections": 1]
        return input
    }

    @Test("Every sample of a sharded instance carries shard=\"K\" first; leen_shard_info says N")
    func everySample() {
        let text = MetricsRenderer.renderString(Self.input(shard: Shard(index: 2, count: 4)), process: fixedProcess)
        let all = samples(text)
        #expect(all.count > 10_000)
        #expect(all.count == lines(text).filter { !$0.hasPrefix("#") }.count, "every sample line parses")
        for sample in all {
            #expect(sample.labels["shard"] == "2", "\(sample.name) \(sample.labels)")
            #expect(sample.labelOrder.first == "shard")
        }
        let info = all.filter { $0.name == "leen_shard_info" }
        #expect(info.map(\.labels) == [["shard": "2", "shards": "4"]])
        #expect(info.first?.value == "1")
    }

    @Test("Unsharded: no shard label anywhere and no leen_shard_info")
    func unsharded() {
        let text = MetricsRenderer.renderString(Self.input(shard: nil), process: fixedProcess)
        #expect(!text.contains("shard"))
    }

    @Test("The same text, label included, in both formats, streamed, gzip and from the kept rows")
    func everyRendering() throws {
        let input = Self.input(shard: Shard(index: 3, count: 5))
        for format in [ExpositionFormat.text, .openMetrics] {
            let whole = String(buffer: MetricsRenderer.render(input, format: format, process: fixedProcess))
            let streamed = try MetricsRenderer.render(input, format: format, process: fixedProcess, gzip: false)
            #expect(String(decoding: streamed.chunks.flatMap { Array($0.readableBytesView) }, as: UTF8.self) == whole)
            let compressed = try MetricsRenderer.render(input, format: format, process: fixedProcess, gzip: true)
            let data = Data(compressed.chunks.flatMap { Array($0.readableBytesView) })
            let decoded = try runProcess("/bin/gzip", ["-dc"], stdin: data)
            #expect(decoded.status == 0)
            #expect(decoded.output == whole)
            for sample in samples(whole) where !sample.name.isEmpty {
                #expect(sample.labels["shard"] == "3")
            }
        }
    }
}
