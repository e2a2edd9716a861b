import Foundation
import Testing
@testable import TriplineState

@Suite("SQLite connection: statements, binds, transactions, errors")
struct SQLiteDatabaseTests {
    @Test func roundTripsEveryValueKind() throws {
        let db = try SQLiteDatabase(path: ":memory:")
        try db.execute("CREATE TABLE t(i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)")
        try db.prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)")
            .bind(.integer(Int64.max), .real(0.5), .text("héllo\u{0}x"), .blob([0, 1, 255]), .null).run()
        let select = try db.prepare("SELECT i, r, s, b, n FROM t")
        #expect(try select.step())
        #expect(select.integer(0) == Int64.max)
        #expect(select.real(1) == 0.5)
        #expect(select.text(2) == "héllo")  // SQLite text binding stops at NUL (length -1)
        #expect(select.blob(3) == [0, 1, 255])
        #expect(select.isNull(4) && select.text(4) == nil)
        #expect(try !select.step())
    }

    @Test func rollsBackAFailedTransaction() throws {
        let db = try SQLiteDatabase(path: ":memory:")
        try db.execute("CREATE TABLE t(k TEXT PRIMARY KEY)")
        #expect(throws: StateError.self) {
            try db.transaction { () throws(StateError) in
                try db.prepare("INSERT INTO t VALUES ('a')").run()
                try db.prepare("INSERT INTO t VALUES ('a')").run()
            }
        }
        let count = try db.prepare("SELECT count(*) FROM t")
        #expect(try count.step())
        #expect(count.int(0) == 0)
    }

    @Test func errorsNameTheFileTheStatementAndTheCause() throws {
        let db = try SQLiteDatabase(path: ":memory:")
        do {
            try db.execute("INSERT INTO missing VALUES (1)")
            Issue.record("no error")
        } catch {
            #expect(error.description.contains(":memory:"))
            #expect(error.description.contains("no such table: missing"))
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tripline-notadb-\(UUID().uuidString)")
        try Data("this is not a database, just text long enough to have a header".utf8).write(to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = try SQLiteDatabase(path: dir.path)
        do {
            try bad.execute("CREATE TABLE t(x)")
            Issue.record("no error")
        } catch {
            #expect(error.description.contains("damaged"))
        }
    }
}
