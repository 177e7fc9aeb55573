import Foundation
import LeenAPI
import Yams

extension ConfigKeys {
    static let alerting = ["confirm", "api", "flapping", "incidents", "remind_every", "heartbeat"]
    static let confirm = ["customer", "leen", "vendor", "health_names"]
    static let rule = ["polls", "for"]
    static let apiRule = ["polls", "after"]
    static let flapping = ["changes", "window", "stable_for"]
    static let incidents = ["min_connections", "min_share", "min_organization_size"]
}

/// The `alerting:` section: confirmation rules, flapping, incidents, reminders and the heartbeat.
extension ConfigurationDecoder {
    func alerting(_ mapping: ConfigMapping) -> Configuration.Alerting {
        var alerting = Configuration.Alerting()
        if let confirm = context.optionalMapping("confirm", in: mapping, known: ConfigKeys.confirm) {
            let owners: [(String, WritableKeyPath<Configuration.Alerting, Configuration.ConfirmationRule>)] = [
                ("customer", \.customer), ("leen", \.leen), ("vendor", \.vendor),
            ]
            for (key, keyPath) in owners {
                if let node = confirm.value(key), let rule = confirmationRule(node, keyPath: confirm.path(key)) {
                    alerting[keyPath: keyPath] = rule
                }
            }
            if let node = confirm.value("health_names"), !ConfigContext.isNull(node),
                let names = context.mapping(node, keyPath: confirm.path("health_names"), known: nil)
            {
                for entry in names.entries {
                    let path = names.path(entry.key)
                    guard let name = HealthName(rawValue: entry.key, documentedOnly: true), name != .healthy else {
                        let known = HealthName.documentedValues.filter { $0 != .healthy }.map(\.rawValue)
                        context.report(
                            "unknown health name '\(entry.key)'; expected one of \(known.joined(separator: ", "))",
                            keyPath: names.keyPath, at: entry.keyNode)
                        continue
                    }
                    if let rule = confirmationRule(entry.value, keyPath: path) { alerting.healthNames[name] = rule }
                }
            }
        }
        if let api = context.optionalMapping("api", in: mapping, known: ConfigKeys.apiRule) {
            read("polls", in: api, range: 1...Int.max, into: &alerting.api.polls)
            read("after", in: api, into: &alerting.api.after)
        }
        if let node = mapping.value("flapping") {
            alerting.flapping = switchable(node) { self.flapping($0, keyPath: mapping.path("flapping")) }
        }
        if let node = mapping.value("incidents") {
            alerting.incidents = switchable(node) { self.incidents($0, keyPath: mapping.path("incidents")) }
        }
        if let node = mapping.value("remind_every") {
            alerting.remindEvery = switchable(node) { self.duration($0, keyPath: mapping.path("remind_every")) }
        }
        if let node = mapping.value("heartbeat") {
            alerting.heartbeat = switchable(node) { self.duration($0, keyPath: mapping.path("heartbeat")) }
        }
        return alerting
    }

    /// Nil for `off` (or `false`, or null), else what `decode` makes of the node.
    private func switchable<Value>(_ node: ConfigNode, _ decode: (ConfigNode) -> Value?) -> Value? {
        if ConfigContext.isNull(node) || node.scalar?.string == "off" { return nil }
        if node.configTag == .bool, node.bool == false { return nil }
        return decode(node)
    }

    /// `{polls: N, for: DURATION}`; `for` may be 0 or left out (no minimum time).
    private func confirmationRule(_ node: ConfigNode, keyPath: String) -> Configuration.ConfirmationRule? {
        guard let mapping = context.mapping(node, keyPath: keyPath, known: ConfigKeys.rule) else { return nil }
        var rule = Configuration.ConfirmationRule.immediate
        if let node = mapping.value("polls") {
            guard let polls = context.integer(node, keyPath: mapping.path("polls"), in: 1...Int.max) else { return nil }
            rule.polls = polls
        }
        if let node = mapping.value("for"), node.scalar?.string != "0" {
            guard let minimum = duration(node, keyPath: mapping.path("for")) else { return nil }
            rule.minimum = minimum
        }
        return rule
    }

    private func flapping(_ node: ConfigNode, keyPath: String) -> Configuration.Flapping? {
        guard let mapping = context.mapping(node, keyPath: keyPath, known: ConfigKeys.flapping) else { return nil }
        var flapping = Configuration.Flapping()
        read("changes", in: mapping, range: 1...Int.max, into: &flapping.changes)
        read("window", in: mapping, into: &flapping.window)
        read("stable_for", in: mapping, into: &flapping.stableFor)
        return flapping
    }

    private func incidents(_ node: ConfigNode, keyPath: String) -> Configuration.Incidents? {
        guard let mapping = context.mapping(node, keyPath: keyPath, known: ConfigKeys.incidents) else { return nil }
        var incidents = Configuration.Incidents()
        read("min_connections", in: mapping, range: 2...Int.max, into: &incidents.minimumConnections)
        if let node = mapping.value("min_share") {
            incidents.minimumShare =
                context.value(
                    node, keyPath: mapping.path("min_share"), expected: ConfigValues.shareExpectation,
                    ConfigValues.share) ?? incidents.minimumShare
        }
        read("min_organization_size", in: mapping, range: 2...Int.max, into: &incidents.minimumOrganizationSize)
        return incidents
    }
}

extension ConfigValues {
    static let shareExpectation = "a percentage such as 50% or a fraction such as 0.5"

    /// `50%` or `0.5`: more than 0, at most 1.
    static func share(_ text: String) -> Result<Double, ConfigValueError> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let value: Double?
        if trimmed.hasSuffix("%") {
            value = Double(trimmed.dropLast().trimmingCharacters(in: .whitespaces)).map { $0 / 100 }
        } else {
            value = Double(trimmed)
        }
        guard let value, value.isFinite else { return .failure(.invalid) }
        guard value > 0, value <= 1 else { return .failure(.outOfRange("must be more than 0 and at most 100%, found \(trimmed)")) }
        return .success(value)
    }
}
