import Foundation
import LeenAPI

/// What Leen's Test Connection Credentials said about a connection, or why it could not be asked.
public enum CredentialVerification: Sendable, Hashable {
    /// `is_valid: true`, with Leen's message (already ``ServerText``-sanitised).
    case valid(message: String?)
    /// `is_valid: false`: the vendor refuses the credentials.
    case invalid(message: String?)
    /// The test call failed (timeout, 5xx, 401…): nothing is known about the credentials.
    case failed(PollFailure)

    /// Leen's answer; its message is server text and is sanitised here, the one place it enters the core.
    public init(isValid: Bool, message: String?) {
        let message = message.map(ServerText.sanitize)
        self = isValid ? .valid(message: message) : .invalid(message: message)
    }

    /// The `result` label of `leen_credential_verifications_total`.
    public var result: String {
        switch self {
        case .valid: "valid"
        case .invalid: "invalid"
        case .failed: "error"
        }
    }

    /// `LEEN_CREDENTIALS_VALID` and `LEEN_CREDENTIALS_TEST_MESSAGE`, or the API failure's fields.
    var fields: [EventField] {
        switch self {
        case .valid(let message), .invalid(let message):
            [EventField("LEEN_CREDENTIALS_VALID", result == "valid" ? "true" : "false")]
                + (message.map { [EventField("LEEN_CREDENTIALS_TEST_MESSAGE", $0)] } ?? [])
        case .failed(let failure):
            EventBuilder.apiFields(failure)
        }
    }

    /// Completes "Leen's credential test …".
    var words: String {
        switch self {
        case .valid(let message): "says the credentials are valid" + (message.map { " (\($0))" } ?? "")
        case .invalid(let message): "says the credentials are INVALID" + (message.map { ": \($0)" } ?? "")
        case .failed(let failure): "could not run: \(failure.summary)"
        }
    }
}

/// Who asked for a maintenance action: the user behind sudo, else the login user, else the uid.
public enum OperatorIdentity {
    public static func describe(environment: [String: String], uid: UInt32) -> String {
        for name in ["SUDO_USER", "USER"] {
            if let user = environment[name], !user.isEmpty { return user }
        }
        return "uid \(uid)"
    }
}

/// Events of the maintenance commands and of credential checks: operator pauses and resumes, rotations,
/// and the test run for a connection that turned UNAUTHORIZED.
extension EventBuilder {
    /// `leen-healthd pause` / `resume` set the connection's state; `state` is the one it has now.
    public static func connectionStateSetByOperator(
        _ subject: ProvisioningSubject, paused: Bool, previous: ConnectionState?, operator who: String,
        context: EventContext
    ) -> HealthEvent {
        var fields = subject.fields + [
            EventField("LEEN_STATE", paused ? ConnectionState.paused.rawValue : ConnectionState.active.rawValue),
            EventField("LEEN_OPERATOR", who),
        ]
        if let previous { fields.append(EventField("LEEN_PREVIOUS_STATE", previous.rawValue)) }
        let what = paused ? "paused" : "resumed"
        let tail =
            paused
            ? ": Leen runs no jobs for it, and its health events are info until it is resumed"
            : ": Leen runs its next job on the schedule"
        return event(
            paused ? .connectionPausedByOperator : .connectionResumedByOperator, .notice,
            "\(who) \(what) \(subject.identifier ?? "-") (\(subject.vendor)) in \(subject.organization.label)\(tail)",
            fields: fields, context: context)
    }

    /// New credentials were sent (PATCH) and tested. Notice when Leen says they are valid; err when it says
    /// they are not (the rotation failed and must be said loudly); warning when the test could not run.
    /// Either way the connection's health is Leen's to report: its next job says whether it is fixed.
    public static func credentialsRotated(
        _ subject: ProvisioningSubject, _ verification: CredentialVerification, context: EventContext
    ) -> HealthEvent {
        let priority: EventPriority =
            switch verification {
            case .valid: .notice
            case .invalid: .error
            case .failed: .warning
            }
        let tail =
            switch verification {
            case .valid: "; Leen's next job shows whether the connection is healthy again"
            case .invalid: "; the rotation FAILED: the connection stays broken until valid credentials are sent"
            case .failed: "; check again with leen-healthd test \(subject.identifier ?? "IDENTIFIER")"
            }
        return event(
            .credentialsRotated, priority,
            "Rotated credentials of \(subject.identifier ?? "-") (\(subject.vendor)) in \(subject.organization.label): "
                + "Leen's credential test \(verification.words)\(tail)",
            fields: subject.fields + [EventField("LEEN_VERIFICATION", verification.result)] + verification.fields,
            context: context)
    }

    /// The test run when a connection turned UNAUTHORIZED, written after that event (`relatedEventID`).
    public static func credentialsTested(
        _ request: CredentialTestRequest, _ verification: CredentialVerification, context: EventContext
    ) -> HealthEvent {
        let advice =
            switch verification {
            case .valid:
                "; the credentials work, so the vendor refuses some permissions or access was revoked in part"
            case .invalid: "; CUSTOMER must send new credentials"
            case .failed: ""
            }
        return event(
            .credentialsTested, .notice,
            "\(request.identifier) (\(request.vendor), \(context.organizationLabel)) is UNAUTHORIZED: "
                + "Leen's credential test \(verification.words)\(advice)",
            fields: [
                EventField("LEEN_ORGANIZATION_ID", request.organizationID.rawValue),
                EventField("LEEN_CONNECTION_ID", request.connectionID.rawValue),
                EventField("LEEN_IDENTIFIER", request.identifier), EventField("LEEN_VENDOR", request.vendor.rawValue),
                EventField("LEEN_RELATED_EVENT_ID", request.relatedEventID),
                EventField("LEEN_VERIFICATION", verification.result),
            ] + verification.fields, context: context)
    }
}

/// A connection whose credentials the daemon tests because one of its events says it turned UNAUTHORIZED.
public struct CredentialTestRequest: Sendable, Hashable {
    public var organizationID: OrganizationID
    public var connectionID: ConnectionID
    public var identifier: String
    public var vendor: Vendor
    /// The `LEEN_EVENT_ID` of the event that reported the change.
    public var relatedEventID: String

    public init(
        organizationID: OrganizationID, connectionID: ConnectionID, identifier: String, vendor: Vendor,
        relatedEventID: String
    ) {
        self.organizationID = organizationID
        self.connectionID = connectionID
        self.identifier = identifier
        self.vendor = vendor
        self.relatedEventID = relatedEventID
    }

    /// One request per committed event that says a connection turned UNHEALTHY with health name
    /// UNAUTHORIZED (`connection_unhealthy`, or `connection_reason_changed` into it). A connection first seen
    /// that way is not tested: it is not a change, and every start would test it again.
    public static func requests(for events: [HealthEvent]) -> [CredentialTestRequest] {
        events.compactMap { event in
            guard event.kind == .connectionUnhealthy || event.kind == .connectionReasonChanged,
                event[field: "LEEN_STATUS"] == HealthStatus.unhealthy.rawValue,
                event[field: "LEEN_HEALTH_NAME"] == HealthName.unauthorized.rawValue,
                event[field: "LEEN_PREVIOUS_HEALTH_NAME"] != HealthName.unauthorized.rawValue,
                let organization = event[field: "LEEN_ORGANIZATION_ID"], let id = event[field: "LEEN_CONNECTION_ID"],
                let identifier = event[field: "LEEN_IDENTIFIER"], let eventID = event[field: "LEEN_EVENT_ID"]
            else { return nil }
            return CredentialTestRequest(
                organizationID: OrganizationID(organization), connectionID: ConnectionID(id), identifier: identifier,
                vendor: Vendor(rawValue: event[field: "LEEN_VENDOR"] ?? ""), relatedEventID: eventID)
        }
    }
}
