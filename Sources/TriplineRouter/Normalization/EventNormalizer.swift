import Foundation
import TriplineJSON

/// One input event, parsed, recognised and wrapped as EventBridge delivers it.
public struct NormalizedEvent: Sendable {
    /// The envelope as compact JSON: what patterns are matched against and targets receive.
    public var bytes: [UInt8]
    /// The envelope's `id` (what `TRIPLINE_EVENT_ID` carries).
    public var id: String
    public var origin: EventOrigin
    /// A read-only management event delivered by CloudTrail, which rules in state `ENABLED` do not
    /// receive (``CloudTrailNormalizer/isReadOnlyManagementEvent(_:)``).
    public var isReadOnlyManagementEvent: Bool
    private var tree: JSONValue?

    /// An event whose envelope is `envelope`, already built.
    public init(envelope: JSONValue, bytes: [UInt8], id: String, origin: EventOrigin) {
        self.bytes = bytes
        self.id = id
        self.origin = origin
        self.isReadOnlyManagementEvent = CloudTrailNormalizer.isReadOnlyManagementEvent(envelope)
        self.tree = envelope
    }

    /// An event known by its bytes only: the envelope is parsed from them when first asked for.
    init(bytes: [UInt8], id: String, origin: EventOrigin, isReadOnlyManagementEvent: Bool) {
        self.bytes = bytes
        self.id = id
        self.origin = origin
        self.isReadOnlyManagementEvent = isReadOnlyManagementEvent
        self.tree = nil
    }

    /// The EventBridge event (a CloudTrail record wrapped by ``CloudTrailNormalizer``, or an input
    /// envelope), parsed from ``bytes`` when normalization did not build it: most events match no
    /// rule and never need it. Call ``buildEnvelope()`` before using it more than once.
    public var envelope: JSONValue {
        get { tree ?? Self.parse(bytes) }
        set { tree = newValue }
    }

    /// Builds the envelope once, so that later uses of ``envelope`` read it.
    public mutating func buildEnvelope() {
        if tree == nil { tree = Self.parse(bytes) }
    }

    private static func parse(_ bytes: [UInt8]) -> JSONValue {
        // The bytes were written from a valid event: they parse (no size limit: they are within the event limit).
        (try? JSONParser.parse(bytes, options: JSONParser.Options(maxBytes: .max))) ?? .null
    }
}

/// Turns raw input events into normalized ones: strict JSON parsing, classification, wrapping.
///
/// Shared by `tripline run` and `tripline normalize`, so both accept and reject exactly the same inputs.
public struct EventNormalizer: Sendable {
    /// Largest accepted event, before and after wrapping (EventBridge's 256 KiB).
    public var maxEventBytes: Int

    /// Whether one-line CloudTrail records are wrapped from a scan of their text (``CloudTrailRecordScan``)
    /// rather than from a tree; both give the same events (the tests compare them).
    var usesRecordScan = true

    public init(maxEventBytes: Int = CloudTrailRecordsReader.defaultMaxRecordBytes) {
        self.maxEventBytes = maxEventBytes
    }

    /// The event for a CloudTrail record on one line, wrapped without building its tree; nil when
    /// the tree path must decide (see ``CloudTrailRecordScan``), or when the record's text is not
    /// written as `JSONWriter` writes it (its id hashes that form).
    static func wrapOneLineRecord(_ raw: RawEvent, ingestionTime: String, maxEventBytes: Int) -> NormalizedEvent? {
        let bytes = raw.bytes
        guard bytes.count <= maxEventBytes * EventInputs.singleDocumentSlack else { return nil }
        return bytes.withUnsafeBufferPointer { buffer -> NormalizedEvent? in
            let text = UnsafeBufferPointer(rebasing: buffer[documentRange(buffer)])
            // (No line break: the envelope must be one line; no whitespace at all in the canonical form.)
            guard JSONWriter.hasCompactCanonicalForm(text), let scan = CloudTrailRecordScan.scan(buffer) else { return nil }
            let detailType = CloudTrailNormalizer.detailType(forEventType: scan.eventType)
            let source = CloudTrailNormalizer.source(forEventSource: scan.eventSource)
            var name = Array("tripline:cloudtrail:".utf8)
            name.append(contentsOf: text)
            let id = NameBasedUUID.v5(namespace: NameBasedUUID.urlNamespace, name: name)
            let header = CloudTrailNormalizer.header(id: id, detailType: detailType, source: source,
                                                     account: scan.recipientAccountId ?? scan.userIdentityAccountId ?? "",
                                                     time: CloudTrailNormalizer.time(forEventTime: scan.eventTime) ?? ingestionTime,
                                                     region: scan.awsRegion ?? "", resources: scan.resourceARNs.map { .string($0) })
            var out: [UInt8] = []
            out.reserveCapacity(text.count + 512)
            JSONWriter.write(.object(JSONObject(header)), into: &out)
            out.removeLast()  // the closing brace
            out.append(contentsOf: #","detail":"#.utf8)
            out.append(contentsOf: text)
            out.append(UInt8(ascii: "}"))
            guard out.count <= maxEventBytes else { return nil }   // the tree path reports it
            // (The envelope's detail-type ends in " via CloudTrail": the record's fields decide.)
            let readOnly = CloudTrailNormalizer.isReadOnlyManagementRecord(
                readOnly: scan.readOnlyIsTrue, otherCategory: scan.eventCategory == .other, notManagementEvent: scan.managementEventIsFalse,
                eventSource: scan.eventSource, eventName: scan.eventName)
            return NormalizedEvent(bytes: out, id: id, origin: raw.origin, isReadOnlyManagementEvent: readOnly)
        }
    }

    /// Parses and wraps `raw`; the error says why the event was skipped, naming its origin.
    ///
    /// An event whose `source` is Tripline's own (``BlockEvent/source``) is refused unless
    /// `allowingOwnSource` (the events Tripline emits itself): as EventBridge refuses a PutEvents
    /// entry claiming an `aws.` source, a line of input must not raise a forged `User Blocked` alert.
    public func normalize(_ raw: RawEvent, ingestionTime: String, allowingOwnSource: Bool = false) -> Result<NormalizedEvent, InputError> {
        if usesRecordScan, let event = Self.wrapOneLineRecord(raw, ingestionTime: ingestionTime, maxEventBytes: maxEventBytes) {
            return .success(event)
        }
        let value: JSONValue
        do {
            // A single-document file may be pretty-printed: allow the slack EventInputs allows.
            value = try JSONParser.parse(raw.bytes, options: JSONParser.Options(
                maxBytes: maxEventBytes * EventInputs.singleDocumentSlack, duplicateKeys: .reject))
        } catch {
            var detail = "invalid JSON: " + error.description
            if case .line(let first) = raw.origin.position, let location = error.location, location.line > 1, raw.bytes.contains(0x0A) {
                // An object over several lines (pretty-printed, in a stream of documents): where the
                // error is in the input, not in the object.
                detail = "invalid JSON at line \(first + location.line - 1), column \(location.column): " + error.message
            } else if case .line = raw.origin.position, Self.opensMultiLineJSON(raw.bytes) {
                detail += "; this line only opens an object or array, as pretty-printed JSON does, but this input is read "
                    + "one event per line (pretty-printed objects are read whole only from the start of an input): "
                    + "write one event per line (jq -c)"
            }
            return .failure(.invalidEvent(origin: raw.origin, detail: detail))
        }
        let envelope: JSONValue
        let wrapped: Bool
        switch CloudTrailNormalizer.classify(value) {
        case .cloudTrailRecord:
            envelope = CloudTrailNormalizer.envelope(for: value, ingestionTime: ingestionTime)
            wrapped = true
        case .envelope:
            envelope = value
            wrapped = false
        case .unknown:
            if CloudTrailNormalizer.isDigest(value) {
                // A digest file given by name is named as a file; one among other items, by its place.
                let origin = raw.isWholeInput ? EventOrigin(source: raw.origin.source, position: .document) : raw.origin
                return .failure(.cloudTrailDigest(origin: origin))
            }
            var what = value.kindDescription
            if let object = value.objectValue {
                let keys = object.keys.prefix(4).map { JSONWriter.quoted($0) }.joined(separator: ", ")
                what = object.isEmpty ? "an empty object" : "an object with keys \(keys)\(object.count > 4 ? ", …" : "")"
            }
            return .failure(.invalidEvent(origin: raw.origin, detail: "not a CloudTrail record or EventBridge event (\(what); "
                                          + "expected eventSource or eventName, or detail-type, source and detail)"))
        }
        var bytes = Self.serialize(envelope, raw: raw.bytes, wrapped: wrapped)
        // The limit is on the event, not on the whitespace of the text it came from (`", "` and
        // `": "` separators on one line): measure it compact before refusing it.
        if bytes.count > maxEventBytes { bytes = JSONWriter.bytes(envelope) }
        guard bytes.count <= maxEventBytes else { return .failure(.eventTooLarge(origin: raw.origin, limit: maxEventBytes)) }
        let id = envelope["id"]?.stringValue ?? CloudTrailNormalizer.eventID(for: envelope)
        if let control = id.unicodeScalars.first(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            // The id reaches handlers' environments, idempotency keys and log lines.
            return .failure(.invalidEvent(origin: raw.origin, detail: "its \"id\" holds a control character (U+"
                                          + String(format: "%04X", control.value) + "); an event id is printable text"))
        }
        if !allowingOwnSource && envelope["source"]?.stringValue == BlockEvent.source {
            return .failure(.invalidEvent(origin: raw.origin, detail: "its \"source\" is \"\(BlockEvent.source)\", which only the events "
                                          + "Tripline emits itself carry (User Blocked, …); an input event cannot claim it"))
        }
        return .success(NormalizedEvent(envelope: envelope, bytes: bytes, id: id, origin: raw.origin))
    }

    /// The envelope as one line of JSON, reusing the input's own bytes where they are already one line.
    ///
    /// Serialising the whole record again is most of the cost of normalizing, and the input text is
    /// already valid JSON (it was just parsed): an input envelope is passed through, and a record is
    /// spliced in as `detail` (the last member ``CloudTrailNormalizer`` writes). Input spanning several
    /// lines (pretty-printed) is written out compactly instead, so the result is always one line.
    static func serialize(_ envelope: JSONValue, raw: [UInt8], wrapped: Bool) -> [UInt8] {
        let range = documentRange(raw)
        guard !range.isEmpty, !raw[range].contains(where: { $0 == 0x0A || $0 == 0x0D }) else { return JSONWriter.bytes(envelope) }
        guard wrapped else { return Array(raw[range]) }
        guard case .object(var header) = envelope, header.members.last?.key == "detail" else { return JSONWriter.bytes(envelope) }
        header.members.removeLast()
        var out: [UInt8] = []
        out.reserveCapacity(range.count + 512)
        JSONWriter.write(.object(header), into: &out)
        out.removeLast()  // the closing brace
        out.append(contentsOf: header.members.isEmpty ? #""detail":"#.utf8 : #","detail":"#.utf8)
        out.append(contentsOf: raw[range])
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Where the JSON document in `bytes` is: after a byte-order mark (which the parser skips and
    /// which must not end up inside an envelope) and without the whitespace around it; empty when
    /// there is nothing else.
    static func documentRange<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes) -> Range<Int> where Bytes.Index == Int {
        var start = bytes.startIndex, end = bytes.endIndex
        if bytes.count >= 3 && bytes[start] == 0xEF && bytes[start + 1] == 0xBB && bytes[start + 2] == 0xBF { start += 3 }
        while start < end && isJSONWhitespace(bytes[start]) { start += 1 }
        while end > start && isJSONWhitespace(bytes[end - 1]) { end -= 1 }
        return start..<end
    }

    /// Whether `line` is only `{` or `[` (blanks aside): the first line of pretty-printed JSON.
    static func opensMultiLineJSON(_ line: [UInt8]) -> Bool {
        let content = line.filter { !isJSONWhitespace($0) }
        return content == [UInt8(ascii: "{")] || content == [UInt8(ascii: "[")]
    }

    private static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}
