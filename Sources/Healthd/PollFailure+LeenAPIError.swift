import HealthdCore
import LeenAPI
import LeenAPIClient

extension PollFailure {
    /// The client's error in the core's words. The kinds share their names, so `LEEN_API_ERROR` and the poll
    /// metrics' `result` label read the same either way.
    init(_ error: LeenAPIError) {
        self.init(
            kind: Kind(rawValue: error.kind.rawValue) ?? .transport, status: error.status, detail: error.detail,
            summary: error.description, retryAfter: error.retryAfter)
    }

    /// Any error from a call to Leen: the client's, or anything else as a transport failure.
    init(calling operation: String, _ error: any Error) {
        if let error = error as? LeenAPIError {
            self.init(error)
        } else if let error = error as? ListingError {
            self.init(kind: .incompleteListing, summary: "\(operation): \(error)")
        } else {
            self.init(kind: .transport, summary: "\(operation): \(error)")
        }
    }
}
