import Foundation
import LeenAPI

/// Simulated time: real elapsed time multiplied by the time scale, plus any manual advance.
///
/// Health evolution reads only this clock, so a test can freeze it (`timeScale = 0`) and step it exactly.
struct SimulatedClock: Sendable {
    private var originSim: Double
    private var originReal: ContinuousClock.Instant
    private(set) var timeScale: Double

    init(start: Date, timeScale: Double) {
        originSim = start.timeIntervalSince1970
        originReal = .now
        self.timeScale = max(0, timeScale)
    }

    /// Seconds since 1970 in simulated time.
    var now: Double {
        originSim + (ContinuousClock.now - originReal).seconds * timeScale
    }

    /// Moves simulated time forward by `seconds`.
    mutating func advance(by seconds: Double) {
        originSim += max(0, seconds)
    }

    /// Changes the speed from now on without a jump.
    mutating func setTimeScale(_ scale: Double) {
        originSim = now
        originReal = .now
        timeScale = max(0, scale)
    }
}
