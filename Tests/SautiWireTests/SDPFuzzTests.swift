import SautiWire
import Testing

/// Mutated fixture offers through negotiation: none may crash; every answer given must
/// satisfy RFC 3264 §6; a refused re-offer must leave the live leg as it was. Seeded with
/// `fuzzSeed` (`SAUTI_FUZZ_SEED` overrides); failures name the seed and iteration.
@Suite struct SDPFuzzTests {
    static let iterationsPerFixture = 150

    /// `text` with one random line-level or character-level change.
    static func mutate(_ text: String, donor: [String], using rng: inout SeededGenerator) -> String {
        var lines = sdpLines(text)
        guard !lines.isEmpty else { return text }
        let i = Int.random(in: 0..<lines.count, using: &rng)
        switch Int.random(in: 0..<7, using: &rng) {
        case 0: lines.remove(at: i)
        case 1: lines.insert(lines[i], at: i)
        case 2: if i + 1 < lines.count { lines.swapAt(i, i + 1) }
        case 3:
            var chars = Array(lines[i])
            let alphabet = Array("0123456789 =/:.-aAzZ\t*")
            if !chars.isEmpty {
                chars[Int.random(in: 0..<chars.count, using: &rng)] = alphabet.randomElement(using: &rng)!
            }
            lines[i] = String(chars)
        case 4: lines[i] = String(lines[i].prefix(Int.random(in: 0...lines[i].count, using: &rng)))
        case 5: lines.insert(donor.randomElement(using: &rng)!, at: i)
        default:
            // Absurd numbers where numbers go.
            let absurd = ["0", "65535", "65536", "99999999999999999999", "-1", "128", "4294967296"].randomElement(
                using: &rng)!
            var parts = lines[i].split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            let j = Int.random(in: 0..<parts.count, using: &rng)
            if parts[j].contains(":") {
                parts[j] = String(parts[j].prefix { $0 != ":" }) + ":" + absurd
            } else if j > 0 {
                parts[j] = absurd
            }
            lines[i] = parts.joined(separator: " ")
        }
        return lines.joined(separator: Bool.random(using: &rng) ? "\r\n" : "\n") + "\r\n"
    }

    @Test("mutated offers: answered correctly or refused, never crashing")
    func mutatedOffers() throws {
        let names = try Fixtures.sdpNames()
        let texts = try names.map(Fixtures.sdp)
        let donor = texts.flatMap(sdpLines)
        var rng = SeededGenerator(seed: fuzzSeed)
        var answered = 0
        var refused = 0
        for (name, text) in zip(names, texts) {
            for iteration in 0..<Self.iterationsPerFixture {
                var mutated = text
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    mutated = Self.mutate(mutated, donor: donor, using: &rng)
                }
                let context: Comment = "seed \(fuzzSeed), \(name) iteration \(iteration):\n\(mutated)"
                // As a first offer.
                var session = Local.session()
                switch answering(&session, mutated) {
                case .success(let answer):
                    answered += 1
                    try expectRFC3264Answer(answer, to: mutated, by: session)
                case .failure(let error):
                    refused += 1
                    #expect(session.media == nil && session.localDescription == nil, context)
                    #expect(!error.description.isEmpty, context)
                }
                // As a re-offer to a live leg.
                var live = Local.session()
                guard (try? answering(&live, text).get()) != nil else { continue }
                let before = (live.media, live.sessionVersion, live.localDescription)
                if case .failure = answering(&live, mutated) {
                    #expect(live.media == before.0 && live.sessionVersion == before.1, context)
                    #expect(live.localDescription == before.2, context)
                }
            }
        }
        // The mutations exercise both outcomes.
        #expect(answered > 100 && refused > 100, "answered \(answered), refused \(refused)")
    }
}
