import Foundation
import FuzzDriver
import Healthd
import HealthdCore
import LeenAPI

/// A state file's bytes, read as the daemon reads each of its state files at start (`StateStore.read…`), and
/// as an organization's log after a small file whose token its seed's records carry. An organization's file
/// is then used as a restarted daemon uses it (`afterRestart`).
@_cdecl("LLVMFuzzerTestOneInput")
func test(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let data = Data(bytes(data, size))
    if let (id, stored) = try? StateStore.readOrganization(data, path: "organizations/fuzz.json") {
        afterRestart(id, stored)
    }
    if let (id, stored) = try? StateStore.readOrganization(logged, log: data, path: "organizations/fuzz.json") {
        afterRestart(id, stored)
    }
    _ = try? StateStore.readDaemon(data, path: "daemon.json")
    _ = try? StateStore.readCredentials(data, path: "credentials.json")
    _ = try? StateStore.readIncidents(data, path: "incidents.json")
    return 0
}

/// An organization's file with no connections, followed by the log of `Corpus/state-file/organization-log.log`.
let logged = Data(
    #"{"delivery":{"outbox":[],"stream":{"id":"s","sequences":{}}},"log":"0000000000000000","organizationID":"o","state":{"connections":{},"api":{"ok":{}},"consecutiveFailures":0},"version":3}"#
        .utf8)

/// `leen-healthd status` lists the state; the next polls (one failing, one listing nothing while every stored
/// connection is still declared) are applied to it, and their events numbered on the file's stream.
func afterRestart(_ id: OrganizationID, _ stored: StateStore.StoredOrganization) {
    _ = StatusReport.rows([id: stored.state])
    let context = EventContext(organizationLabel: id.rawValue, observedAt: Date(timeIntervalSince1970: 1_800_000_000))
    var stream = stored.delivery.stream
    var (state, events) = PollProcessor.apply(
        failure: PollFailure(kind: .timeout, summary: "fuzz"), organizationID: id, to: stored.state, context: context)
    stream.stamp(&events)
    (state, events) = PollProcessor.apply(
        listed: [], declared: Set(state.connections.keys), organizationID: id, to: state, context: context)
    stream.stamp(&events)
}

fuzz(test)
