import Foundation
import LeenAPI

/// Checks requests the way Leen's FastAPI/Pydantic v2 service does and reports failures in its 422 shape:
/// `{"type": "missing", "loc": ["body", "vendor"], "msg": "Field required"}`. The rejected `input` is never
/// echoed, because it may be a credential.
enum RequestValidation {
    typealias Loc = [ValidationIssue.LocationComponent]

    static func missing(_ loc: Loc) -> ValidationIssue {
        ValidationIssue(loc: loc, msg: "Field required", type: "missing")
    }

    static func enumIssue(_ loc: Loc, _ values: [String]) -> ValidationIssue {
        let quoted = values.map { "'\($0)'" }
        let list = quoted.count > 1 ? quoted.dropLast().joined(separator: ", ") + " or " + quoted.last! : quoted[0]
        return ValidationIssue(loc: loc, msg: "Input should be \(list)", type: "enum")
    }

    // MARK: Path and query

    /// The canonical (lower-case, hyphenated) form of a UUID in either form Pydantic accepts, as the
    /// real API parses path ids into UUIDs before looking them up.
    static func canonicalUUID(_ value: String, name: String) throws -> String {
        try uuid(value, name: name)
        let hex = Array(value.replacingOccurrences(of: "-", with: "").lowercased())
        return String(hex[0..<8]) + "-" + String(hex[8..<12]) + "-" + String(hex[12..<16]) + "-"
            + String(hex[16..<20]) + "-" + String(hex[20..<32])
    }

    /// Pydantic accepts the hyphenated and the 32-digit forms of a UUID.
    static func uuid(_ value: String, name: String) throws {
        let hex = value.replacingOccurrences(of: "-", with: "")
        let hyphenated =
            value.count == 36 && [8, 13, 18, 23].allSatisfy { value[value.index(value.startIndex, offsetBy: $0)] == "-" }
        guard hex.count == 32, value.count == 32 || hyphenated, hex.allSatisfy(\.isHexDigit) else {
            throw SimulatorError.invalid(
                ["path", .key(name)], "Input should be a valid UUID, invalid length or character", type: "uuid_parsing")
        }
    }

    static func integer(_ raw: String?, name: String, default value: Int, minimum: Int, exclusive: Bool) throws -> Int {
        guard let raw else { return value }
        guard let number = Int(raw.trimmingCharacters(in: .whitespaces)) else {
            throw SimulatorError.invalid(
                ["query", .key(name)], "Input should be a valid integer, unable to parse string as an integer",
                type: "int_parsing")
        }
        if exclusive, number <= minimum {
            throw SimulatorError.invalid(
                ["query", .key(name)], "Input should be greater than \(minimum)", type: "greater_than")
        }
        if !exclusive, number < minimum {
            throw SimulatorError.invalid(
                ["query", .key(name)], "Input should be greater than or equal to \(minimum)",
                type: "greater_than_equal")
        }
        return number
    }

    static func boolean(_ raw: String?, name: String) throws -> Bool {
        guard let raw else { return false }
        switch raw.lowercased() {
        case "true", "1", "yes", "on", "t", "y": return true
        case "false", "0", "no", "off", "f", "n": return false
        default:
            throw SimulatorError.invalid(
                ["query", .key(name)], "Input should be a valid boolean, unable to interpret input",
                type: "bool_parsing")
        }
    }

    /// Cursors are base64 JSON `{"offset": N}`, like the docs' example `eyJvZmZzZXQiOjJ9`.
    static func cursorOffset(_ cursor: String) throws -> Int {
        struct Payload: Codable { var offset: Int }
        var text = cursor
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text), let payload = try? JSONDecoder().decode(Payload.self, from: data),
            payload.offset >= 0
        else {
            throw SimulatorError.invalid(["query", "cursor"], "Invalid cursor", type: "value_error")
        }
        return payload.offset
    }

    static func cursor(offset: Int) -> String {
        Data(#"{"offset":\#(offset)}"#.utf8).base64EncodedString()
    }

    // MARK: Bodies

    static func json(_ body: Data) throws -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: body)
        } catch {
            throw SimulatorError.invalid(["body", 0], "JSON decode error", type: "json_invalid")
        }
    }

    static func object(_ value: JSONValue) throws -> [String: JSONValue] {
        guard let object = value.objectValue else {
            throw SimulatorError.invalid(
                ["body"], "Input should be a valid dictionary or object to extract fields from",
                type: "model_attributes_type")
        }
        return object
    }

    static func optionalString(_ object: [String: JSONValue], _ key: String, issues: inout [ValidationIssue])
        -> String?
    {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default:
            issues.append(ValidationIssue(loc: ["body", .key(key)], msg: "Input should be a valid string", type: "string_type"))
            return nil
        }
    }

    static func optionalObject(_ object: [String: JSONValue], _ key: String, issues: inout [ValidationIssue])
        -> [String: JSONValue]?
    {
        switch object[key] {
        case nil, .null?: return nil
        case .object(let o)?: return o
        default:
            issues.append(
                ValidationIssue(
                    loc: ["body", .key(key)], msg: "Input should be a valid dictionary", type: "dict_type"))
            return nil
        }
    }

    static func createOrganization(_ body: Data) throws -> CreateOrganizationRequest {
        let object = try object(json(body))
        var issues: [ValidationIssue] = []
        let name = optionalString(object, "name", issues: &issues)
        let identifier = optionalString(object, "identifier", issues: &issues)
        if object["name"] == nil || object["name"] == .null { issues.append(missing(["body", "name"])) }
        if object["identifier"] == nil || object["identifier"] == .null {
            issues.append(missing(["body", "identifier"]))
        }
        guard issues.isEmpty, let name, let identifier else { throw SimulatorError.validation(issues) }
        return CreateOrganizationRequest(name: name, identifier: identifier)
    }

    static func createConnection(_ body: Data, strict: Bool) throws -> CreateConnectionRequest {
        let object = try object(json(body))
        var issues: [ValidationIssue] = []
        var vendor: Vendor?
        switch object["vendor"] {
        case nil: issues.append(missing(["body", "vendor"]))
        case .string(let raw)? where Vendor(rawValue: raw).isDocumented: vendor = Vendor(rawValue: raw)
        default: issues.append(enumIssue(["body", "vendor"], Vendor.documentedValues.map(\.rawValue)))
        }
        let identifier = optionalString(object, "identifier", issues: &issues)
        let credentials = optionalObject(object, "credentials", issues: &issues).map(VendorCredentials.init)
        let options = optionalObject(object, "options", issues: &issues).map(JSONValue.object)
        if let vendor {
            issues += credentialIssues(vendor: vendor, credentials: credentials, strict: strict)
        }
        guard issues.isEmpty, let vendor else { throw SimulatorError.validation(issues) }
        return CreateConnectionRequest(vendor: vendor, credentials: credentials, identifier: identifier, options: options)
    }

    /// Non-OAuth vendors need credentials; with `strict`, the documented fields for the vendor too.
    static func credentialIssues(vendor: Vendor, credentials: VendorCredentials?, strict: Bool) -> [ValidationIssue] {
        guard vendor.authorization == .credentials else { return [] }
        guard let credentials, !credentials.isEmpty else { return [missing(["body", "credentials"])] }
        guard strict else { return [] }
        return vendor.documentedCredentialFields.compactMap { field in
            guard credentials[path: field]?.stringValue?.isEmpty ?? true else { return nil }
            return missing(["body", "credentials"] + field.split(separator: ".").map { .key(String($0)) })
        }
    }

    static func updateConnection(_ body: Data, vendor: () throws -> Vendor, strict: Bool) throws
        -> UpdateConnectionRequest
    {
        let object = try object(json(body))
        var issues: [ValidationIssue] = []
        let identifier = optionalString(object, "identifier", issues: &issues)
        let credentials = optionalObject(object, "credentials", issues: &issues).map(VendorCredentials.init)
        var state: ConnectionState?
        switch object["state"] {
        case nil, .null?: break
        case .string(let raw)? where ConnectionState(rawValue: raw).isDocumented: state = ConnectionState(rawValue: raw)
        default: issues.append(enumIssue(["body", "state"], ConnectionState.documentedValues.map(\.rawValue)))
        }
        if let credentials {
            issues += credentialIssues(vendor: try vendor(), credentials: credentials, strict: strict)
        }
        guard issues.isEmpty else { throw SimulatorError.validation(issues) }
        return UpdateConnectionRequest(credentials: credentials, identifier: identifier, state: state)
    }
}
