import Foundation

/// Power of `samples` at `frequency` relative to total power (a Goertzel filter): about 1
/// for a pure tone at that frequency, 0.5 each for two equal tones, 0 for none.
public func toneShare(_ samples: ArraySlice<Int16>, frequency: Double, rate: Double = 8000) -> Double {
    let w = 2 * Double.pi * frequency / rate
    let c = 2 * cos(w)
    var s1 = 0.0
    var s2 = 0.0
    var total = 0.0
    for x in samples {
        let v = Double(x)
        let s = v + c * s1 - s2
        s2 = s1
        s1 = s
        total += v * v
    }
    let power = s1 * s1 + s2 * s2 - c * s1 * s2
    return total == 0 ? 0 : 2 * power / (total * Double(samples.count))
}
