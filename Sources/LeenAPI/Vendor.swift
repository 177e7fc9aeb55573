/// The product a connection pulls data from (`vendor` on a connection).
///
/// The 34 documented values come from the newest Create Connection page. Responses type `vendor` as a plain
/// string, so values outside this list (Leen's demo already shows `PROCESSUNITY`) decode and round-trip.
public struct Vendor: OpenEnumeration {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let aikido: Vendor = "AIKIDO"
    public static let arnica: Vendor = "ARNICA"
    public static let awsAccessAnalyser: Vendor = "AWS_ACCESS_ANALYSER"
    public static let awsInspector2: Vendor = "AWS_INSPECTOR2"
    public static let awsSecurityHub: Vendor = "AWS_SECURITYHUB"
    public static let bitSight: Vendor = "BIT_SIGHT"
    public static let blackKite: Vendor = "BLACK_KITE"
    public static let checkmarx: Vendor = "CHECKMARX"
    public static let crowdStrike: Vendor = "CROWDSTRIKE"
    public static let crowdStrikeSpotlight: Vendor = "CROWDSTRIKE_SPOTLIGHT"
    public static let gitHub: Vendor = "GITHUB"
    public static let gitLab: Vendor = "GITLAB"
    public static let insightVM: Vendor = "INSIGHTVM"
    public static let jira: Vendor = "JIRA"
    public static let laceworkCSPM: Vendor = "LACEWORK_CSPM"
    public static let mend: Vendor = "MEND"
    public static let msDefenderCloud: Vendor = "MS_DEFENDER_CLOUD"
    public static let msDefenderEndpoint: Vendor = "MS_DEFENDER_ENDPOINT"
    public static let msDefenderVMS: Vendor = "MS_DEFENDER_VMS"
    public static let msDefenderVMSGCCHigh: Vendor = "MS_DEFENDER_VMS_GCC_HIGH"
    public static let msEntra: Vendor = "MS_ENTRA"
    public static let oktaIDP: Vendor = "OKTA_IDP"
    public static let orca: Vendor = "ORCA"
    public static let qualys: Vendor = "QUALYS"
    public static let semgrep: Vendor = "SEMGREP"
    public static let sentinelOne: Vendor = "SENTINELONE"
    public static let sentinelOneVMS: Vendor = "SENTINELONE_VMS"
    public static let serviceNow: Vendor = "SERVICENOW"
    public static let snyk: Vendor = "SNYK"
    public static let taniumVMS: Vendor = "TANIUM_VMS"
    public static let tenable: Vendor = "TENABLE"
    public static let upwind: Vendor = "UPWIND"
    public static let wizCode: Vendor = "WIZ_CODE"
    public static let wizVMS: Vendor = "WIZ_VMS"

    public static let documentedValues: [Vendor] = [
        .aikido, .arnica, .awsAccessAnalyser, .awsInspector2, .awsSecurityHub, .bitSight, .blackKite, .checkmarx,
        .crowdStrike, .crowdStrikeSpotlight, .gitHub, .gitLab, .insightVM, .jira, .laceworkCSPM, .mend,
        .msDefenderCloud, .msDefenderEndpoint, .msDefenderVMS, .msDefenderVMSGCCHigh, .msEntra, .oktaIDP, .orca,
        .qualys, .semgrep, .sentinelOne, .sentinelOneVMS, .serviceNow, .snyk, .taniumVMS, .tenable, .upwind,
        .wizCode, .wizVMS,
    ]

    /// How a connection of this vendor is authorised.
    public enum Authorization: Sendable, Hashable {
        /// Created without credentials; an administrator opens `oauth2_authorize_url` to grant access.
        case oauth2
        /// OAuth2 unless the credentials carry an API key (Snyk).
        case oauth2UnlessAPIKey
        /// Credentials are required in the create body.
        case credentials
    }

    /// The authorisation style: OAuth2 for MS_DEFENDER_VMS, MS_ENTRA (confirmed), MS_DEFENDER_ENDPOINT
    /// (implied by the docs) and MS_DEFENDER_VMS_GCC_HIGH (presumed); SNYK is OAuth2 unless given a key.
    public var authorization: Authorization {
        switch self {
        case .msDefenderVMS, .msDefenderVMSGCCHigh, .msEntra, .msDefenderEndpoint: .oauth2
        case .snyk: .oauth2UnlessAPIKey
        default: .credentials
        }
    }

    /// Credential fields the docs show for this vendor (confirmed examples only); empty when unknown.
    ///
    /// Nested objects are written with a dot (`aws.aws_access_key_id`).
    public var documentedCredentialFields: [String] {
        switch self {
        case .tenable: ["client_key", "secret_key"]
        case .qualys: ["username", "password"]
        case .insightVM: ["base_url", "api_key"]
        case .sentinelOneVMS: ["base_url", "api_token"]
        case .crowdStrikeSpotlight: ["client_id", "client_secret"]
        case .awsInspector2: ["aws.aws_access_key_id", "aws.aws_secret_access_key", "aws.type"]
        default: []
        }
    }
}
