import LeenAPI

/// leen-healthd's configuration, as parsed and validated from the YAML file (see `docs/configuration.md`).
///
/// Secret values are never in here: only where to read them (``SecretSource``).
public struct Configuration: Sendable, Hashable {
    public var api: API
    public var poll: Poll
    /// Where the state file lives (`StateDirectory=` under systemd).
    public var stateDirectory: String
    public var metrics: Metrics
    public var events: Events
    /// When problems page, flapping, incidents, reminders and the heartbeat (``Alerting``).
    public var alerting: Alerting
    /// The organizations this instance provisions and watches: with a ``shard``, only that shard's.
    public var organizations: [OrganizationConfig]
    /// The shard in force (`shard: K/N`, or `--shard K/N`); nil when the instance owns every organization.
    public var shard: Shard?
    /// How many organizations the file declares, every shard's (``organizations`` holds this shard's).
    public var declaredOrganizationCount: Int

    public init(
        api: API, poll: Poll = Poll(), stateDirectory: String = "/var/lib/leen-healthd", metrics: Metrics = Metrics(),
        events: Events = Events(), alerting: Alerting = Alerting(), organizations: [OrganizationConfig]
    ) {
        self.api = api
        self.poll = poll
        self.stateDirectory = stateDirectory
        self.metrics = metrics
        self.events = events
        self.alerting = alerting
        self.organizations = organizations
        declaredOrganizationCount = organizations.count
    }

    /// This configuration for `shard` only: the organizations it owns (all of them for nil).
    public func restricted(to shard: Shard?) -> Configuration {
        var restricted = self
        restricted.shard = shard
        if let shard { restricted.organizations = organizations.filter { shard.owns($0.id) } }
        return restricted
    }

    /// `shard 2/4: 12 of 50 organizations`, or nil when unsharded (for logs and command output).
    public var shardSummary: String? {
        shard.map { "shard \($0): \(organizations.count) of \(declaredOrganizationCount) organizations" }
    }

    public struct API: Sendable, Hashable {
        /// `us`, `eu`, `apac`, or a base URL including `/v1`.
        public var endpoint: LeenEndpoint
        public var key: SecretSource
        /// Limit for one HTTP exchange.
        public var requestTimeout: Duration
        /// Attempts per request, the first included.
        public var maximumAttempts: Int

        public init(
            endpoint: LeenEndpoint, key: SecretSource, requestTimeout: Duration = .seconds(30),
            maximumAttempts: Int = 4
        ) {
            self.endpoint = endpoint
            self.key = key
            self.requestTimeout = requestTimeout
            self.maximumAttempts = maximumAttempts
        }
    }

    public struct Poll: Sendable, Hashable {
        /// Time between two polls of an organization.
        public var interval: Duration
        /// Each wait is the interval plus or minus up to this fraction of it (0…0.5).
        public var jitter: Double
        /// Organizations polled at the same time, at most.
        public var concurrency: Int
        /// `limit` of each list request.
        public var pageSize: Int
        public var pagination: PaginationMode
        /// Longest wait after repeated failures.
        public var maximumBackoff: Duration

        public init(
            interval: Duration = .seconds(60), jitter: Double = 0.1, concurrency: Int = 4, pageSize: Int = 100,
            pagination: PaginationMode = .offset, maximumBackoff: Duration = .seconds(600)
        ) {
            self.interval = interval
            self.jitter = jitter
            self.concurrency = concurrency
            self.pageSize = pageSize
            self.pagination = pagination
            self.maximumBackoff = maximumBackoff
        }

        /// ``jitter`` as the schedule applies it: within 0…0.5.
        public var boundedJitter: Double { min(max(jitter, 0), 0.5) }
    }

    /// How long after an organization's last successful poll a restart still counts its restored view as
    /// polled (ready at once, without listing it first): as long as a running daemon keeps a view on
    /// schedule, the longest wait before the next poll (the interval stretched by jitter) and the longest
    /// request. Older, and the restart lists the organization before it reports ready.
    public var restoredViewLifetime: Duration {
        .milliseconds(Int64((poll.interval.seconds * (1 + poll.boundedJitter) + api.requestTimeout.seconds) * 1000))
    }

    public struct Metrics: Sendable, Hashable {
        /// `host:port` for the Prometheus endpoint; nil disables it.
        public var listen: String?
        /// The web configuration file (TLS, basic auth; `docs/metrics.md`); nil serves plain HTTP to anyone.
        /// Read at start and re-read when it changes; a reload of this file (SIGHUP) does not switch to another.
        public var webConfigFile: String?

        public init(listen: String? = "127.0.0.1:9464", webConfigFile: String? = nil) {
            self.listen = listen
            self.webConfigFile = webConfigFile
        }
    }

    public struct Events: Sendable, Hashable {
        /// How events are written when no journal is available.
        public var stderrFormat: StderrFormat
        /// At most this many journal entries in any window of ``journalInterval``: kept below the unit's
        /// `LogRateLimitBurst=` (50,000 per 10 s in the shipped unit) so journald never drops one.
        public var journalBurst: Int
        public var journalInterval: Duration
        /// Committed events waiting for the journal beyond which polls wait (memory bound; none is dropped).
        public var maximumPending: Int

        public init(
            stderrFormat: StderrFormat = .logfmt, journalBurst: Int = 40_000, journalInterval: Duration = .seconds(10),
            maximumPending: Int = 50_000
        ) {
            self.stderrFormat = stderrFormat
            self.journalBurst = journalBurst
            self.journalInterval = journalInterval
            self.maximumPending = maximumPending
        }

        /// The pacer these settings make.
        public var pacer: JournalPacer { JournalPacer(burst: journalBurst, interval: journalInterval.seconds) }
    }

    public enum StderrFormat: String, Sendable, Hashable, CaseIterable {
        case logfmt
        case json
    }
}

/// Where a secret comes from. Never the secret itself.
public enum SecretSource: Sendable, Hashable, CustomStringConvertible {
    /// A systemd credential: `$CREDENTIALS_DIRECTORY/<name>` (`LoadCredential=`, `LoadCredentialEncrypted=`).
    case credential(String)
    /// A file path.
    case file(String)

    public var description: String {
        switch self {
        case .credential(let name): "credential \(name)"
        case .file(let path): "file \(path)"
        }
    }
}

/// One organization to provision and monitor.
public struct OrganizationConfig: Sendable, Hashable {
    public var id: OrganizationID
    /// A label for messages; the id when nil.
    public var name: String?
    public var connections: [ConnectionConfig]

    public init(id: OrganizationID, name: String? = nil, connections: [ConnectionConfig]) {
        self.id = id
        self.name = name
        self.connections = connections
    }

    /// The name when there is one, else the id (events carry the id in `LEEN_ORGANIZATION_ID` anyway).
    public var label: String { name ?? id.rawValue }
}

/// One connection to provision: vendor, identifier, credentials (secret values by reference) and options.
public struct ConnectionConfig: Sendable, Hashable {
    public var identifier: String
    public var vendor: Vendor
    /// Nil for OAuth vendors.
    public var credentials: CredentialTemplate?
    /// Sent as `options` on create (e.g. `oauth2_redirect_urls`).
    public var options: JSONValue? {
        get { storedOptions?.value }
        set { storedOptions = newValue.map(Options.init) }
    }
    /// Behind a reference, since few connections set options: inline, a `JSONValue?` (17 bytes) made the
    /// struct 64 bytes, and an organization's list of 100 took jemalloc's 7,168-byte class; at 48 bytes it
    /// takes the 5,120-byte class (2 MB less at 100k connections).
    private var storedOptions: Options?

    private final class Options: Sendable, Hashable {
        let value: JSONValue
        init(_ value: JSONValue) { self.value = value }
        static func == (a: Options, b: Options) -> Bool { a === b || a.value == b.value }
        func hash(into hasher: inout Hasher) { hasher.combine(value) }
    }

    public init(identifier: String, vendor: Vendor, credentials: CredentialTemplate? = nil, options: JSONValue? = nil) {
        self.identifier = identifier
        self.vendor = vendor
        self.credentials = credentials
        storedOptions = options.map(Options.init)
    }
}

/// The shape of a `credentials` object with secret leaves read from files or systemd credentials.
public indirect enum CredentialTemplate: Sendable, Hashable {
    case object([String: CredentialTemplate])
    /// A non-secret value written in the config (e.g. `base_url`, `aws.type`).
    case literal(JSONValue)
    case secret(SecretSource)

    /// Every secret source in the template, with its dotted path.
    public var secrets: [(path: String, source: SecretSource)] {
        switch self {
        case .secret(let source): return [("", source)]
        case .literal: return []
        case .object(let members):
            return members.sorted { $0.key < $1.key }.flatMap { key, value in
                value.secrets.map { (path: $0.path.isEmpty ? key : "\(key).\($0.path)", source: $0.source) }
            }
        }
    }

    /// Calls `body` with each secret source, in no set order: ``secrets`` without the paths and the sorting,
    /// for readers of every connection's sources at once (``CredentialWatch``).
    public func forEachSource(_ body: (SecretSource) -> Void) {
        switch self {
        case .secret(let source): body(source)
        case .literal: break
        case .object(let members): for member in members.values { member.forEachSource(body) }
        }
    }

    /// Builds the credentials object, asking `read` for each secret value.
    public func resolve(_ read: (SecretSource) throws -> String) rethrows -> JSONValue {
        switch self {
        case .literal(let value): return value
        case .secret(let source): return .string(try read(source))
        case .object(let members): return .object(try members.mapValues { try $0.resolve(read) })
        }
    }
}
