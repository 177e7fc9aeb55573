import Foundation
import HealthdCore
import LeenAPI
import Logging

/// Provisions one organization's declared connections: adopt by identifier, create what is missing, PATCH
/// credentials that changed since they were last applied, report what the config does not declare.
public struct Provisioner: Sendable {
    let client: LeenClient
    let readSecret: @Sendable (SecretSource) throws -> String
    let logger: Logger

    public init(
        client: LeenClient, readSecret: @escaping @Sendable (SecretSource) throws -> String, logger: Logger
    ) {
        self.client = client
        self.readSecret = readSecret
        self.logger = logger
    }

    /// What provisioning will do for one organization, with the resolved credentials it needs.
    public struct Plan: Sendable {
        public var organization: OrganizationConfig
        public var actions: [ProvisioningAction]
        /// Resolved credentials and their hash, by identifier.
        var resolved: [String: (credentials: VendorCredentials?, hash: String)]
        /// Declared connections whose secrets could not be read, with why.
        public var unresolvable: [String: String]
    }

    /// Reads the secrets and lists the organization's connections. Changes nothing.
    public func plan(
        _ organization: OrganizationConfig, applied: StateStore.AppliedCredentials
    ) async throws -> Plan {
        var resolved: [String: (credentials: VendorCredentials?, hash: String)] = [:]
        var unresolvable: [String: String] = [:]
        var declared: [DeclaredConnection] = []
        for connection in organization.connections {
            var hash: String?
            do {
                if let template = connection.credentials {
                    let value = try template.resolve(readSecret)
                    let digest = CredentialFingerprint.of(value, salt: applied.salt)
                    resolved[connection.identifier] = (VendorCredentials(value.objectValue ?? [:]), digest)
                    hash = digest
                } else {
                    resolved[connection.identifier] = (nil, CredentialFingerprint.none)
                    hash = CredentialFingerprint.none
                }
            } catch {
                unresolvable[connection.identifier] = String(describing: error)
            }
            declared.append(DeclaredConnection(identifier: connection.identifier, vendor: connection.vendor, credentialsHash: hash))
        }
        let existing = try await client.allConnections(organizationID: organization.id)
        var recorded: [String: String] = [:]
        for connection in organization.connections {
            recorded[connection.identifier] =
                applied.applied[StateStore.AppliedCredentials.key(organization.id, connection.identifier)]
        }
        let actions = ProvisioningPlanner.plan(declared: declared, existing: existing, applied: recorded)
        return Plan(organization: organization, actions: actions, resolved: resolved, unresolvable: unresolvable)
    }

    /// What applying a plan did.
    public struct Outcome: Sendable {
        public var events: [HealthEvent] = []
        /// New applied hashes, by identifier.
        public var applied: [String: String] = [:]
        public var failures = 0
    }

    /// Carries out a plan. Failures are reported as events; the rest of the plan still runs.
    public func apply(_ plan: Plan, now: Date) async -> Outcome {
        let organization = plan.organization
        let context = EventContext(organizationLabel: organization.label, observedAt: now)
        var outcome = Outcome()
        let declared = Dictionary(uniqueKeysWithValues: organization.connections.map { ($0.identifier, $0) })
        func fields(_ identifier: String?, _ vendor: Vendor, _ id: ConnectionID?) -> [EventField] {
            var fields = [EventField("LEEN_ORGANIZATION_ID", organization.id.rawValue)]
            if let id { fields.append(EventField("LEEN_CONNECTION_ID", id.rawValue)) }
            if let identifier { fields.append(EventField("LEEN_IDENTIFIER", identifier)) }
            fields.append(EventField("LEEN_VENDOR", vendor.rawValue))
            return fields
        }
        func failed(_ identifier: String, _ vendor: Vendor, _ id: ConnectionID?, _ why: String, _ extra: [EventField] = [])
        {
            outcome.failures += 1
            outcome.events.append(
                EventBuilder.event(
                    .provisioningFailed, .error, "Provisioning \(identifier) (\(vendor)) in \(organization.label) failed: \(why)",
                    fields: fields(identifier, vendor, id) + extra, context: context))
        }

        for action in plan.actions {
            switch action {
            case .create(let identifier, let vendor):
                if let why = plan.unresolvable[identifier] {
                    failed(identifier, vendor, nil, "its credentials cannot be read: \(why)")
                    continue
                }
                guard let resolved = plan.resolved[identifier] else { continue }
                do {
                    let created = try await client.createConnection(
                        organizationID: organization.id,
                        CreateConnectionRequest(
                            vendor: vendor, credentials: resolved.credentials, identifier: identifier,
                            options: declared[identifier]?.options))
                    outcome.applied[identifier] = resolved.hash
                    var extra = fields(identifier, vendor, created.id)
                    if let state = created.state { extra.append(EventField("LEEN_STATE", state.rawValue)) }
                    var message = "Created \(identifier) (\(vendor)) in \(organization.label) as connection \(created.id)"
                    if let url = created.oauth2AuthorizeURL {
                        extra.append(EventField("LEEN_OAUTH_URL", url))
                        message += "; an administrator must open \(url) to authorise it"
                    }
                    outcome.events.append(
                        EventBuilder.event(
                            .connectionCreated, created.oauth2AuthorizeURL == nil ? .notice : .warning, message,
                            fields: extra, context: context))
                } catch {
                    failed(identifier, vendor, nil, "create: \(error)", apiFields(error))
                }
            case .adopt(let identifier, let id):
                let vendor = declared[identifier]?.vendor ?? ""
                if let resolved = plan.resolved[identifier] { outcome.applied[identifier] = resolved.hash }
                outcome.events.append(
                    EventBuilder.event(
                        .connectionAdopted, .info,
                        "Adopted existing connection \(id) as \(identifier) (\(vendor)) in \(organization.label); "
                            + "its credentials were left as they are",
                        fields: fields(identifier, vendor, id), context: context))
            case .updateCredentials(let identifier, let id):
                let vendor = declared[identifier]?.vendor ?? ""
                guard let resolved = plan.resolved[identifier], let credentials = resolved.credentials else { continue }
                do {
                    _ = try await client.updateConnection(
                        organizationID: organization.id, connectionID: id,
                        UpdateConnectionRequest(credentials: credentials))
                    outcome.applied[identifier] = resolved.hash
                    outcome.events.append(
                        EventBuilder.event(
                            .credentialsUpdated, .notice,
                            "Sent changed credentials for \(identifier) (\(vendor)) in \(organization.label)",
                            fields: fields(identifier, vendor, id), context: context))
                } catch {
                    failed(identifier, vendor, id, "update credentials: \(error)", apiFields(error))
                }
            case .unchanged:
                break
            case .vendorMismatch(let identifier, let id, let declaredVendor, let existing):
                failed(
                    identifier, declaredVendor, id,
                    "Leen's connection \(id) with this identifier is a \(existing) connection; it is left alone")
            case .unmanaged(let id, let identifier, let vendor):
                outcome.events.append(
                    EventBuilder.event(
                        .connectionUnmanaged, .notice,
                        "Leen has connection \(id) (\(vendor)\(identifier.map { ", identifier \($0)" } ?? "")) in "
                            + "\(organization.label) that the config does not declare; it is not monitored or changed",
                        fields: fields(identifier, vendor, id), context: context))
            }
        }
        for (identifier, why) in plan.unresolvable.sorted(by: { $0.key < $1.key })
        where !plan.actions.contains(.create(identifier: identifier, vendor: declared[identifier]?.vendor ?? "")) {
            failed(identifier, declared[identifier]?.vendor ?? "", nil, "its credentials cannot be read: \(why)")
        }
        return outcome
    }

    func apiFields(_ error: any Error) -> [EventField] {
        guard let error = error as? LeenAPIError else { return [] }
        var fields = [EventField("LEEN_API_ERROR", error.kind.rawValue)]
        if let status = error.status { fields.append(EventField("LEEN_HTTP_STATUS", String(status))) }
        return fields
    }
}
