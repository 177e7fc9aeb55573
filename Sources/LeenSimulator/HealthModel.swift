import Foundation
import LeenAPI

/// How a connection's health changes from one job to the next: a pure function of the seed, the
/// connection, the job number and the previous result, so the same seed replays the same history.
///
/// Rules, after Leen's Connection Health page:
/// - A job of a healthy connection fails with probability ``failureRate``; the failure's name is drawn by
///   weight, and its status and resolution owner follow Leen's table.
/// - A CUSTOMER failure (UNAUTHORIZED) persists until the credentials are updated.
/// - A LEEN or VENDOR failure repeats on the next job with probability ``persistence``, and otherwise clears
///   or turns into another failure.
/// - Failures at the vendor carry `details` (which endpoint, which export type); LEEN-side failures do not.
struct HealthModel: Sendable {
    var seed: UInt64
    var failureRate: Double
    var persistence: Double

    /// Relative weights of the failure names. Credential failures are rare next to transient ones, as in a
    /// real fleet: they last until someone acts, so a larger share would leave most of a fleet UNAUTHORIZED.
    static let failureWeights: [(HealthName, Double)] = [
        (.vendorServerError, 34), (.rateLimitExceeded, 24), (.unauthorized, 4), (.executionTimeout, 13),
        (.vendorClientError, 13), (.internalError, 12),
    ]

    /// Export types the simulator uses in `details`. Only `alerts` is documented; the others mirror Leen's
    /// data domains and are sent as plain strings.
    static let exportTypes: [DataExportType] = [
        .alerts, "vulnerabilities", "devices", "findings", "users", "groups", "applications", "issues",
    ]

    /// The result of job `job` of connection `key`.
    ///
    /// - Parameters:
    ///   - previous: the result of the job before, or nil for the first job (or after new credentials).
    ///   - customerLatched: true while a CUSTOMER failure waits for new credentials.
    func health(
        key: UInt64, job: Int, vendor: Vendor, previous: ConnectionHealthStatus?, customerLatched: Bool
    ) -> ConnectionHealthStatus {
        if customerLatched, let previous { return previous }
        let j = UInt64(bitPattern: Int64(job))
        if let previous, previous.status == .unhealthy,
            SeededRandom.unit(seed, key, j, 1) < persistence
        {
            return previous
        }
        guard SeededRandom.unit(seed, key, j, 2) < failureRate else {
            return ConnectionHealthStatus(documented: .healthy)!
        }
        let name = Self.pick(SeededRandom.unit(seed, key, j, 3))
        return ConnectionHealthStatus(
            documented: name, details: details(for: name, vendor: vendor, key: key, job: j))!
    }

    static func pick(_ unit: Double) -> HealthName {
        let total = failureWeights.reduce(0) { $0 + $1.1 }
        var threshold = unit * total
        for (name, weight) in failureWeights {
            if threshold < weight { return name }
            threshold -= weight
        }
        return failureWeights[failureWeights.count - 1].0
    }

    /// Failing endpoints for a vendor-side failure: one to three distinct export types on the vendor's API.
    /// UNAUTHORIZED is sometimes total (no details) and sometimes partial (some export types only).
    func details(for name: HealthName, vendor: Vendor, key: UInt64, job: UInt64) -> [HealthDetail]? {
        switch name {
        case .executionTimeout, .internalError:
            return nil
        case .unauthorized where SeededRandom.unit(seed, key, job, 4) < 0.5:
            return nil
        default:
            let count = 1 + Int(SeededRandom.unit(seed, key, job, 5) * 3)
            var chosen: [DataExportType] = []
            var salt: UInt64 = 6
            while chosen.count < count {
                let index = Int(SeededRandom.unit(seed, key, job, salt) * Double(Self.exportTypes.count))
                let type = Self.exportTypes[index]
                if !chosen.contains(type) { chosen.append(type) }
                salt += 1
            }
            return chosen.map { HealthDetail(endpoint: Self.endpoint(vendor: vendor, export: $0), dataExportType: $0) }
                .sorted()
        }
    }

    /// A vendor API URL under the reserved `.example` domain, so it can never be mistaken for a real one.
    static func endpoint(vendor: Vendor, export: DataExportType) -> String {
        let host = vendor.rawValue.lowercased().replacingOccurrences(of: "_", with: "-")
        return "https://api.\(host).example/v1/\(export.rawValue)"
    }
}
