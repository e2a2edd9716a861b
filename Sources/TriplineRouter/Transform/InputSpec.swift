import TriplineJSON

/// What a target receives for a matched event: EventBridge's `Input`, `InputPath` and
/// `InputTransformer` target settings, or (none of them) the matched event itself.
public enum InputSpec: Sendable, Equatable {
    /// Longest `Input` text, in characters (EventBridge API reference, `Target.Input`: maximum length 8192).
    /// An `Input` written as a JSON value counts as its compact JSON text.
    public static let maxConstantCharacters = 8192

    /// The matched event, unchanged.
    case matchedEvent
    /// Fixed JSON (`Input`); nothing from the event is passed.
    case constant(JSONValue)
    /// The part of the event at a path (`InputPath`), as JSON; `null` when the path is absent.
    case path(EventJSONPath)
    /// A payload built from a template (`InputTransformer`).
    case transformer(InputTransformer)

    /// The payload bytes the target receives.
    ///
    /// `eventBytes`, when given, is the event exactly as received: it is passed through unchanged
    /// for ``matchedEvent`` and `<aws.events.event.json>`, so a target sees the original bytes.
    /// `ingestionTime` fills `<aws.events.event.ingestion-time>` (ISO 8601).
    public func render(event: JSONValue, eventBytes: [UInt8]?, ruleName: String, ingestionTime: String) throws(TransformError) -> [UInt8] {
        switch self {
        case .matchedEvent:
            return eventBytes ?? JSONWriter.bytes(event)
        case .constant(let value):
            return JSONWriter.bytes(value)
        case .path(let path):
            return JSONWriter.bytes(path.evaluate(in: event) ?? .null)
        case .transformer(let transformer):
            return try transformer.render(event: event, eventBytes: eventBytes, ruleName: ruleName, ingestionTime: ingestionTime)
        }
    }
}
