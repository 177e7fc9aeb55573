import Foundation

/// The two exposition formats `/metrics` serves, and how a request picks one.
public enum ExpositionFormat: String, Sendable, Hashable, CaseIterable {
    /// Prometheus text format 0.0.4: the default, and the fallback for anything else.
    case text
    /// OpenMetrics 1.0.0: counters' families without `_total`, `# UNIT` lines, `# EOF` at the end.
    case openMetrics

    public var contentType: String {
        switch self {
        case .text: "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8"
        }
    }

    /// The format an `Accept` header asks for: OpenMetrics when an `application/openmetrics-text` range
    /// (version 1.0.0, 0.0.1 or none) has the highest weight, ties going to the range listed first;
    /// text 0.0.4 otherwise, as the content-negotiation rules say.
    ///
    /// Prometheus sends, for example,
    /// `application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2`.
    public static func negotiate(accept: String?) -> ExpositionFormat {
        guard let accept, !accept.isEmpty else { return .text }
        var best: (format: ExpositionFormat, weight: Double)?
        for range in HeaderValue.elements(accept) {
            guard range.weight > 0 else { continue }
            let format: ExpositionFormat
            switch range.token {
            case "application/openmetrics-text":
                guard [nil, "1.0.0", "0.0.1"].contains(range.parameters["version"]) else { continue }
                format = .openMetrics
            case "text/plain", "text/*", "*/*":
                format = .text
            default:
                continue
            }
            if best == nil || range.weight > best!.weight { best = (format, range.weight) }
        }
        return best?.format ?? .text
    }

    /// True when an `Accept-Encoding` header accepts gzip (`gzip`, `x-gzip` or `*` with a non-zero weight,
    /// and no `gzip;q=0`).
    public static func acceptsGzip(_ acceptEncoding: String?) -> Bool {
        guard let acceptEncoding else { return false }
        var gzip: Double?
        var wildcard: Double?
        for coding in HeaderValue.elements(acceptEncoding) {
            switch coding.token {
            case "gzip", "x-gzip": gzip = max(gzip ?? 0, coding.weight)
            case "*": wildcard = coding.weight
            default: break
            }
        }
        return (gzip ?? wildcard ?? 0) > 0
    }
}

/// A comma-separated header value of `token;name=value;q=weight` elements (Accept, Accept-Encoding).
enum HeaderValue {
    struct Element {
        /// Lower-cased.
        var token: String
        /// Lower-cased names, unquoted values; `q` excluded.
        var parameters: [String: String]
        var weight: Double
    }

    static func elements(_ header: String) -> [Element] {
        header.split(separator: ",").compactMap { part in
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let token = pieces.first?.lowercased(), !token.isEmpty else { return nil }
            var parameters: [String: String] = [:]
            var weight = 1.0
            for piece in pieces.dropFirst() {
                let pair = piece.split(separator: "=", maxSplits: 1).map {
                    $0.trimmingCharacters(in: .whitespaces)
                }
                guard pair.count == 2 else { continue }
                let name = pair[0].lowercased()
                let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                if name == "q" {
                    weight = Double(value).map { min(max($0, 0), 1) } ?? 0
                } else {
                    parameters[name] = value
                }
            }
            return Element(token: token, parameters: parameters, weight: weight)
        }
    }
}
