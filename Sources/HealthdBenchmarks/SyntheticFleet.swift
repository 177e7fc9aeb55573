import Foundation
import HealthdCore
import HealthdMetrics
import LeenAPI

/// A deterministic, realistic snapshot of any size, for the benchmark and for tests.
///
/// Per 20 connections: 16 HEALTHY, one UNAUTHORIZED (CUSTOMER), one VENDOR_SERVER_ERROR (VENDOR), one
/// EXECUTION_TIMEOUT (LEEN), one OAuth connection pending without health. Unhealthy ones have one to three
/// failing details. Every 97th connection has disappeared (`missing`, not exported) and every 25th
/// organization's API is failing (its connections are UNKNOWN).
public enum SyntheticFleet {
    static let vendors: [Vendor] = ["TENABLE", "CROWDSTRIKE", "QUALYS", "MS_DEFENDER", "AWS_INSPECTOR2", "WIZ"]

    /// - Parameters:
    ///   - connections: monitored connections in all, spread over organizations of 100.
    ///   - now: the reference time; every timestamp is at or before it.
    public static func input(connections: Int, version: String = "0.0.0-bench", now: Date = Date()) -> MonitorSnapshot {
        let perOrganization = 100
        let organizationCount = max(1, (connections + perOrganization - 1) / perOrganization)
        var daemon = DaemonCounters(startTime: now.addingTimeInterval(-86_400), version: version)
        daemon.ready = true
        daemon.pollInterval = .seconds(300)
        daemon.lastReloadSuccess = now.addingTimeInterval(-3_600)
        daemon.reloads = ["success": 3, "failure": 1]
        daemon.requests = [
            .init(operation: "list_connections", code: "200"): organizationCount * 288,
            .init(operation: "list_connections", code: "429"): 7,
            .init(operation: "list_connections", code: "timeout"): 2,
            .init(operation: "create_connection", code: "201"): 12,
        ]
        daemon.retries = ["list_connections": 9]
        daemon.retryAfterWaits = 7
        daemon.retryAfterSeconds = 14.5
        daemon.eventsEmitted = [.connectionMonitored: connections, .connectionUnhealthy: connections / 10]
        daemon.eventsSuppressed = 4

        var organizations: [MonitorSnapshot.Organization] = []
        var remaining = connections
        for organizationIndex in 0..<organizationCount {
            let id = OrganizationID(uuid(0x0a, organizationIndex))
            var state = OrganizationState()
            let stale = organizationIndex % 25 == 24
            state.lastSuccessfulPoll = now.addingTimeInterval(stale ? -1_800 : -120)
            state.lastAttempt = now.addingTimeInterval(-60)
            state.api = stale ? .unreachable(since: now.addingTimeInterval(-1_700), reason: "timeout") : .ok
            state.consecutiveFailures = stale ? 6 : 0
            for index in 0..<min(perOrganization, remaining) {
                let tracked = connection(organization: id, index: organizationIndex * perOrganization + index, now: now)
                state.connections[tracked.observation.identifier] = tracked
            }
            remaining -= perOrganization
            var histogram = Histogram()
            for sample in 0..<288 { histogram.observe(0.05 + Double(sample % 40) * 0.02) }
            daemon.pollDurations[id] = histogram
            daemon.polls[.init(organization: id, result: "success")] = 288
            if stale { daemon.polls[.init(organization: id, result: "timeout")] = 6 }
            organizations.append(.init(id: id, name: "Organization \(organizationIndex)", state: state))
        }
        return MonitorSnapshot(organizations: organizations, daemon: daemon)
    }

    static func connection(organization: OrganizationID, index: Int, now: Date) -> TrackedConnection {
        let vendor = vendors[index % vendors.count]
        let kind = index % 20
        var health: ConnectionObservation.Health?
        let details = (0..<(1 + index % 3)).map {
            HealthDetail(endpoint: "https://api.\(vendor.rawValue.lowercased()).example/v\($0)/alerts", dataExportType: .alerts)
        }
        switch kind {
        case 16: health = .init(status: .unhealthy, name: .unauthorized, resolutionOwner: .customer, details: Set(details))
        case 17: health = .init(status: .unhealthy, name: .vendorServerError, resolutionOwner: .vendor, details: Set(details))
        case 18: health = .init(status: .unhealthy, name: .executionTimeout, resolutionOwner: .leen, details: Set(details))
        case 19: health = nil
        default: health = .init(status: .healthy, name: .healthy, resolutionOwner: .leen)
        }
        let observation = ConnectionObservation(
            organizationID: organization, connectionID: ConnectionID(uuid(0x0c, index)),
            identifier: "\(vendor.rawValue.lowercased())-\(index)", vendor: vendor,
            state: kind == 19 ? .pending : (index % 50 == 7 ? .paused : .active), isActive: kind != 19,
            health: health, oauthPending: kind == 19,
            oauthAuthorizeURL: kind == 19 ? "https://login.example/authorize?state=secret-state-\(index)" : nil)
        return TrackedConnection(
            observation: observation, healthSince: now.addingTimeInterval(-Double(index % 5_000) - 0.25),
            changedAt: now.addingTimeInterval(-Double(index % 700)), missing: index % 97 == 96,
            transitions: index % 7)
    }

    /// A random-looking version 4 UUID, the same for the same (kind, index). Real ids are random, and their
    /// entropy is most of what gzip cannot remove from the text (sequential ids compressed twice as well),
    /// so the benchmark uses ids like them.
    static func uuid(_ kind: Int, _ index: Int) -> String {
        var state = UInt64(truncatingIfNeeded: kind) << 48 ^ UInt64(truncatingIfNeeded: index)
        func next() -> UInt64 {
            // SplitMix64.
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let high = next() & 0xFFFF_FFFF_FFFF_0FFF | 0x4000  // version 4
        let low = next() & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000  // variant 10
        func hex(_ value: UInt64, _ digits: Int) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: max(0, digits - text.count)) + text
        }
        return "\(hex(high >> 32, 8))-\(hex(high >> 16 & 0xFFFF, 4))-\(hex(high & 0xFFFF, 4))-"
            + "\(hex(low >> 48, 4))-\(hex(low & 0xFFFF_FFFF_FFFF, 12))"
    }
}
