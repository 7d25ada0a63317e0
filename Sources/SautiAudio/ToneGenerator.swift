#if canImport(Glibc)
import Glibc
#endif

/// A tone: one or two sine components at a level, switched on and off by a cadence.
public struct ToneSpec: Equatable, Sendable {
    /// Component frequencies, in Hz (one or two).
    public var frequenciesHz: [Double]
    /// Level of each component, in dBFS (0 = full scale).
    public var levelDBFS: Double
    /// On and off durations in ms, repeated; empty for a continuous tone.
    public var cadenceMilliseconds: [Int]

    /// A tone.
    public init(frequenciesHz: [Double], levelDBFS: Double = -13, cadenceMilliseconds: [Int] = []) {
        self.frequenciesHz = frequenciesHz
        self.levelDBFS = levelDBFS
        self.cadenceMilliseconds = cadenceMilliseconds
    }

    /// A continuous beep.
    public static func beep(frequencyHz: Double = 1000) -> ToneSpec { ToneSpec(frequenciesHz: [frequencyHz], levelDBFS: -10) }

    /// The DTMF tone of a digit (ITU-T Q.23), or nil for a character that is not one.
    public static func dtmf(_ digit: Character, levelDBFS: Double = -10) -> ToneSpec? {
        let rows: [Double] = [697, 770, 852, 941]
        let cols: [Double] = [1209, 1336, 1477, 1633]
        let keys: [Character] = ["1", "2", "3", "A", "4", "5", "6", "B", "7", "8", "9", "C", "*", "0", "#", "D"]
        guard let i = keys.firstIndex(of: digit) else { return nil }
        return ToneSpec(frequenciesHz: [rows[i / 4], cols[i % 4]], levelDBFS: levelDBFS)
    }

    /// Ringback as a country plays it (ITU-T E.180): `us` (440+480, 2 s on 4 s off),
    /// `uk` (400+450, 0.4/0.2/0.4/2.0), `eu` (425, 1 s on 4 s off), `ke` (425, 0.67/3.0 — as Kenya).
    public static func ringback(country: String) -> ToneSpec? {
        switch country.lowercased() {
        case "us", "ca": return ToneSpec(frequenciesHz: [440, 480], levelDBFS: -19, cadenceMilliseconds: [2000, 4000])
        case "uk", "gb": return ToneSpec(frequenciesHz: [400, 450], levelDBFS: -19, cadenceMilliseconds: [400, 200, 400, 2000])
        case "eu", "de", "fr": return ToneSpec(frequenciesHz: [425], levelDBFS: -19, cadenceMilliseconds: [1000, 4000])
        case "ke": return ToneSpec(frequenciesHz: [425], levelDBFS: -19, cadenceMilliseconds: [670, 3000])
        default: return nil
        }
    }
}

/// Generates a `ToneSpec` frame by frame with recursive oscillators (no `sin` per sample,
/// no allocation, no array access in the sample loop). Up to two components are
/// generated; further ones are ignored (no telephony tone has more).
public struct ToneGenerator: Sendable {
    /// The sample rate, in Hz.
    public let sampleRate: Int
    // Oscillator k: y[n] = c·y[n−1] − y[n−2], started so that y[n] = sin(n·w).
    private var c0 = 0.0, a1 = 0.0, a2 = 0.0
    private var c1 = 0.0, b1 = 0.0, b2 = 0.0
    private let components: Int
    private let amplitude: Double
    private let cadenceSamples: [Int]
    private var cadenceIndex = 0
    private var cadenceLeft: Int

    /// A generator of `spec` at `sampleRate`.
    public init(_ spec: ToneSpec, sampleRate: Int) {
        self.sampleRate = sampleRate
        amplitude = 32767 * pow(10, spec.levelDBFS / 20)
        components = min(2, spec.frequenciesHz.count)
        if components > 0 {
            let w = 2 * Double.pi * spec.frequenciesHz[0] / Double(sampleRate)
            (c0, a1, a2) = (2 * cos(w), -sin(w), -sin(2 * w))
        }
        if components > 1 {
            let w = 2 * Double.pi * spec.frequenciesHz[1] / Double(sampleRate)
            (c1, b1, b2) = (2 * cos(w), -sin(w), -sin(2 * w))
        }
        cadenceSamples = spec.cadenceMilliseconds.map { $0 * sampleRate / 1000 }
        cadenceLeft = cadenceSamples.first ?? .max
    }

    /// Fills `out` with the next samples.
    public mutating func fill(_ out: UnsafeMutableBufferPointer<Int16>) {
        var (x1, x2, y1, y2) = (a1, a2, b1, b2)
        let (k0, k1, amp) = (c0, c1, amplitude)
        let two = components > 1
        var i = 0
        while i < out.count {
            // The run of samples until the cadence switches (the whole frame when continuous).
            let run = cadenceSamples.isEmpty ? out.count - i : min(out.count - i, cadenceLeft)
            let on = cadenceSamples.isEmpty || cadenceIndex % 2 == 0
            for j in i..<(i + run) {
                let x = k0 * x1 - x2
                x2 = x1
                x1 = x
                var v = x
                if two {
                    let y = k1 * y1 - y2
                    y2 = y1
                    y1 = y
                    v += y
                }
                // Safe: |v · amp| ≤ 2 · 32767 before the clamp.
                let sample = on ? Int32(v * amp) : 0
                out[j] = Int16(truncatingIfNeeded: min(max(sample, -32768), 32767))
            }
            i += run
            if !cadenceSamples.isEmpty {
                cadenceLeft -= run
                if cadenceLeft <= 0 {
                    cadenceIndex = (cadenceIndex + 1) % cadenceSamples.count
                    cadenceLeft = cadenceSamples[cadenceIndex]
                }
            }
        }
        (a1, a2, b1, b2) = (x1, x2, y1, y2)
    }
}
