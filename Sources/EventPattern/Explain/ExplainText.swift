import TriplineJSON

/// The wording of explanations, shared by the rendering methods.
enum ExplainText {
    static let pass = "✓"
    static let fail = "✗"
    /// Values listed per field before "…".
    static let maxValuesShown = 5
    static let maxElementsShown = 10

    static func matchedLine(_ matched: MatchedCondition) -> String {
        guard let value = matched.value else { return matched.path + ": absent, as exists: false requires" }
        return matched.path + ": " + valueText(value) + " matches " + describe(matched.matcher)
    }

    static func groupLines(_ group: GroupExplanation, indent: String) -> [String] {
        var out: [String] = []
        for item in group.items {
            switch item {
            case .field(let field):
                out.append(indent + (field.matches ? pass : fail) + " " + fieldText(field))
            case .anyOf(let anyOf):
                let count = anyOf.alternatives.count
                if anyOf.matches {
                    let which = anyOf.alternatives.indices.filter { anyOf.alternatives[$0].matches }.map { String($0 + 1) }
                    out.append(indent + pass + " $or: alternative \(which.joined(separator: ", ")) of \(count) matches")
                } else {
                    out.append(indent + fail + " $or: none of the \(count) alternatives matches")
                }
                for (i, alternative) in anyOf.alternatives.enumerated() {
                    out.append(indent + "    alternative \(i + 1):")
                    out.append(contentsOf: groupLines(alternative, indent: indent + "      "))
                }
            }
        }
        if !group.matches, group.items.allSatisfy(\.matches) {
            out.append(indent + fail + " " + (group.conflict.map(conflictText) ?? "the conditions above hold one by one but not together"))
        }
        return out
    }

    static func firstFailure(_ group: GroupExplanation) -> String? {
        for item in group.items where !item.matches {
            switch item {
            case .field(let field): return fieldText(field)
            case .anyOf(let anyOf):
                let reasons = anyOf.alternatives.compactMap(firstFailure)
                return "$or: none of the \(anyOf.alternatives.count) alternatives matches (" + reasons.joined(separator: " | ") + ")"
            }
        }
        if !group.matches { return group.conflict.map(conflictText) ?? "the conditions hold one by one but not together" }
        return nil
    }

    static func conflictText(_ conflict: ArrayConflict) -> String {
        let sides = conflict.sides.map { side in
            side.path + " matches only in " + (side.elements.isEmpty ? "(no element)" : elementList(side.elements))
        }
        return "array consistency: " + sides.joined(separator: "; ")
            + ", but fields inside one array of objects must match in the same element"
    }

    /// Up to ``maxElementsShown`` element names, then how many more (a conflict over thousands of
    /// elements stays one readable line).
    static func elementList(_ elements: [String]) -> String {
        guard elements.count > maxElementsShown else { return elements.joined(separator: ", ") }
        return elements.prefix(maxElementsShown).joined(separator: ", ") + " and \(elements.count - maxElementsShown) more"
    }

    /// `path: why` for one leaf condition.
    static func fieldText(_ field: FieldExplanation) -> String {
        let positive = field.matchers.filter { $0 != .exists(false) }
        let allowsAbsent = field.matchers.contains(.exists(false))
        if field.isMissing {
            if allowsAbsent { return field.path + ": absent, as exists: false requires" }
            if positive == [.exists(true)] { return field.path + ": missing, but exists: true requires it" }
            return field.path + ": missing; the pattern needs " + list(positive)
        }
        if field.matches {
            if let hit = field.values.first(where: { $0.matchedBy != nil }), let matcher = hit.matchedBy {
                return field.path + ": " + valueText(hit.value) + " matches " + describe(matcher)
            }
            // exists: false satisfied through array consistency alone.
            return field.path + ": absent where it counts, as exists: false requires"
        }
        if positive.isEmpty {
            return field.path + ": present (" + valuesList(field.values.map(\.value)) + "), but exists: false requires it to be absent"
        }
        if field.values.count == 1 {
            return field.path + ": " + valueText(field.values[0].value) + " " + failurePhrase(field.values[0].value, positive)
        }
        let shown = field.values.prefix(maxValuesShown).map { valueText($0.value) + " " + failurePhrase($0.value, positive) }
        return field.path + ": none of its \(field.values.count) values matches: " + shown.joined(separator: "; ")
            + (field.values.count > maxValuesShown ? "; …" : "")
    }

    /// Why `value` satisfies none of `matchers` (none of them `exists: false`).
    static func failurePhrase(_ value: JSONValue, _ matchers: [ValueMatcher]) -> String {
        guard matchers.count == 1, let only = matchers.first else {
            return "matches none of " + matchers.map(describe).joined(separator: ", ")
        }
        let kind = value.kindDescription
        switch only {
        case .exactString(let s):
            return value.stringValue != nil ? "is not " + JSONWriter.quoted(s) : "is \(kind), not the string " + JSONWriter.quoted(s)
        case .exactNumber(let x):
            return value.numberValue != nil ? "is not " + number(x) : "is \(kind), not the number " + number(x)
        case .exactNumberText(let t):
            return value.numberValue != nil ? "is not written " + t + " (a number with more digits than a double keeps matches only its own text)"
                : "is \(kind), not the number " + t
        case .exactBool(let b):
            return "is not " + (b ? "true" : "false")
        case .exactNull:
            return "is not null"
        case .prefix(let p, let ignoreCase):
            guard value.stringValue != nil else { return "is \(kind); prefix matches only strings" }
            return "does not start with " + JSONWriter.quoted(p) + (ignoreCase ? " (ignoring case)" : "")
        case .suffix(let p, let ignoreCase):
            guard value.stringValue != nil else { return "is \(kind); suffix matches only strings" }
            return "does not end with " + JSONWriter.quoted(p) + (ignoreCase ? " (ignoring case)" : "")
        case .equalsIgnoreCase(let s):
            guard value.stringValue != nil else { return "is \(kind); equals-ignore-case matches only strings" }
            return "does not equal " + JSONWriter.quoted(s) + " ignoring case"
        case .wildcard(let w):
            guard value.stringValue != nil else { return "is \(kind); wildcard matches only strings" }
            return "does not match wildcard " + JSONWriter.quoted(w.text)
        case .anythingBut:
            return "is excluded by " + describe(only)
        case .numeric:
            guard value.numberValue != nil else { return "is \(kind); numeric matches only numbers" }
            return "is outside " + describe(only)
        case .exists(true):
            return "exists"
        case .exists(false):
            return "is present, but exists: false requires it to be absent"
        case .cidr(let block):
            guard let text = value.stringValue, IPAddress.parse(Array(text.utf8)) != nil else {
                return "is not an IP address (" + describe(only) + ")"
            }
            return block.isAddress ? "is another IP address than " + JSONWriter.quoted(block.text) : "is not in cidr " + JSONWriter.quoted(block.text)
        }
    }

    /// A matcher as written in a pattern, shortened: `prefix "AccessDenied"`, `anything-but ["a", "b"]`.
    static func describe(_ matcher: ValueMatcher) -> String {
        switch matcher {
        case .exactString(let s): return JSONWriter.quoted(s)
        case .exactNumber(let x): return number(x)
        case .exactNumberText(let t): return t
        case .exactBool(let b): return b ? "true" : "false"
        case .exactNull: return "null"
        case .prefix(let p, let ignoreCase): return (ignoreCase ? "prefix (ignoring case) " : "prefix ") + JSONWriter.quoted(p)
        case .suffix(let p, let ignoreCase): return (ignoreCase ? "suffix (ignoring case) " : "suffix ") + JSONWriter.quoted(p)
        case .equalsIgnoreCase(let s): return "equals-ignore-case " + JSONWriter.quoted(s)
        case .wildcard(let w): return "wildcard " + JSONWriter.quoted(w.text)
        case .numeric(let range): return "numeric " + rangeText(range)
        case .exists(let present): return "exists: " + (present ? "true" : "false")
        case .cidr(let block): return block.isAddress ? JSONWriter.quoted(block.text) + " (as an IP address)" : "cidr " + JSONWriter.quoted(block.text)
        case .anythingBut(let exclusion):
            switch exclusion {
            case .strings(let list): return "anything-but " + quotedList(list)
            case .numbers(let list): return "anything-but " + (list.count == 1 ? number(list[0]) : "[" + list.map(number).joined(separator: ", ") + "]")
            case .prefixes(let list): return "anything-but prefix " + quotedList(list)
            case .suffixes(let list): return "anything-but suffix " + quotedList(list)
            case .equalsIgnoreCase(let list): return "anything-but equals-ignore-case " + quotedList(list)
            case .wildcards(let list): return "anything-but wildcard " + quotedList(list.map(\.text))
            }
        }
    }

    /// `"a"`, `"a" or "b"`, `"a", "b" or prefix "c"`.
    static func list(_ matchers: [ValueMatcher]) -> String {
        let texts = matchers.map(describe)
        guard texts.count > 1 else { return texts.first ?? "nothing" }
        return texts.dropLast().joined(separator: ", ") + " or " + texts[texts.count - 1]
    }

    static func quotedList(_ list: [String]) -> String {
        list.count == 1 ? JSONWriter.quoted(list[0]) : "[" + list.map(JSONWriter.quoted).joined(separator: ", ") + "]"
    }

    static func valuesList(_ values: [JSONValue]) -> String {
        values.prefix(maxValuesShown).map(valueText).joined(separator: ", ") + (values.count > maxValuesShown ? ", …" : "")
    }

    /// Compact JSON, cut after 80 characters.
    static func valueText(_ value: JSONValue) -> String {
        let text = JSONWriter.string(value)
        return text.count <= 80 ? text : String(text.prefix(77)) + "…"
    }

    /// Whole numbers without a fraction (`5`, not `5.0`).
    static func number(_ x: Double) -> String {
        if x.isFinite, x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return String(x)
    }

    static func rangeText(_ range: NumericRange) -> String {
        if let lower = range.lower, let upper = range.upper, lower == upper, range.lowerInclusive, range.upperInclusive {
            return "= " + number(lower)
        }
        var parts: [String] = []
        if let lower = range.lower { parts.append((range.lowerInclusive ? ">= " : "> ") + number(lower)) }
        if let upper = range.upper { parts.append((range.upperInclusive ? "<= " : "< ") + number(upper)) }
        return parts.joined(separator: ", ")
    }
}
