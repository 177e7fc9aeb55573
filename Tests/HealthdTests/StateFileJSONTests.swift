import Foundation
import HealthdCore
import LeenAPI
import Testing

@testable import Healthd

/// ``StateFileJSON`` writes connections by hand: it must write the JSON `JSONEncoder` writes (`.iso8601`
/// dates) for any connection, and its reading must give the connection back.
@Suite("State file JSON")
struct StateFileJSONTests {
    static let date = Date(timeIntervalSince1970: 1_764_574_472)

    /// Every field set, with strings that need escaping and dates with fractions of a second.
    static func full() -> TrackedConnection {
        var alert = ConnectionAlertState()
        alert.unhealthySince = date.addingTimeInterval(0.999)
        alert.unhealthyPolls = 3
        alert.confirmedAt = date.addingTimeInterval(20.4)
        alert.remindedAt = date.addingTimeInterval(3600.5)
        alert.statusChanges = [date, date.addingTimeInterval(-86_400.25)]
        alert.flappingSince = date.addingTimeInterval(7)
        var tracked = TrackedConnection(
            observation: ConnectionObservation(
                organizationID: "3c90c3cc-0d44-4b50-8888-8dd25736052a",
                connectionID: "5b9e85d1-3f72-4d2d-a10d-d28948f0d4a4",
                identifier: "crowd\"strike\\ é \u{1}\u{1F}\n\t\r/",
                vendor: "CROWDSTRIKE_SPOTLIGHT", state: .pending, isActive: false,
                health: ConnectionObservation.Health(
                    status: .unhealthy, name: "UNAUTHORIZED", resolutionOwner: .customer,
                    description: "Key \"rejected\"\u{7F} ✓",
                    details: [
                        HealthDetail(endpoint: "https://api.example/v1/a?b=c", dataExportType: "assets"),
                        HealthDetail(endpoint: "https://api.example/v1/\u{0}", dataExportType: "vulnerabilities"),
                    ]),
                oauthPending: true, oauthAuthorizeURL: "https://auth.example/authorize?x=1&y=\"2\""),
            healthSince: date.addingTimeInterval(-0.5), changedAt: date.addingTimeInterval(12.75), missing: true,
            transitions: Int.max, alert: alert)
        tracked.unlistedPolls = 1
        return tracked
    }

    /// Every optional stored property of `value`, recursively, is set: a field added to the types without a
    /// value in ``full()`` fails here, so the comparison below covers it.
    static func unsetOptionals(_ value: Any, path: String = "") -> [String] {
        Mirror(reflecting: value).children.flatMap { child -> [String] in
            let name = path + "." + (child.label ?? "?")
            let mirror = Mirror(reflecting: child.value)
            if mirror.displayStyle == .optional {
                guard let some = mirror.children.first else { return [name] }
                return unsetOptionals(some.value, path: name)
            }
            if mirror.displayStyle == .struct { return unsetOptionals(child.value, path: name) }
            return []
        }
    }

    static func json(_ bytes: some Sequence<UInt8>) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary)
    }

    static func check(_ tracked: TrackedConnection) throws {
        var written = StateFileJSON()
        written.write(tracked)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        #expect(try json(written.bytes) == json(encoder.encode(tracked)))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let read = try decoder.decode(TrackedConnection.self, from: Data(written.bytes))
        #expect(read == (try decoder.decode(TrackedConnection.self, from: encoder.encode(tracked))))
    }

    @Test("a connection with every field set is written as JSONEncoder writes it, and reads back")
    func everyField() throws {
        #expect(Self.unsetOptionals(Self.full()).isEmpty, "set these in full(): \(Self.unsetOptionals(Self.full()))")
        try Self.check(Self.full())
    }

    @Test("optional fields left out, empty collections and dates at the edges are written as JSONEncoder writes them")
    func sparse() throws {
        var tracked = Self.full()
        tracked.observation.health?.description = nil
        tracked.observation.health?.details = []
        tracked.observation.oauthAuthorizeURL = nil
        tracked.alert = ConnectionAlertState()
        try Self.check(tracked)
        tracked.observation.health = nil
        tracked.observation.state = nil
        tracked.observation.isActive = nil
        tracked.transitions = 0
        tracked.missing = false
        for date in [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -0.25), Date(timeIntervalSince1970: 4_102_444_799.9),
            Date(timeIntervalSince1970: 951_782_400),  // 2000-02-29
        ] {
            tracked.healthSince = date
            tracked.changedAt = date
            try Self.check(tracked)
        }
    }

    @Test("a delivery (stream and unsent events) is written as JSONEncoder writes it, and reads back")
    func delivery() throws {
        let event = HealthEvent(
            kind: .connectionUnhealthy, priority: .warning, message: "crowd\"strike\\ é \u{1} is UNHEALTHY\n",
            fields: [
                EventField("LEEN_EVENT", "connection_unhealthy"), EventField("LEEN_IDENTIFIER", "crowd\"strike"),
                EventField("LEEN_DETAILS", #"[{"endpoint":"https://api.example/v1/a?b=c"}]"#),
                EventField("LEEN_EMPTY", ""),
            ])
        let empty = HealthEvent(kind: .daemonStarted, priority: .info, message: "", fields: [])
        for delivery in [
            StateStore.Delivery(),
            StateStore.Delivery(
                stream: EventStream(id: "3c90c3cc-0d44", sequences: ["": 1, "b\"\u{7F}": 2, "a": .max]),
                outbox: [
                    Outbox.Pending(event: event, since: Self.date.addingTimeInterval(0.75)),
                    Outbox.Pending(event: empty, since: Date(timeIntervalSince1970: 0)),
                ]),
        ] {
            var written = StateFileJSON()
            written.write(delivery)
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            #expect(try Self.json(written.bytes) == Self.json(encoder.encode(delivery)))
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let read = try decoder.decode(StateStore.Delivery.self, from: Data(written.bytes))
            #expect(read == (try decoder.decode(StateStore.Delivery.self, from: encoder.encode(delivery))))
            #expect(read.outbox.map(\.event) == delivery.outbox.map(\.event))
        }
    }
    @Test("the incidents file (open incidents, recent onsets, sizes) is written as JSONEncoder writes it, and reads back")
    func incidents() throws {
        func member(_ organization: String, _ identifier: String, _ name: String, _ seconds: Double) -> String {
            #"{"healthName":"\#(name)","identifier":"\#(identifier)","organizationID":"\#(organization)","resolutionOwner":"LEEN","since":"\#(Date(timeIntervalSince1970: seconds).formatted(.iso8601))"}"#
        }
        let members = [
            member("3c90c3cc-0d44-4b50-8888-8dd25736052a", #"crowd\"strike\\ é \u0001"#, "UNAUTHORIZED", 1_764_574_472),
            member("3c90c3cc-0d44-4b50-8888-8dd25736052a", "tenable-1", "UNAUTHORIZED", 1_764_574_500),
            member("7d1e5b2a-4c3f-4e8a-9b6d-2f0a1c3e5d7b", "qualys-1", "UNAUTHORIZED", 951_782_400),
        ]
        let full = #"""
            {"detector":{"open":[
              {"id":"inc-1","key":{"dimension":"health_name","value":"UNAUTH\"ORIZED"},"members":[\#(members.joined(separator: ","))],"peak":7,"startedAt":"2026-12-01T07:34:32Z"},
              {"id":"inc-2","key":{"dimension":"resolution_owner","value":"LEEN"},"members":[],"peak":0,"startedAt":"1970-01-01T00:00:00Z"}],
             "recent":[\#(members[2]),\#(members[0])],
             "sizes":["3c90c3cc-0d44-4b50-8888-8dd25736052a",100,"7d1e5b2a-4c3f-4e8a-9b6d-2f0a1c3e5d7b",3,"a\"b",0]},
             "version":1}
            """#
        let detectors = [
            IncidentDetector(),
            try StateStore.readIncidents(Data(full.utf8), path: "incidents.json"),
        ]
        #expect(detectors[1].open.map(\.members.count) == [3, 0] && detectors[1].recent.count == 2)
        #expect(detectors[1].sizes.count == 3)
        for detector in detectors {
            var written = StateFileJSON()
            written.write(StateStore.IncidentsFile(detector: detector))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            #expect(try Self.json(written.bytes) == Self.json(encoder.encode(StateStore.IncidentsFile(detector: detector))))
            #expect(try StateStore.readIncidents(Data(written.bytes), path: "incidents.json") == detector)
        }
    }
}
