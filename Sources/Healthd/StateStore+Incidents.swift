import Foundation
import HealthdCore

/// The incident detector's file, `incidents.json`: it spans organizations, so it is kept apart from their
/// files, and written atomically like them, so an open incident survives a restart.
extension StateStore {
    var incidentsFile: URL { directory.appendingPathComponent("incidents.json") }

    /// One version of the file.
    struct IncidentsFile: Codable {
        var version = 1
        var detector: IncidentDetector
    }

    /// The saved detector; an empty one when there is no file yet.
    public func loadIncidents() throws -> IncidentDetector {
        guard FileManager.default.fileExists(atPath: incidentsFile.path) else { return IncidentDetector() }
        return try Self.readIncidents(try Self.contents(of: incidentsFile), path: incidentsFile.path)
    }

    /// `incidents.json`, from its bytes.
    public static func readIncidents(_ data: Data, path: String) throws -> IncidentDetector {
        try decode(IncidentsFile.self, from: data, path: path).detector
    }

    public func save(_ detector: IncidentDetector) throws {
        try write(IncidentsFile(detector: detector), to: incidentsFile)
    }
}
