import SautiWire
import Testing

/// RFC 4733 payloads and the tracker that turns their packets into digits exactly once,
/// driven by short scripted packet traces.
@Suite struct TelephoneEventTests {
    @Test("rtp_dtmf.bin: digit 1, end, volume 10, duration 960")
    func aiortcVector() throws {
        let bytes = try Fixtures.aiortcPacket("rtp_dtmf.bin")
        let h = try parseRTP(bytes).get()
        let event = try #require(bytes.withUnsafeBytes { TelephoneEvent(parsing: h.payload(in: $0)) })
        #expect(event == TelephoneEvent(event: 1, isEnd: true, volume: 10, duration: 960))
        #expect(event.digit == "1")
        var out = [UInt8](repeating: 0, count: 4)
        #expect(out.withUnsafeMutableBytes { event.serialize(into: $0) })
        #expect(out == Array(bytes.suffix(4)))
    }

    @Test(
        "event codes map to DTMF characters",
        arguments: [
            (0, "0"), (5, "5"), (9, "9"), (10, "*"), (11, "#"), (12, "A"), (13, "B"), (14, "C"), (15, "D"), (16, nil),
            (32, nil), (255, nil),
        ] as [(UInt8, Character?)])
    func digits(_ code: UInt8, _ digit: Character?) {
        #expect(TelephoneEvent.digit(for: code) == digit)
        #expect(TelephoneEvent(event: code, isEnd: false, volume: 0, duration: 0).digit == digit)
    }

    @Test("payload fields: the reserved bit is not part of the volume; short payloads are refused")
    func payloadFields() {
        let reservedSet: [UInt8] = [11, 0x40 | 0x80 | 63, 0xFF, 0xFF]
        let e = reservedSet.withUnsafeBytes { TelephoneEvent(parsing: $0) }
        #expect(e == TelephoneEvent(event: 11, isEnd: true, volume: 63, duration: 65535))
        #expect(([1, 2, 3] as [UInt8]).withUnsafeBytes { TelephoneEvent(parsing: $0) } == nil)
        var short = [UInt8](repeating: 0, count: 3)
        #expect(
            !short.withUnsafeMutableBytes {
                TelephoneEvent(event: 1, isEnd: true, volume: 1, duration: 1).serialize(into: $0)
            })
        var out = [UInt8](repeating: 0, count: 4)
        _ = out.withUnsafeMutableBytes {
            TelephoneEvent(event: 3, isEnd: false, volume: 0x7F, duration: 0x1234).serialize(into: $0)
        }
        #expect(out == [3, 0x3F, 0x12, 0x34])
    }

    // MARK: - Tracker traces

    /// One packet of a trace.
    struct P {
        var event: UInt8
        var timestamp: UInt32
        var marker = false
        var end = false
        var duration: UInt16
        var arrival: Int64 = 0
    }

    /// Steps of a trace: a packet, audio resuming, or the end of the stream.
    enum Step {
        case packet(P)
        case audio
        case finish
    }

    /// Runs `steps` through a fresh tracker; returns every digit reported, with the step that reported it.
    private func run(_ steps: [Step]) -> [(step: Int, digit: DetectedDigit)] {
        var tracker = TelephoneEventTracker()
        var out: [(Int, DetectedDigit)] = []
        for (i, step) in steps.enumerated() {
            let d: DetectedDigit?
            switch step {
            case .packet(let p):
                d = tracker.ingest(
                    TelephoneEvent(event: p.event, isEnd: p.end, volume: 10, duration: p.duration),
                    rtpTimestamp: p.timestamp, marker: p.marker, arrivalNanoseconds: p.arrival)
            case .audio: d = tracker.audioResumed()
            case .finish: d = tracker.finish()
            }
            if let d { out.append((i, d)) }
        }
        return out
    }

    /// An RFC 4733 §2.5.1 event: a marked start, updates every 20 ms, and three end packets.
    private func event(_ code: UInt8, at ts: UInt32, updates: Int = 3, ends: Int = 3, start: Bool = true) -> [Step] {
        var steps: [Step] = []
        for k in 0..<updates where start || k > 0 {
            steps.append(
                .packet(
                    P(
                        event: code, timestamp: ts, marker: k == 0, duration: UInt16(160 * (k + 1)),
                        arrival: Int64(ts) * 125_000 + Int64(k) * 20_000_000)))
        }
        let last = UInt16(160 * (updates + 1))
        for k in 0..<ends {
            steps.append(
                .packet(
                    P(
                        event: code, timestamp: ts, end: true, duration: last,
                        arrival: Int64(ts) * 125_000 + Int64(updates + k) * 20_000_000)))
        }
        return steps
    }

    @Test("three end packets report one digit, at the first end")
    func tripleEnd() throws {
        let steps = event(5, at: 8000) + [.finish]
        let out = run(steps)
        #expect(out.count == 1)
        #expect(out.first?.step == 3)  // the first end packet
        let d = try #require(out.first?.digit)
        #expect(d.digit == "5" && d.event == 5 && d.rtpTimestamp == 8000)
        #expect(d.sawMarker && d.endPackets == 1 && d.durationUnits == 640 && d.packets == 4)
        #expect(d.firstArrivalNanoseconds == 1_000_000_000)
    }

    @Test("the event in progress keeps counting the retransmitted ends")
    func lastEventCounts() {
        var tracker = TelephoneEventTracker()
        for k in 0..<3 {
            _ = tracker.ingest(
                TelephoneEvent(event: 7, isEnd: true, volume: 10, duration: 800), rtpTimestamp: 100, marker: k == 0,
                arrivalNanoseconds: 0)
        }
        #expect(tracker.lastEvent?.endPackets == 3 && tracker.lastEvent?.packets == 3)
        #expect(tracker.finish() == nil)
    }

    @Test("a lost start (no marker) still makes a digit")
    func lostStart() {
        let out = run(event(9, at: 16000, start: false))
        #expect(out.map(\.digit.digit) == ["9"])
        #expect(out.first?.digit.sawMarker == false && out.first?.digit.packets == 3)  // 2 updates + first end
    }

    @Test("only the end packets arriving still makes one digit")
    func onlyEnds() {
        let out = run(event(0, at: 320, updates: 0, ends: 3) + [.finish])
        #expect(out.map(\.digit.digit) == ["0"])
        #expect(out.first?.step == 0 && out.first?.digit.endPackets == 1)
    }

    @Test("no end packet: the digit is reported when the next event starts")
    func noEndNextEvent() {
        let out = run(event(1, at: 1000, ends: 0) + event(2, at: 3000) + [.finish])
        #expect(out.map(\.digit.digit) == ["1", "2"])
        #expect(out[0].step == 3)  // the first packet of the second event
        #expect(out[0].digit.endPackets == 0 && out[0].digit.durationUnits == 480)
    }

    @Test("no end packet: the digit is reported when audio resumes, once")
    func noEndAudioResumes() {
        let out = run(event(11, at: 1000, ends: 0) + [.audio, .audio, .finish])
        #expect(out.map(\.digit.digit) == ["#"])
        #expect(out.first?.step == 3)
    }

    @Test("no end packet: the digit is reported at finish, once")
    func noEndFinish() {
        let out = run(event(10, at: 1000, ends: 0) + [.finish, .finish])
        #expect(out.map(\.digit.digit) == ["*"])
        #expect(out.first?.step == 3)
    }

    @Test("audio resuming after an ended event reports nothing more")
    func audioAfterEnd() {
        let out = run(event(4, at: 1000) + [.audio, .finish])
        #expect(out.map(\.step) == [3])
    }

    @Test("a late retransmission of a finished event is ignored")
    func lateRetransmission() {
        let lateEnd = Step.packet(P(event: 1, timestamp: 1000, end: true, duration: 640))
        // After the next event has started.
        #expect(
            run(event(1, at: 1000) + event(2, at: 3000, ends: 0) + [lateEnd, .finish]).map(\.digit.digit) == ["1", "2"])
        // After audio closed an event that never ended.
        #expect(run(event(1, at: 1000, ends: 0) + [.audio, lateEnd, .finish]).map(\.digit.digit) == ["1"])
        // A late update (not an end) of the earlier event, while the next one is in progress.
        let lateUpdate = Step.packet(P(event: 1, timestamp: 1000, duration: 320))
        #expect(
            run(event(1, at: 1000) + event(2, at: 3000, ends: 0) + [lateUpdate] + event(3, at: 5000)).map(\.digit.digit)
                == ["1", "2", "3"])
    }

    @Test("a dialled string, each digit once, in order")
    func dialString() {
        var steps: [Step] = []
        for (i, code) in ([1, 2, 3, 11] as [UInt8]).enumerated() {
            steps += event(code, at: UInt32(1000 + 2000 * i))
            steps.append(.audio)
        }
        steps.append(.finish)
        #expect(String(run(steps).map(\.digit.digit)) == "123#")
    }

    @Test("an event whose start and updates were lost and whose first end comes while another is unfinished")
    func endOfNewEventWhileOldOpen() {
        // Event 1 loses its ends; event 2 loses its start and updates. Both digits must be reported.
        let out = run(event(1, at: 1000, ends: 0) + event(2, at: 3000, updates: 0, ends: 3) + [.finish])
        #expect(out.map(\.digit.digit) == ["1", "2"])
        // With a single end packet of the second event, finish reports it.
        let single = run(event(1, at: 1000, ends: 0) + event(2, at: 3000, updates: 0, ends: 1) + [.finish])
        #expect(single.map(\.digit.digit) == ["1", "2"])
    }

    @Test("a non-DTMF event gives no digit but closes the one in progress")
    func nonDTMFEvent() {
        let flash = Step.packet(P(event: 16, timestamp: 5000, marker: true, duration: 160))
        let flashEnd = Step.packet(P(event: 16, timestamp: 5000, end: true, duration: 800))
        let out = run(event(6, at: 1000, ends: 0) + [flash, flashEnd, flashEnd, .finish])
        #expect(out.map(\.digit.digit) == ["6"])
        #expect(out.first?.step == 3)
    }

    @Test("the same event code at a new timestamp is a new digit")
    func repeatedDigit() {
        #expect(String(run(event(8, at: 1000) + event(8, at: 2600) + [.finish]).map(\.digit.digit)) == "88")
        #expect(
            String(run(event(8, at: 1000, ends: 0) + event(8, at: 2600, ends: 0) + [.finish]).map(\.digit.digit))
                == "88")
    }
}

@Test("a long press in several segments (RFC 4733 §2.5.1.3) is one digit with the whole duration")
func longPressSegments() {
    var t = TelephoneEventTracker()
    var out: [DetectedDigit] = []
    var ts: UInt32 = 0xFFFF_0000  // crosses the 32-bit wrap on the way
    var now: Int64 = 0
    // Three segments: two of the maximum 0xFFFF units, then 1000 units with the end.
    for segment in 0..<3 {
        let last = segment == 2 ? 1000 : 0xFFFF
        var d = 160
        while true {
            let dur = min(d, last)
            let end = segment == 2 && dur == last
            if let x = t.ingest(TelephoneEvent(event: 5, isEnd: end, volume: 10, duration: UInt16(dur)), rtpTimestamp: ts, marker: segment == 0 && d == 160, arrivalNanoseconds: now) { out.append(x) }
            now += 20_000_000
            if dur == last { break }
            d += 160
        }
        ts &+= UInt32(last)
    }
    if let x = t.finish() { out.append(x) }
    #expect(out.count == 1)
    #expect(out.first?.digit == "5")
    #expect(t.lastEvent?.durationUnits == 2 * 0xFFFF + 1000)
}
