/// Packet-loss concealment for waveform codecs (G.711), after ITU-T G.711 Appendix I:
/// while frames are missing, repeat the last pitch period of the good signal, fading
/// out 20 % per 10 ms after the first 10 ms, to silence by 60 ms; when audio returns,
/// cross-fade from the synthetic signal into it. It owns its buffers; after `init`
/// nothing allocates.
public struct WaveformConcealer {
    /// The clock rate, in Hz.
    public let sampleRate: Int
    /// History of good (or concealed) output, newest last: 3 longest pitch periods.
    private var history: [Int16]
    /// Pitch search bounds, in samples (2.5–15 ms, i.e. 66–400 Hz).
    private let minPitch: Int
    private let maxPitch: Int
    /// The period being repeated, in samples; 0 when not concealing.
    private var pitch = 0
    /// Position within the repeated period.
    private var phase = 0
    /// Samples concealed in the current loss.
    public private(set) var concealedRun = 0
    /// Samples to cross-fade when real audio resumes.
    private let overlapSamples: Int

    /// A concealer for audio at `sampleRate` Hz.
    public init(sampleRate: Int) {
        self.sampleRate = sampleRate
        minPitch = sampleRate / 400
        maxPitch = sampleRate * 15 / 1000
        history = [Int16](repeating: 0, count: 3 * (sampleRate * 15 / 1000))
        overlapSamples = sampleRate / 400  // 2.5 ms
    }

    /// Whether the last frame produced was concealed.
    public var isConcealing: Bool { concealedRun > 0 }

    /// Records a frame of real audio. If it follows a loss, its start is cross-faded with
    /// the continuation of the synthetic signal so the seam does not click.
    public mutating func good(_ frame: UnsafeMutableBufferPointer<Int16>) {
        if concealedRun > 0 && pitch > 0 {
            let n = min(overlapSamples, frame.count)
            let gain = fadeGain(at: concealedRun)
            for i in 0..<n {
                let synth = Int32(history[history.count - pitch + (phase + i) % pitch]) * gain / 1024
                let w = Int32(i + 1) * 1024 / Int32(n + 1)
                let mixed = (synth * (1024 - w) + Int32(frame[i]) * w) / 1024
                frame[i] = Int16(min(max(mixed, -32768), 32767))
            }
        }
        concealedRun = 0
        pitch = 0
        push(UnsafeBufferPointer(frame))
    }

    /// Fills `frame` with concealment for a missing frame.
    public mutating func conceal(_ frame: UnsafeMutableBufferPointer<Int16>) {
        if concealedRun == 0 {
            pitch = estimatePitch()
            phase = 0
        }
        let start = history.count - pitch
        for i in 0..<frame.count {
            let gain = fadeGain(at: concealedRun + i)
            let s = gain == 0 ? 0 : Int32(history[start + phase]) * gain / 1024
            frame[i] = Int16(min(max(s, -32768), 32767))
            phase += 1
            if phase == pitch { phase = 0 }
        }
        concealedRun += frame.count
        // The history keeps the unattenuated repetition so the period stays intact.
        if concealedRun >= sampleRate * 60 / 1000 {
            // Fully faded: what follows is silence, and history should say so.
            for i in history.indices { history[i] = 0 }
        }
    }

    /// Gain in 1/1024 after `n` concealed samples: 1 for 10 ms, then −20 % per 10 ms.
    private func fadeGain(at n: Int) -> Int32 {
        let tenMs = sampleRate / 100
        if n < tenMs { return 1024 }
        let steps = (n - tenMs) / tenMs + 1
        return steps >= 5 ? 0 : Int32(1024 - steps * 205)
    }

    private mutating func push(_ frame: UnsafeBufferPointer<Int16>) {
        let n = frame.count
        history.withUnsafeMutableBufferPointer { h in
            if n >= h.count {
                _ = h.update(fromContentsOf: frame[(n - h.count)...])
                return
            }
            // Slide the history left by n (overlapping move), then append the frame.
            let keep = h.count - n
            let base = h.baseAddress!
            // Safe: both ranges lie within the buffer; `update(from:count:)` handles the overlap as memmove.
            base.update(from: base + n, count: keep)
            (base + keep).update(from: frame.baseAddress!, count: n)
        }
    }

    /// The lag with the highest normalized autocorrelation over the last 20 ms: a coarse
    /// search on every 4th sample at every 2nd lag, then a full-resolution refinement
    /// around the best coarse lag (as G.711 Appendix I searches at 2:1 decimation first).
    /// About a sixth of the multiply-adds of a full search.
    private func estimatePitch() -> Int {
        let window = min(sampleRate / 50, history.count - maxPitch)
        let end = history.count
        return history.withUnsafeBufferPointer { h -> Int in
            func score(_ lag: Int, step: Int) -> Double {
                var cross: Int64 = 0
                var energy: Int64 = 0
                var i = end - window
                while i < end {
                    let a = Int64(h[i])
                    let b = Int64(h[i - lag])
                    cross += a * b
                    energy += b * b
                    i += step
                }
                return energy > 0 ? Double(cross) / Double(energy).squareRoot() : -.infinity
            }
            var bestLag = maxPitch
            var best = -Double.infinity
            var lag = minPitch
            while lag <= maxPitch {
                let s = score(lag, step: 4)
                if s > best {
                    best = s
                    bestLag = lag
                }
                lag += 2
            }
            var refined = bestLag
            best = -.infinity
            for l in max(minPitch, bestLag - 2)...min(maxPitch, bestLag + 2) {
                let s = score(l, step: 1)
                if s > best {
                    best = s
                    refined = l
                }
            }
            return refined
        }
    }
}
