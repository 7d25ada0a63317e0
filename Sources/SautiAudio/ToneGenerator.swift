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
/// no allocation after `init`).
public struct ToneGenerator: Sendable {
    /// The sample rate, in Hz.
    public let sampleRate: Int
    private var y1: [Double]
    private var y2: [Double]
    private var coefficient: [Double]
    private let amplitude: Double
    private let cadenceSamples: [Int]
    private var cadenceIndex = 0
    private var cadenceLeft: Int
    private var total = 0

    /// A generator of `spec` at `sampleRate`.
    public init(_ spec: ToneSpec, sampleRate: Int) {
        self.sampleRate = sampleRate
        amplitude = 32767 * pow(10, spec.levelDBFS / 20)
        coefficient = []
        y1 = []
        y2 = []
        for f in spec.frequenciesHz {
            let w = 2 * Double.pi * f / Double(sampleRate)
            coefficient.append(2 * cos(w))
            // y[-1] = sin(-w), y[-2] = sin(-2w): the recursion then yields sin(n w).
            y1.append(-sin(w))
            y2.append(-sin(2 * w))
        }
        cadenceSamples = spec.cadenceMilliseconds.map { $0 * sampleRate / 1000 }
        cadenceLeft = cadenceSamples.first ?? .max
    }

    /// Fills `out` with the next samples.
    public mutating func fill(_ out: UnsafeMutableBufferPointer<Int16>) {
        for i in 0..<out.count {
            var s = 0.0
            for k in 0..<coefficient.count {
                let y = coefficient[k] * y1[k] - y2[k]
                y2[k] = y1[k]
                y1[k] = y
                s += y
            }
            let on = cadenceSamples.isEmpty || cadenceIndex % 2 == 0
            let v = on ? s * amplitude : 0
            out[i] = Int16(max(min(v.rounded(), 32767), -32768))
            if !cadenceSamples.isEmpty {
                cadenceLeft -= 1
                if cadenceLeft <= 0 {
                    cadenceIndex = (cadenceIndex + 1) % cadenceSamples.count
                    cadenceLeft = cadenceSamples[cadenceIndex]
                }
            }
        }
        total += out.count
    }
}

