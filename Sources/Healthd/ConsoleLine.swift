import Foundation
import HealthdCore

/// One event as a terminal line: `demo` and `provision` print events this way.
public enum ConsoleLine {
    /// One readable line for an event.
    public static func of(_ event: HealthEvent) -> String {
        let time = Date().formatted(Date.ISO8601FormatStyle().time(includingFractionalSeconds: false))
        let priority = event.priority.name.padding(toLength: 7, withPad: " ", startingAt: 0)
        let kind = event.kind.rawValue.padding(toLength: kindWidth, withPad: " ", startingAt: 0)
        return "\(time)  \(priority)  \(kind)  \(event.message)"
    }

    /// The longest event type's length: `padding(toLength:)` would cut a longer one.
    static let kindWidth = EventKind.allCases.map(\.rawValue.count).max() ?? 0
}
