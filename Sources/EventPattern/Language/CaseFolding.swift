/// EventBridge's case-insensitive comparison, expressed as per-character alternatives.
///
/// Each Unicode scalar of the pattern text may appear in the event as its full lower-case or its
/// full upper-case mapping (so `ß` matches `ß` or `SS`, and `Σ` matches `σ` or `Σ` but not the
/// final form `ς`). The event text itself is not folded; this is how EventBridge behaves.
public enum CaseFolding {
    /// For each scalar of `text`, the distinct UTF-8 spellings it may take in a matching value.
    public static func alternatives(for text: String) -> [[[UInt8]]] {
        text.unicodeScalars.map { scalar in
            let s = String(scalar)
            var options: [[UInt8]] = []
            for variant in [Array(s.lowercased().utf8), Array(s.uppercased().utf8)] where !options.contains(variant) {
                options.append(variant)
            }
            return options
        }
    }

    /// Whether `value` starting at `offset` spells `alternatives`; returns the end offsets reachable.
    public static func matchEnds(_ alternatives: [[[UInt8]]], in value: [UInt8], from offset: Int) -> Set<Int> {
        var positions: Set<Int> = [offset]
        for options in alternatives {
            var next: Set<Int> = []
            for p in positions {
                for option in options where p + option.count <= value.count && value[p..<(p + option.count)].elementsEqual(option) {
                    next.insert(p + option.count)
                }
            }
            if next.isEmpty { return [] }
            positions = next
        }
        return positions
    }

    /// Reference check: `value` equals `text` ignoring case, the EventBridge way.
    public static func equals(_ value: [UInt8], _ text: String) -> Bool {
        matchEnds(alternatives(for: text), in: value, from: 0).contains(value.count)
    }

    /// Reference check: `value` starts with `text` ignoring case.
    public static func hasPrefix(_ value: [UInt8], _ text: String) -> Bool {
        !matchEnds(alternatives(for: text), in: value, from: 0).isEmpty
    }

    /// Reference check: `value` ends with `text` ignoring case.
    public static func hasSuffix(_ value: [UInt8], _ text: String) -> Bool {
        let alternatives = alternatives(for: text)
        for start in stride(from: value.count, through: 0, by: -1) where matchEnds(alternatives, in: value, from: start).contains(value.count) {
            return true
        }
        return false
    }
}
