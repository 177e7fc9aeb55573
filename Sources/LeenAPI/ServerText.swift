/// Text a server sent back (Leen's `detail`, a validation message) made safe to log, store and serve.
///
/// Such text can echo the request, and so a credential. It is cut to a bounded length, control characters
/// become spaces, and anything that looks like a secret is replaced by `[redacted]`: the value after a
/// credential-like name (`password=…`, `"api_key": "…"`, `Authorization: Bearer …`) and any long unbroken
/// run of key-like characters (tokens, keys, base64). What remains is enough to act on: the words.
public enum ServerText {
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
            if redactNext, lower == "basic" || secretNames.contains(lower) {
                // `Authorization: Bearer abc`: the scheme stays, the word after it goes.
            } else if redactNext {
                piece = "[redacted]"
                redactNext = false
            } else if let name = secretNames.first(where: { lower.contains($0) }) {
                // `password=hunter2`, `"token":"abc"`: keep the name, drop what follows it in the word; a bare
                // name (`Bearer abc`, `password: abc`) hides the next word.
                if let cut = piece.firstIndex(where: { $0 == "=" || $0 == ":" }),
                    piece[piece.index(after: cut)...].contains(where: { $0.isLetter || $0.isNumber })
                {
                    piece = String(piece[...cut]) + "[redacted]"
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

    /// Replaces each run of at least ``longRun`` letters, digits, `+/=_-` that mixes letters and digits.
    static func redactLongRuns(_ word: String) -> String {
        func keyLike(_ c: Character) -> Bool {
            c.isASCII && (c.isLetter || c.isNumber || c == "+" || c == "/" || c == "=" || c == "_" || c == "-")
        }
        var result = ""
        var run = ""
        func flush() {
            let mixed = run.contains(where: \.isNumber) && run.contains(where: \.isLetter)
            result += run.count >= longRun && mixed ? "[redacted]" : run
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
