import LeenAPI
import Foundation

/// When and how long to wait before trying a request again.
///
/// Delays grow exponentially with *full jitter* (a uniformly random delay between zero and the capped
/// exponential step), so many clients that fail together do not retry together. A `Retry-After` from the
/// server overrides the computed delay.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first one included; 1 disables retries.
    public var maximumAttempts: Int
    /// The exponential step before the first retry.
    public var baseDelay: Duration
    /// Cap on one computed delay.
    public var maximumDelay: Duration
    /// A `Retry-After` longer than this is not waited out in-line: the request fails with the error, which
    /// carries the requested delay for the caller to schedule.
    public var maximumRetryAfter: Duration

    public init(
        maximumAttempts: Int = 4, baseDelay: Duration = .milliseconds(200), maximumDelay: Duration = .seconds(10),
        maximumRetryAfter: Duration = .seconds(60)
    ) {
        self.maximumAttempts = max(1, maximumAttempts)
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
        self.maximumRetryAfter = maximumRetryAfter
    }

    /// No retries at all.
    public static let none = RetryPolicy(maximumAttempts: 1)

    /// The delay before retry number `retry` (1 for the first retry), given a uniform random `unit` in [0, 1).
    public func backoff(retry: Int, unit: Double) -> Duration {
        let exponent = retry <= 1 ? 0 : min(retry - 1, 30)
        let step = min(baseDelay.seconds * pow(2, Double(exponent)), maximumDelay.seconds)
        return .seconds(step * min(max(unit, 0), 1))
    }

    /// What to do after a failed attempt: wait this long, or give up (nil).
    ///
    /// - Parameters:
    ///   - attempt: the attempt that just failed, starting at 1.
    ///   - retryAfter: the server's `Retry-After`, if it sent one.
    public func delay(afterAttempt attempt: Int, retryAfter: Duration?, unit: Double) -> Duration? {
        guard attempt < maximumAttempts else { return nil }
        if let retryAfter {
            return retryAfter <= maximumRetryAfter ? retryAfter : nil
        }
        return backoff(retry: attempt, unit: unit)
    }
}

/// Parses an HTTP `Retry-After` value: delay-seconds, or an HTTP-date (IMF-fixdate, RFC 850 or asctime).
public enum RetryAfter {
    /// The delay the value asks for, measured from `now`; zero for a date in the past; nil when unparseable.
    public static func parse(_ value: String, now: Date = Date()) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if !text.isEmpty, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber) {
            guard let seconds = Int64(text) else { return .seconds(Int64.max / 1_000_000_000_000) }
            return .seconds(seconds)
        }
        guard let date = httpDate(text) else { return nil }
        return .seconds(max(0, date.timeIntervalSince(now)).rounded(.up))
    }

    /// The three date formats RFC 9110 §5.6.7 obliges a recipient to accept.
    static func httpDate(_ text: String) -> Date? {
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
