import Foundation
import LeenAPI

/// Finds storms: many connections turning UNHEALTHY the same way (same health name, or same resolution owner)
/// within one poll interval, across organizations. A storm is one incident: one `incident_started`, its
/// members' own events lowered to info while it lasts, one `incident_resolved` when it no longer holds.
///
/// A value fed each organization's state after each successful poll; it never reads a clock (`now` comes
/// in) and is persisted (Codable) so an open incident survives a restart.
public struct IncidentDetector: Codable, Hashable, Sendable {
    /// What an incident's connections have in common.
    public struct Key: Codable, Hashable, Sendable {
        public enum Dimension: String, Codable, Hashable, Sendable {
            case healthName = "health_name"
            case resolutionOwner = "resolution_owner"
        }
        public var dimension: Dimension
        public var value: String

        public init(_ dimension: Dimension, _ value: String) {
            self.dimension = dimension
            self.value = value
        }

        func matches(_ member: Member) -> Bool {
            value == (dimension == .healthName ? member.healthName : member.resolutionOwner)
        }
    }

    /// A connection that turned UNHEALTHY.
    public struct Member: Codable, Hashable, Sendable {
        public var organizationID: OrganizationID
        public var identifier: String
        public var healthName: String
        public var resolutionOwner: String
        /// When it turned UNHEALTHY.
        public var since: Date

        static func ordered(_ a: Member, _ b: Member) -> Bool {
            (a.organizationID, a.identifier) < (b.organizationID, b.identifier)
        }

        public init(
            organizationID: OrganizationID, identifier: String, healthName: String, resolutionOwner: String, since: Date
        ) {
            self.organizationID = organizationID
            self.identifier = identifier
            self.healthName = healthName
            self.resolutionOwner = resolutionOwner
            self.since = since
        }
    }

    public struct Incident: Codable, Hashable, Sendable {
        public var id: String
        public var key: Key
        public var startedAt: Date
        /// Connections still UNHEALTHY the incident's way, by organization, then identifier: an organization's
        /// poll finds its own members by binary search instead of passing over every organization's.
        public var members: [Member]
        /// The most members it had.
        public var peak: Int

        /// Where `organization`'s members are.
        func range(of organization: OrganizationID) -> Range<Int> {
            members.boundary { $0.organizationID >= organization }..<members.boundary { $0.organizationID > organization }
        }

        mutating func insert(_ member: Member) {
            members.insert(member, at: members.boundary { !Member.ordered($0, member) })
        }
    }

    /// What one organization's poll changed.
    public struct Verdict: Sendable, Hashable {
        public var started: [Incident] = []
        public var resolved: [Incident] = []
        /// The organization's connections in an open incident: identifier -> incident id.
        public var membership: [String: String] = [:]
        /// Whether the detector changed at all (members, the window, peaks, sizes), started and resolved
        /// incidents included: what its owner saves. Told here, so the owner need neither keep a copy to
        /// compare with (which copied every member at every poll) nor compare them.
        public var changed = false
    }

    /// Connections that turned UNHEALTHY within the last poll interval and belong to no incident yet.
    public private(set) var recent: [Member] = []
    public private(set) var open: [Incident] = []
    /// Monitored connections per organization at its last poll, for the shares.
    package private(set) var sizes: [OrganizationID: Int] = [:]

    public init() {}

    /// Takes one organization's state after a successful poll.
    ///
    /// - Parameters:
    ///   - window: one poll interval: connections turning UNHEALTHY further apart are not one storm.
    ///   - makeID: the id of an incident that starts.
    public mutating func observe(
        organization: OrganizationID, state: OrganizationState, rule: Configuration.Incidents, window: Duration,
        now: Date, makeID: () -> String
    ) -> Verdict {
        var unhealthy: [String: Member] = [:]
        var onsets: [Member] = []
        var size = 0
        // By index, reading fields in place: iterating the dictionary copied every tracked connection of the
        // organization at every poll.
        let connections = state.connections
        for index in connections.indices where !connections.values[index].missing {
            size += 1
            guard let since = connections.values[index].alert.unhealthySince,
                let health = connections.values[index].observation.health
            else { continue }
            let identifier = connections.keys[index]
            let member = Member(
                organizationID: organization, identifier: identifier, healthName: health.name.rawValue,
                resolutionOwner: health.resolutionOwner.rawValue, since: since)
            unhealthy[identifier] = member
            // An onset is a change seen by this poll: not a connection first seen UNHEALTHY (a first start, a
            // new declaration), nor one UNHEALTHY for longer than its alert state knows (a state file from
            // before the alerting rules); those are not a storm.
            let changedNow =
                connections.values[index].transitions > 0 && connections.values[index].healthSince == since
            if connections.values[index].alert.unhealthyPolls == 1, changedNow { onsets.append(member) }
        }
        var changed = false
        if sizes[organization] != size {
            sizes[organization] = size
            changed = true
        }

        // Members of this organization that recovered, or changed their way, leave.
        func stillAffected(_ member: Member, _ key: Key?) -> Bool {
            guard member.organizationID == organization else { return true }
            guard let now = unhealthy[member.identifier] else { return false }
            return key.map { $0.matches(now) } ?? (now.healthName == member.healthName
                && now.resolutionOwner == member.resolutionOwner)
        }
        // Members are found by index, read in place, and removed one by one from the end (`remove(at:)` moves
        // the rest without copying them): `removeAll(where:)` copied every member it kept, at every poll, which
        // showed in the profiles at 100k connections (a restart's, and a poll's with a large incident open).
        let expired = recent.indices.filter {
            now.timeIntervalSince(recent[$0].since) >= window.seconds || !stillAffected(recent[$0], nil)
        }
        for index in expired.reversed() { recent.remove(at: index) }
        changed = changed || !expired.isEmpty
        // An open incident's members are sorted by organization: only this organization's are looked at.
        for index in open.indices {
            let range = open[index].range(of: organization)
            let leaving = range.filter { !stillAffected(open[index].members[$0], open[index].key) }
            for member in leaving.reversed() { open[index].members.remove(at: member) }
            changed = changed || !leaving.isEmpty
        }
        changed = changed || !onsets.isEmpty

        // New onsets join an open incident of their kind, or wait for others like them.
        for member in onsets.sorted(by: { $0.identifier < $1.identifier }) {
            if let index = open.firstIndex(where: { $0.key.matches(member) }) {
                open[index].insert(member)
                open[index].peak = max(open[index].peak, open[index].members.count)
            } else {
                recent.append(member)
            }
        }

        var verdict = Verdict()
        for dimension in [Key.Dimension.healthName, .resolutionOwner] {
            let values = Set(recent.map { dimension == .healthName ? $0.healthName : $0.resolutionOwner })
            for value in values.sorted() {
                let key = Key(dimension, value)
                let members = recent.filter { key.matches($0) }
                guard isStorm(members, rule: rule) else { continue }
                let incident = Incident(
                    id: makeID(), key: key, startedAt: now,
                    members: members.sorted(by: Member.ordered),
                    peak: members.count)
                open.append(incident)
                verdict.started.append(incident)
                recent.removeAll { key.matches($0) }
            }
        }
        let storms = open.map { isStorm($0.members, rule: rule) }
        verdict.resolved = zip(open, storms).filter { !$0.1 }.map(\.0)
        if !verdict.resolved.isEmpty { open = zip(open, storms).filter(\.1).map(\.0) }
        for incident in open {
            // By index: iterating would copy every member of every organization.
            for index in incident.range(of: organization) {
                verdict.membership[incident.members[index].identifier] = incident.id
            }
        }
        verdict.changed = changed || !verdict.started.isEmpty || !verdict.resolved.isEmpty
        return verdict
    }

    /// Forgets organizations no longer configured; incidents left without a storm resolve at the next poll.
    public mutating func forget(_ organizations: Set<OrganizationID>) {
        recent.removeAll { organizations.contains($0.organizationID) }
        for index in open.indices { open[index].members.removeAll { organizations.contains($0.organizationID) } }
        for id in organizations { sizes[id] = nil }
    }

    /// At least two connections, and: `minimumConnections` of them, or `minimumShare` of an organization of
    /// `minimumOrganizationSize` or more, or of the fleet (as large).
    func isStorm(_ members: [Member], rule: Configuration.Incidents) -> Bool {
        guard members.count >= 2 else { return false }
        if members.count >= rule.minimumConnections { return true }
        func share(_ count: Int, of size: Int) -> Bool {
            size >= rule.minimumOrganizationSize && Double(count) >= rule.minimumShare * Double(size)
        }
        // Counted, not grouped: an open incident's members are checked at every organization's poll, and
        // grouping copied each of them every time.
        var counts: [OrganizationID: Int] = [:]
        for index in members.indices { counts[members[index].organizationID, default: 0] += 1 }
        if counts.contains(where: { share($0.value, of: sizes[$0.key] ?? 0) }) { return true }
        return share(members.count, of: sizes.values.reduce(0, +))
    }
}

extension IncidentDetector.Incident {
    enum CodingKeys: String, CodingKey {
        case id, key, startedAt, members, peak
    }

    /// Sorts the members: a file written before they were kept sorted may list late joiners last.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(String.self, forKey: .id), key: try container.decode(IncidentDetector.Key.self, forKey: .key),
            startedAt: try container.decode(Date.self, forKey: .startedAt),
            members: try container.decode([IncidentDetector.Member].self, forKey: .members).sorted(by: IncidentDetector.Member.ordered),
            peak: try container.decode(Int.self, forKey: .peak))
    }
}
