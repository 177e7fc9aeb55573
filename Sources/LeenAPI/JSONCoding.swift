import Foundation

extension JSONEncoder {
    /// Compact output with sorted keys: stable bytes for hashing and comparing.
    public static var compact: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
