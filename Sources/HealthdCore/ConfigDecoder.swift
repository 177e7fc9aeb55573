import LeenAPI
import Yams

/// The keys each mapping of the configuration accepts.
enum ConfigKeys {
    static let root = [
        "api", "poll", "state_directory", "metrics", "events", "alerting", "shard", "organizations",
    ]
    static let api = ["region", "base_url", "allow_insecure_http", "key", "timeout", "attempts"]
    static let poll = ["interval", "jitter", "concurrency", "page_size", "pagination", "max_backoff"]
    static let metrics = ["listen", "web_config_file"]
    static let events = ["stderr_format", "journal_burst", "journal_interval", "max_pending"]
    static let organization = ["id", "name", "connections"]
    static let connection = ["identifier", "vendor", "credentials", "options"]
    static let secretSource = ["credential", "file"]
    static let redirectURLs = ["success", "error"]
}

/// Turns the YAML tree into a ``Configuration``, reporting every problem to the context.
///
/// Each part is decoded even when another failed, so one run finds every problem; the result is nil, or only
/// meaningful, when the context has no issues.
struct ConfigurationDecoder {
    let context: ConfigContext

    static let maximumAttempts = 10
    static let maximumPageSize = 1000

    func configuration(_ node: ConfigNode) -> Configuration? {
        guard let root = context.mapping(node, keyPath: "", known: ConfigKeys.root) else { return nil }
        let api = context.require("api", in: root).flatMap(self.api)
        let poll = context.optionalMapping("poll", in: root, known: ConfigKeys.poll).map(poll) ?? .init()
        let stateDirectory = root.value("state_directory").flatMap {
            context.value(
                $0, keyPath: root.path("state_directory"), expected: "an absolute path", ConfigValues.absolutePath)
        }
        let metrics = context.optionalMapping("metrics", in: root, known: ConfigKeys.metrics).map(metrics) ?? .init()
        let events = context.optionalMapping("events", in: root, known: ConfigKeys.events).map(events) ?? .init()
        let alerting =
            context.optionalMapping("alerting", in: root, known: ConfigKeys.alerting).map(alerting) ?? .init()
        let shard = root.value("shard").flatMap { node in
            ConfigContext.isNull(node)
                ? nil
                : context.value(
                    node, keyPath: root.path("shard"), expected: Shard.expectation, ConfigValues.shard)
        }
        let organizations = context.require("organizations", in: root).flatMap {
            self.organizations($0, keyPath: "organizations")
        }
        guard let api, let organizations else { return nil }
        var configuration = Configuration(
            api: api, poll: poll, metrics: metrics, events: events, alerting: alerting, organizations: organizations)
        if let stateDirectory { configuration.stateDirectory = stateDirectory }
        configuration.shard = shard
        return configuration
    }

    // MARK: Sections

    private func api(_ node: ConfigNode) -> Configuration.API? {
        guard let mapping = context.mapping(node, keyPath: "api", known: ConfigKeys.api) else { return nil }
        var endpoint: LeenEndpoint?
        switch context.oneOf("region", "base_url", in: mapping) {
        case let region? where region.key == "region":
            endpoint = context.choice(region.value, keyPath: "api.region", [("us", .us), ("eu", .eu), ("apac", .apac)])
        case let base?:
            endpoint = context.value(
                base.value, keyPath: "api.base_url", expected: ConfigValues.baseURLExpectation, ConfigValues.baseURL
            ).map(LeenEndpoint.custom)
        case nil:
            break
        }
        let key = context.require("key", in: mapping).flatMap { secretSource($0, keyPath: "api.key") }
        let timeout = mapping.value("timeout").flatMap { duration($0, keyPath: "api.timeout") }
        let attempts = mapping.value("attempts").flatMap {
            context.integer($0, keyPath: "api.attempts", in: 1...Self.maximumAttempts)
        }
        var allowInsecure = false
        if let node = mapping.value("allow_insecure_http") {
            if node.configTag == .bool, let value = node.bool {
                allowInsecure = value
            } else {
                context.reportExpected("true or false", keyPath: "api.allow_insecure_http", found: node)
            }
        }
        if case .custom(let url)? = endpoint, let base = mapping.value("base_url"), !allowInsecure,
            let host = ConfigValues.cleartextRemoteHost(url)
        {
            context.report(
                "http:// would send the API key in clear to \(host); use https://, or set "
                    + "api.allow_insecure_http: true if the path to it is protected otherwise",
                keyPath: "api.base_url", at: base)
        }
        guard let endpoint, let key else { return nil }
        var api = Configuration.API(endpoint: endpoint, key: key)
        if let timeout { api.requestTimeout = timeout }
        if let attempts { api.maximumAttempts = attempts }
        return api
    }

    private func poll(_ mapping: ConfigMapping) -> Configuration.Poll {
        var poll = Configuration.Poll()
        read("interval", in: mapping, into: &poll.interval)
        if let node = mapping.value("jitter") {
            poll.jitter =
                context.value(
                    node, keyPath: mapping.path("jitter"), expected: ConfigValues.jitterExpectation, ConfigValues.jitter
                )
                ?? poll.jitter
        }
        read("concurrency", in: mapping, range: 1...Int.max, into: &poll.concurrency)
        read("page_size", in: mapping, range: 1...Self.maximumPageSize, into: &poll.pageSize)
        if let node = mapping.value("pagination") {
            poll.pagination =
                context.choice(
                    node, keyPath: mapping.path("pagination"), PaginationMode.allCases.map { ($0.rawValue, $0) })
                ?? poll.pagination
        }
        read("max_backoff", in: mapping, into: &poll.maximumBackoff)
        return poll
    }

    private func metrics(_ mapping: ConfigMapping) -> Configuration.Metrics {
        var metrics = Configuration.Metrics()
        if let node = mapping.value("web_config_file"), !ConfigContext.isNull(node) {
            metrics.webConfigFile = context.value(
                node, keyPath: mapping.path("web_config_file"), expected: "an absolute path", ConfigValues.absolutePath)
        }
        guard let node = mapping.value("listen") else { return metrics }
        let keyPath = mapping.path("listen")
        if ConfigContext.isNull(node) || node.scalar?.string == "off" {
            metrics.listen = nil
        } else if node.configTag == .bool {
            if node.bool == false {
                metrics.listen = nil
            } else {
                context.reportExpected(ConfigValues.listenExpectation, keyPath: keyPath, found: node)
            }
        } else {
            metrics.listen =
                context.value(
                    node, keyPath: keyPath, expected: ConfigValues.listenExpectation, ConfigValues.listenAddress)
                ?? metrics.listen
        }
        return metrics
    }

    private func events(_ mapping: ConfigMapping) -> Configuration.Events {
        var events = Configuration.Events()
        if let node = mapping.value("stderr_format") {
            events.stderrFormat =
                context.choice(
                    node, keyPath: mapping.path("stderr_format"),
                    Configuration.StderrFormat.allCases.map { ($0.rawValue, $0) })
                ?? events.stderrFormat
        }
        read("journal_burst", in: mapping, range: 100...10_000_000, into: &events.journalBurst)
        if let node = mapping.value("journal_interval") {
            let keyPath = mapping.path("journal_interval")
            if let interval = duration(node, keyPath: keyPath) {
                if interval >= .milliseconds(100) {
                    events.journalInterval = interval
                } else {
                    context.report("must be at least 100ms", keyPath: keyPath, at: node)
                }
            }
        }
        read("max_pending", in: mapping, range: 1_000...100_000_000, into: &events.maximumPending)
        return events
    }

    /// Replaces `value` with the integer at `key` when present and within `range`; problems are reported.
    func read(_ key: String, in mapping: ConfigMapping, range: ClosedRange<Int>, into value: inout Int) {
        guard let node = mapping.value(key) else { return }
        value = context.integer(node, keyPath: mapping.path(key), in: range) ?? value
    }

    /// Replaces `value` with the duration at `key` when present and valid; problems are reported.
    func read(_ key: String, in mapping: ConfigMapping, into value: inout Duration) {
        guard let node = mapping.value(key) else { return }
        value = duration(node, keyPath: mapping.path(key)) ?? value
    }

    func duration(_ node: ConfigNode, keyPath: String) -> Duration? {
        context.value(node, keyPath: keyPath, expected: ConfigValues.durationExpectation, ConfigValues.duration)
    }

    // MARK: Organizations

    /// Each list item decoded with `decode`; nil, reported, when the node is not a list.
    private func list<Item>(_ node: ConfigNode, keyPath: String, _ decode: (ConfigNode, String) -> Item?) -> [Item]? {
        guard case .sequence(let sequence) = node else {
            context.reportExpected("a list", keyPath: keyPath, found: node)
            return nil
        }
        // Sized once: grown by appending, a list of 100 connections held room for 128 for the daemon's life.
        var items: [Item] = []
        items.reserveCapacity(sequence.count)
        for (index, item) in sequence.enumerated() {
            if let decoded = decode(item, ConfigContext.index(keyPath, index)) { items.append(decoded) }
        }
        return items
    }

    private func organizations(_ node: ConfigNode, keyPath: String) -> [OrganizationConfig]? {
        if case .sequence(let sequence) = node, sequence.isEmpty {
            context.report("must list at least one organization", keyPath: keyPath, at: node)
            return nil
        }
        var seen = FirstSeen()
        return list(node, keyPath: keyPath) { (item, itemPath) -> OrganizationConfig? in
            guard let mapping = context.mapping(item, keyPath: itemPath, known: ConfigKeys.organization) else {
                return nil
            }
            var id: OrganizationID?
            if let (raw, idNode) = context.requiredValue("id", in: mapping, expected: "a UUID", ConfigValues.uuid) {
                if let first = seen.record(raw, at: itemPath, idNode) {
                    context.report(
                        "organization \(raw) is already declared at \(first)", keyPath: mapping.path("id"), at: idNode)
                } else {
                    id = OrganizationID(raw)
                }
            }
            let name = mapping.value("name").flatMap { context.nonEmptyString($0, keyPath: mapping.path("name")) }
            var connections: [ConnectionConfig] = []
            if let node = mapping.value("connections"), !ConfigContext.isNull(node) {
                connections = self.connections(node, keyPath: mapping.path("connections")) ?? []
            }
            return id.map { OrganizationConfig(id: $0, name: name, connections: connections) }
        }
    }

    private func connections(_ node: ConfigNode, keyPath: String) -> [ConnectionConfig]? {
        var seen = FirstSeen()
        return list(node, keyPath: keyPath) { (item, itemPath) -> ConnectionConfig? in
            guard let mapping = context.mapping(item, keyPath: itemPath, known: ConfigKeys.connection) else {
                return nil
            }
            var identifier: String?
            if let (value, node) = context.requiredValue(
                "identifier", in: mapping, expected: "a string", ConfigValues.identifier)
            {
                if let first = seen.record(value, at: itemPath, node) {
                    context.report(
                        "'\(value)' is already the identifier of \(first); identifiers must be unique within an "
                            + "organization",
                        keyPath: mapping.path("identifier"), at: node)
                } else {
                    identifier = value
                }
            }
            let vendor = context.require("vendor", in: mapping).flatMap {
                self.vendor($0, keyPath: mapping.path("vendor"))
            }
            let credentials = self.credentials(in: mapping, vendor: vendor)
            var options: JSONValue?
            if let node = mapping.value("options"), !ConfigContext.isNull(node) {
                options = self.options(node, keyPath: mapping.path("options"))
            }
            guard let identifier, let vendor, let credentials else { return nil }
            return ConnectionConfig(
                identifier: identifier, vendor: vendor, credentials: credentials.template, options: options)
        }
    }

    private func vendor(_ node: ConfigNode, keyPath: String) -> Vendor? {
        guard let text = context.text(node, keyPath: keyPath, expected: "a vendor such as TENABLE") else { return nil }
        guard let vendor = Vendor(rawValue: text, documentedOnly: true) else {
            let names = Vendor.documentedValues.map(\.rawValue)
            let hint =
                ConfigContext.closest(to: text, among: names).map { "did you mean '\($0)'?" }
                ?? "expected one of \(names.joined(separator: ", "))"
            context.report("unknown vendor '\(text)'; \(hint)", keyPath: keyPath, at: node)
            return nil
        }
        return vendor
    }
}

/// Where each value (organization id, connection identifier) was first declared, to report repeats.
struct FirstSeen {
    /// Formatted only when a value repeats: most never do.
    private var places: [String: (keyPath: String, line: Int)] = [:]

    /// Nil when `value` is new (it is then recorded at `keyPath`, `node`); otherwise where it was first seen,
    /// as `organizations[0] (line 5)`.
    mutating func record(_ value: String, at keyPath: String, _ node: ConfigNode) -> String? {
        if let first = places[value] { return "\(first.keyPath) (line \(first.line))" }
        places[value] = (keyPath, ConfigPosition(node).line)
        return nil
    }
}
