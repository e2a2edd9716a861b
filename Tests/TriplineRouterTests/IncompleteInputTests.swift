import Foundation
import Testing
import TriplineJSON
@testable import TriplineRouter

@Suite("Inputs that end inside an item: reported, not counted, read again when the file grows")
struct IncompleteInputTests {
    /// What one pass over `path` gave: items as origins (`!` + description for errors), the count
    /// the checkpoint would get, and how the file ended.
    private struct Pass {
        var items: [String] = []
        var counted = -1
        var end: SourceEnd?
    }

    private func read(_ path: String, skipping resume: Int = 0) -> Pass {
        var pass = Pass()
        let inputs = EventInputs(arguments: [path])
        inputs.resumption = { _ in resume > 0 ? .resume(afterItems: resume) : .read }
        inputs.onSourceEnd = { _, items, end in
            pass.counted = items
            pass.end = end
        }
        while let item = inputs.next() {
            switch item {
            case .success(let event): pass.items.append(event.origin.description)
            case .failure(let error): pass.items.append("!" + error.description)
            }
        }
        return pass
    }

    private func record(_ n: Int) -> String { #"{"eventName":"E\#(n)","eventSource":"s3.amazonaws.com","n":\#(n)}"# }

    @Test("NDJSON: a last line without a newline that is JSON cut short is incomplete; once complete it is read")
    func ndjsonPartialLastLine() throws {
        try withRouterTempDirectory { dir in
            let full = record(1) + "\n" + record(2) + "\n" + record(3) + "\n"
            let path = try writeFile(String(full.dropLast(12)), "a.ndjson", in: dir)
            let first = read(path)
            #expect(first.items.count == 3)
            #expect(first.items[..<2] == ["\(path):1", "\(path):2"])
            #expect(first.items[2].hasPrefix("!\(path):3: incomplete at end of file (the last line has no newline and is not complete JSON yet: "),
                    "\(first.items[2])")
            #expect(first.items[2].hasSuffix("it is read again from here if the file grows"))
            #expect(first.counted == 2 && first.end == .incomplete, "the cut line is not counted")
            try writeFile(full, "a.ndjson", in: dir)
            let second = read(path, skipping: first.counted)
            #expect(second.items == ["\(path):3"] && second.counted == 3 && second.end == .endOfInput)
        }
    }

    @Test("NDJSON: a last line without a newline that is complete, or invalid in a way growing cannot mend, is an item as before",
          arguments: [#"{"eventName":"E"}"#, #"{"eventName": tru}"#, #"{"a":1}}"#, "12"])
    func ndjsonFinalLineThatIsNotCut(line: String) throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile(record(1) + "\n" + line, "a.ndjson", in: dir)
            let pass = read(path)
            #expect(pass.items == ["\(path):1", "\(path):2"] && pass.counted == 2 && pass.end == .endOfInput)
        }
    }

    @Test("a CloudTrail log cut inside its Records array (mid-record, or just after a comma) is incomplete at the record reached",
          arguments: [10, 0])
    func recordsCut(intoThirdRecord: Int) throws {
        try withRouterTempDirectory { dir in
            let full = #"{"Records":["# + (1...3).map(record).joined(separator: ",") + "]}"
            let keep = #"{"Records":["#.count + record(1).count + record(2).count + 2 + intoThirdRecord
            let path = try writeFile(String(full.prefix(keep)), "log.json", in: dir)
            let first = read(path)
            let complete = first.items.filter { !$0.hasPrefix("!") }.count
            #expect(first.items.last == "!\(path) Records[\(complete)]: incomplete at end of file (the file ends inside the Records array); "
                    + "it is read again from here if the file grows", "\(first.items)")
            #expect(first.counted == complete && first.end == .incomplete)
            try writeFile(full, "log.json", in: dir)
            let second = read(path, skipping: first.counted)
            #expect(second.items == (complete..<3).map { "\(path) Records[\($0)]" } && second.counted == 3 && second.end == .endOfInput)
        }
    }

    @Test("a gzip stream that ends early is incomplete, as a log and as NDJSON; structural damage in the middle still stops the file")
    func truncatedGzip() throws {
        try withRouterTempDirectory { dir in
            // Varied records, so that half of the compressed stream holds some complete ones.
            let records = (1...300).map { #"{"eventName":"E\#($0)","eventSource":"s3.amazonaws.com","id":"\#(UUID().uuidString)"}"# }
            for (name, text) in [("log.json", #"{"Records":["# + records.joined(separator: ",") + "]}"),
                                 ("lines.ndjson", records.joined(separator: "\n") + "\n")] {
                let gz = try Array(Data(contentsOf: URL(fileURLWithPath: try gzipFile(try writeFile(text, name, in: dir)))))
                let path = try writeFile(Array(gz.prefix(gz.count / 2)), "cut-" + name + ".gz", in: dir)
                let first = read(path)
                #expect(first.items.last?.contains(": incomplete at end of file (the gzip stream ends early)") == true, "\(first.items.suffix(2))")
                #expect(first.end == .incomplete && first.counted > 0 && first.counted == first.items.count - 1)
                try writeFile(gz, "cut-" + name + ".gz", in: dir)
                let second = read(path, skipping: first.counted)
                #expect(second.items.count == 300 - first.counted && second.counted == 300 && second.end == .endOfInput)
            }
            let broken = try writeFile(#"{"Records":[{"a":1}}"#, "broken.json", in: dir)
            let pass = read(broken)
            #expect(pass.items.last?.contains("malformed CloudTrail log") == true && pass.end == .stopped && pass.counted == 2)
        }
    }

    @Test("a file that ends inside its first object past its first line (a document being written) is incomplete as a whole")
    func unfinishedDocument() throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile("{\n  \"eventName\": \"A\",\n  \"eventSource\": \"s3.amaz", "one.json", in: dir)
            let pass = read(path)
            #expect(pass.items == ["!\(path): incomplete at end of file (the file ends inside its first JSON object); it is read again from here if the file grows"])
            #expect(pass.counted == -1, "nothing was read: no checkpoint beyond the start")
            try writeFile("{\n  \"eventName\": \"A\",\n  \"eventSource\": \"s3.amazonaws.com\"\n}\n", "one.json", in: dir)
            #expect(read(path).items == [path])
        }
    }

    @Test("NDJSON whose first line is cut inside a string and then goes on is not taken for one unfinished document")
    func cutFirstLineThenMoreLines() throws {
        try withRouterTempDirectory { dir in
            let path = try writeFile(#"{"eventName":"Cre"# + "\n" + record(2) + "\n" + record(3) + "\n", "a.ndjson", in: dir)
            #expect(read(path).items == ["\(path):1", "\(path):2", "\(path):3"])
        }
    }

    @Test("reports of incomplete ends wait for the file to be quiet (or the run to end) and are dropped when it completes")
    func reportsWaitForQuiet() {
        let a = InputError.incomplete(origin: EventOrigin(source: "/no/such/a.json", position: .record(2)), reason: "r")
        let b = InputError.incomplete(origin: EventOrigin(source: "/no/such/b.json", position: .line(4)), reason: "r")
        let stdin = InputError.incomplete(origin: EventOrigin(source: "stdin", position: .line(3)), reason: "r")
        var immediate = IncompleteInputs(grace: nil)
        #expect(immediate.found(a, now: 100) == a && immediate.isEmpty)

        var held = IncompleteInputs(grace: 10)
        #expect(held.found(a, now: 100) == nil && held.found(b, now: 101) == nil)
        #expect(held.found(stdin, now: 101) == stdin, "standard input cannot grow: reported at once")
        #expect(held.due(now: 105).isEmpty)
        #expect(held.found(a, now: 106) == nil, "found again (the file was read again): quiet from then on")
        #expect(held.due(now: 111) == [b])
        let aTakenBack = held.resolved(path: "/no/such/a.json")
        #expect(!aTakenBack, "completed before it was reported: nothing to take back")
        #expect(held.due(now: 200).isEmpty && held.isEmpty, "read to its end: nothing to report")
        let bTakenBack = held.resolved(path: "/no/such/b.json")
        #expect(bTakenBack, "completed after it was reported: the report is taken back")
        let bAgain = held.resolved(path: "/no/such/b.json")
        #expect(!bAgain, "taken back once")
        #expect(held.found(a, now: 300) == nil && held.takeAll() == [a] && held.isEmpty)
    }
}
