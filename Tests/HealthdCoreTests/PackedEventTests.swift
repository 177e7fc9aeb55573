import HealthdCore
import Testing

@Suite("Packed events: what waits to be written comes back as it went in")
struct PackedEventTests {
    @Test(arguments: EventPriority.allCases)
    func everyPriorityAndFieldComesBack(priority: EventPriority) {
        let event = HealthEvent(
            kind: .connectionReasonChanged, priority: priority,
            message: "UNHEALTHY: Ünauthorized (owner USER) — 2 failing endpoint(s) 🔑",
            fields: [
                EventField("LEEN_EVENT", "connection_reason_changed"),
                EventField("LEEN_EVENT_ID", "0a1b2c3d-0000-8000-8000-000000000001"),
                EventField("LEEN_EMPTY", ""),
                EventField("LEEN_DETAILS", "[{\"endpoint\":\"a=b\"}]\nsecond line\u{0}after a NUL"),
                EventField("LEEN_EMPTY", ""),
            ])
        #expect(PackedEvent(event).event == event)
        #expect(PackedEvent(event).kind == .connectionReasonChanged)
    }

    @Test func emptyMessageNoFieldsAndLongValues() {
        let bare = HealthEvent(kind: .connectionMonitored, priority: .info, message: "", fields: [])
        #expect(PackedEvent(bare).event == bare)
        // Lengths beyond 16 bits: all four bytes of a length are read.
        let long = String(repeating: "x", count: 70_000) + "é"
        let large = HealthEvent(
            kind: .connectionUnhealthy, priority: .warning, message: long,
            fields: (0..<300).map { EventField("LEEN_F\($0)", $0 == 7 ? long : String($0)) })
        #expect(PackedEvent(large).event == large)
    }
}
