// A thin, typed layer over SQLite's C API: a connection, prepared statements with bound
// parameters, rows read by column. Only what the store needs.

import CSQLite
import Foundation

/// A failure from SQLite: the call, the code, and SQLite's message.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var message: String
    public var description: String { "SQLite error \(code): \(message)" }
}

/// A value bound to a statement parameter or read from a column.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    public var string: String? { if case .text(let s) = self { return s } else { return nil } }
    public var int: Int? {
        switch self {
        case .integer(let i): return Int(i)
        case .real(let d): return Int(d)
        default: return nil
        }
    }
    public var double: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .real(let d): return d
        default: return nil
        }
    }
}

/// One SQLite connection. Not thread-safe: the store guards each connection with a lock.
final class SQLiteConnection {
    private var db: OpaquePointer?
    let path: String
    /// Prepared statements by SQL text, reused (reset and unbound) on every run.
    private var statements: [String: OpaquePointer] = [:]

    /// Opens (creating) the database at `path`: WAL journal, normal sync (durable at each
    /// checkpoint; each commit survives a process crash), foreign keys on, a busy timeout.
    init(path: String, readOnly: Bool = false) throws(SQLiteError) {
        self.path = path
        let flags =
            (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            db = nil
            throw SQLiteError(code: rc, message: "\(path): \(message)")
        }
        sqlite3_busy_timeout(db, 5000)
        if !readOnly {
            try execute("PRAGMA journal_mode = WAL")
            try execute("PRAGMA synchronous = NORMAL")
        }
        try execute("PRAGMA foreign_keys = ON")
    }

    deinit {
        for (_, statement) in statements { sqlite3_finalize(statement) }
        sqlite3_close_v2(db)
    }

    private func error(_ rc: Int32) -> SQLiteError {
        SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(db)))
    }

    /// Runs SQL that returns no rows (several statements allowed).
    func execute(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &message)
        guard rc == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? "error"
            sqlite3_free(message)
            throw SQLiteError(code: rc, message: text)
        }
    }

    /// Runs one statement with `parameters` bound in order (?1, ?2, …) and returns its rows,
    /// each as its columns by name.
    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue] = []) throws(SQLiteError) -> [[String: SQLValue]] {
        let statement: OpaquePointer
        if let cached = statements[sql] {
            statement = cached
        } else {
            var prepared: OpaquePointer?
            let rc = sqlite3_prepare_v2(db, sql, -1, &prepared, nil)
            guard rc == SQLITE_OK, let prepared else { throw error(rc) }
            // A bounded cache: the store's statements are a fixed set, filters make a few more.
            if statements.count >= 256 {
                for (_, s) in statements { sqlite3_finalize(s) }
                statements.removeAll()
            }
            statements[sql] = prepared
            statement = prepared
        }
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (i, p) in parameters.enumerated() {
            let index = Int32(i + 1)
            let bound: Int32
            switch p {
            case .null: bound = sqlite3_bind_null(statement, index)
            case .integer(let v): bound = sqlite3_bind_int64(statement, index, v)
            case .real(let v): bound = sqlite3_bind_double(statement, index, v)
            case .text(let v): bound = sqlite3_bind_text(statement, index, v, -1, sauti_sqlite_transient())
            }
            guard bound == SQLITE_OK else { throw error(bound) }
        }
        var rows: [[String: SQLValue]] = []
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else { throw error(step) }
            var row: [String: SQLValue] = [:]
            for c in 0..<sqlite3_column_count(statement) {
                let name = String(cString: sqlite3_column_name(statement, c))
                switch sqlite3_column_type(statement, c) {
                case SQLITE_INTEGER: row[name] = .integer(sqlite3_column_int64(statement, c))
                case SQLITE_FLOAT: row[name] = .real(sqlite3_column_double(statement, c))
                case SQLITE_TEXT: row[name] = .text(String(cString: sqlite3_column_text(statement, c)))
                default: row[name] = .null
                }
            }
            rows.append(row)
        }
        return rows
    }

    /// Rows changed by the last statement.
    var changes: Int { Int(sqlite3_changes(db)) }

    /// Runs `body` in a transaction (BEGIN IMMEDIATE … COMMIT; ROLLBACK when it throws).
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}
