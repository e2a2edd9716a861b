/// "Did you mean …?" for misspelled field names, states and variables.
enum Suggestion {
    /// The candidate closest to `word`: an exact case-insensitive match first, else the one within
    /// a small edit distance (about a third of the word's length, at most 3); nil when none is close.
    static func closest(to word: String, among candidates: [String]) -> String? {
        let lowered = word.lowercased()
        if let sameLetters = candidates.first(where: { $0.lowercased() == lowered }) { return sameLetters }
        // A name cut short or run on (`Match` for `Matches`, `Handle` for `Handler`) is meant even when
        // the edits exceed the budget of a typo.
        if lowered.count >= 4, let stem = candidates.first(where: { candidate in
            let other = candidate.lowercased()
            return abs(other.count - lowered.count) <= 3 && (other.hasPrefix(lowered) || lowered.hasPrefix(other))
        }) { return stem }
        let budget = min(3, max(1, word.count / 3))
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(lowered, candidate.lowercased())
            if distance <= budget, distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }

    /// Levenshtein distance with adjacent transpositions counted as one edit.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous2 = [Int](repeating: 0, count: y.count + 1)
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    value = min(value, previous2[j - 2] + 1)
                }
                current[j] = value
            }
            previous2 = previous
            previous = current
        }
        return previous[y.count]
    }
}
