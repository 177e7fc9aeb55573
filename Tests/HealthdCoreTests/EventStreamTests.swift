import Foundation
import HealthdCore
import Testing

@Suite("Event ids: deterministic per stream, subject and sequence")
struct EventStreamTests {
    typealias F = Fixture

    func event(_ identifier: String?) -> HealthEvent {
        var fields = [EventField("LEEN_EVENT", "connection_unhealthy"), EventField("LEEN_OBSERVED_AT", "t")]
        if let identifier { fields.append(EventField("LEEN_IDENTIFIER", identifier)) }
        return HealthEvent(kind: .connectionUnhealthy, priority: .warning, message: "m", fields: fields)
    }

    @Test func stampsIdAndSequenceAfterTheEventName() {
        var stream = EventStream(id: "stream-1")
        var events = [event("a"), event("b"), event("a"), event(nil)]
        stream.stamp(&events)
        #expect(events.map { $0[field: "LEEN_EVENT_SEQUENCE"] } == ["1", "1", "2", "1"])
        #expect(events[0].fields.map(\.name).prefix(4) == ["LEEN_EVENT", "LEEN_EVENT_ID", "LEEN_EVENT_SEQUENCE", "LEEN_OBSERVED_AT"])
        #expect(stream.sequences == ["a": 2, "b": 1, "": 1])
        let ids = events.compactMap { $0[field: "LEEN_EVENT_ID"] }
        #expect(Set(ids).count == 4)
        #expect(ids.allSatisfy { UUID(uuidString: $0) != nil && $0 == $0.lowercased() })
        #expect(ids[0] == EventStream.eventID(stream: "stream-1", subject: "a", sequence: 1))
    }

    /// Ids already in journals: whatever the implementation, a triple keeps its id (values made by the
    /// first implementation, which hashed an interpolated string and formatted with `String(_:radix:)`).
    @Test(arguments: [
        ("stream-1", "a", 1, "8f04108e-09a5-8f82-b318-b0ddd1901453"),
        ("s", "a", 1, "5ae95328-2dc2-8da7-b6dd-678f010b620f"),
        ("0f8c2a9e-3b1d-4c5e-9a7f-1e2d3c4b5a69", "ms-defender-cloud-62307", 42, "0c6e51e1-452b-890d-a4d8-9a22ea1d6e47"),
        ("", "", 0, "77628111-4d4f-8021-9c49-22eca651874a"),
        ("x", "zürich-ñ-日本", UInt64.max, "647672cb-a661-8f8b-88cb-d6bf36f14a5d"),
        ("d", "", 18_446_744_073_709_551, "b32cc3e4-055b-8903-a4c0-fbeed30cbfad"),
    ] as [(String, String, UInt64, String)])
    func idsNeverChange(stream: String, subject: String, sequence: UInt64, id: String) {
        #expect(EventStream.eventID(stream: stream, subject: subject, sequence: sequence) == id)
    }

    @Test func theSameTransitionFromTheSameStateGetsTheSameId() {
        // A crash before the commit: the restarted daemon makes the poll's events again from the old state.
        let saved = EventStream(id: "stream-1", sequences: ["a": 7])
        var first = saved
        var second = saved
        var once = [event("a")]
        var again = [event("a")]
        first.stamp(&once)
        second.stamp(&again)
        #expect(once == again)
        #expect(once[0][field: "LEEN_EVENT_SEQUENCE"] == "8")
    }

    @Test func restampingReplacesTheOldId() {
        var stream = EventStream(id: "s")
        var events = [event("a")]
        stream.stamp(&events)
        stream.stamp(&events)
        #expect(events[0].fields.filter { $0.name == "LEEN_EVENT_ID" }.count == 1)
        #expect(events[0][field: "LEEN_EVENT_SEQUENCE"] == "2")
    }

    @Test func idsDifferAcrossStreamsSubjectsAndSequences() {
        var ids = Set<String>()
        for stream in ["s1", "s2"] {
            for subject in ["", "a", "b", "a\u{0}1"] {
                for sequence in UInt64(1)...200 {
                    ids.insert(EventStream.eventID(stream: stream, subject: subject, sequence: sequence))
                }
            }
        }
        #expect(ids.count == 2 * 4 * 200)
        // Version 8, RFC 9562 variant.
        let id = EventStream.eventID(stream: "s", subject: "a", sequence: 1)
        #expect(Array(id)[14] == "8")
        #expect("89ab".contains(Array(id)[19]))
    }

    @Test func aNewStreamNeverRepeatsAnOldStreamsIds() {
        var old = EventStream()
        var new = EventStream()
        var a = [event("a"), event("a")]
        var b = [event("a"), event("a")]
        old.stamp(&a)
        new.stamp(&b)
        #expect(Set(a.compactMap { $0[field: "LEEN_EVENT_ID"] }).isDisjoint(with: b.compactMap { $0[field: "LEEN_EVENT_ID"] }))
    }

    @Test func streamsRoundTripThroughJSON() throws {
        let stream = EventStream(id: "x", sequences: ["a": 3, "": 9])
        let decoded = try JSONDecoder().decode(EventStream.self, from: JSONEncoder().encode(stream))
        #expect(decoded == stream)
    }

    @Test("Sequences by subject: kept in subject order, found, changed, removed, and coded as a JSON object")
    func subjectSequences() throws {
        var sequences = SubjectSequences()
        for (subject, value) in [("m", 1), ("b", 2), ("z", 3), ("", 4), ("a", 5)] as [(String, UInt64)] {
            sequences[subject] = value
        }
        #expect(sequences.map(\.key) == ["", "a", "b", "m", "z"])
        #expect(sequences.map(\.value) == [4, 5, 2, 1, 3])
        #expect(sequences == ["z": 3, "a": 5, "m": 1, "": 4, "b": 2])
        #expect(sequences["b"] == 2 && sequences["c"] == nil && sequences["c", default: 9] == 9)
        sequences["b", default: 0] += 1
        sequences["c", default: 0] += 1
        #expect(sequences["b"] == 3 && sequences["c"] == 1)
        sequences["m"] = nil
        sequences["absent"] = nil
        #expect(sequences.map(\.key) == ["", "a", "b", "c", "z"] && sequences.count == 5)
        let data = try JSONEncoder().encode(sequences)
        #expect(try JSONDecoder().decode([String: UInt64].self, from: data) == ["": 4, "a": 5, "b": 3, "c": 1, "z": 3])
        #expect(try JSONDecoder().decode(SubjectSequences.self, from: data) == sequences)
        #expect(SubjectSequences(["b": 1, "a": 2]) == ["a": 2, "b": 1])
    }
}
