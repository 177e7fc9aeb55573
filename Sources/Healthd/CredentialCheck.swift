import HealthdCore
import LeenAPI
import LeenAPIClient

/// Asks Leen's Test Connection Credentials about one connection: the one call behind `leen-healthd test`,
/// the test after a rotation and the one for a connection that turned UNAUTHORIZED.
public enum CredentialCheck {
    /// Never throws: a failed call is a ``CredentialVerification/failed(_:)`` answer, so whatever waits on
    /// it (a rotation's event, an UNAUTHORIZED follow-up) is written either way.
    public static func run(
        _ client: LeenClient, organization: OrganizationID, connection: ConnectionID
    ) async -> CredentialVerification {
        do {
            let answer = try await client.testConnectionCredentials(organizationID: organization, connectionID: connection)
            return CredentialVerification(isValid: answer.isValid, message: answer.message)
        } catch {
            return .failed(PollFailure(calling: "test_connection_by_id", error))
        }
    }
}
