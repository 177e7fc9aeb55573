import Foundation
import LeenAPI

/// The events that are not about one poll: provisioning, reload and the daemon's lifecycle. Composed here,
/// next to the connection and API events, so that every event shares one field header and one wording.
extension EventBuilder {
    // MARK: Lifecycle and reload

    public static func daemonStarted(_ configuration: Configuration, context: EventContext) -> HealthEvent {
        event(.daemonStarted, .info, "leen-healthd started: \(counts(configuration))", context: context)
    }

    public static func daemonStopping(context: EventContext) -> HealthEvent {
        event(.daemonStopping, .info, "leen-healthd is stopping", context: context)
    }

    public static func configReloaded(_ configuration: Configuration, context: EventContext) -> HealthEvent {
        event(.configReloaded, .notice, "Configuration reloaded: \(counts(configuration))", context: context)
    }

    /// `reason` says why the new configuration was refused (it names files and lines, never a secret).
    public static func configReloadFailed(reason: String, context: EventContext) -> HealthEvent {
        event(
            .configReloadFailed, .error, "Reload refused, the previous configuration stays in force: \(reason)",
            fields: [EventField("LEEN_ERROR", String(reason.prefix(4096)))], context: context)
    }

    /// A state file the daemon could not use, moved aside. `reason` is the decoder's path and kind, or the
    /// format version: never the file's contents.
    public static func stateFileSetAside(path: String, movedTo: String, reason: String, context: EventContext) -> HealthEvent {
        event(
            .stateFileSetAside, .error,
            "State file \(path) cannot be used (\(reason)); moved to \(movedTo), and what it held starts again from an empty baseline",
            fields: [
                EventField("LEEN_STATE_FILE", path), EventField("LEEN_SET_ASIDE_TO", movedTo),
                EventField("LEEN_ERROR", String(reason.prefix(4096))),
            ], context: context)
    }

    static func counts(_ configuration: Configuration) -> String {
        "\(configuration.organizations.count) organizations, "
            + "\(configuration.organizations.reduce(0) { $0 + $1.connections.count }) declared connections"
    }

    // MARK: Provisioning

    /// What a provisioning event is about: the organization and, when known, the connection.
    public struct ProvisioningSubject: Sendable {
        public var organization: OrganizationConfig
        public var identifier: String?
        public var vendor: Vendor
        public var connectionID: ConnectionID?

        public init(organization: OrganizationConfig, identifier: String?, vendor: Vendor, connectionID: ConnectionID?) {
            self.organization = organization
            self.identifier = identifier
            self.vendor = vendor
            self.connectionID = connectionID
        }

        var fields: [EventField] {
            var fields = [EventField("LEEN_ORGANIZATION_ID", organization.id.rawValue)]
            if let connectionID { fields.append(EventField("LEEN_CONNECTION_ID", connectionID.rawValue)) }
            if let identifier { fields.append(EventField("LEEN_IDENTIFIER", identifier)) }
            fields.append(EventField("LEEN_VENDOR", vendor.rawValue))
            return fields
        }
    }

    /// Provisioning created a declared connection; an OAuth connection's authorisation URL is passed on.
    public static func connectionCreated(
        _ subject: ProvisioningSubject, state: ConnectionState?, oauthURL: String?, context: EventContext
    ) -> HealthEvent {
        var fields = subject.fields
        if let state { fields.append(EventField("LEEN_STATE", state.rawValue)) }
        var message =
            "Created \(subject.identifier ?? "-") (\(subject.vendor)) in \(subject.organization.label) as connection "
            + "\(subject.connectionID?.rawValue ?? "-")"
        if let oauthURL {
            fields.append(EventField("LEEN_OAUTH_URL", oauthURL))
            message += "; an administrator must open \(oauthURL) to authorise it"
        }
        return event(.connectionCreated, oauthURL == nil ? .notice : .warning, message, fields: fields, context: context)
    }

    public static func connectionAdopted(_ subject: ProvisioningSubject, context: EventContext) -> HealthEvent {
        event(
            .connectionAdopted, .info,
            "Adopted existing connection \(subject.connectionID?.rawValue ?? "-") as \(subject.identifier ?? "-") "
                + "(\(subject.vendor)) in \(subject.organization.label); its credentials were left as they are",
            fields: subject.fields, context: context)
    }

    public static func credentialsUpdated(_ subject: ProvisioningSubject, context: EventContext) -> HealthEvent {
        event(
            .credentialsUpdated, .notice,
            "Sent changed credentials for \(subject.identifier ?? "-") (\(subject.vendor)) in \(subject.organization.label)",
            fields: subject.fields, context: context)
    }

    public static func connectionUnmanaged(_ subject: ProvisioningSubject, context: EventContext) -> HealthEvent {
        event(
            .connectionUnmanaged, .notice,
            "Leen has connection \(subject.connectionID?.rawValue ?? "-") (\(subject.vendor)"
                + "\(subject.identifier.map { ", identifier \($0)" } ?? "")) in \(subject.organization.label) "
                + "that the config does not declare; it is not monitored or changed",
            fields: subject.fields, context: context)
    }

    /// Creating or updating one declared connection failed; `failure` is the API's answer, when it gave one.
    public static func provisioningFailed(
        _ subject: ProvisioningSubject, why: String, failure: PollFailure?, context: EventContext
    ) -> HealthEvent {
        event(
            .provisioningFailed, .error,
            "Provisioning \(subject.identifier ?? "-") (\(subject.vendor)) in \(subject.organization.label) failed: \(why)",
            fields: subject.fields + (failure.map(apiFields) ?? []), context: context)
    }

    /// The organization's connections could not be listed, so nothing of it was provisioned.
    public static func provisioningListFailed(
        _ organization: OrganizationConfig, why: String, failure: PollFailure?, context: EventContext
    ) -> HealthEvent {
        event(
            .provisioningFailed, .error,
            "Provisioning \(organization.label) failed: cannot list its connections: \(why)",
            fields: [EventField("LEEN_ORGANIZATION_ID", organization.id.rawValue)] + (failure.map(apiFields) ?? []),
            context: context)
    }
}
