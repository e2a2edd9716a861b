import Foundation
import Testing

/// Moves every expiry in the blocklist of the state database at `database` into the past, as if
/// the blocks' time had run out (through python3's sqlite3, so the binary under test is not involved).
func expireEveryBlock(in database: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                         + "c.execute('UPDATE blocklist SET expires_at = 1 WHERE expires_at IS NOT NULL'); c.commit()", database]
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "python3 could not update \(database)", sourceLocation: sourceLocation)
}
