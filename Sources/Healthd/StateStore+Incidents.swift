import Foundation
import HealthdCore

/// The incident detector's file, `incidents.json`: it spans organizations, so it is kept apart from their
/// files, and written atomically like them, so an open incident survives a restart.
extension StateStore {
    var incidentsFile: URL { directory.appendingPathComponent("incidents.json") }

    /// One version of the file.
    struct IncidentsFile: Codable, VersionedStateFile {
        var version = 1
        var detector: IncidentDetector
    }

    /// The saved detector; an empty one when there is no file yet.
    public func loadIncidents(unusable: Unusable = .fail, setAside: inout [SetAside]) throws -> IncidentDetector {
        guard FileManager.default.fileExists(atPath: incidentsFile.path) else { return IncidentDetector() }
        return try load(IncidentsFile.self, from: incidentsFile, versions: 1...1, unusable: unusable, setAside: &setAside)?
            .detector ?? IncidentDetector()
    }

    /// `incidents.json`, from its bytes.
    public static func readIncidents(_ data: Data, path: String) throws -> IncidentDetector {
        try read(IncidentsFile.self, from: data, path: path, versions: 1...1).detector
    }

    public func save(_ detector: IncidentDetector) throws {
        var file = StateFileJSON()
        file.write(IncidentsFile(detector: detector))
        try AtomicFile.write(Data(file.bytes), to: incidentsFile.path)
    }
}
