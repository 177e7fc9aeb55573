import LeenAPI

/// A refusal the API layer turns into an HTTP response in FastAPI's shapes.
enum SimulatorError: Error, Sendable {
    /// `{"detail": "<message>"}` with this status.
    case detail(status: Int, message: String)
    /// 422 `{"detail": [{"type", "loc", "msg"}]}`.
    case validation([ValidationIssue])

    static func organizationNotFound() -> SimulatorError {
        .detail(status: 404, message: "Organization cannot be found")
    }

    static func connectionNotFound() -> SimulatorError {
        .detail(status: 404, message: "Connection cannot be found")
    }

    static func invalid(_ loc: [ValidationIssue.LocationComponent], _ msg: String, type: String) -> SimulatorError {
        .validation([ValidationIssue(loc: loc, msg: msg, type: type)])
    }
}
