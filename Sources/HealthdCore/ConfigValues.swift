import Foundation

/// Parsers for the configuration's scalar values. Each returns the value, `.invalid` when the text is not of
/// the expected form, or `.outOfRange(message)` when it is but the value is not acceptable.
enum ConfigValues {
    static let durationExpectation = "a duration such as 30s, 5m, 1h30m or 250ms"

    /// `30s`, `5m`, `1h30m`, `250ms`, `1.5s`, `2d`, or a bare number of seconds (`30`, `0.25`); greater than zero.
    static func duration(_ text: String) -> Result<Duration, ConfigValueError> {
        let text = text.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("-") {
            guard Double(text) != nil || durationNanoseconds(String(text.dropFirst())) != nil else {
                return .failure(.invalid)
            }
            return .failure(.outOfRange("must be greater than zero, found \(text)"))
        }
        guard let nanoseconds = durationNanoseconds(text) else { return .failure(.invalid) }
        guard nanoseconds > 0 else { return .failure(.outOfRange("must be greater than zero, found \(text)")) }
        return .success(.nanoseconds(nanoseconds))
    }

    private static let unitNanoseconds: [String: Int64] = [
        "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000,
    ]

    /// Nanoseconds in `1h30m`-style text or a bare decimal number of seconds; nil when malformed or too long.
    private static func durationNanoseconds(_ text: String) -> Int64? {
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        var total: Int64 = 0
        var isFirst = true
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unit.count)
            if unit.isEmpty, !(isFirst && rest.isEmpty) { return nil }  // a bare number stands alone
            isFirst = false
            guard let scale = unit.isEmpty ? unitNanoseconds["s"] : unitNanoseconds[String(unit)],
                let part = scaled(number, by: scale)
            else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(part)
            guard !overflow else { return nil }
            total = sum
        }
        return total
    }

    /// `digits[.digits]` times `scale`, rounded to whole units of `scale`'s resolution; nil on overflow.
    private static func scaled(_ number: Substring, by scale: Int64) -> Int64? {
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts.allSatisfy({ $0.allSatisfy(\.isNumber) }),
            let whole = Int64(parts[0])
        else { return nil }
        let (integral, overflow) = whole.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        guard parts.count == 2 else { return integral }
        guard !parts[1].isEmpty else { return nil }
        let fraction = Double("0." + parts[1])! * Double(scale)
        let (total, fractionOverflow) = integral.addingReportingOverflow(Int64(fraction.rounded()))
        return fractionOverflow ? nil : total
    }

    static let jitterExpectation = "a fraction such as 0.1 or a percentage such as 10%"

    /// `10%` or `0.1`, between 0 and 0.5.
    static func jitter(_ text: String) -> Result<Double, ConfigValueError> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let value: Double
        if trimmed.hasSuffix("%") {
            guard let percent = Double(trimmed.dropLast().trimmingCharacters(in: .whitespaces)) else {
                return .failure(.invalid)
            }
            value = percent / 100
        } else {
            guard let fraction = Double(trimmed) else { return .failure(.invalid) }
            value = fraction
        }
        guard value.isFinite, (0...0.5).contains(value) else {
            let hint = !trimmed.hasSuffix("%") && value > 1 ? "; write \(trimmed)% for a percentage" : ""
            return .failure(.outOfRange("must be between 0 and 0.5 (50%), found \(trimmed)\(hint)"))
        }
        return .success(value)
    }

    static let listenExpectation = "HOST:PORT such as 127.0.0.1:9464, or off"

    /// `host:port` or `[ipv6]:port`, port 1…65535; returned as written.
    static func listenAddress(_ text: String) -> Result<String, ConfigValueError> {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return .failure(.invalid)
            }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
            guard host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return .failure(.invalid) }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return .failure(.invalid) }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
            let hostCharacters = host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }
            guard hostCharacters else { return .failure(.invalid) }
        }
        guard !host.isEmpty, !port.isEmpty, port.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return .failure(.invalid)
        }
        guard let number = Int(port), (1...65535).contains(number) else {
            return .failure(.outOfRange("port must be between 1 and 65535, found \(port)"))
        }
        return .success(text)
    }

    static let baseURLExpectation = "an http:// or https:// URL such as http://127.0.0.1:8080/v1"

    /// An `http(s)://` URL with a host; returned as written.
    static func webURL(_ text: String) -> Result<String, ConfigValueError> {
        guard text.hasPrefix("http://") || text.hasPrefix("https://"), let url = URLComponents(string: text),
            let host = url.host, !host.isEmpty
        else { return .failure(.invalid) }
        return .success(text)
    }

    /// An `http(s)://host[:port]/…/v1` URL without query or fragment; returned as written.
    static func baseURL(_ text: String) -> Result<String, ConfigValueError> {
        guard case .success = webURL(text), let url = URLComponents(string: text) else { return .failure(.invalid) }
        guard url.query == nil, url.fragment == nil else {
            return .failure(.outOfRange("must not have a query or fragment, found '\(text)'"))
        }
        let path = url.path.hasSuffix("/") ? String(url.path.dropLast()) : url.path
        guard path.hasSuffix("/v1") else {
            return .failure(
                .outOfRange("must end with the API version /v1 (e.g. http://127.0.0.1:8080/v1), found '\(text)'"))
        }
        return .success(text)
    }

    /// The host of an `http://` URL that is not a loopback address (nil for https:// and loopback), where
    /// the API key would cross a network in clear.
    static func cleartextRemoteHost(_ url: String) -> String? {
        guard url.lowercased().hasPrefix("http://"), let host = URLComponents(string: url)?.host?.lowercased() else {
            return nil
        }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        if bare == "localhost" || bare.hasSuffix(".localhost") || bare == "::1" { return nil }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        if octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }), octets[0] == "127" { return nil }
        return host
    }

    /// A canonical UUID (`3c90c3cc-0d44-4b50-8888-8dd25736052a`), returned in lowercase.
    static func uuid(_ text: String) -> Result<String, ConfigValueError> {
        guard text.count == 36, UUID(uuidString: text) != nil else {
            return .failure(
                .outOfRange("must be a UUID such as 3c90c3cc-0d44-4b50-8888-8dd25736052a, found '\(text)'"))
        }
        return .success(text.lowercased())
    }

    /// `K/N` (``Shard/parse(_:)``).
    static func shard(_ text: String) -> Result<Shard, ConfigValueError> {
        Shard.parse(text).mapError { error in
            switch error {
            case .invalid: .invalid
            case .outOfRange(let message): .outOfRange(message)
            }
        }
    }

    /// An absolute path. The text is not repeated in the message: it may be a secret written by mistake.
    static func absolutePath(_ text: String) -> Result<String, ConfigValueError> {
        text.hasPrefix("/") ? .success(text) : .failure(.outOfRange("must be an absolute path (starting with /)"))
    }

    /// A systemd credential name: not empty, no `/`, not `.` or `..`. Not repeated in the message either.
    static func credentialName(_ text: String) -> Result<String, ConfigValueError> {
        guard !text.isEmpty, !text.contains("/"), text != ".", text != ".." else {
            return .failure(.outOfRange("must be a credential name: a file name, without '/'"))
        }
        return .success(text)
    }

    /// A connection identifier: 1 to 255 characters, no control characters, no surrounding spaces.
    static func identifier(_ text: String) -> Result<String, ConfigValueError> {
        guard !text.isEmpty else { return .failure(.outOfRange("must not be empty")) }
        // Printable ASCII without spaces passes the checks below; found by bytes, since the Unicode
        // properties made this check a twentieth of the time to read a configuration of 100k connections.
        if text.utf8.count <= 255, text.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) { return .success(text) }
        guard text.count <= 255, !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }),
            text.trimmingCharacters(in: .whitespaces) == text
        else {
            return .failure(
                .outOfRange("must be at most 255 characters, without control characters or surrounding spaces"))
        }
        return .success(text)
    }
}
