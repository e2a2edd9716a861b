import TriplineJSON

/// Explains, field by field, why an event does or does not match a pattern.
///
/// "Why does my rule stay silent?" is the question EventBridge users ask most, and a bare
/// match/no-match verdict does not answer it. The explainer evaluates the pattern with a simple
/// recursive interpreter of the documented semantics (the same one `ReferenceMatcher` in the tests
/// spells out, and that ``PatternMachine`` is checked against): the event is flattened into leaf
/// values, each remembering which element of every enclosing array it came from, and every `$or`
/// branch is searched with backtracking so that values inside one array of objects come from the
/// same element. Its verdict therefore agrees with ``PatternMachine`` on every valid event; what it
/// adds is the account: which field was missing, which value failed which operator, which `$or`
/// alternative failed where, which fields could not be matched in the same array element, or, for
/// a match, the value each condition was satisfied with. Pure: no I/O; meant for one event at a
/// time (the compiled machine is the fast path).
public enum PatternExplainer {
    /// Explains how `pattern` judges `event` (an EventBridge event as a parsed JSON value).
    public static func explain(_ pattern: EventPattern, event: JSONValue) -> PatternExplanation {
        var evaluator = ExplainEvaluator(event: FlattenedEvent(event))
        let root = evaluator.explainGroup(pattern.root, prefix: nil)
        var chosen: [MatchedCondition] = []
        for branch in pattern.branches {
            if let found = evaluator.firstMatch(of: branch) {
                chosen = found
                break
            }
        }
        return PatternExplanation(matches: root.matches, root: root, matchedThrough: chosen)
    }

    /// Whether `pattern` matches `event`: the explanation's verdict alone.
    public static func matches(_ pattern: EventPattern, event: JSONValue) -> Bool {
        var evaluator = ExplainEvaluator(event: FlattenedEvent(event))
        return pattern.branches.contains { evaluator.firstMatch(of: $0) != nil }
    }
}
