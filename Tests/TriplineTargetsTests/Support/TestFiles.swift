import Foundation

/// A fresh directory per test, removed when `body` returns.
func withTargetsTempDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("tripline-targets-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try body(dir)
}

/// Writes `text` to `name` in `dir`; returns the path.
@discardableResult
func writeFile(_ text: String, _ name: String, in dir: URL) throws -> String {
    let url = dir.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url)
    return url.path
}

/// Writes an executable `#!/bin/sh` script; returns its path.
func writeScript(_ body: String, _ name: String, in dir: URL) throws -> String {
    let path = try writeFile("#!/bin/sh\n" + body + "\n", name, in: dir)
    chmod(path, 0o755)
    return path
}
