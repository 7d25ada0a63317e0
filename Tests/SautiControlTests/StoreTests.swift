import Foundation
import SautiControl
import Testing

/// The SQLite store on real files: schema, numbers, call transitions with their events,
/// filters and cursors, stats, and what a reopened file still holds.
@Suite struct StoreTests {
    static func temporaryStore() throws -> (SQLiteStore, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sauti-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return (try SQLiteStore(path: dir + "/sauti.db"), dir)
    }

    @Test("a new file gets the schema in WAL mode; a number is unique by E.164; routing updates and the secret stays hidden")
    func numbers() throws {
        let (store, dir) = try Self.temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(store.schemaVersion == SQLiteStore.migrations.count)
        #expect(FileManager.default.fileExists(atPath: dir + "/sauti.db-wal"), "WAL journal")
        let n = try store.createNumber(e164: "+254700000001")
        #expect(n.status == "active" && n.voiceURL == nil && !n.hasSigningSecret)
        #expect(throws: StoreError.conflict("the number +254700000001 is already registered")) {
            try store.createNumber(e164: "+254700000001")
        }
        let routed = try store.updateRouting(
            id: n.id, voiceURL: "https://app.example/voice", eventsURL: nil, signingSecret: "s3cret")
        #expect(routed.voiceURL == "https://app.example/voice" && routed.eventsURL == nil && routed.hasSigningSecret)
        #expect(try store.signingSecret(numberID: n.id) == "s3cret")
        #expect(throws: StoreError.notFound("no number num_x")) { try store.number(id: "num_x") }
        #expect(try store.numbers().map(\.e164) == ["+254700000001"])
    }

    @Test("a call moves queued → ringing → in-progress → completed with an event per move; a wrong move changes nothing")
    func transitions() throws {
        let (store, dir) = try Self.temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try store.createCall(numberID: nil, direction: "inbound", localE164: "+1", remoteE164: "+2", pbxCallID: "HD_1")
        #expect(c.status == "queued" && c.durationSeconds == nil)
        try store.transition(callID: c.id, to: "ringing")
        let answered = try store.transition(callID: c.id, to: "in-progress")
        #expect(answered.answeredAt != nil)
        #expect(throws: StoreError.invalidTransition(from: "in-progress", to: "ringing")) {
            try store.transition(callID: c.id, to: "ringing")
        }
        let done = try store.transition(callID: c.id, to: "completed", cause: "remote-hangup")
        #expect(done.status == "completed" && done.endedAt != nil && done.durationSeconds == 0 && done.cause == "remote-hangup")
        #expect(throws: StoreError.invalidTransition(from: "completed", to: "failed")) {
            try store.transition(callID: c.id, to: "failed")
        }
        let events = try store.events(callID: c.id)
        #expect(events.map(\.name) == ["call.queued", "call.ringing", "call.in-progress", "call.completed"])
        #expect(events[3].detail == ["from": "in-progress", "cause": "remote-hangup"])
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.occurredAt <= $1.occurredAt })
    }

    @Test("calls filter by status, direction, number and time; the cursor pages newest first; stats add up")
    func listing() throws {
        let (store, dir) = try Self.temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var ids: [String] = []
        for i in 0..<7 {
            let c = try store.createCall(
                numberID: nil, direction: i % 2 == 0 ? "inbound" : "outbound", localE164: "+100",
                remoteE164: "+20\(i)", pbxCallID: nil)
            ids.append(c.id)
            if i < 3 { try store.transition(callID: c.id, to: "failed", cause: "x") }
        }
        var filter = SQLiteStore.CallFilter()
        filter.limit = 3
        let page1 = try store.calls(filter)
        #expect(page1.map(\.id) == Array(ids.reversed().prefix(3)))
        filter.before = page1.last?.sequence
        let page2 = try store.calls(filter)
        #expect(page2.map(\.id) == Array(ids.reversed().dropFirst(3).prefix(3)))
        var failed = SQLiteStore.CallFilter()
        failed.status = "failed"
        #expect(try store.calls(failed).count == 3)
        var outbound = SQLiteStore.CallFilter()
        outbound.direction = "outbound"
        #expect(try store.calls(outbound).count == 3)
        var byNumber = SQLiteStore.CallFilter()
        byNumber.number = "+203"
        #expect(try store.calls(byNumber).map(\.id) == [ids[3]])
        var future = SQLiteStore.CallFilter()
        future.from = "2999-01-01T00:00:00.000Z"
        #expect(try store.calls(future).isEmpty)
        let s = try store.stats(from: nil, to: nil)
        #expect(s.total == 7 && s.failed == 3)
    }

    @Test("calls filter by parent: exactly one call's children, newest first, with the other filters")
    func children() throws {
        let (store, dir) = try Self.temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func call(_ parent: String? = nil) throws -> CallRecord {
            try store.createCall(
                numberID: nil, direction: parent == nil ? "inbound" : "outbound", localE164: "+1", remoteE164: "+2",
                pbxCallID: nil, parentCallID: parent)
        }
        let a = try call()
        let b = try call()
        let a1 = try call(a.id)
        let b1 = try call(b.id)
        let a2 = try call(a.id)
        _ = try call(a1.id)  // a grandchild is not a child
        try store.transition(callID: a2.id, to: "failed", cause: "x")
        var filter = SQLiteStore.CallFilter()
        filter.parentCallID = a.id
        #expect(try store.calls(filter).map(\.id) == [a2.id, a1.id])
        filter.status = "queued"
        #expect(try store.calls(filter).map(\.id) == [a1.id])
        filter.status = nil
        filter.parentCallID = b.id
        #expect(try store.calls(filter).map(\.id) == [b1.id])
        filter.parentCallID = b1.id
        #expect(try store.calls(filter).isEmpty)
    }

    @Test(
        "ids have the form makeID gives: the prefix, _ and 24 lowercase hex digits",
        arguments: [
            ("call_0123456789abcdef01234567", true), ("call_0123456789ABCDEF01234567", false),
            ("call_0123456789abcdef0123456", false), ("call_0123456789abcdef012345678", false),
            ("num_0123456789abcdef01234567", false), ("call-0123456789abcdef01234567", false),
            ("call_0123456789abcdef0123456g", false), ("", false), ("call_", false),
        ])
    func idForm(text: String, valid: Bool) {
        #expect(isWellFormedID(text, prefix: "call") == valid)
        #expect(isWellFormedID(makeID("call"), prefix: "call"))
    }

    @Test("a reopened file keeps numbers, calls, events and recordings; live calls and pending recordings are listed for recovery")
    func reopen() throws {
        let (store, dir) = try Self.temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let n = try store.createNumber(e164: "+3")
        let c = try store.createCall(numberID: n.id, direction: "inbound", localE164: "+3", remoteE164: "+4", pbxCallID: nil)
        try store.transition(callID: c.id, to: "in-progress")
        try store.createRecording(id: "rec_1", callID: c.id, file: "a.wav")
        let again = try SQLiteStore(path: dir + "/sauti.db")
        #expect(try again.number(id: n.id).e164 == "+3")
        #expect(try again.liveCalls().map(\.id) == [c.id])
        #expect(try again.pendingRecordings().map(\.id) == ["rec_1"])
        #expect(try again.events(callID: c.id).count == 2)
        try again.finishRecording(id: "rec_1", status: "ready", durationSeconds: 1.5, bytes: 24_044, reason: "silence")
        #expect(try again.recording(id: "rec_1").status == "ready")
        #expect(try again.expireRecordings(readyBefore: "2999-01-01T00:00:00.000Z").map(\.id) == ["rec_1"])
        #expect(try again.recording(id: "rec_1").status == "expired")
    }
}

/// docs/openapi.json is what `sautid --openapi` prints (regenerate it with
/// `.build/debug/sautid --openapi > docs/openapi.json`).
@Suite struct OpenAPIDocumentTests {
    @Test("docs/openapi.json matches the document the daemon serves")
    func committedDocumentIsCurrent() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let committed = try Data(contentsOf: root.appendingPathComponent("docs/openapi.json"))
        let a = try JSONSerialization.jsonObject(with: committed) as? NSDictionary
        let b = try JSONSerialization.jsonObject(with: OpenAPI.json) as? NSDictionary
        #expect(a != nil && a == b, "regenerate docs/openapi.json with sautid --openapi")
        #expect(b?["openapi"] as? String == "3.1.0")
    }
}
