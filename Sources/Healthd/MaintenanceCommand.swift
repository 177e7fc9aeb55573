import AsyncHTTPClient
import Foundation
import HealthdCore
import LeenAPI
import LeenAPIClient
import Logging
import SystemdSupport

/// `leen-healthd pause | resume | test IDENTIFIER`: one maintenance call on one declared (or any) connection.
public enum MaintenanceCommand {
    public enum Action: String, Sendable {
        case pause, resume, test
    }

    /// Exit statuses, distinct per cause so a script can tell them apart (78, a configuration error, is
    /// thrown as ``ConfigErrors`` like every other command's).
    public enum Exit {
        public static let ok: Int32 = 0
        /// `test`: Leen says the credentials are invalid.
        public static let invalidCredentials: Int32 = 1
        /// No connection with this identifier (or id) in the organizations searched, or it is in several.
        public static let unknownConnection: Int32 = 2
        /// Leen answered 404: the organization or connection does not exist (any more).
        public static let notFound: Int32 = 3
        /// Leen answered 401 or 403: the API key is wrong, expired or for another region.
        public static let keyRejected: Int32 = 4
        /// Any other failure of the call (timeout, 5xx, a malformed answer).
        public static let apiFailure: Int32 = 5
    }

    /// A failure that ends the command, with its exit status and a message for stderr.
    struct Failure: Error {
        var exit: Int32
        var message: String
    }

    /// Runs the action; returns the exit status. `print` gets the result lines, `printError` the errors.
    public static func run(
        _ action: Action, reference: String, organization: String?, configPath: String,
        shard: ShardSelection = .fromFile, logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        print: @escaping @Sendable (String) -> Void, printError: @escaping @Sendable (String) -> Void
    ) async throws(ConfigErrors) -> Int32 {
        let configuration = try ConfigLoader.load(path: configPath, environment: environment, shard: shard)
        let organizations = try select(organization, in: configuration, path: configPath)
        let key: String
        do {
            key = try SecretReader(environment: environment).read(configuration.api.key)
        } catch {
            // ConfigLoader has checked it; it changed since.
            throw ConfigErrors(issues: [ConfigIssue(path: configPath, line: 0, column: 0, message: "api.key: \(error)")])
        }
        do {
            return try await HTTPClient.withHTTPClient(configuration: .init(), backgroundActivityLogger: logger) { http in
                let client = LeenClient(
                    configuration: DaemonRunner.clientConfiguration(configuration, key: key), httpClient: http,
                    logger: logger)
                let (target, connection) = try await find(reference, in: organizations, client: client)
                let subject = EventBuilder.ProvisioningSubject(
                    organization: target, identifier: connection.identifier, vendor: connection.vendor,
                    connectionID: connection.id)
                let name = "\(connection.identifier ?? connection.id.rawValue) (\(connection.vendor), \(target.label))"
                switch action {
                case .test:
                    let verification = await CredentialCheck.run(client, organization: target.id, connection: connection.id)
                    switch verification {
                    case .valid(let message), .invalid(let message):
                        let valid = verification.result == "valid"
                        print("\(name): is_valid=\(valid)" + (message.map { "\nmessage: \($0)" } ?? ""))
                        return valid ? Exit.ok : Exit.invalidCredentials
                    case .failed(let failure):
                        throw Self.failure(failure, doing: "test the credentials of \(name)")
                    }
                case .pause, .resume:
                    let paused = action == .pause
                    let updated: Connection
                    do {
                        updated = try await client.updateConnection(
                            organizationID: target.id, connectionID: connection.id,
                            UpdateConnectionRequest(state: paused ? .paused : .active))
                    } catch {
                        throw Self.failure(PollFailure(calling: "update_connection_by_id", error), doing: "\(action) \(name)")
                    }
                    let who = OperatorIdentity.describe(environment: environment, uid: getuid())
                    var events = [
                        EventBuilder.connectionStateSetByOperator(
                            subject, paused: paused, previous: connection.state, operator: who,
                            context: EventContext(organizationLabel: target.label, observedAt: Date()))
                    ]
                    // A one-shot command writes its event directly (no outbox), with ids of a stream of its own.
                    var stream = EventStream()
                    stream.stamp(&events)
                    EventEmitter.standard(
                        format: StreamSink.Format(configuration.events.stderrFormat),
                        fields: EventBuilder.instanceFields(shard: configuration.shard)
                    ).emit(events)
                    print(
                        "\(name): state \(connection.state?.rawValue ?? "none") -> \(updated.state?.rawValue ?? "none") "
                            + "(by \(who))")
                    return Exit.ok
                }
            }
        } catch let failure as Failure {
            printError(failure.message)
            return failure.exit
        } catch {
            printError("\(action): \(error)")
            return Exit.apiFailure
        }
    }

    /// The organizations to search: the one `--organization` names (by id or name), else every configured one.
    static func select(_ reference: String?, in configuration: Configuration, path: String) throws(ConfigErrors)
        -> [OrganizationConfig]
    {
        guard let reference else { return configuration.organizations }
        let matches = configuration.organizations.filter { $0.id.rawValue == reference || $0.name == reference }
        guard !matches.isEmpty else {
            throw ConfigErrors(issues: [
                ConfigIssue(path: path, line: 0, column: 0, message: "--organization \(reference): no such organization in the configuration")
            ])
        }
        return matches
    }

    /// The connection `reference` names: by identifier (Leen's List Connections), else by connection id.
    static func find(_ reference: String, in organizations: [OrganizationConfig], client: LeenClient) async throws
        -> (OrganizationConfig, Connection)
    {
        var found: [(OrganizationConfig, Connection)] = []
        for organization in organizations {
            do {
                if let connection = try await client.findConnection(organizationID: organization.id, identifier: reference) {
                    found.append((organization, connection))
                }
            } catch {
                throw failure(PollFailure(calling: "list_connections", error), doing: "look up \(reference) in \(organization.label)")
            }
        }
        if found.count > 1 {
            throw Failure(
                exit: Exit.unknownConnection,
                message: "\(reference) names a connection in several organizations ("
                    + found.map(\.0.label).joined(separator: ", ") + "); choose one with --organization")
        }
        if let match = found.first { return match }
        // Not an identifier: perhaps a connection id.
        if UUID(uuidString: reference) != nil {
            for organization in organizations {
                do {
                    return (organization, try await client.getConnection(organizationID: organization.id, connectionID: ConnectionID(reference)))
                } catch let error as LeenAPIError where error.kind == .notFound || error.kind == .validation {
                    continue
                } catch {
                    throw failure(PollFailure(calling: "get_connection_by_id", error), doing: "look up \(reference) in \(organization.label)")
                }
            }
            throw Failure(
                exit: Exit.notFound,
                message: "Leen has no connection \(reference) in " + organizations.map(\.label).joined(separator: ", ") + " (404)")
        }
        throw Failure(
            exit: Exit.unknownConnection,
            message: "no connection with identifier \(reference) in " + organizations.map(\.label).joined(separator: ", "))
    }

    /// A failed call, as the exit status its cause calls for.
    static func failure(_ failure: PollFailure, doing what: String) -> Failure {
        switch failure.kind {
        case .unauthorized, .forbidden:
            Failure(
                exit: Exit.keyRejected,
                message: "cannot \(what): Leen rejected the API key (HTTP \(failure.status.map(String.init) ?? "401")); "
                    + "check api.key and the region (api.endpoint)")
        case .notFound:
            Failure(exit: Exit.notFound, message: "cannot \(what): Leen answered 404 (\(failure.summary))")
        default:
            Failure(exit: Exit.apiFailure, message: "cannot \(what): \(failure.summary)")
        }
    }
}
