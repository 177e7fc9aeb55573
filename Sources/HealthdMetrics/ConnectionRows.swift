import Foundation
import HealthdCore
import LeenAPI
import NIOCore
import Synchronization

/// The exported connections of one snapshot, flattened for rendering: each connection's label pairs are
/// escaped once into its organization's byte buffer, then copied into every per-connection family.
///
/// Connections with `missing == true` (no longer listed by Leen) are left out, and so is everything the
/// snapshot no longer holds: a connection's series exist exactly as long as it is monitored.
package struct ConnectionRows: Sendable {
    /// Members of `leen_connection_state`'s one-hot set (Leen's documented states, then UNKNOWN, which is
    /// written only when it is set).
    static let states = ["PENDING", "ACTIVE", "PAUSED", "DELETED", "UNKNOWN"]
    static let unknownState = states.count - 1

    /// 48 bytes, not the 96 of `Int`s and `Range<Int>`s: offsets within an organization's label bytes and
    /// small counts fit 32 bits (a count beyond them is written clamped).
    struct Row: Sendable {
        /// Where the labels start, end, and the reason labels (which follow them) end, in the segment's `bytes`.
        private var labelStart, labelEnd, reasonEnd: UInt32
        var status: EffectiveStatus.Exported
        private var state: UInt8
        var oauthPending: Bool
        /// Confirmed UNHEALTHY, as the exported status shows it (not while the organization is stale).
        var unhealthyConfirmed: Bool
        var flapping: Bool
        private var details: Int32
        private var transitionCount: Int32
        var healthChange: Date
        var lastChange: Date

        init(
            labels: Range<Int>, reason: Range<Int>, status: EffectiveStatus.Exported, stateIndex: Int,
            failingDetails: Int, oauthPending: Bool, transitions: Int, healthChange: Date, lastChange: Date,
            unhealthyConfirmed: Bool, flapping: Bool
        ) {
            precondition(labels.upperBound == reason.lowerBound, "reason labels follow the labels")
            labelStart = UInt32(labels.lowerBound)
            labelEnd = UInt32(labels.upperBound)
            reasonEnd = UInt32(reason.upperBound)
            self.status = status
            state = UInt8(stateIndex)
            details = Int32(clamping: failingDetails)
            self.oauthPending = oauthPending
            transitionCount = Int32(clamping: transitions)
            self.healthChange = healthChange
            self.lastChange = lastChange
            self.unhealthyConfirmed = unhealthyConfirmed
            self.flapping = flapping
        }

        /// The connection id's value, then `",identifier="…",vendor="…"`, in the segment's `bytes`: the labels
        /// after the segment's ``Segment/prefix``.
        var labels: Range<Int> { Int(labelStart)..<Int(labelEnd) }
        /// `,health_name="…",resolution_owner="…"` in the segment's `bytes`; empty without health.
        var reason: Range<Int> { Int(labelEnd)..<Int(reasonEnd) }
        var stateIndex: Int { Int(state) }
        var failingDetails: Int { Int(details) }
        var transitions: Int { Int(transitionCount) }

        /// The number `family` writes for this row (for a one-hot set, the member's index); 0 for the families
        /// that write labels or times (``time(_:)``). With ``time(_:)``, the one mapping from a family to the
        /// row's fields: the lines (``MetricsRenderer/writeLines(_:of:into:)``) and ``sameValue(as:for:)`` read it.
        func integer(_ family: MetricsRenderer.ConnectionFamily) -> Int {
            switch family {
            case .healthy: status == .healthy ? 1 : 0
            case .status: MetricsRenderer.OneHotEnds.index(status)
            case .state: stateIndex
            case .failingDetails: failingDetails
            case .oauthPending: oauthPending ? 1 : 0
            case .transitions: transitions
            case .unhealthyConfirmed: unhealthyConfirmed ? 1 : 0
            case .flapping: flapping ? 1 : 0
            case .reason, .healthChange, .lastChange: 0
            }
        }

        /// The time `family` writes for this row (`healthChange` or `lastChange`).
        func time(_ family: MetricsRenderer.ConnectionFamily) -> Date {
            family == .healthChange ? healthChange : lastChange
        }

        /// Whether `family`'s lines of this row and of `other` carry the same value (labels aside).
        func sameValue(as other: Row, for family: MetricsRenderer.ConnectionFamily) -> Bool {
            switch family {
            case .reason: reason.isEmpty == other.reason.isEmpty
            case .healthChange, .lastChange: time(family) == other.time(family)
            default: integer(family) == other.integer(family)
            }
        }
    }

    /// One organization's rows.
    package struct Segment: Sendable {
        var id: OrganizationID
        /// Unique to this flattening of the organization (a changed organization gets a new segment).
        var serial = Self.serials.add(1, ordering: .relaxed).newValue
        private static let serials = Atomic<Int>(0)
        /// What the rows were made from (the cache's key): the connections, and whether the organization was
        /// stale. Not the whole state, whose poll times change at every poll: an organization whose poll
        /// changed no connection keeps its rows and compressed lines.
        var connections: [String: TrackedConnection]
        var stale: Bool

        func isMade(from state: OrganizationState) -> Bool {
            Self.isMade(from: connections, stale: stale, as: state.connections, stale: state.isStale)
        }

        /// Whether rows made from `made` (of an organization `madeStale` or not) are those of `connections`.
        /// Over the fields, so that a refresh can ask it of a segment where it lies (``update(_:order:)``).
        static func isMade(
            from made: [String: TrackedConnection], stale madeStale: Bool, as connections: [String: TrackedConnection],
            stale: Bool
        ) -> Bool {
            madeStale == stale && made == connections
        }
        /// `organization_id="…",connection_id="`: how every row's labels start, kept once for the organization
        /// rather than in each row (55 bytes per connection); a line's writer copies it with the metric's name.
        var prefix: [UInt8] = []
        /// Every row's label bytes after the ``prefix``, back to back. Kept in an array of their exact size: a
        /// `ByteBuffer`'s capacity is a power of two, and the buffer they are written into took 32 KB for an
        /// organization's 18 KB (330 bytes per connection, in a heap profile at 10k connections).
        ///
        /// Emptied with ``rows`` once the rows' lines are compressed (``dropRendering()``): gzip scrapes need
        /// only the runs, and the label bytes were 14 MB at 100k connections, the rows 5 MB (jemalloc's
        /// statistics). ``rendering()`` makes both again for what still needs them (an uncompressed scrape,
        /// the comparison with a later flattening).
        package fileprivate(set) var bytes: [UInt8] = []
        fileprivate(set) var rows: [Row] = []
        private var dropped = false
        /// Rows made, dropped or not.
        fileprivate(set) var rowCount = 0
        /// The longest `labels` plus `reason` of any row, without the ``prefix`` (for reserving output space).
        var longestLabels = 0
        /// The rows' lines compressed, one run per per-connection family; made by the first gzip scrape
        /// that needs them and kept with the segment (``ConnectionRowsCache``).
        var deflated: [DeflatedText]?
        /// Which families' lines are the same as those of the earlier segment (its ``serial``) whose runs
        /// this one may keep, found while flattening (``unchangedFamilies(since:)``).
        var sameAsEarlier: (serial: Int, families: [Bool])?

        init(id: OrganizationID, connections: [String: TrackedConnection], stale: Bool) {
            self.id = id
            self.connections = connections
            self.stale = stale
        }

        /// The rows' label bytes (``bytes``) and the rows, made again from ``connections`` when they were
        /// dropped: the same walk of the same dictionary as when the rows were made, so the same bytes at the
        /// same offsets.
        func rendering() -> (bytes: [UInt8], rows: [Row]) {
            guard dropped else { return (bytes, rows) }
            var none: ConnectionRows.FamilyComparison?
            let made = ConnectionRows.flatten(connections, stale: stale, comparing: &none)
            return (made.bytes, made.rows)
        }

        mutating func dropRendering() {
            bytes = []
            rows = []
            sameAsEarlier = nil
            dropped = true
        }

        /// Makes dropped label bytes and rows again and keeps them (in this copy of the segment): an
        /// uncompressed rendering reads them once per family.
        mutating func restoreRendering() {
            guard dropped else { return }
            (bytes, rows) = rendering()
            dropped = false
        }
    }

    /// Organizations in id order; connections in the snapshot's order within each. Sorting them too (by
    /// the labels' bytes) cost a third of the flattening for 100k connections, and neither Prometheus nor
    /// the tests (which compare sets of lines) need an order.
    package var segments: [Segment]
    var count: Int { segments.reduce(0) { $0 + $1.rowCount } }

    init(segments: [Segment]) {
        self.segments = segments
    }

    /// - Parameter previous: segments of an earlier scrape, reused for organizations whose state is
    ///   unchanged (see ``ConnectionRowsCache``).
    package init(_ organizations: [MonitorSnapshot.Organization], previous: [OrganizationID: Segment] = [:]) {
        self.init(organizations, order: Self.order(of: organizations)) { _, id in previous[id] }
    }

    /// - Parameters:
    ///   - order: the positions in `organizations` in id order (``order(of:)``).
    ///   - earlier: an earlier segment of the organization with this id, which would be at this index of
    ///     ``segments``; reused when made from the same state.
    init(
        _ organizations: [MonitorSnapshot.Organization], order: [Int],
        earlier: (_ index: Int, _ id: OrganizationID) -> Segment?
    ) {
        segments = order.enumerated().map { index, position in
            // Read in place: a copy of each organization (every reference in its state retained and
            // released) at every refresh, once a second, was 1% of the daemon's CPU at 100k connections on a
            // fleet that did not change (perf).
            let id = organizations[position].id
            let kept = earlier(index, id).flatMap { $0.id == id ? $0 : nil }
            if let kept, kept.isMade(from: organizations[position].state) { return kept }
            // Compared only with runs to keep: without a gzip scrape there are none.
            return Self.segment(organizations[position], comparedWith: kept?.deflated == nil ? nil : kept)
        }
    }

    /// Brings the segments up to `organizations`, which list the same organizations at the same indices
    /// (in ``order``'s id order, ``segments``' order) as when they were made: only the changed ones are
    /// made again, in place. Returns the segments they replaced, by index.
    ///
    /// In place, rather than as a new array: copying every organization's segment (its references retained)
    /// and destroying the old array at every refresh, once a second, was 1.5% of the daemon's CPU at 100k
    /// connections on a fleet that did not change (perf).
    mutating func update(_ organizations: [MonitorSnapshot.Organization], order: [Int]) -> [Int: Segment] {
        var replaced: [Int: Segment] = [:]
        organizations.withUnsafeBufferPointer { organizations in
            for (index, position) in order.enumerated() {
                let id = organizations[position].id
                // Through buffer pointers, which lend the elements, and over the fields: the arrays' subscripts,
                // and ``Segment/isMade(from:)`` called on an element, copied each segment and state.
                let kept = segments.withUnsafeBufferPointer { segments in
                    segments[index].id == id
                        && Segment.isMade(
                            from: segments[index].connections, stale: segments[index].stale,
                            as: organizations[position].state.connections, stale: organizations[position].state.isStale)
                }
                if kept { continue }
                let earlier = segments[index].id == id ? segments[index] : nil
                replaced[index] = earlier
                // Compared only with runs to keep: without a gzip scrape there are none.
                segments[index] = Self.segment(organizations[position], comparedWith: earlier?.deflated == nil ? nil : earlier)
            }
        }
        return replaced
    }

    /// The positions of `organizations` in id order.
    static func order(of organizations: [MonitorSnapshot.Organization]) -> [Int] {
        organizations.indices.sorted { organizations[$0].id < organizations[$1].id }
    }

    /// Adds the compressed lines (``Segment/deflated``) to every segment that has none yet, each line starting
    /// with `sharedLabels` (``ExpositionWriter/sharedLabels``). A family whose lines are the same as in the
    /// organization's segment in `previous` (compressed with the same shared labels) keeps that run.
    /// Returns how many runs were compressed.
    @discardableResult
    mutating func deflate(sharedLabels: [UInt8] = [], previous: [OrganizationID: Segment] = [:]) throws -> Int {
        var code: HuffmanCode?
        return try deflate(sharedLabels: sharedLabels, code: &code) { _, id in previous[id] }
    }

    /// As above, `earlier` giving the earlier segment of the organization at an index of ``segments``, with
    /// `code` (``Deflater/init(code:sample:)``); without one, the runs are compressed at level 1 and `code`
    /// is made from the first ``HuffmanCode/sampleBytes`` of their text, for the next calls.
    @discardableResult
    mutating func deflate(
        sharedLabels: [UInt8], code: inout HuffmanCode?, earlier segmentAt: (_ index: Int, _ id: OrganizationID) -> Segment?
    ) throws -> Int {
        guard segments.contains(where: { $0.deflated == nil }) else { return 0 }
        let deflater = code.map { Deflater(code: $0) } ?? Deflater(sample: HuffmanCode.sampleBytes)
        defer { if code == nil { code = deflater.sampledCode() } }
        var scratch = ExpositionWriter(capacity: 1 << 20, sharedLabels: sharedLabels)
        var compressed = 0
        for index in segments.indices where segments[index].deflated == nil {
            let earlier = segmentAt(index, segments[index].id).flatMap { $0.id == segments[index].id ? $0 : nil }
            let (runs, count) = try MetricsRenderer.deflatedLines(
                of: segments[index], reusing: earlier.flatMap { earlier in
                    earlier.deflated.map { (runs: $0, unchanged: segments[index].unchangedFamilies(since: earlier)) }
                }, deflater: deflater, scratch: &scratch)
            segments[index].deflated = runs
            segments[index].dropRendering()
            compressed += count
        }
        return compressed
    }

    /// Flattens one organization.
    ///
    /// Each row's labels are written with one reservation and raw copies: appending a few strings to an
    /// `Array` or a `ByteBuffer` one call at a time cost about 100 ns per call here, the better part of a
    /// millisecond per 10,000 connections per label.
    ///
    /// With `earlier`, an earlier segment of the organization, the same walk notes which families' lines
    /// are unchanged since it (``Segment/sameAsEarlier``): walking both organizations' connections again
    /// for that, and making every earlier row's values again, was 2.6% of the daemon's CPU at 100k
    /// connections in a changing fleet (perf), where a poll changes a few connections of each.
    static func segment(_ organization: MonitorSnapshot.Organization, comparedWith earlier: Segment? = nil) -> Segment {
        var prefix = Array("organization_id=\"".utf8)
        ExpositionWriter.appendEscaped(organization.id.rawValue, to: &prefix)
        prefix += Array("\",connection_id=\"".utf8)
        let stale = organization.state.isStale
        var segment = Segment(id: organization.id, connections: organization.state.connections, stale: stale)
        segment.prefix = prefix
        var comparison = earlier.flatMap { $0.prefix == prefix ? FamilyComparison($0, stale: stale) : nil }
        (segment.bytes, segment.rows, segment.longestLabels) = flatten(
            organization.state.connections, stale: stale, comparing: &comparison)
        segment.rowCount = segment.rows.count
        if var comparison, let earlier { segment.sameAsEarlier = (serial: earlier.serial, families: comparison.finish()) }
        return segment
    }

    /// The label bytes and rows of `connections` (of an organization that is `stale` or not), and the
    /// longest labels of a row; each row also given to `comparison`.
    static func flatten(
        _ connections: [String: TrackedConnection], stale: Bool, comparing comparison: inout FamilyComparison?
    ) -> (bytes: [UInt8], rows: [Row], longestLabels: Int) {
        var rows: [Row] = []
        rows.reserveCapacity(connections.count)
        var longest = 0
        let bytes = labels(of: connections) { tracked, fields, labels, reason in
            let row = row(tracked, fields.values, stale: stale, labels: labels, reason: reason)
            comparison?.compare(tracked, fields, row)
            rows.append(row)
            longest = max(longest, labels.count + reason.count)
        }
        return (bytes, rows, longest)
    }

    /// Whether each family's lines of an organization's rows, met one by one as they are flattened, are the
    /// same as those of an earlier segment of it: the same rows in the same order with the same labels,
    /// and the same value for the family.
    ///
    /// In a fleet that changes, an organization's poll usually changes a few connections' health, which
    /// leaves their state, OAuth and flapping lines as they were: those families (40% of the text, the state
    /// set's four lines per connection most of it) keep their compressed runs. At 100k connections that
    /// changed every poll, compressing was a fifth of the daemon's CPU.
    struct FamilyComparison {
        private let earlierStale: Bool
        private let stale: Bool
        /// The earlier segment's exported connections, in the order its rows were made.
        private var earlier: LazyFilterSequence<Dictionary<String, TrackedConnection>.Values>.Iterator
        /// Every row so far has the earlier row's labels, and its reason labels.
        private var labels = true
        private var reasons = true
        /// Per family (``MetricsRenderer/ConnectionFamily`` order): every row so far has the earlier one's value.
        private var values = MetricsRenderer.ConnectionFamily.allCases.map { _ in true }

        init(_ earlier: Segment, stale: Bool) {
            self.earlier = earlier.connections.values.lazy.filter { !$0.missing }.makeIterator()
            earlierStale = earlier.stale
            self.stale = stale
        }

        /// Compares the next row, made from `tracked` (its ``TrackedConnection/metricFields``: `fields`).
        mutating func compare(_ tracked: TrackedConnection, _ fields: TrackedConnection.MetricFields, _ row: Row) {
            guard labels else { return }
            guard let older = earlier.next() else {
                labels = false
                return
            }
            // The same fields: the same labels, and with the same staleness the same values.
            if tracked.sharesFields(with: older), stale == earlierStale { return }
            // Compared by what the label bytes are written from: escaping is one to one and the keys between
            // the values cannot occur in them escaped, so equal fields are equal bytes. (The earlier segment's
            // bytes are dropped once compressed.)
            let old = older.metricFields
            guard fields.connectionID == old.connectionID, fields.identifier == old.identifier, fields.vendor == old.vendor
            else {
                labels = false
                return
            }
            if reasons, fields.healthName != old.healthName || fields.resolutionOwner != old.resolutionOwner {
                reasons = false
            }
            let earlierRow = ConnectionRows.row(older, old.values, stale: earlierStale, labels: 0..<0, reason: 0..<0)
            for (index, family) in MetricsRenderer.ConnectionFamily.allCases.enumerated()
            where values[index] && family != .reason && !row.sameValue(as: earlierRow, for: family) {
                values[index] = false
            }
        }

        /// Per family, whether its lines are the same as the earlier segment's, once every row was compared.
        mutating func finish() -> [Bool] {
            // An earlier row left over: the rows differ.
            if labels, earlier.next() != nil { labels = false }
            return MetricsRenderer.ConnectionFamily.allCases.enumerated().map { index, family in
                labels && (family == .reason ? reasons : values[index])
            }
        }
    }

    /// One connection's row, its labels and reason labels at `labels` and `reason`.
    static func row(
        _ tracked: TrackedConnection, _ values: TrackedConnection.MetricValues, stale: Bool, labels: Range<Int>,
        reason: Range<Int>
    ) -> Row {
        let status = EffectiveStatus(tracked, organizationStale: stale).exported
        return Row(
            labels: labels, reason: reason, status: status, stateIndex: stateIndex(values.state),
            failingDetails: values.failingDetails, oauthPending: values.oauthPending, transitions: tracked.transitions,
            healthChange: tracked.healthSince, lastChange: tracked.changedAt,
            unhealthyConfirmed: status == .unhealthy && values.confirmed, flapping: values.flapping)
    }

    /// The label bytes of every exported connection (not missing) in `connections`' order, telling `row`
    /// where each one's labels and reason labels are.
    static func labels(
        of connections: [String: TrackedConnection],
        row: (TrackedConnection, TrackedConnection.MetricFields, Range<Int>, Range<Int>) -> Void
    ) -> [UInt8] {
        var bytes = ByteBufferAllocator().buffer(capacity: connections.count * 160)
        for tracked in connections.values where !tracked.missing {
            let fields = tracked.metricFields
            let (labels, reason) = ConnectionRows.Segment.appendLabels(
                to: &bytes, connectionID: fields.connectionID, identifier: fields.identifier, vendor: fields.vendor,
                name: fields.healthName, owner: fields.resolutionOwner)
            row(tracked, fields, labels, reason)
        }
        return Array(bytes.readableBytesView)
    }

    /// The index in ``states``.
    static func stateIndex(_ state: ConnectionState?) -> Int {
        switch state {
        case .pending?: 0
        case .active?: 1
        case .paused?: 2
        case .deleted?: 3
        default: unknownState
        }
    }
}

extension ConnectionRows.Segment {
    /// For each family (``MetricsRenderer/ConnectionFamily`` order), whether its lines are the same as
    /// `earlier`'s, as found when this segment was flattened compared with it; none when it was not.
    func unchangedFamilies(since earlier: Self) -> [Bool] {
        guard let sameAsEarlier, sameAsEarlier.serial == earlier.serial else {
            return MetricsRenderer.ConnectionFamily.allCases.map { _ in false }
        }
        return sameAsEarlier.families
    }

    private static let identifierKey = Array("\",identifier=\"".utf8)
    private static let vendorKey = Array("\",vendor=\"".utf8)
    private static let healthNameKey = Array(",health_name=\"".utf8)
    private static let ownerKey = Array("\",resolution_owner=\"".utf8)
    /// The keys above together, plus the closing quotes.
    private static let keyBytes = identifierKey.count + vendorKey.count + healthNameKey.count + ownerKey.count + 2

    /// Writes a row's labels and, with a health, its reason labels; returns both ranges.
    static func appendLabels(
        to bytes: inout ByteBuffer, connectionID: String, identifier: String, vendor: String, name: String?, owner: String?
    ) -> (labels: Range<Int>, reason: Range<Int>) {
        // Escaping at most doubles a value.
        let maximum =
            Self.keyBytes
            + 2 * (connectionID.utf8.count + identifier.utf8.count + vendor.utf8.count + (name?.utf8.count ?? 0)
                + (owner?.utf8.count ?? 0))
        let labelStart = bytes.writerIndex
        var labelEnd = labelStart
        bytes.writeWithUnsafeMutableBytes(minimumWritableBytes: maximum) { raw in
            var cursor = ExpositionWriter.Cursor(raw.baseAddress!)
            cursor.escaped(connectionID)
            Self.identifierKey.withUnsafeBytes { cursor.copy($0) }
            cursor.escaped(identifier)
            Self.vendorKey.withUnsafeBytes { cursor.copy($0) }
            cursor.escaped(vendor)
            cursor.byte(UInt8(ascii: "\""))
            labelEnd = labelStart + cursor.count
            if let name, let owner {
                Self.healthNameKey.withUnsafeBytes { cursor.copy($0) }
                cursor.escaped(name)
                Self.ownerKey.withUnsafeBytes { cursor.copy($0) }
                cursor.escaped(owner)
                cursor.byte(UInt8(ascii: "\""))
            }
            return cursor.count
        }
        return (labelStart..<labelEnd, labelEnd..<bytes.writerIndex)
    }
}

/// The flattened organizations of the last scrape, kept by the endpoint between scrapes, with their
/// compressed lines once a gzip scrape asked for them.
///
/// The daemon's state is copy-on-write, and a poll stores only the connections it changed: an organization
/// whose connections did not change since the last scrape has the very same connections dictionary, which
/// compares equal at once, so its rows (and compressed lines) are reused as they are; an organization with
/// any connection changed, or that turned stale or fresh, is flattened again. With polls every few
/// minutes and scrapes every 15 to 60 s, most organizations are reused, and ``refresh(_:deflated:)`` between
/// scrapes (``MetricsEndpoint/prepare()``) keeps the rest of the work off the scrape. Organizations no
/// longer in the snapshot are dropped from the cache at each refresh, so nothing outlives its
/// organization.
///
/// Refreshes are serialised: concurrent scrapes right after a wave of polls do the work once, the later
/// ones waiting for the first. They run on threads of NIO's blocking pool, never on the concurrency pool
/// the monitor's actors use.
package final class ConnectionRowsCache: Sendable {
    private struct Contents {
        /// The last refresh's segments, in id order.
        var segments: [ConnectionRows.Segment] = []
        /// The ids of the last refresh's organizations in the snapshot's order, and the positions that put
        /// them in id order: a snapshot lists the configuration's organizations in its order, the same at
        /// every refresh until a reload, and a refresh of the same ones finds each one's earlier segment at
        /// the same index, without sorting them or hashing their ids (sorting them and making a dictionary
        /// of their segments every second were about 3% of the daemon's CPU at 100k connections on a fleet
        /// that did not change, perf).
        var listed: [OrganizationID] = []
        var order: [Int] = []
        /// Each organization's compressed `leen_poll_duration_seconds` samples, with the histogram they show.
        var pollDurations: [OrganizationID: (histogram: Histogram, run: DeflatedText)] = [:]
        /// The shared labels the compressed lines above start with.
        var sharedLabels: [UInt8] = []
        /// The code the runs are compressed with, made from the first ones' text.
        var code: HuffmanCode?
    }

    private let stored = Mutex(Contents())
    /// Held for a whole refresh.
    private let refreshing = Mutex<Void>(())
    /// Whether a scrape has asked for gzip (only then are compressed lines kept up to date in advance).
    private let gzipWanted = Atomic<Bool>(false)

    package init() {}

    var segments: [OrganizationID: ConnectionRows.Segment] {
        Self.byID(stored.withLock { $0.segments })
    }

    private static func byID(_ segments: [ConnectionRows.Segment]) -> [OrganizationID: ConnectionRows.Segment] {
        Dictionary(segments.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    var wantsDeflated: Bool { gzipWanted.load(ordering: .relaxed) }

    /// The code runs are compressed with, once a refresh has compressed some.
    var huffmanCode: HuffmanCode? { stored.withLock { $0.code } }

    /// Makes `rows` the cache's content (the benchmark's reset between runs).
    package func replace(_ rows: ConnectionRows) {
        stored.withLock {
            $0.segments = rows.segments
            ($0.listed, $0.order) = ([], [])
        }
    }

    /// The rows of `organizations`, reusing unchanged organizations' and keeping the result for the next
    /// call. With `deflated`, every segment also carries its compressed lines.
    /// `sharedLabels` start every compressed line (``ExpositionWriter/sharedLabels``); the instance's are fixed
    /// for its life, but should they differ from the kept lines', everything kept is dropped.
    package func refresh(
        _ organizations: [MonitorSnapshot.Organization], deflated: Bool, sharedLabels: [UInt8] = []
    ) throws -> ConnectionRows {
        if deflated { gzipWanted.store(true, ordering: .relaxed) }
        return try refreshing.withLock { _ in
            stored.withLock { if $0.sharedLabels != sharedLabels { $0 = Contents(sharedLabels: sharedLabels) } }
            // The kept segments taken out of the store (the refresh holds the only reference, unless a scrape
            // still sends them), so that the unchanged ones stay where they are and the changed ones are
            // replaced in place.
            var rows = ConnectionRows(segments: [])
            let (listed, lastOrder) = stored.withLock { contents in
                swap(&rows.segments, &contents.segments)
                return (contents.listed, contents.order)
            }
            // By index: a zip copied each organization (its state's references retained and released).
            let same =
                listed.count == organizations.count && rows.segments.count == organizations.count
                && organizations.indices.allSatisfy { listed[$0] == organizations[$0].id }
            let order = same ? lastOrder : ConnectionRows.order(of: organizations)
            let replaced: [Int: ConnectionRows.Segment]
            let byID: [OrganizationID: ConnectionRows.Segment]
            if same {
                replaced = rows.update(organizations, order: order)
                byID = [:]
            } else {
                // Organizations added, removed or reordered (a reload): the earlier segments found by id.
                byID = Self.byID(rows.segments)
                replaced = [:]
                rows = ConnectionRows(organizations, order: order) { _, id in byID[id] }
            }
            func earlier(_ index: Int, _ id: OrganizationID) -> ConnectionRows.Segment? {
                same ? replaced[index] : byID[id]
            }
            // Keep the flattened rows even if compression fails.
            defer {
                let listed = same ? listed : organizations.map(\.id)
                stored.withLock { ($0.segments, $0.listed, $0.order) = (rows.segments, listed, order) }
            }
            if deflated {
                var code = stored.withLock { $0.code }
                defer { stored.withLock { $0.code = code } }
                try rows.deflate(sharedLabels: sharedLabels, code: &code, earlier: earlier)
                return rows
            }
            // Label bytes for this uncompressed rendering only: the cache keeps them dropped.
            var rendered = rows
            for index in rendered.segments.indices { rendered.segments[index].restoreRendering() }
            return rendered
        }
    }

    var pollDurations: [OrganizationID: (histogram: Histogram, run: DeflatedText)] {
        stored.withLock { $0.pollDurations }
    }

    /// Replaces the kept poll-duration runs (those of organizations gone are dropped with them).
    func keepPollDurations(_ runs: [OrganizationID: (histogram: Histogram, run: DeflatedText)]) {
        stored.withLock { $0.pollDurations = runs }
    }
}
