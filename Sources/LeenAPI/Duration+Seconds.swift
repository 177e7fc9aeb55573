extension Duration {
    /// The duration in seconds as a Double.
    public var seconds: Double {
        let (s, attos) = components
        return Double(s) + Double(attos) / 1e18
    }
}

extension Duration {
    /// `1h30m`, `45s`, `2d`: whole seconds in the configuration's notation, for messages and tables.
    public var compactText: String {
        var rest = Int(seconds.rounded())
        guard rest > 0 else { return "0s" }
        var parts: [String] = []
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] where rest >= size {
            parts.append("\(rest / size)\(unit)")
            rest %= size
        }
        return parts.joined()
    }
}
