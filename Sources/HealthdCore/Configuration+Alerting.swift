import LeenAPI

extension Configuration {
    /// When an observed problem earns the priority that pages (`alerting:` in the configuration; the
    /// defaults and why are in `docs/events.md`).
    ///
    /// Leen's API says nothing about when a connection's job ran (the job object is undocumented, and
    /// health changes only when a job ends), so a problem cannot be confirmed by counting jobs: it is
    /// confirmed by successive polls that still see it plus a minimum time, which should be set against the
    /// connections' `refresh_interval_secs` (4 hours in Leen's examples) to mean "it survived the next job".
    public struct Alerting: Sendable, Hashable {
        /// The rule for owner CUSTOMER (credentials): the customer must act, nothing clears by itself.
        public var customer: ConfirmationRule = .immediate
        /// The rule for owner LEEN, and for an owner this build does not know.
        public var leen = ConfirmationRule(polls: 2, minimum: .seconds(3600))
        /// The rule for owner VENDOR: VENDOR_SERVER_ERROR often clears on the next job, so it must outlive one.
        public var vendor = ConfirmationRule(polls: 3, minimum: .seconds(4 * 3600))
        /// Rules by health name; they take precedence over the owner's rule.
        public var healthNames: [HealthName: ConfirmationRule] = [.unauthorized: .immediate]
        /// When failing polls of an organization's API page: after this many in a row, or this long.
        public var api = APIRule(polls: 3, after: .seconds(600))
        /// Nil: flapping detection is off.
        public var flapping: Flapping? = Flapping()
        /// Nil: storms are not grouped into incidents.
        public var incidents: Incidents? = Incidents()
        /// How often a confirmed problem is written again while it lasts; nil: never.
        public var remindEvery: Duration? = .seconds(24 * 3600)
        /// How often `daemon_heartbeat` is written; nil: never.
        public var heartbeat: Duration? = .seconds(3600)

        public init() {}

        /// The rule that confirms `health` (an UNHEALTHY one): its name's, else its owner's.
        public func rule(for health: ConnectionObservation.Health) -> ConfirmationRule {
            rule(name: health.name, owner: health.resolutionOwner)
        }

        /// The rule that confirms an UNHEALTHY health with this name and resolution owner.
        public func rule(name: HealthName, owner: ResolutionOwner) -> ConfirmationRule {
            if let rule = healthNames[name] { return rule }
            switch owner {
            case .customer: return customer
            case .vendor: return vendor
            default: return leen
            }
        }
    }

    /// A problem is confirmed once `polls` successive successful polls (the first included) saw the
    /// connection UNHEALTHY *and* it has been UNHEALTHY for at least `minimum`.
    public struct ConfirmationRule: Sendable, Hashable {
        public var polls: Int
        public var minimum: Duration

        public init(polls: Int, minimum: Duration = .zero) {
            self.polls = polls
            self.minimum = minimum
        }

        /// At the first poll that sees the problem.
        public static let immediate = ConfirmationRule(polls: 1)

        public func isMet(polls seen: Int, elapsed: Duration) -> Bool { seen >= polls && elapsed >= minimum }
    }

    /// Failing polls of an organization are confirmed after `polls` of them in a row *or* after `after`,
    /// whichever comes first. A rejected key (401/403) is confirmed at once: it never fixes itself.
    public struct APIRule: Sendable, Hashable {
        public var polls: Int
        public var after: Duration

        public init(polls: Int, after: Duration) {
            self.polls = polls
            self.after = after
        }

        public func isMet(failures: Int, elapsed: Duration) -> Bool { failures >= polls || elapsed >= after }
    }

    /// A connection whose health status changes more than `changes` times within `window` is flapping
    /// until its status has not changed for `stableFor`.
    public struct Flapping: Sendable, Hashable {
        public var changes: Int
        public var window: Duration
        public var stableFor: Duration

        public init(changes: Int = 4, window: Duration = .seconds(24 * 3600), stableFor: Duration = .seconds(8 * 3600)) {
            self.changes = changes
            self.window = window
            self.stableFor = stableFor
        }
    }

    /// Connections turning UNHEALTHY the same way (same health name, or same owner) within one poll
    /// interval are one incident when there are at least `minimumConnections` of them, or when they are at
    /// least `minimumShare` of an organization with `minimumOrganizationSize` connections or more, or of
    /// the fleet.
    public struct Incidents: Sendable, Hashable {
        public var minimumConnections: Int
        public var minimumShare: Double
        public var minimumOrganizationSize: Int

        public init(minimumConnections: Int = 10, minimumShare: Double = 0.5, minimumOrganizationSize: Int = 4) {
            self.minimumConnections = minimumConnections
            self.minimumShare = minimumShare
            self.minimumOrganizationSize = minimumOrganizationSize
        }
    }
}
