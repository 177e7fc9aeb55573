import Foundation
import LeenAPI

/// Everything that shapes leen-sim's behaviour. Behaviours the API contract leaves unconfirmed are switches
/// here, each defaulting to the most likely reading (documented in `docs/simulator.md`).
public struct SimulatorConfiguration: Sendable {
    /// Keys accepted in `X-API-KEY`.
    public var apiKeys: [String] = ["leen-sim-key"]
    /// Seeds ids, fleet layout, health evolution and fault draws: the same seed gives the same history.
    public var seed: UInt64 = 1
    /// Organizations to create at start.
    public var organizations: Int = 0
    /// Connections to create at start, spread over the organizations and the documented vendors.
    public var connections: Int = 0
    /// Simulated seconds per real second (0 freezes the clock; `/_sim/clock/advance` still moves it).
    public var timeScale: Double = 1
    /// Simulated time at start; the real time when nil.
    public var startTime: Date?
    /// Largest accepted `limit`.
    public var pageLimitMax: Int = 1000
    /// What a `limit` above ``pageLimitMax`` gets.
    public var overLimit: OverLimitBehaviour = .reject
    /// Whether soft-deleted connections are still visible.
    public var deletedVisibility: DeletedVisibility = .visible
    /// Whether `enableCursor` is honoured on the provisioning lists.
    public var cursorSupport: Bool = true
    /// Whether cursor pages also carry `count` and `total`.
    public var cursorEnvelope: CursorEnvelope = .full
    /// What an omitted `state` in a PATCH does.
    public var patchOmittedState: PatchOmittedState = .unchanged
    /// Whether a second non-deleted connection with the same identifier in one organization is refused (409).
    public var rejectDuplicateIdentifiers: Bool = false
    /// Whether the documented credential fields (e.g. TENABLE's `client_key`, `secret_key`) are required.
    public var strictCredentials: Bool = true
    /// Whether authorising an OAuth connection clears `oauth2_authorize_url`.
    public var clearOAuthURLWhenAuthorized: Bool = true
    /// `refresh_interval_secs` given to new connections (a job runs this often, in simulated seconds).
    public var refreshIntervalSecs: Int = 14400
    /// `timeout_secs` given to new connections.
    public var timeoutSecs: Int = 1800
    /// Simulated seconds from creation (or authorisation) to the first job.
    public var firstJobDelaySecs: Int = 60
    /// Probability that a job of a healthy connection fails.
    public var failureRate: Double = 0.1
    /// Probability that a LEEN or VENDOR failure repeats on the next job (a CUSTOMER failure always
    /// repeats until the credentials are updated).
    public var failurePersistence: Double = 0.5
    /// Share of the pre-populated fleet's OAuth connections still waiting for authorisation.
    public var oauthPendingShare: Double = 0.5
    /// Authorise OAuth connections by themselves this many simulated seconds after creation (never if nil).
    public var oauthAutoAuthorizeAfterSecs: Double?
    /// Base URL the simulator is reachable at, used in `oauth2_authorize_url`; derived from the listener if nil.
    public var publicBaseURL: String?
    /// Faults active from the start.
    public var faults = FaultSettings()
    /// Credential values the simulated vendors refuse: a connection with one of them as any credential field
    /// tests invalid and its jobs end UNAUTHORIZED (CUSTOMER) until other credentials are sent.
    public var rejectedCredentialValues: Set<String> = []

    public init() {}

    public enum OverLimitBehaviour: String, Sendable, CaseIterable {
        /// 422, as FastAPI's `Query(le=…)` does.
        case reject
        /// Serve ``SimulatorConfiguration/pageLimitMax`` items.
        case clamp
    }

    public enum DeletedVisibility: String, Sendable, CaseIterable {
        /// Listed and fetchable with `state` DELETED, `is_active` false.
        case visible
        /// Fetchable by id, not listed.
        case getOnly = "get-only"
        /// 404 and not listed, as if gone.
        case hidden
    }

    public enum CursorEnvelope: String, Sendable, CaseIterable {
        /// `count`, `total`, `items`, `next_cursor`, `previous_cursor`.
        case full
        /// `items`, `next_cursor`, `previous_cursor` only (the v2 guide's example).
        case minimal
    }

    public enum PatchOmittedState: String, Sendable, CaseIterable {
        /// Leave the state as it is.
        case unchanged
        /// Apply the schema's default, ACTIVE.
        case active
    }
}
