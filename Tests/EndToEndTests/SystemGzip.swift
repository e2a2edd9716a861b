import Foundation

/// Gzips `path` in place with the system `gzip` (so tests read files no code of ours compressed):
/// `path` becomes `path.gz`.
func systemGzip(_ path: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip") ? "/usr/bin/gzip" : "/bin/gzip")
    process.arguments = ["-f", path]
    try process.run()
    process.waitUntilExit()
}

/// The gzip of `text`, made by the system `gzip` in a scratch file under `dir`.
func systemGzipped(_ text: String, in dir: URL) throws -> [UInt8] {
    let url = dir.appendingPathComponent("gzip-\(UUID().uuidString)")
    try Data(text.utf8).write(to: url)
    try systemGzip(url.path)
    return [UInt8](try Data(contentsOf: URL(fileURLWithPath: url.path + ".gz")))
}
