import Foundation
import LeenAPI
import LeenSimulator
import Testing

@Suite("422 validation in FastAPI's shape")
struct ValidationTests {
    @Test("A bad UUID in the path is 422 at [path, organization_id]")
    func badOrganizationUUID() async throws {
        try await withSimulator { sim async throws in
            for bad in ["not-a-uuid", "1234", "3c90c3cc-0d44-4b50-8888-8dd25736052", "3c90c3cc-0d44-4b50-8888-8dd25736052z"] {
                for path in [organizationPath(bad), connectionsPath(bad), connectionPath(bad, unknownUUID)] {
                    let issues = try validationIssues(try await sim.get(path))
                    #expect(issues.count == 1, "\(path)")
                    #expect(issues.first?.loc == loc("path", "organization_id"), "\(path)")
                    #expect(issues.first?.type == "uuid_parsing", "\(path)")
                }
            }
            let delete = try validationIssues(try await sim.delete(organizationPath("nope")))
            #expect(delete.map(\.loc) == [loc("path", "organization_id")])
            let create = try validationIssues(try await sim.post(connectionsPath("nope"), tenableBody()))
            #expect(create.map(\.loc) == [loc("path", "organization_id")])
        }
    }

    @Test("UUIDs in upper case and without hyphens are accepted, as Pydantic does")
    func uuidForms() async throws {
        try await withSimulator { sim async throws in
            let upper = try await sim.get(organizationPath(unknownUUID.uppercased()))
            #expect(upper.status == 404)
            let compact = try await sim.get(organizationPath(unknownUUID.replacingOccurrences(of: "-", with: "")))
            #expect(compact.status == 404)
        }
    }

    @Test("A bad UUID for the connection is 422 at [path, connection_id] on every connection route")
    func badConnectionUUID() async throws {
        try await withSimulator { sim async throws in
            let organization = try await sim.createOrganization()
            let path = connectionPath(organization, "xyz")
            for (method, suffix, body) in [
                ("GET", "", nil), ("PATCH", "", #"{"state":"PAUSED"}"#), ("DELETE", "", nil), ("GET", "/test", nil),
            ] as [(String, String, String?)] {
                let issues = try validationIssues(try await sim.send(method, path + suffix, body: body))
                #expect(issues.map(\.loc) == [loc("path", "connection_id")], "\(method) \(suffix)")
                #expect(issues.first?.type == "uuid_parsing")
            }
            // Path validation comes before lookup: an unknown organization with a bad connection id is 422.
            let both = try validationIssues(try await sim.get(connectionPath(unknownUUID, "xyz")))
            #expect(both.map(\.loc) == [loc("path", "connection_id")])
        }
    }

    @Test("An unknown vendor is 422 type enum listing the documented vendors")
    func unknownVendor() async throws {
        try await withSimulator { sim async throws in
            let organization = try await sim.createOrganization()
            for vendor in [#""NOPE""#, #""tenable""#, "42", "null"] {
                let reply = try await sim.post(connectionsPath(organization), #"{"vendor":\#(vendor)}"#)
                let issues = try validationIssues(reply)
                let issue = try #require(issues.first { $0.loc == loc("body", "vendor") }, "\(vendor): \(issues)")
                #expect(issue.type == "enum", "\(vendor)")
                #expect(issue.msg.hasPrefix("Input should be "))
                #expect(issue.msg.contains("'TENABLE'") && issue.msg.contains("'MS_ENTRA'"))
                #expect(issue.msg.hasSuffix("or 'WIZ_VMS'"))
            }
            #expect(try await sim.items(connectionsPath(organization)).isEmpty)
        }
    }

    @Test("A missing vendor is 422 type missing, msg Field required")
    func missingVendor() async throws {
        try await withSimulator { sim async throws in
            let organization = try await sim.createOrganization()
            let issues = try validationIssues(
                try await sim.post(connectionsPath(organization), #"{"credentials":{"client_key":"a"}}"#))
            #expect(issues == [FieldIssue(loc: loc("body", "vendor"), msg: "Field required", type: "missing")])
        }
    }

    @Test("A non-OAuth vendor without credentials is 422 at [body, credentials]")
    func missingCredentials() async throws {
        try await withSimulator { sim async throws in
            let organization = try await sim.createOrganization()
            for body in [#"{"vendor":"TENABLE"}"#, #"{"vendor":"TENABLE","credentials":{}}"#,
                #"{"vendor":"TENABLE","credentials":null}"#]
            {
                let issues = try validationIssues(try await sim.post(connectionsPath(organization), body))
                #expect(issues == [FieldIssue(loc: loc("body", "credentials"), msg: "Field required", type: "missing")],
                    "\(body)")
            }
        }
    }

    @Test("A missing documented credential field is 422 at [body, credentials, <field>]")
    func missingCredentialField() async throws {
        try await withSimulator { sim async throws in
            let organization = try await sim.createOrganization()
            let partial = try validationIssues(
                try await sim.post(
                    connectionsPath(organization), #"{"vendor":"TENABLE","credentials":{"client_key":"ck"}}"#))
            #expect(partial == [
                FieldIssue(loc: loc("body", "credentials", "secret_key"), msg: "Field required", type: "missing")
            ])
            // An empty string counts as missing.
            let empty = try validationIssues(
                try await sim.post(
                    connectionsPath(organization),
                    #"{"vendor":"TENABLE","credentials":{"client_key":"","secret_key":"s"}}"#))
            #expect(empty.map(\.loc) == [loc("body", "credentials", "client_key")])
            // Nested AWS fields report their full path.
            let aws = try validationIssues(
                try await sim.post(
                    connectionsPath(organization),
                    #"{"vendor":"AWS_INSPECTOR2","credentials":{"aws":{"type":"direct_access"}}}"#))
            #expect(aws.map(\.loc) == [
                loc("body", "credentials", "aws", "aws_access_key_id"),
                loc("body", "credentials", "aws", "aws_secret_access_key"),
            ])
            // The complete AWS body is accepted.
            _ = try await sim.createConnection(
                organization,
                #"{"vendor":"AWS_INSPECTOR2","credentials":{"aws":{"aws_access_key_id":"a","aws_secret_access_key":"b","type":"direct_access"}}}"#
            )
        }
    }

    @Test("strictCredentials=false accepts partial credentials but still needs some")
    func lenientCredentials() async throws {
        try await withSimulator(.frozen { $0.strictCredentials = false }) { sim async throws in
            let organization = try await sim.createOrganization()
            let created = try await sim.createConnection(
                organization, #"{"vendor":"TENABLE","credentials":{"client_key":"ck"}}"#)
            #expect(created["state"]?.stringValue == "PENDING")
            let none = try validationIssues(try await sim.post(connectionsPath(organization), #"{"vendor":"TENABLE"}"#))
            #expect(none.map(\.loc) == [loc("body", "credentials")])
            // PATCH with partial credentials is accepted too.
            let id = try #require(created["id"]?.stringValue)
            let patched = try await sim.patch(connectionPath(organization, id), #"{"credentials":{"secret_key":"x"}}"#)
            #expect(patched.status == 200)
        }
    }

    @Test("OAuth vendors are accepted without credentials", arguments: ["MS_ENTRA", "MS_DEFENDER_VMS", "SNYK"])
    func oauthWithoutCredentials(vendor: String) async throws {
        try await withSimulator { sim async throws in
            let organization = try await sim.createOrganization()
            let bare = try await sim.createConnection(organization, #"{"vendor":"\#(vendor)"}"#)
            #expect(bare["vendor"]?.stringValue == vendor)
            #expect(bare["oauth2_authorize_url"]?.stringValue != nil)
            let empty = try await sim.createConnection(organization, #"{"vendor":"\#(vendor)","credentials":{}}"#)
            #expect(empty["state"]?.stringValue == "PENDING")
        }
    }

    @Test("Bad limit values are 422 at [query, limit]; overLimit=.clamp serves pageLimitMax")
    func badLimit() async throws {
        try await withSimulator(.frozen { $0.organizations = 1; $0.connections = 12; $0.pageLimitMax = 5 }) { sim async throws in
            let organization = try #require(sim.state.organizationIDs().first).rawValue
            let path = connectionsPath(organization)
            let cases: [(String, String)] = [
                ("0", "greater_than"), ("-3", "greater_than"), ("abc", "int_parsing"), ("1.5", "int_parsing"),
                ("6", "less_than_equal"),
            ]
            for (value, type) in cases {
                let issues = try validationIssues(try await sim.get(path + "?limit=\(value)"))
                #expect(issues.map(\.loc) == [loc("query", "limit")], "limit=\(value)")
                #expect(issues.first?.type == type, "limit=\(value)")
            }
            let over = try validationIssues(try await sim.get(path + "?limit=6"))
            #expect(over.first?.msg == "Input should be less than or equal to 5")
            // The maximum itself is fine.
            let atMax = try await sim.get(path + "?limit=5")
            #expect(atMax.json?["count"]?.intValue == 5)
            // Organizations list validates the same way.
            let organizations = try validationIssues(try await sim.get(organizationsPath + "?limit=0"))
            #expect(organizations.map(\.loc) == [loc("query", "limit")])
        }
        try await withSimulator(
            .frozen { $0.organizations = 1; $0.connections = 12; $0.pageLimitMax = 5; $0.overLimit = .clamp }
        ) { sim async throws in
            let organization = try #require(sim.state.organizationIDs().first).rawValue
            let reply = try await sim.get(connectionsPath(organization) + "?limit=500")
            #expect(reply.status == 200)
            #expect(reply.json?["count"]?.intValue == 5)
            #expect(reply.json?["items"]?.arrayValue?.count == 5)
            #expect(reply.json?["total"]?.intValue == 12)
            // Clamping does not excuse a limit below 1.
            #expect(try await sim.get(connectionsPath(organization) + "?limit=0").status == 422)
        }
    }

    @Test("A negative offset is 422 at [query, offset]; 0 is fine")
    func negativeOffset() async throws {
        try await withSimulator(.frozen { $0.organizations = 1 }) { sim async throws in
            let issues = try validationIssues(try await sim.get(organizationsPath + "?offset=-1"))
            #expect(issues.map(\.loc) == [loc("query", "offset")])
            #expect(issues.first?.type == "greater_than_equal")
            #expect(try await sim.get(organizationsPath + "?offset=0").status == 200)
            let text = try validationIssues(try await sim.get(organizationsPath + "?offset=x"))
            #expect(text.first?.type == "int_parsing")
        }
    }

    @Test("A bad boolean query parameter is 422 bool_parsing")
    func badBoolean() async throws {
        try await withSimulator { sim async throws in
            for name in ["excludeTotal", "enableCursor"] {
                let issues = try validationIssues(try await sim.get(organizationsPath + "?\(name)=maybe"))
                #expect(issues.map(\.loc) == [loc("query", name)])
                #expect(issues.first?.type == "bool_parsing")
            }
        }
    }

    @Test("Invalid JSON is 422 json_invalid at [body, 0] on every body-taking endpoint")
    func invalidJSONBody() async throws {
        try await withSimulator { sim async throws in
            let organization = try await sim.createOrganization()
            let connection = try await sim.createTenable(organization)
            for (method, path) in [
                ("POST", organizationsPath), ("POST", connectionsPath(organization)),
                ("PATCH", connectionPath(organization, connection)),
            ] {
                for body in ["{not json", "", #"{"vendor":"TENABLE""#] {
                    let issues = try validationIssues(try await sim.send(method, path, body: body))
                    #expect(issues.map(\.loc) == [loc("body", 0)], "\(method) \(path) body \(body)")
                    #expect(issues.first?.type == "json_invalid")
                }
                // Valid JSON that is not an object.
                let array = try validationIssues(try await sim.send(method, path, body: "[1,2]"))
                #expect(array.map(\.loc) == [loc("body")])
                #expect(array.first?.type == "model_attributes_type")
            }
        }
    }

    @Test("Create organization reports each missing field")
    func createOrganizationMissingFields() async throws {
        try await withSimulator { sim async throws in
            let issues = try validationIssues(try await sim.post(organizationsPath, "{}"))
            #expect(Set(issues.map(\.loc)) == [loc("body", "name"), loc("body", "identifier")])
            #expect(issues.allSatisfy { $0.type == "missing" && $0.msg == "Field required" })
            let typed = try validationIssues(try await sim.post(organizationsPath, #"{"name":5,"identifier":"x"}"#))
            #expect(typed.contains { $0.loc == loc("body", "name") && $0.type == "string_type" })
            #expect(try await sim.items(organizationsPath).isEmpty)
        }
    }

    @Test("An invalid cursor is 422 at [query, cursor]")
    func invalidCursor() async throws {
        try await withSimulator(.frozen { $0.organizations = 2 }) { sim async throws in
            let negative = Data(#"{"offset":-1}"#.utf8).base64EncodedString()
            let notJSON = Data("hello".utf8).base64EncodedString()
            for cursor in ["!!!", "abc", negative, notJSON] {
                let encoded = cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? cursor
                let issues = try validationIssues(
                    try await sim.get(organizationsPath + "?enableCursor=true&cursor=\(encoded)"))
                #expect(issues.map(\.loc) == [loc("query", "cursor")], "cursor \(cursor)")
            }
            // Without enableCursor the cursor is not looked at.
            #expect(try await sim.get(organizationsPath + "?cursor=!!!").status == 200)
        }
    }

    @Test("A state outside the enum in PATCH is 422 type enum at [body, state]")
    func badPatchState() async throws {
        try await withSimulator { sim async throws in
            let organization = try await sim.createOrganization()
            let connection = try await sim.createTenable(organization)
            for state in [#""RUNNING""#, #""paused""#, "1"] {
                let issues = try validationIssues(
                    try await sim.patch(connectionPath(organization, connection), #"{"state":\#(state)}"#))
                #expect(issues.map(\.loc) == [loc("body", "state")], "\(state)")
                #expect(issues.first?.type == "enum")
                #expect(issues.first?.msg == "Input should be 'PENDING', 'ACTIVE', 'PAUSED' or 'DELETED'")
            }
            // Nothing changed.
            #expect(try await sim.connection(organization, connection)["state"]?.stringValue == "PENDING")
            // PATCH credentials are validated against the connection's vendor.
            let partial = try validationIssues(
                try await sim.patch(connectionPath(organization, connection), #"{"credentials":{"client_key":"a"}}"#))
            #expect(partial.map(\.loc) == [loc("body", "credentials", "secret_key")])
        }
    }

    @Test("No response ever echoes a credential value sent in the request")
    func credentialsNeverEchoed() async throws {
        let secret = "s3cr3t-value"
        try await withSimulator { sim async throws in
            let organization = try await sim.createOrganization()
            let connection = try await sim.createTenable(organization)
            let requests: [(String, String, String)] = [
                // 422s of every kind with the secret in the body.
                ("POST", connectionsPath(organization), #"{"vendor":"TENABLE","credentials":{"client_key":"\#(secret)"}}"#),
                ("POST", connectionsPath(organization), #"{"vendor":"TENABLE","credentials":"\#(secret)"}"#),
                ("POST", connectionsPath(organization), #"{"vendor":"\#(secret)","credentials":{"secret_key":"\#(secret)"}}"#),
                ("POST", connectionsPath(organization), #"{"credentials":{"client_key":"\#(secret)","secret_key":"\#(secret)"}}"#),
                ("POST", connectionsPath(organization), #"{"vendor":"TENABLE","credentials":{"secret_key":"\#(secret)"}"#),
                ("POST", connectionsPath(organization), #"{"vendor":"TENABLE","identifier":7,"credentials":{"client_key":"a","secret_key":"\#(secret)"}}"#),
                ("POST", connectionsPath(organization), #"{"vendor":"AWS_INSPECTOR2","credentials":{"aws":{"aws_secret_access_key":"\#(secret)"}}}"#),
                ("PATCH", connectionPath(organization, connection), #"{"credentials":{"secret_key":"\#(secret)"}}"#),
                ("PATCH", connectionPath(organization, connection), #"{"credentials":"\#(secret)"}"#),
                ("PATCH", connectionPath(organization, connection), #"{"state":"\#(secret)"}"#),
                ("POST", organizationsPath, #"{"name":{"x":"\#(secret)"},"identifier":"\#(secret)"}"#),
            ]
            for (method, path, body) in requests {
                let reply = try await sim.send(method, path, body: body)
                #expect(reply.status == 422, "\(method) \(body): \(reply)")
                #expect(!reply.text.contains(secret), "\(method) \(path) echoed the credential: \(reply.text)")
            }
            // Successful requests never return credentials either.
            let created = try await sim.post(connectionsPath(organization), tenableBody(secret: secret))
            #expect(created.status == 200)
            #expect(!created.text.contains(secret))
            let id = try #require(created.json?["id"]?.stringValue)
            let patched = try await sim.patch(
                connectionPath(organization, id), #"{"credentials":{"client_key":"a","secret_key":"\#(secret)"}}"#)
            #expect(patched.status == 200)
            for reply in [
                patched, try await sim.get(connectionPath(organization, id)),
                try await sim.get(connectionsPath(organization)), try await sim.get(connectionPath(organization, id) + "/test"),
                try await sim.get("/_sim/state", key: nil),
            ] {
                #expect(!reply.text.contains(secret), "\(reply.text)")
            }
            #expect(created.json?["credentials"] == nil)
        }
    }
}
