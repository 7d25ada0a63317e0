import Foundation
import SautiAudio
import SautiMedia

/// Mixing latency: the time of one room tick with N G.711 participants — decode every
/// participant's 20 ms packet, measure levels, settle the K = 3 talker seats, mix, encode
/// (the shared mix once, each talker's own N−1 mix), and packetize a 172-byte RTP packet for
/// every participant — without socket I/O. For 1, 3 and all participants speaking.
struct MixBenchmark {
    var sizes = [10, 100, 1000, 10_000]
    /// G.711 at 8 kHz, or Opus in a 16 kHz room (each participant decoded by its own
    /// libopus decoder; the shared mix and each talker's mix encoded once, at complexity 5).
    var opus = false

    struct Row {
        var participants: Int
        var speaking: String
        var p50: Double
        var p99: Double
        var max: Double
    }

    func run() -> [Row] {
        var rows: [Row] = []
        for n in sizes {
            for speaking in ["1", "3", "all"] {
                let talkers = speaking == "all" ? n : min(n, Int(speaking)!)
                rows.append(measure(participants: n, speaking: talkers, label: speaking))
                let r = rows.last!
                print(
                    String(
                        format: (opus ? "Opus " : "G.711") + " %6d participants, %3@ speaking: tick p50 %8.1f µs  p99 %8.1f µs  max %8.1f µs  (%.3f µs per participant)",
                        r.participants, r.speaking, r.p50, r.p99, r.max, r.p50 / Double(r.participants)))
            }
        }
        return rows
    }

    func measure(participants n: Int, speaking: Int, label: String) -> Row {
        if opus { return measureOpus(participants: n, speaking: speaking, label: label) }
        let frame = 160
        let mixer = RoomMixer(capacity: n, frameSamples: frame, talkerLimit: 3)
        let slots = (0..<n).map { _ in mixer.join()! }
        // Each participant's packet payload this tick: a tone for the speaking ones (levels
        // a little apart), silence (µ-law 0xFF) for the rest.
        let payloads = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: n * frame)
        payloads.initialize(repeating: 0xFF)
        var pcm = [Int16](repeating: 0, count: frame)
        for p in 0..<speaking {
            var g = ToneGenerator(
                ToneSpec(frequenciesHz: [300 + Double(p % 50) * 20], levelDBFS: -12 - Double(p % 7)), sampleRate: 8000)
            pcm.withUnsafeMutableBufferPointer { g.fill($0) }
            pcm.withUnsafeBufferPointer { src in
                G711.encode(.ulaw, src, into: UnsafeMutableBufferPointer(rebasing: payloads[(p * frame)..<((p + 1) * frame)]))
            }
        }
        // Outgoing packets: 12-byte RTP header + 160 bytes, one per participant.
        let packetSize = 12 + frame
        let packets = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: n * packetSize)
        packets.initialize(repeating: 0)
        let sharedEncoded = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: frame)
        let talkerEncoded = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 3 * frame)
        defer {
            payloads.deallocate()
            packets.deallocate()
            sharedEncoded.deallocate()
            talkerEncoded.deallocate()
        }
        let ticks = n >= 10_000 ? 300 : 1000
        var times: [Double] = []
        times.reserveCapacity(ticks)
        var sequence: UInt16 = 0
        var timestamp: UInt32 = 0
        for tick in 0..<(ticks + 50) {
            let start = DispatchTime.now().uptimeNanoseconds
            // Decode every participant.
            for p in 0..<n {
                G711.decode(
                    .ulaw, UnsafeBufferPointer(rebasing: payloads[(p * frame)..<((p + 1) * frame)]),
                    into: mixer.input(slots[p]))
            }
            mixer.mix()
            // Encode: the shared mix once, each seated talker's own mix.
            G711.encode(.ulaw, mixer.sharedOutput, into: sharedEncoded)
            for seat in 0..<3 {
                let holder = mixer.talkerSeat(seat)
                guard holder >= 0 else { continue }
                G711.encode(
                    .ulaw, mixer.output(holder),
                    into: UnsafeMutableBufferPointer(rebasing: talkerEncoded[(seat * frame)..<((seat + 1) * frame)]))
            }
            // Packetize: a header and the right payload for everyone.
            sequence &+= 1
            timestamp &+= UInt32(frame)
            var seatOfSlot = (-1, -1, -1)
            seatOfSlot = (mixer.talkerSeat(0), mixer.talkerSeat(1), mixer.talkerSeat(2))
            for p in 0..<n {
                let base = p * packetSize
                packets[base] = 0x80
                packets[base + 1] = 0
                packets[base + 2] = UInt8(sequence >> 8)
                packets[base + 3] = UInt8(sequence & 0xFF)
                packets[base + 4] = UInt8(timestamp >> 24)
                packets[base + 5] = UInt8((timestamp >> 16) & 0xFF)
                packets[base + 6] = UInt8((timestamp >> 8) & 0xFF)
                packets[base + 7] = UInt8(timestamp & 0xFF)
                let ssrc = UInt32(p) &* 2_654_435_761
                packets[base + 8] = UInt8(ssrc >> 24)
                packets[base + 9] = UInt8((ssrc >> 16) & 0xFF)
                packets[base + 10] = UInt8((ssrc >> 8) & 0xFF)
                packets[base + 11] = UInt8(ssrc & 0xFF)
                let slot = slots[p]
                let source: UnsafeMutableBufferPointer<UInt8>
                if slot == seatOfSlot.0 {
                    source = UnsafeMutableBufferPointer(rebasing: talkerEncoded[0..<frame])
                } else if slot == seatOfSlot.1 {
                    source = UnsafeMutableBufferPointer(rebasing: talkerEncoded[frame..<(2 * frame)])
                } else if slot == seatOfSlot.2 {
                    source = UnsafeMutableBufferPointer(rebasing: talkerEncoded[(2 * frame)..<(3 * frame)])
                } else {
                    source = sharedEncoded
                }
                UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(packets)[(base + 12)..<(base + packetSize)])
                    .copyMemory(from: UnsafeRawBufferPointer(source))
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1000
            if tick >= 50 { times.append(elapsed) }
        }
        times.sort()
        func pct(_ q: Double) -> Double { times[min(times.count - 1, Int(Double(times.count) * q))] }
        return Row(participants: n, speaking: label, p50: pct(0.5), p99: pct(0.99), max: times.last ?? 0)
    }

    /// The same tick for Opus participants in a 16 kHz room.
    func measureOpus(participants n: Int, speaking: Int, label: String) -> Row {
        let frame = 320
        let mixer = RoomMixer(capacity: n, frameSamples: frame, talkerLimit: 3)
        let slots = (0..<n).map { _ in mixer.join()! }
        let decoders = (0..<n).map { _ in try! OpusDecoder(sampleRate: 16_000) }
        let encoders = (0..<4).map { _ in try! OpusEncoder(sampleRate: 16_000) }
        // Each participant's packet: a tone for the speaking ones, silence for the rest.
        let maxPacket = 400
        let payloads = UnsafeMutableRawBufferPointer.allocate(byteCount: n * maxPacket, alignment: 8)
        var lengths = [Int](repeating: 0, count: n)
        var pcm = [Int16](repeating: 0, count: frame)
        let warmEncoder = try! OpusEncoder(sampleRate: 16_000)
        for p in 0..<n {
            if p < speaking {
                var g = ToneGenerator(
                    ToneSpec(frequenciesHz: [300 + Double(p % 50) * 20], levelDBFS: -12 - Double(p % 7)), sampleRate: 16_000)
                pcm.withUnsafeMutableBufferPointer { g.fill($0) }
            } else {
                for i in 0..<frame { pcm[i] = 0 }
            }
            lengths[p] = pcm.withUnsafeBufferPointer { src in
                warmEncoder.encode(src, into: UnsafeMutableRawBufferPointer(rebasing: payloads[(p * maxPacket)..<((p + 1) * maxPacket)]))
            }
        }
        let packetSize = 12 + maxPacket
        let packets = UnsafeMutableRawBufferPointer.allocate(byteCount: n * packetSize, alignment: 8)
        let encoded = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 * maxPacket, alignment: 8)
        var encodedLength = [Int](repeating: 0, count: 4)
        defer {
            payloads.deallocate()
            packets.deallocate()
            encoded.deallocate()
        }
        let ticks = n >= 1000 ? 200 : 500
        var times: [Double] = []
        times.reserveCapacity(ticks)
        for tick in 0..<(ticks + 20) {
            let start = DispatchTime.now().uptimeNanoseconds
            for p in 0..<n {
                _ = decoders[p].decode(
                    UnsafeRawBufferPointer(rebasing: payloads[(p * maxPacket)..<(p * maxPacket + lengths[p])]),
                    into: mixer.input(slots[p]))
            }
            mixer.mix()
            encodedLength[3] = encoders[3].encode(
                mixer.sharedOutput, into: UnsafeMutableRawBufferPointer(rebasing: encoded[(3 * maxPacket)..<(4 * maxPacket)]))
            for seat in 0..<3 {
                let holder = mixer.talkerSeat(seat)
                guard holder >= 0 else { continue }
                encodedLength[seat] = encoders[seat].encode(
                    mixer.output(holder),
                    into: UnsafeMutableRawBufferPointer(rebasing: encoded[(seat * maxPacket)..<((seat + 1) * maxPacket)]))
            }
            let seats = (mixer.talkerSeat(0), mixer.talkerSeat(1), mixer.talkerSeat(2))
            for p in 0..<n {
                let base = p * packetSize
                packets[base] = 0x80
                packets[base + 1] = 111
                packets[base + 2] = UInt8(truncatingIfNeeded: tick >> 8)
                packets[base + 3] = UInt8(truncatingIfNeeded: tick)
                let which = slots[p] == seats.0 ? 0 : slots[p] == seats.1 ? 1 : slots[p] == seats.2 ? 2 : 3
                let length = encodedLength[which]
                UnsafeMutableRawBufferPointer(rebasing: packets[(base + 12)..<(base + 12 + length)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: encoded[(which * maxPacket)..<(which * maxPacket + length)]))
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1000
            if tick >= 20 { times.append(elapsed) }
        }
        times.sort()
        func pct(_ q: Double) -> Double { times[min(times.count - 1, Int(Double(times.count) * q))] }
        return Row(participants: n, speaking: label, p50: pct(0.5), p99: pct(0.99), max: times.last ?? 0)
    }
}

/// An SVG plot of tick time (p99, µs) against participants, both on log scales, one line
/// per codec and speaking count, with the 5 ms goal and the 20 ms tick marked.
func writeMixPlot(_ rows: [MixBenchmark.Row], to path: String) {
    let width = 720.0
    let height = 440.0
    let left = 70.0
    let right = 170.0
    let top = 20.0
    let bottom = 50.0
    let xs = rows.map { log10(Double($0.participants)) }
    let ys = rows.map { log10(max(1, $0.p99)) }
    guard let x0 = xs.min(), let x1 = xs.max(), x1 > x0 else { return }
    let y0 = 0.0
    let y1 = max(log10(25_000), ys.max() ?? 4)
    func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * (width - left - right) }
    func py(_ y: Double) -> Double { height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom) }
    var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>

        """
    for e in 0...Int(y1.rounded(.down)) {
        let y = py(Double(e))
        svg += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(width - right)\" y2=\"\(y)\" stroke=\"#ddd\"/>"
        svg += "<text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(Int(pow(10, Double(e)))) µs</text>\n"
    }
    for n in Set(rows.map(\.participants)).sorted() {
        let x = px(log10(Double(n)))
        svg += "<line x1=\"\(x)\" y1=\"\(top)\" x2=\"\(x)\" y2=\"\(height - bottom)\" stroke=\"#eee\"/>"
        svg += "<text x=\"\(x)\" y=\"\(height - bottom + 16)\" text-anchor=\"middle\">\(n)</text>\n"
    }
    for (label, us, color) in [("5 ms goal", 5000.0, "#c00"), ("20 ms tick", 20_000.0, "#888")] {
        let y = py(log10(us))
        svg += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(width - right)\" y2=\"\(y)\" stroke=\"\(color)\" stroke-dasharray=\"4 3\"/>"
        svg += "<text x=\"\(width - right + 4)\" y=\"\(y + 4)\" fill=\"\(color)\">\(label)</text>\n"
    }
    let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
    let series = rows.map(\.speaking).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
    for (i, name) in series.enumerated() {
        let points = rows.filter { $0.speaking == name }.sorted { $0.participants < $1.participants }
        let path = points.map { "\(px(log10(Double($0.participants)))),\(py(log10(max(1, $0.p99))))" }.joined(separator: " ")
        let color = colors[i % colors.count]
        svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(path)\"/>\n"
        let y = top + 16 * Double(i + 3)
        svg += "<text x=\"\(width - right + 4)\" y=\"\(y)\" fill=\"\(color)\">\(name.hasPrefix("opus") ? "Opus, " + name.dropFirst(5) : "G.711, " + name) speaking</text>\n"
    }
    svg += "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">participants (one room, one core)</text>\n"
    svg += "<text x=\"14\" y=\"\((top + height - bottom) / 2)\" transform=\"rotate(-90 14 \((top + height - bottom) / 2))\" text-anchor=\"middle\">tick time, p99</text>\n"
    svg += "</svg>\n"
    try? svg.write(toFile: path, atomically: true, encoding: .utf8)
}
