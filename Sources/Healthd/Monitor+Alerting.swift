import Foundation
import HealthdCore

/// The monitor's part of the alerting rules that sees more than one organization's poll.
extension Monitor {
    /// `organization_untracked` for each organization that `next` no longer configures, with what was known
    /// of it (so an alert on its connections can be closed downstream).
    func untrackedOrganizations(leaving next: Configuration) -> [HealthEvent] {
        let kept = Set(next.organizations.map(\.id))
        return configuration.organizations.filter { !kept.contains($0.id) }.map { organization in
            EventBuilder.organizationUntracked(
                organization.id, state: organizations[organization.id] ?? OrganizationState(),
                reason: .removedFromConfig,
                context: EventContext(organizationLabel: organization.label, observedAt: now()))
        }
    }
}
