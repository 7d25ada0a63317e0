// The store: numbers and their routing, calls, their events, recordings. SQLite in WAL mode
// is the embedded default: one writer connection (all writes, serialized), one reader.
// SQL is kept portable (no SQLite-only syntax beyond the pragmas) so that a PostgreSQL store
// can take its place.

import Foundation

/// A DID served by this engine, and where its calls' flows come from.
public struct NumberRecord: Sendable, Equatable {
    public var id: String
    public var e164: String
    public var voiceURL: String?
    public var eventsURL: String?
    /// Whether a voice_signing_secret is set (the secret itself is never returned).
    public var hasSigningSecret: Bool
    public var status: String
    public var createdAt: String
    public var updatedAt: String
}

/// A call's record.
public struct CallRecord: Sendable, Equatable {
    public var id: String
    public var numberID: String?
    public var direction: String
    public var localE164: String
    public var remoteE164: String
    public var status: String
    public var pbxCallID: String?
    /// Why it ended, when it did not complete (`busy`, `engine-restart`, a SIP cause, …).
    public var cause: String?
    public var createdAt: String
    public var answeredAt: String?
    public var endedAt: String?
    /// Whole seconds from answer to end; nil until it ends (0 when never answered).
    public var durationSeconds: Int?
    /// The cost in minor units; nil until debited (billing is not part of the engine).
    public var costMinor: Int?
    /// The store's order of creation: the cursor of `GET /v1/calls`.
    public var sequence: Int
    /// The call whose `dial` placed this one (a child call); nil otherwise.
    public var parentCallID: String? = nil
}

/// One entry of a call's timeline.
public struct CallEventRecord: Sendable, Equatable {
    public var id: Int
    public var callID: String
    public var name: String
    public var detail: [String: String]
    public var occurredAt: String
}

/// A recording and where it stands.
public struct RecordingRecord: Sendable, Equatable {
    public var id: String
    public var callID: String
    /// The WAV file (relative to the recordings folder).
    public var file: String
    /// `pending` (being captured), `ready`, `failed`, `expired`.
    public var status: String
    public var durationSeconds: Double?
    public var bytes: Int?
    public var reason: String?
    public var createdAt: String
    public var readyAt: String?
}

/// What went wrong in the store, in the API's terms.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    case conflict(String)
    case invalidTransition(from: String, to: String)
    case database(String)

    public var description: String {
        switch self {
        case .notFound(let m): m
        case .conflict(let m): m
        case .invalidTransition(let f, let t): "a call cannot go from \(f) to \(t)"
        case .database(let m): m
        }
    }
}

/// The call statuses and the moves between them.
public enum CallStatus {
    public static let terminal: Set<String> = ["completed", "failed", "busy", "canceled", "no-answer"]
    static let allowed: [String: Set<String>] = [
        "queued": ["ringing", "in-progress", "failed", "busy", "canceled", "no-answer", "completed"],
        "ringing": ["in-progress", "failed", "busy", "canceled", "no-answer", "completed"],
        "in-progress": ["completed", "failed"],
    ]
    static func canMove(from: String, to: String) -> Bool { allowed[from]?.contains(to) ?? false }
}

/// The time as the store writes it: ISO 8601 UTC with milliseconds (sorts as text).
public func storeTimestamp(_ date: Date = Date()) -> String {
    let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    var t = time_t(ms / 1000)
    var parts = tm()
    gmtime_r(&t, &parts)
    return String(
        format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
        Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(ms % 1000))
}

/// Parses `storeTimestamp`'s form (and plain `…Z` without milliseconds).
public func parseStoreTimestamp(_ text: String) -> Date? {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let d = f.date(from: text) { return d }
    f.formatOptions = [.withInternetDateTime]
    return f.date(from: text)
}

/// A random id with a prefix: `call_` + 24 hex digits.
public func makeID(_ prefix: String) -> String {
    var g = SystemRandomNumberGenerator()
    let hex = (0..<3).map { _ in String(format: "%016llx", g.next() as UInt64) }.joined().prefix(24)
    return prefix + "_" + hex
}

/// Whether `text` has the form `makeID(prefix)` gives: the prefix, `_`, 24 lowercase hex
/// digits.
public func isWellFormedID(_ text: String, prefix: String) -> Bool {
    guard text.hasPrefix(prefix + "_") else { return false }
    let hex = text.utf8.dropFirst(prefix.utf8.count + 1)
    return hex.count == 24 && hex.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
}

/// The SQLite store.
public final class SQLiteStore: Sendable {
    public let path: String
    private final class Connections: @unchecked Sendable {
        let writer: SQLiteConnection
        let reader: SQLiteConnection
        init(writer: SQLiteConnection, reader: SQLiteConnection) {
            self.writer = writer
            self.reader = reader
        }
    }
    private let connections: Connections
    private let writeLock = NSLock()
    private let readLock = NSLock()

    /// The schema, one migration per version, applied in order at open.
    public static let migrations: [String] = [
        """
        CREATE TABLE numbers (
            id TEXT PRIMARY KEY, e164 TEXT NOT NULL UNIQUE, voice_url TEXT, events_url TEXT,
            voice_signing_secret TEXT, status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
        CREATE TABLE calls (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, number_id TEXT REFERENCES numbers(id),
            direction TEXT NOT NULL, local_e164 TEXT NOT NULL, remote_e164 TEXT NOT NULL, status TEXT NOT NULL,
            pbx_call_id TEXT, cause TEXT, created_at TEXT NOT NULL, answered_at TEXT, ended_at TEXT,
            duration_seconds INTEGER, cost_minor INTEGER);
        CREATE INDEX calls_status ON calls(status);
        CREATE INDEX calls_created ON calls(created_at);
        CREATE TABLE call_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL REFERENCES calls(id), name TEXT NOT NULL,
            detail TEXT NOT NULL, occurred_at TEXT NOT NULL);
        CREATE INDEX call_events_call ON call_events(call_id, id);
        CREATE TABLE recordings (
            id TEXT PRIMARY KEY, call_id TEXT NOT NULL REFERENCES calls(id), file TEXT NOT NULL, status TEXT NOT NULL,
            duration_seconds REAL, bytes INTEGER, reason TEXT, created_at TEXT NOT NULL, ready_at TEXT);
        CREATE INDEX recordings_call ON recordings(call_id);
        """,
        // Child calls: the call whose dial placed them.
        """
        ALTER TABLE calls ADD COLUMN parent_call_id TEXT REFERENCES calls(id);
        CREATE INDEX calls_parent ON calls(parent_call_id);
        """,
    ]

    /// Opens (creating and migrating) the store at `path`.
    public init(path: String) throws(StoreError) {
        self.path = path
        do {
            let writer = try SQLiteConnection(path: path)
            try writer.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
            let applied = try writer.query("SELECT MAX(version) AS v FROM schema_migrations").first?["v"]?.int ?? 0
            for (i, sql) in Self.migrations.enumerated() where i + 1 > applied {
                try writer.transaction {
                    try writer.execute(sql)
                    try writer.query(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                        [.integer(Int64(i + 1)), .text(storeTimestamp())])
                }
            }
            let reader = try SQLiteConnection(path: path)
            connections = Connections(writer: writer, reader: reader)
        } catch let e as SQLiteError {
            throw .database(e.description)
        } catch {
            throw .database("\(error)")
        }
    }

    /// The schema version applied.
    public var schemaVersion: Int { (try? read { try $0.query("SELECT MAX(version) AS v FROM schema_migrations") })?.first?["v"]?.int ?? 0 }

    private func write<T>(_ body: (SQLiteConnection) throws -> T) throws(StoreError) -> T {
        do {
            return try writeLock.withLock { try connections.writer.transaction { try body(connections.writer) } }
        } catch let e as StoreError {
            throw e
        } catch let e as SQLiteError {
            if e.code == 19 { throw .conflict(e.message) }  // SQLITE_CONSTRAINT
            throw .database(e.description)
        } catch {
            throw .database("\(error)")
        }
    }

    private func read<T>(_ body: (SQLiteConnection) throws -> T) throws(StoreError) -> T {
        do {
            return try readLock.withLock { try body(connections.reader) }
        } catch let e as StoreError {
            throw e
        } catch {
            throw .database("\(error)")
        }
    }

    // MARK: Numbers

    static func number(_ r: [String: SQLValue]) -> NumberRecord {
        NumberRecord(
            id: r["id"]?.string ?? "", e164: r["e164"]?.string ?? "", voiceURL: r["voice_url"]?.string,
            eventsURL: r["events_url"]?.string, hasSigningSecret: r["voice_signing_secret"]?.string != nil,
            status: r["status"]?.string ?? "", createdAt: r["created_at"]?.string ?? "",
            updatedAt: r["updated_at"]?.string ?? "")
    }

    public func createNumber(e164: String) throws(StoreError) -> NumberRecord {
        let now = storeTimestamp()
        let id = makeID("num")
        do {
            try write { db in
                try db.query(
                    "INSERT INTO numbers (id, e164, status, created_at, updated_at) VALUES (?1, ?2, 'active', ?3, ?3)",
                    [.text(id), .text(e164), .text(now)])
            }
        } catch .conflict {
            throw .conflict("the number \(e164) is already registered")
        }
        return try number(id: id)
    }

    public func number(id: String) throws(StoreError) -> NumberRecord {
        guard let r = try read({ try $0.query("SELECT * FROM numbers WHERE id = ?1", [.text(id)]) }).first else {
            throw .notFound("no number \(id)")
        }
        return Self.number(r)
    }

    public func number(e164: String) throws(StoreError) -> NumberRecord? {
        try read { try $0.query("SELECT * FROM numbers WHERE e164 = ?1", [.text(e164)]) }.first.map(Self.number)
    }

    public func numbers() throws(StoreError) -> [NumberRecord] {
        try read { try $0.query("SELECT * FROM numbers ORDER BY created_at, id") }.map(Self.number)
    }

    /// Sets the routing fields given (nil leaves one as it is; "" clears it).
    public func updateRouting(id: String, voiceURL: String?, eventsURL: String?, signingSecret: String?)
        throws(StoreError) -> NumberRecord
    {
        try write { db in
            func set(_ column: String, _ value: String?) throws {
                guard let value else { return }
                try db.query(
                    "UPDATE numbers SET \(column) = ?1, updated_at = ?2 WHERE id = ?3",
                    [value.isEmpty ? .null : .text(value), .text(storeTimestamp()), .text(id)])
            }
            guard try !db.query("SELECT id FROM numbers WHERE id = ?1", [.text(id)]).isEmpty else {
                throw StoreError.notFound("no number \(id)")
            }
            try set("voice_url", voiceURL)
            try set("events_url", eventsURL)
            try set("voice_signing_secret", signingSecret)
        }
        return try number(id: id)
    }

    /// The number's voice_signing_secret ("" when none is set).
    public func signingSecret(numberID: String) throws(StoreError) -> String {
        try read { try $0.query("SELECT voice_signing_secret FROM numbers WHERE id = ?1", [.text(numberID)]) }
            .first?["voice_signing_secret"]?.string ?? ""
    }

    // MARK: Calls and events

    static func call(_ r: [String: SQLValue]) -> CallRecord {
        CallRecord(
            id: r["id"]?.string ?? "", numberID: r["number_id"]?.string, direction: r["direction"]?.string ?? "",
            localE164: r["local_e164"]?.string ?? "", remoteE164: r["remote_e164"]?.string ?? "",
            status: r["status"]?.string ?? "", pbxCallID: r["pbx_call_id"]?.string, cause: r["cause"]?.string,
            createdAt: r["created_at"]?.string ?? "", answeredAt: r["answered_at"]?.string,
            endedAt: r["ended_at"]?.string, durationSeconds: r["duration_seconds"]?.int,
            costMinor: r["cost_minor"]?.int, sequence: r["seq"]?.int ?? 0, parentCallID: r["parent_call_id"]?.string)
    }

    static func insertEvent(_ db: SQLiteConnection, callID: String, name: String, detail: [String: String], at: String)
        throws
    {
        let json = (try? JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys])) ?? Data("{}".utf8)
        try db.query(
            "INSERT INTO call_events (call_id, name, detail, occurred_at) VALUES (?1, ?2, ?3, ?4)",
            [.text(callID), .text(name), .text(String(decoding: json, as: UTF8.self)), .text(at)])
    }

    /// Creates a call in `queued` with its first event, in one transaction.
    public func createCall(
        numberID: String?, direction: String, localE164: String, remoteE164: String, pbxCallID: String?,
        parentCallID: String? = nil
    ) throws(StoreError) -> CallRecord {
        let id = makeID("call")
        let now = storeTimestamp()
        try write { db in
            try db.query(
                """
                INSERT INTO calls (id, number_id, direction, local_e164, remote_e164, status, pbx_call_id, created_at,
                    parent_call_id)
                VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7, ?8)
                """,
                [
                    .text(id), numberID.map { .text($0) } ?? .null, .text(direction), .text(localE164),
                    .text(remoteE164), pbxCallID.map { .text($0) } ?? .null, .text(now),
                    parentCallID.map { .text($0) } ?? .null,
                ])
            try Self.insertEvent(db, callID: id, name: "call.queued", detail: ["direction": direction], at: now)
        }
        return try call(id: id)
    }

    public func call(id: String) throws(StoreError) -> CallRecord {
        guard let r = try read({ try $0.query("SELECT * FROM calls WHERE id = ?1", [.text(id)]) }).first else {
            throw .notFound("no call \(id)")
        }
        return Self.call(r)
    }

    /// Moves a call to `status` (checking the move is allowed) and records the event, in
    /// one transaction: the record never lags its events. Answer and end times and the
    /// duration follow from the move. `onlyFrom`: the statuses the call may be in for this
    /// move (checked in the same transaction); from any other, `invalidTransition`.
    @discardableResult
    public func transition(
        callID: String, to status: String, cause: String? = nil, detail: [String: String] = [:],
        onlyFrom: Set<String>? = nil
    ) throws(StoreError) -> CallRecord {
        let now = storeTimestamp()
        try write { db in
            guard let r = try db.query("SELECT * FROM calls WHERE id = ?1", [.text(callID)]).first else {
                throw StoreError.notFound("no call \(callID)")
            }
            let current = Self.call(r)
            guard CallStatus.canMove(from: current.status, to: status), onlyFrom?.contains(current.status) ?? true else {
                throw StoreError.invalidTransition(from: current.status, to: status)
            }
            if status == "in-progress" {
                try db.query(
                    "UPDATE calls SET status = ?1, answered_at = ?2 WHERE id = ?3",
                    [.text(status), .text(now), .text(callID)])
            } else if CallStatus.terminal.contains(status) {
                var duration = 0
                if let a = current.answeredAt.flatMap(parseStoreTimestamp), let e = parseStoreTimestamp(now) {
                    duration = max(0, Int(e.timeIntervalSince(a).rounded()))
                }
                try db.query(
                    "UPDATE calls SET status = ?1, ended_at = ?2, duration_seconds = ?3, cause = ?4 WHERE id = ?5",
                    [.text(status), .text(now), .integer(Int64(duration)), cause.map { .text($0) } ?? .null, .text(callID)])
            } else {
                try db.query("UPDATE calls SET status = ?1 WHERE id = ?2", [.text(status), .text(callID)])
            }
            var d = detail
            d["from"] = current.status
            if let cause { d["cause"] = cause }
            try Self.insertEvent(db, callID: callID, name: "call.\(status)", detail: d, at: now)
        }
        return try call(id: callID)
    }

    /// Appends an event to a call's timeline.
    public func appendEvent(callID: String, name: String, detail: [String: String], occurredAt: String = storeTimestamp())
        throws(StoreError)
    {
        try write { db in try Self.insertEvent(db, callID: callID, name: name, detail: detail, at: occurredAt) }
    }

    public func events(callID: String) throws(StoreError) -> [CallEventRecord] {
        try read { db in
            try db.query("SELECT * FROM call_events WHERE call_id = ?1 ORDER BY id", [.text(callID)])
        }.map { r in
            let text = r["detail"]?.string ?? "{}"
            let detail = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String] ?? [:]
            return CallEventRecord(
                id: r["id"]?.int ?? 0, callID: r["call_id"]?.string ?? "", name: r["name"]?.string ?? "",
                detail: detail, occurredAt: r["occurred_at"]?.string ?? "")
        }
    }

    /// Filters of `GET /v1/calls`.
    public struct CallFilter: Sendable {
        public var status: String?
        public var direction: String?
        /// Calls on this number (local or remote E.164).
        public var number: String?
        public var from: String?
        public var to: String?
        /// The calls placed by this call's `dial` (its children), by exact id.
        public var parentCallID: String?
        /// Calls created before the one with this sequence (the cursor).
        public var before: Int?
        public var limit = 50
        public init() {}
    }

    /// Calls matching `filter`, newest first.
    public func calls(_ filter: CallFilter) throws(StoreError) -> [CallRecord] {
        var clauses: [String] = []
        var parameters: [SQLValue] = []
        func add(_ clause: String, _ value: SQLValue) {
            parameters.append(value)
            clauses.append(clause.replacingOccurrences(of: "?", with: "?\(parameters.count)"))
        }
        if let s = filter.status { add("status = ?", .text(s)) }
        if let d = filter.direction { add("direction = ?", .text(d)) }
        if let n = filter.number {
            parameters.append(.text(n))
            clauses.append("(local_e164 = ?\(parameters.count) OR remote_e164 = ?\(parameters.count))")
        }
        if let f = filter.from { add("created_at >= ?", .text(f)) }
        if let t = filter.to { add("created_at < ?", .text(t)) }
        // calls_parent (migration 2) finds a parent's children.
        if let p = filter.parentCallID { add("parent_call_id = ?", .text(p)) }
        if let b = filter.before { add("seq < ?", .integer(Int64(b))) }
        let whereSQL = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        let sql = "SELECT * FROM calls \(whereSQL) ORDER BY seq DESC LIMIT \(max(1, min(filter.limit, 500)))"
        return try read { try $0.query(sql, parameters) }.map(Self.call)
    }

    /// `GET /v1/calls/stats`: calls created in [from, to).
    public func stats(from: String?, to: String?) throws(StoreError) -> (total: Int, failed: Int, minutes: Double, spendMinor: Int) {
        var clauses: [String] = []
        var parameters: [SQLValue] = []
        if let from {
            parameters.append(.text(from))
            clauses.append("created_at >= ?\(parameters.count)")
        }
        if let to {
            parameters.append(.text(to))
            clauses.append("created_at < ?\(parameters.count)")
        }
        let whereSQL = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        let r = try read { db in
            try db.query(
                """
                SELECT COUNT(*) AS total, SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed,
                COALESCE(SUM(duration_seconds), 0) AS seconds, COALESCE(SUM(cost_minor), 0) AS spend FROM calls \(whereSQL)
                """, parameters)
        }.first ?? [:]
        return (r["total"]?.int ?? 0, r["failed"]?.int ?? 0, (r["seconds"]?.double ?? 0) / 60, r["spend"]?.int ?? 0)
    }

    /// Calls not in a final state (live when the process stopped).
    public func liveCalls() throws(StoreError) -> [CallRecord] {
        try read { db in
            try db.query("SELECT * FROM calls WHERE status IN ('queued', 'ringing', 'in-progress') ORDER BY seq")
        }.map(Self.call)
    }

    // MARK: Recordings

    static func recording(_ r: [String: SQLValue]) -> RecordingRecord {
        RecordingRecord(
            id: r["id"]?.string ?? "", callID: r["call_id"]?.string ?? "", file: r["file"]?.string ?? "",
            status: r["status"]?.string ?? "", durationSeconds: r["duration_seconds"]?.double,
            bytes: r["bytes"]?.int, reason: r["reason"]?.string, createdAt: r["created_at"]?.string ?? "",
            readyAt: r["ready_at"]?.string)
    }

    public func createRecording(id: String, callID: String, file: String) throws(StoreError) {
        try write { db in
            try db.query(
                "INSERT INTO recordings (id, call_id, file, status, created_at) VALUES (?1, ?2, ?3, 'pending', ?4)",
                [.text(id), .text(callID), .text(file), .text(storeTimestamp())])
        }
    }

    public func finishRecording(id: String, status: String, durationSeconds: Double, bytes: Int, reason: String)
        throws(StoreError)
    {
        try write { db in
            try db.query(
                """
                UPDATE recordings SET status = ?1, duration_seconds = ?2, bytes = ?3, reason = ?4, ready_at = ?5
                WHERE id = ?6
                """,
                [.text(status), .real(durationSeconds), .integer(Int64(bytes)), .text(reason), .text(storeTimestamp()), .text(id)])
        }
    }

    public func recording(id: String) throws(StoreError) -> RecordingRecord {
        guard let r = try read({ try $0.query("SELECT * FROM recordings WHERE id = ?1", [.text(id)]) }).first else {
            throw .notFound("no recording \(id)")
        }
        return Self.recording(r)
    }

    public func recordings(callID: String) throws(StoreError) -> [RecordingRecord] {
        try read { try $0.query("SELECT * FROM recordings WHERE call_id = ?1 ORDER BY created_at", [.text(callID)]) }
            .map(Self.recording)
    }

    /// Recordings still `pending` (being captured when the process stopped).
    public func pendingRecordings() throws(StoreError) -> [RecordingRecord] {
        try read { try $0.query("SELECT * FROM recordings WHERE status = 'pending'") }.map(Self.recording)
    }

    /// Marks ready recordings older than `before` expired; returns them (their files go).
    public func expireRecordings(readyBefore before: String) throws(StoreError) -> [RecordingRecord] {
        try write { db in
            let rows = try db.query(
                "SELECT * FROM recordings WHERE status = 'ready' AND ready_at < ?1", [.text(before)])
            try db.query("UPDATE recordings SET status = 'expired' WHERE status = 'ready' AND ready_at < ?1", [.text(before)])
            return rows.map(Self.recording)
        }
    }
}
