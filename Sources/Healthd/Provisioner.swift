import Foundation
import HealthdCore
import LeenAPI
import LeenAPIClient

/// Provisions one organization's declared connections: adopt by identifier, create what is missing, PATCH
/// credentials that changed since they were last applied, report what the config does not declare.
public struct Provisioner: Sendable {
    let client: LeenClient
    let readSecret: @Sendable (SecretSource) throws -> String

    public init(client: LeenClient, readSecret: @escaping @Sendable (SecretSource) throws -> String) {
        self.client = client
        self.readSecret = readSecret
    }

    /// What provisioning will do for one organization, with the resolved credentials it needs.
    public struct Plan: Sendable {
        public var organization: OrganizationConfig
        public var actions: [ProvisioningAction]
        /// Resolved credentials and their hash, by identifier.
        var resolved: [String: (credentials: VendorCredentials?, hash: String)]
        /// Declared connections whose secrets could not be read, with why.
        public var unresolvable: [String: String]
        /// The organization's connections as the plan found them, and how long listing them took.
        public var listing: Listing<Connection>
        public var listingDuration: Duration

        /// True when carrying the plan out sends something that changes the listing (a create or a PATCH).
        public var writes: Bool {
            actions.contains {
                switch $0 {
                case .create, .updateCredentials: true
                default: false
                }
            }
        }
    }

    /// Reads the secrets and lists the organization's connections. Changes nothing.
    ///
    /// - Parameters:
    ///   - listing: how to walk the pages; the daemon walks them as its polls do, so that a plan that writes
    ///     nothing serves as the organization's poll too.
    public func plan(
        _ organization: OrganizationConfig, applied: StateStore.AppliedCredentials,
        listing: Configuration.Poll = Configuration.Poll(), memo: PageMemo? = nil
    ) async throws -> Plan {
        var resolved: [String: (credentials: VendorCredentials?, hash: String)] = [:]
        var unresolvable: [String: String] = [:]
        var declared: [DeclaredConnection] = []
        // Each source once per plan: an organization's connections often share a file.
        var secrets: [SecretSource: String] = [:]
        func read(_ source: SecretSource) throws -> String {
            if let known = secrets[source] { return known }
            let value = try readSecret(source)
            secrets[source] = value
            return value
        }
        for connection in organization.connections {
            var hash: String?
            do {
                if let template = connection.credentials {
                    let value = try template.resolve(read)
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
        let started = ContinuousClock.now
        let existing = try await client.connectionPages(
            organizationID: organization.id, pageSize: listing.pageSize, mode: listing.pagination, memo: memo
        ).collect()
        memo?.finishWalk()
        let listingDuration = ContinuousClock.now - started
        var recorded: [String: String] = [:]
        for connection in organization.connections {
            recorded[connection.identifier] =
                applied[organization.id, connection.identifier]
        }
        let actions = ProvisioningPlanner.plan(
            declared: declared, existing: existing.items, unreadable: existing.undecodable, applied: recorded)
        return Plan(
            organization: organization, actions: actions, resolved: resolved, unresolvable: unresolvable,
            listing: existing, listingDuration: listingDuration)
    }

    /// What applying a plan did.
    public struct Outcome: Sendable {
        public var events: [HealthEvent] = []
        /// New applied hashes, by identifier.
        public var applied: [String: String] = [:]
        public var failures = 0
        /// The credential tests run after PATCHes, by ``CredentialVerification/result``.
        public var verifications: [String: Int] = [:]
    }

    /// Carries out a plan. Failures are reported as events; the rest of the plan still runs.
    public func apply(_ plan: Plan, now: Date) async -> Outcome {
        let organization = plan.organization
        let context = EventContext(organizationLabel: organization.label, observedAt: now)
        var outcome = Outcome()
        let declared = Dictionary(uniqueKeysWithValues: organization.connections.map { ($0.identifier, $0) })
        func subject(_ identifier: String?, _ vendor: Vendor, _ id: ConnectionID?) -> EventBuilder.ProvisioningSubject {
            EventBuilder.ProvisioningSubject(organization: organization, identifier: identifier, vendor: vendor, connectionID: id)
        }
        func failed(_ identifier: String, _ vendor: Vendor, _ id: ConnectionID?, _ why: String, _ error: (any Error)? = nil) {
            outcome.failures += 1
            outcome.events.append(
                EventBuilder.provisioningFailed(
                    subject(identifier, vendor, id), why: why,
                    failure: error.map { PollFailure(calling: "provision", $0) }, context: context))
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
                    outcome.events.append(
                        EventBuilder.connectionCreated(
                            subject(identifier, vendor, created.id), state: created.state,
                            oauthURL: created.oauth2AuthorizeURL, context: context))
                } catch {
                    failed(identifier, vendor, nil, "create: \(error)", error)
                }
            case .adopt(let identifier, let id):
                let vendor = declared[identifier]?.vendor ?? ""
                if let resolved = plan.resolved[identifier] { outcome.applied[identifier] = resolved.hash }
                outcome.events.append(EventBuilder.connectionAdopted(subject(identifier, vendor, id), context: context))
            case .updateCredentials(let identifier, let id):
                let vendor = declared[identifier]?.vendor ?? ""
                guard let resolved = plan.resolved[identifier], let credentials = resolved.credentials else { continue }
                do {
                    _ = try await client.updateConnection(
                        organizationID: organization.id, connectionID: id,
                        UpdateConnectionRequest(credentials: credentials))
                    outcome.applied[identifier] = resolved.hash
                    outcome.events.append(EventBuilder.credentialsUpdated(subject(identifier, vendor, id), context: context))
                    // A rotation is only done when Leen accepts the new credentials: test them at once rather
                    // than wait hours for the next job to say so.
                    let verification = await CredentialCheck.run(client, organization: organization.id, connection: id)
                    outcome.verifications[verification.result, default: 0] += 1
                    outcome.events.append(
                        EventBuilder.credentialsRotated(subject(identifier, vendor, id), verification, context: context))
                } catch {
                    failed(identifier, vendor, id, "update credentials: \(error)", error)
                }
            case .unchanged:
                break
            case .vendorMismatch(let identifier, let id, let declaredVendor, let existing):
                failed(
                    identifier, declaredVendor, id,
                    "Leen's connection \(id) with this identifier is a \(existing) connection; it is left alone")
            case .blocked(let identifier, let vendor, let why):
                failed(identifier, vendor, nil, why)
            case .unmanaged(let id, let identifier, let vendor):
                outcome.events.append(EventBuilder.connectionUnmanaged(subject(identifier, vendor, id), context: context))
            }
        }
        for (identifier, why) in plan.unresolvable.sorted(by: { $0.key < $1.key })
        where !plan.actions.contains(.create(identifier: identifier, vendor: declared[identifier]?.vendor ?? "")) {
            failed(identifier, declared[identifier]?.vendor ?? "", nil, "its credentials cannot be read: \(why)")
        }
        return outcome
    }
}
