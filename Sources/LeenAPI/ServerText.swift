import Foundation

/// Text a server sent back (Leen's `detail`, a validation message) made safe to log, store and serve.
///
/// Such text can echo the request, and so a credential. The client first takes out the request's own
/// secrets (``SecretRedaction``); this then cuts the text to a bounded length, turns control characters into
/// spaces, and replaces anything else that looks like a secret by `<redacted>`: the value after a
/// credential-like name (`password=…`, `"api_key": "…"`, `Authorization: Bearer …`) and any long unbroken
/// run of key-like characters (tokens, keys) that is not a UUID. What remains is enough to act on: the words.
public enum ServerText {
    /// What replaces a secret.
    static let marker = "<redacted>"

    /// The longest text kept, in characters.
    public static let maximumLength = 300

    /// Names whose value is a secret, matched case-insensitively inside a word (`client_secret`, `apiKey`).
    static let secretNames = [
        "password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "authorization", "bearer",
        "credential", "private_key", "privatekey", "access_key", "accesskey", "session",
    ]

    /// A run of this many key-like characters or more is treated as a secret.
    static let longRun = 24

    public static func sanitize(_ text: String) -> String {
        var words: [String] = []
        var redactNext = false
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }) {
            var piece = String(word.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? " " : Character($0) })
            let lower = piece.lowercased()
            if piece == marker {
                // Already taken out (``SecretRedaction``): nothing follows it to hide.
                redactNext = false
            } else if redactNext, lower == "basic" || secretNames.contains(lower) {
                // `Authorization: Bearer abc`: the scheme stays, the word after it goes.
            } else if redactNext {
                piece = marker
                redactNext = false
            } else if let name = secretNames.first(where: { lower.contains($0) }) {
                // `password=hunter2`, `"token":"abc"`: keep the name, drop what follows it in the word; a bare
                // name (`Bearer abc`, `password: abc`) hides the next word.
                if let cut = piece.firstIndex(where: { $0 == "=" || $0 == ":" }),
                    piece[piece.index(after: cut)...].contains(where: { $0.isLetter || $0.isNumber })
                {
                    piece = String(piece[...cut]) + marker
                } else if lower.hasSuffix(name) || lower.hasSuffix(name + ":") || lower.hasSuffix(name + "\":")
                    || lower.hasSuffix(name + "=")
                {
                    redactNext = true
                }
            }
            words.append(redactLongRuns(piece))
        }
        let joined = words.joined(separator: " ")
        guard joined.count > maximumLength else { return joined }
        return String(joined.prefix(maximumLength - 1)) + "…"
    }

    /// Replaces each run of at least ``longRun`` letters, digits, `+=_-` that mixes letters and digits and
    /// is not a UUID (organization and connection ids are safe, and what an operator needs). `/` ends a run,
    /// so a path keeps its segments.
    static func redactLongRuns(_ word: String) -> String {
        func keyLike(_ c: Character) -> Bool {
            c.isASCII && (c.isLetter || c.isNumber || c == "+" || c == "=" || c == "_" || c == "-")
        }
        var result = ""
        var run = ""
        func flush() {
            let mixed = run.contains(where: \.isNumber) && run.contains(where: \.isLetter)
            let uuid = run.count == 36 && UUID(uuidString: run) != nil
            result += run.count >= longRun && mixed && !uuid ? marker : run
            run = ""
        }
        for c in word {
            if keyLike(c) {
                run.append(c)
            } else {
                flush()
                result.append(c)
            }
        }
        flush()
        return result
    }
}
