// sautid's settings from its command line, the environment and a config file (in that
// order of precedence), over the built-in defaults.

import Foundation
import SautiAudio
import SautiMedia
import SautiWire

/// A bad setting: which one and why.
public struct OptionError: Error, CustomStringConvertible {
    public var description: String
}

public enum DaemonOptions {
    public static let usage = """
        usage: sautid [options]

        Serves the control API and the media plane. With no options: the API on
        127.0.0.1:8080, state in ./sauti-data (SQLite file sauti.db, recordings/), RTP on
        127.0.0.1 ports 20000-29999, bearer tokens generated into the data folder.

          --data-dir DIR             where the store, recordings and tokens live (sauti-data)
          --host ADDR                the API's address (127.0.0.1)
          --port N                   the API's port (8080; 0 picks a free one)
          --media-address ADDR       the address legs bind to and put in SDP (127.0.0.1)
          --rtp-ports FIRST-LAST     the RTP port range (20000-29999)
          --workers N                media worker threads (one per core)
          --registrar-token T        the registrar's bearer token (default: data-dir/registrar.token)
          --customer-token T         a customer's bearer token; repeatable (default: data-dir/customer.token)
          --signalling-webhook URL   where the engine asks the registrar to answer, reject or hang up
          --callback-timeout S       seconds a customer's app may take to reply (10)
          --retention-days N         days recordings are kept; 0 keeps them (30)
          --conference-talkers K     talkers mixed at once in a conference room (3)
          --codecs LIST              codecs legs negotiate, most preferred first: opus, pcmu,
                                     pcma, comma-separated (opus,pcmu,pcma)
          --opus-complexity N        Opus encoder complexity, 0 (cheapest) to 10 (5)
          --opus-narrowband-complexity N
                                     the complexity while an Opus leg codes narrowband only
                                     (bridged to G.711, or an 8 kHz far end), 0 to 10
                                     (the same as --opus-complexity)
          --opus-bitrate BPS         Opus target bitrate, 6000 to 510000 (24000; a far end's
                                     maxaveragebitrate caps it)
          --opus-rate HZ             Opus legs' PCM rate: 8000, 12000, 16000, 24000 or 48000
                                     (16000)
          --resampler-quality N      libspeexdsp quality where rates differ (bridges, rooms,
                                     files, speech), 0 (fastest) to 10 (best) (5)
          --config FILE              a file of key = value lines with the names above (without --)
          --openapi                  print the OpenAPI document and exit
          -h, --help                 this text

        Environment: SAUTID_DATA_DIR, SAUTID_HOST, SAUTID_PORT, SAUTID_MEDIA_ADDRESS,
        SAUTID_RTP_PORTS, SAUTID_WORKERS, SAUTID_REGISTRAR_TOKEN, SAUTID_CUSTOMER_TOKENS (comma
        list), SAUTID_SIGNALLING_WEBHOOK, SAUTID_CALLBACK_TIMEOUT, SAUTID_RETENTION_DAYS,
        SAUTID_CONFERENCE_TALKERS, SAUTID_CODECS, SAUTID_OPUS_COMPLEXITY,
        SAUTID_OPUS_NARROWBAND_COMPLEXITY, SAUTID_OPUS_BITRATE,
        SAUTID_OPUS_RATE, SAUTID_RESAMPLER_QUALITY, SAUTID_CONFIG. Flags win over the environment, which wins over the config file.
        """

    /// The settings from `arguments` (without the program name), `environment` and the
    /// config file either names.
    public static func parse(_ arguments: [String], environment: [String: String]) throws -> ControlConfiguration {
        var flags: [(String, String)] = []
        var it = arguments.makeIterator()
        while let a = it.next() {
            guard a.hasPrefix("--") else { throw OptionError(description: "unexpected argument \(a)\n\n\(usage)") }
            var name = String(a.dropFirst(2))
            var value: String?
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard known.contains(name) else { throw OptionError(description: "unknown option --\(name)\n\n\(usage)") }
            if value == nil {
                guard let v = it.next() else { throw OptionError(description: "--\(name) needs a value") }
                value = v
            }
            flags.append((name, value ?? ""))
        }
        var settings: [(String, String)] = []
        let configPath = flags.last(where: { $0.0 == "config" })?.1 ?? environment["SAUTID_CONFIG"]
        if let configPath {
            guard let text = try? String(contentsOfFile: configPath, encoding: .utf8) else {
                throw OptionError(description: "cannot read the config file \(configPath)")
            }
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let t = line.trimmingCharacters(in: .whitespaces)
                if t.isEmpty || t.hasPrefix("#") { continue }
                guard let eq = t.firstIndex(of: "=") else {
                    throw OptionError(description: "\(configPath):\(n + 1): expected name = value")
                }
                let name = t[..<eq].trimmingCharacters(in: .whitespaces)
                guard known.contains(name), name != "config" else {
                    throw OptionError(description: "\(configPath):\(n + 1): unknown setting \(name)")
                }
                settings.append((name, t[t.index(after: eq)...].trimmingCharacters(in: .whitespaces)))
            }
        }
        for name in known where name != "config" {
            let key = "SAUTID_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
            if name == "customer-token", let v = environment["SAUTID_CUSTOMER_TOKENS"] {
                for t in v.split(separator: ",") { settings.append((name, String(t))) }
            } else if let v = environment[key] {
                settings.append((name, v))
            }
        }
        settings += flags
        var c = ControlConfiguration()
        var customerTokens: [String] = []
        for (name, value) in settings {
            switch name {
            case "data-dir": c.dataDirectory = value
            case "host": c.apiHost = value
            case "port":
                guard let p = UInt16(value) else { throw OptionError(description: "--port \(value): not a port") }
                c.apiPort = p
            case "media-address": c.mediaAddress = value
            case "rtp-ports":
                let parts = value.split(separator: "-").compactMap { UInt16($0) }
                guard parts.count == 2, parts[0] < parts[1], parts[0] >= 1024 else {
                    throw OptionError(description: "--rtp-ports \(value): expected FIRST-LAST, e.g. 20000-29999")
                }
                c.rtpFirstPort = parts[0]
                c.rtpLastPort = parts[1]
            case "workers":
                guard let n = Int(value), n > 0, n <= 256 else { throw OptionError(description: "--workers \(value): 1 to 256") }
                c.mediaWorkers = n
            case "registrar-token": c.registrarToken = value
            case "customer-token": customerTokens.append(value)
            case "signalling-webhook": c.signallingWebhookURL = value
            case "callback-timeout":
                guard let s = Double(value), s > 0, s <= 120 else {
                    throw OptionError(description: "--callback-timeout \(value): seconds, up to 120")
                }
                c.callbackTimeoutSeconds = s
            case "retention-days":
                guard let d = Int(value), d >= 0 else { throw OptionError(description: "--retention-days \(value): 0 or more") }
                c.recordingRetentionDays = d
            case "conference-talkers":
                guard let k = Int(value), (1...16).contains(k) else {
                    throw OptionError(description: "--conference-talkers \(value): 1 to 16")
                }
                c.conferenceTalkers = k
            case "codecs":
                let names = value.split(separator: ",", omittingEmptySubsequences: false).map {
                    $0.trimmingCharacters(in: .whitespaces).lowercased()
                }
                var codecs: [AudioCodecSpec] = []
                for n in names {
                    let spec: AudioCodecSpec
                    switch n {
                    case "opus": spec = .opus
                    case "pcmu": spec = .pcmu
                    case "pcma": spec = .pcma
                    default:
                        throw OptionError(description: "--codecs \(value): \"\(n)\" is not a codec (opus, pcmu, pcma)")
                    }
                    guard !codecs.contains(spec) else {
                        throw OptionError(description: "--codecs \(value): \(n) is named twice")
                    }
                    codecs.append(spec)
                }
                c.codecs = codecs
            case "opus-complexity":
                guard let n = Int(value), (0...10).contains(n) else {
                    throw OptionError(description: "--opus-complexity \(value): 0 to 10")
                }
                c.opus.encoder.complexity = n
            case "opus-narrowband-complexity":
                guard let n = Int(value), (0...10).contains(n) else {
                    throw OptionError(description: "--opus-narrowband-complexity \(value): 0 to 10")
                }
                c.opus.encoder.narrowbandComplexity = n
            case "opus-bitrate":
                guard let n = Int(value), (6000...510_000).contains(n) else {
                    throw OptionError(description: "--opus-bitrate \(value): 6000 to 510000 bits per second")
                }
                c.opus.encoder.bitrate = n
            case "opus-rate":
                guard let n = Int(value), OpusRate.supported.contains(n) else {
                    throw OptionError(description: "--opus-rate \(value): 8000, 12000, 16000, 24000 or 48000")
                }
                c.opus.sampleRate = n
            case "resampler-quality":
                guard let n = Int(value), (0...10).contains(n) else {
                    throw OptionError(description: "--resampler-quality \(value): 0 to 10")
                }
                c.resamplerQuality = n
            default: break
            }
        }
        // Flags came last: the last customer tokens named win as a set only if flags gave any.
        let fromFlags = flags.filter { $0.0 == "customer-token" }.map(\.1)
        c.customerTokens = fromFlags.isEmpty ? customerTokens : fromFlags
        for t in [c.registrarToken].compactMap({ $0 }) + c.customerTokens where t.count < 16 {
            throw OptionError(description: "a bearer token must be at least 16 characters")
        }
        return c
    }

    static let known: Set<String> = [
        "data-dir", "host", "port", "media-address", "rtp-ports", "workers", "registrar-token", "customer-token",
        "signalling-webhook", "callback-timeout", "retention-days", "conference-talkers", "config",
        "codecs", "opus-complexity", "opus-narrowband-complexity", "opus-bitrate", "opus-rate", "resampler-quality",
    ]
}
