#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LoopbackHTTP
import TriplineJSON
import TriplineRouter
import TriplineTargets

/// `tripline receive`: a local webhook receiver that prints what arrives.
///
/// For trying alerts without Slack, and for `make demo`: it listens on 127.0.0.1, answers every POST
/// with 200, prints one line per request (a Slack message's `text`, or the JSON body) and, with
/// `--secret-variable`, whether the Standard Webhooks signature verifies.
enum ReceiveCommand: Command {
    static let spec = CommandSpec(
        name: "receive",
        summary: "Run a local webhook receiver that prints the alerts it gets",
        synopses: ["receive [--port N] [--count N] [--secret-variable NAME] [--full]"],
        options: [
            OptionSpec(name: "port", valueName: "N", help: "Port on 127.0.0.1 (default 8787; 0 for any free port, printed at start)."),
            OptionSpec(name: "count", valueName: "N", help: "Exit after N requests (default: run until SIGINT/SIGTERM)."),
            OptionSpec(name: "secret-variable", valueName: "NAME", help: "Verify webhook-signature with the secret in this environment variable."),
            OptionSpec(name: "full", valueName: nil, help: "Print whole bodies instead of one line per request."),
        ],
        positionals: nil,
        discussion: """
            Point a webhook target at it: {"Webhook": {"Url": "http://127.0.0.1:8787/alerts", "Format": "slack"}}.
            The first line printed is "listening on http://127.0.0.1:PORT".

            Exit status: 0 when stopped (SIGINT/SIGTERM); 2 when it cannot listen (the port is in use)
            or --secret-variable names an unset or malformed secret.
            """)

    static func run(_ arguments: ParsedArguments, context: CommandContext) -> Int32 {
        guard let port = Int(arguments.value("port") ?? "8787"), (0...65535).contains(port) else {
            return context.usageError("--port needs a port number", spec: spec)
        }
        var limit: Int?
        if let text = arguments.value("count") {
            guard let count = Int(text), count > 0 else { return context.usageError("--count needs a positive number", spec: spec) }
            limit = count
        }
        var secret: StandardWebhookSignature.Secret?
        if let name = arguments.value("secret-variable") {
            guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
                context.errors.line("tripline receive: the variable \(name) is not set")
                return ExitStatus.invalidInput
            }
            do { secret = try StandardWebhookSignature.Secret(parsing: value) } catch {
                context.errors.line("tripline receive: \(name): \(error)")
                return ExitStatus.invalidInput
            }
        }
        let stop = StopSignal()
        let full = arguments.has("full")
        let verifier = secret, maximum = limit
        let console = RunConsole(output: context.output.fileDescriptor, errors: context.errors.fileDescriptor, showProgress: false)
        let counter = RequestCounter()
        let server: LoopbackHTTPServer
        do {
            server = try LoopbackHTTPServer(options: LoopbackHTTPServer.Options(recordRequests: false, port: port)) { request in
                console.output(describe(request, secret: verifier, full: full))
                if let maximum, counter.increment() >= maximum { stop.request() }
                return .ok()
            }
        } catch {
            context.errors.line("tripline receive: \(error)")
            return ExitStatus.invalidInput
        }
        console.output("listening on \(server.baseURL)")
        var entry = pollfd(fd: stop.descriptor, events: Int16(POLLIN), revents: 0)
        while poll(&entry, 1, -1) < 0 && errno == EINTR {}
        usleep(100_000)  // let the last answer go out
        server.stop()
        return ExitStatus.success
    }

    /// What is printed for `request`; anything from the request has control and bidi characters escaped.
    static func describe(_ request: LoopbackRequest, secret: StandardWebhookSignature.Secret?, full: Bool) -> String {
        var line = PrintableText.escapingControls("\(request.method) \(request.path)")
        if let secret {
            let verified = StandardWebhookSignature.verify(id: request.header("webhook-id") ?? "", timestamp: request.header("webhook-timestamp") ?? "",
                                                           signatureHeader: request.header("webhook-signature") ?? "", body: request.body,
                                                           secret: secret, now: Int(Date().timeIntervalSince1970))
            line += verified ? " [signature ok]" : " [SIGNATURE INVALID]"
        }
        if full { return line + "\n" + request.bodyText.split(separator: "\n", omittingEmptySubsequences: false).map { PrintableText.escapingControls(String($0)) }.joined(separator: "\n") }
        guard let body = try? JSONParser.parse(request.body) else { return line + ": " + PrintableText.escapingControls(String(request.bodyText.prefix(200))) }
        if let text = body["text"]?.stringValue {
            return line + ": " + PrintableText.escapingControls(text.replacingOccurrences(of: "\n", with: " "))
        }
        return line + ": " + PrintableText.escapingControls(String(JSONWriter.string(body).prefix(200)))
    }
}

/// Requests seen so far, counted from the server's threads.
final class RequestCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func increment() -> Int {
        lock.lock()
        defer { lock.unlock() }
        count += 1
        return count
    }
}
