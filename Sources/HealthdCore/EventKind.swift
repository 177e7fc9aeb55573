/// The kinds of event leen-healthd writes to the journal, each with a fixed 128-bit `MESSAGE_ID`.
///
/// The ids never change once released: they are how `journalctl MESSAGE_ID=…`, the journal catalog and
/// log pipelines recognise an event. `docs/events.md` lists them with their fields.
public enum EventKind: String, CaseIterable, Codable, Sendable {
    /// A declared connection is monitored for the first time.
    case connectionMonitored = "connection_monitored"
    /// A connection's health became UNHEALTHY.
    case connectionUnhealthy = "connection_unhealthy"
    /// A connection's health became HEALTHY again.
    case connectionRecovered = "connection_recovered"
    /// The health name changed while the status stayed the same.
    case connectionReasonChanged = "connection_reason_changed"
    /// Only the resolution owner changed.
    case connectionOwnerChanged = "connection_owner_changed"
    /// Failing endpoints or export types came or went.
    case connectionDetailsChanged = "connection_details_changed"
    /// The connection state (PENDING, ACTIVE, PAUSED, DELETED) or is_active changed.
    case connectionStateChanged = "connection_state_changed"
    /// An OAuth connection waits for an administrator to open its authorisation URL.
    case connectionOAuthPending = "connection_oauth_pending"
    /// OAuth authorisation was completed.
    case connectionOAuthCompleted = "connection_oauth_completed"
    /// A monitored connection is no longer listed by Leen.
    case connectionDisappeared = "connection_disappeared"
    /// A connection that had disappeared is listed again.
    case connectionReappeared = "connection_reappeared"
    /// A connection's UNHEALTHY state was confirmed by its owner's rule (hard): the event that pages.
    case connectionUnhealthyConfirmed = "connection_unhealthy_confirmed"
    /// A reminder, every `alerting.remind_every`, that a confirmed problem lasts.
    case connectionStillUnhealthy = "connection_still_unhealthy"
    /// A connection's status changed too often within the window; its transitions are written at info.
    case connectionFlapping = "connection_flapping"
    /// A flapping connection has been stable long enough; its transitions are written as usual again.
    case connectionFlappingEnded = "connection_flapping_ended"
    /// A connection is no longer tracked (removed from the config, deleted in Leen, no longer listed).
    case connectionUntracked = "connection_untracked"
    /// An organization is no longer tracked (removed from the config).
    case organizationUntracked = "organization_untracked"
    /// Many connections turned UNHEALTHY the same way within one poll interval: one incident.
    case incidentStarted = "incident_started"
    /// An incident no longer holds (too few of its connections are still affected).
    case incidentResolved = "incident_resolved"
    /// Polling an organization failed: timeout, transport error, 5xx, 429 after retries, or a malformed body.
    case apiUnreachable = "api_unreachable"
    /// Leen rejected the daemon's requests (401/403): the API key is wrong, expired or for another region.
    case apiRejected = "api_rejected"
    /// Polling an organization works again.
    case apiRecovered = "api_recovered"
    /// Provisioning created a declared connection in Leen.
    case connectionCreated = "connection_created"
    /// Provisioning adopted an existing connection with the declared identifier.
    case connectionAdopted = "connection_adopted"
    /// Provisioning sent changed credentials to Leen (PATCH).
    case credentialsUpdated = "credentials_updated"
    /// Leen has a connection the config does not declare (reported, never deleted).
    case connectionUnmanaged = "connection_unmanaged"
    /// Creating or updating a declared connection failed.
    case provisioningFailed = "provisioning_failed"
    /// The configuration was reloaded.
    case configReloaded = "config_reloaded"
    /// A reload was refused; the previous configuration stays in force.
    case configReloadFailed = "config_reload_failed"
    /// A state file could not be used (corrupt, or a format this version does not read): it was moved aside
    /// and what it held starts again from an empty baseline.
    case stateFileSetAside = "state_file_set_aside"
    /// leen-healthd started monitoring.
    case daemonStarted = "daemon_started"
    /// leen-healthd is stopping.
    case daemonStopping = "daemon_stopping"
    /// Every `alerting.heartbeat`: leen-healthd runs, with its summary counts.
    case daemonHeartbeat = "daemon_heartbeat"
    /// An operator paused a connection (`leen-healthd pause`).
    case connectionPausedByOperator = "connection_paused_by_operator"
    /// An operator resumed a paused connection (`leen-healthd resume`).
    case connectionResumedByOperator = "connection_resumed_by_operator"
    /// A credential file changed (or a reload found new credentials): they were sent with PATCH and tested.
    case credentialsRotated = "credentials_rotated"
    /// A connection turned UNAUTHORIZED: Leen's Test Connection Credentials answer, for the event before it.
    case credentialsTested = "credentials_tested"

    /// The journal `MESSAGE_ID` (32 lower-case hex digits).
    public var messageID: String {
        switch self {
        case .connectionMonitored: "b7613ae5ad024557a52a163114962c85"
        case .connectionUnhealthy: "9d3d7f7868cb46fdb0b5bf17d0cbd925"
        case .connectionRecovered: "bede95f69c6d4371baec920b5aa77154"
        case .connectionReasonChanged: "24d0ac4ea8f1434ebaf6942736edfe05"
        case .connectionOwnerChanged: "5155307d12e34d3e81dbe2ead152a8ae"
        case .connectionDetailsChanged: "326c79df29844e1282204468738a750e"
        case .connectionStateChanged: "5094a8e40c7c44e28f3467f5ff158aef"
        case .connectionOAuthPending: "907d9a2fd51c45c09d87d87e9c05ec80"
        case .connectionOAuthCompleted: "2b6b5df4a1c54a2eb636851997228901"
        case .connectionDisappeared: "b707f5ebf3744e8aa3783394c0ade84a"
        case .connectionReappeared: "c28d3c11e7034dfe9a1d7209f2d019fe"
        case .connectionUnhealthyConfirmed: "6b8df4f12209406c8890b4093b95c711"
        case .connectionStillUnhealthy: "b0e08211a84a4959a61f2566226b070f"
        case .connectionFlapping: "b840c797c4f94cc1b71669a15a263892"
        case .connectionFlappingEnded: "f18ca91161d1460d8b1c048c53dc7536"
        case .connectionUntracked: "75746aa448ed476d8f1bf7aadcab780c"
        case .organizationUntracked: "557f379ffdd648359b1cc78a31ebec1f"
        case .incidentStarted: "c2cf8b287a214a99a0a8caf636ccc53c"
        case .incidentResolved: "b4d3ee745d464176853514020722f1e4"
        case .apiUnreachable: "c6f0420b1a9847f992d3850e21b9d2e6"
        case .apiRejected: "423cff12d67343fb88ee543628d9123a"
        case .apiRecovered: "3d72b93947174f2ba594c74cbe38f6e0"
        case .connectionCreated: "70c5ef2ee5854ef9a0542d23f5143212"
        case .connectionAdopted: "adc44e954a454b4b8ffbedcb64a6df56"
        case .credentialsUpdated: "366a63b8abe6455dbd4259446f818d18"
        case .connectionUnmanaged: "1cac2d1ff02743e9863516154288afd0"
        case .provisioningFailed: "9127485adfe641efbb42debd7bdbb81a"
        case .configReloaded: "357f3e8fe0e94061b7d1eaa69ee8b48a"
        case .configReloadFailed: "6ef4b0c3d88b4533a329c3d8243e335f"
        case .stateFileSetAside: "0dc0838732b34bbd8adf816610b0dd27"
        case .daemonStarted: "7a9008ec4d614b748d967022b57aea4c"
        case .daemonStopping: "83acbcc99120469bacf57d98093a5099"
        case .daemonHeartbeat: "f7a4b8193c504cd2ab13e39046914aba"
        case .connectionPausedByOperator: "e5591409f4492d3f70fbc7827a89ec57"
        case .connectionResumedByOperator: "f8f2ab9e9496c56ce8f7ac130b2826c5"
        case .credentialsRotated: "356217bf4f102d75f1a1b45f255e928a"
        case .credentialsTested: "181b678204fb284f5ac732ddfbb630fc"
        }
    }
}
