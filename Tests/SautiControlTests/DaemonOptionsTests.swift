import Foundation
import SautiControl
import SautiTestSupport
import Testing

/// sautid's settings: defaults, a config file, the environment and flags, in that order of
/// precedence; bad values are refused with the setting's name.
@Suite struct DaemonOptionsTests {
    @Test("defaults: 127.0.0.1:8080, ./sauti-data, RTP 20000-29999, tokens generated")
    func defaults() throws {
        let c = try DaemonOptions.parse([], environment: [:])
        #expect(c.apiHost == "127.0.0.1" && c.apiPort == 8080 && c.dataDirectory == "sauti-data")
        #expect(c.rtpFirstPort == 20_000 && c.rtpLastPort == 29_999)
        #expect(c.registrarToken == nil && c.customerTokens.isEmpty && c.recordingRetentionDays == 30)
        #expect(c.codecs.map(\.encoding) == ["opus", "PCMU", "PCMA"])
        #expect(c.opus.sampleRate == 16_000 && c.opus.encoder.complexity == 5 && c.opus.encoder.bitrate == 24_000)
    }

    @Test("codecs and Opus settings from flags and the environment")
    func codecs() throws {
        let c = try DaemonOptions.parse(
            ["--codecs", "PCMA, pcmu", "--opus-complexity", "2", "--resampler-quality", "3", "--opus-narrowband-complexity", "1"],
            environment: ["SAUTID_OPUS_BITRATE": "16000", "SAUTID_OPUS_RATE": "48000"])
        #expect(c.codecs.map(\.encoding) == ["PCMA", "PCMU"])
        #expect(c.opus.encoder.complexity == 2 && c.opus.encoder.bitrate == 16_000 && c.opus.sampleRate == 48_000)
        #expect(c.resamplerQuality == 3 && c.opus.encoder.narrowbandComplexity == 1)
    }

    @Test("a config file, then the environment, then flags: each wins over the one before")
    func precedence() throws {
        let dir = makeTemporaryDirectory(prefix: "sautid-options")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/sautid.conf"
        try """
        # sautid settings
        port = 9001
        data-dir = /var/lib/sauti
        rtp-ports = 30000-30999
        retention-days = 7
        callback-timeout = 3
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try DaemonOptions.parse(["--config", file], environment: [:])
        #expect(fromFile.apiPort == 9001 && fromFile.dataDirectory == "/var/lib/sauti" && fromFile.rtpFirstPort == 30_000)
        #expect(fromFile.recordingRetentionDays == 7 && fromFile.callbackTimeoutSeconds == 3)
        let environment = [
            "SAUTID_CONFIG": file, "SAUTID_PORT": "9002", "SAUTID_CUSTOMER_TOKENS": "customer-aaaaaaaaaaaa,customer-bbbbbbbbbbbb",
        ]
        let fromEnvironment = try DaemonOptions.parse([], environment: environment)
        #expect(fromEnvironment.apiPort == 9002 && fromEnvironment.dataDirectory == "/var/lib/sauti")
        #expect(fromEnvironment.customerTokens == ["customer-aaaaaaaaaaaa", "customer-bbbbbbbbbbbb"])
        let fromFlags = try DaemonOptions.parse(
            ["--port", "9003", "--customer-token=customer-cccccccccccc"], environment: environment)
        #expect(fromFlags.apiPort == 9003 && fromFlags.customerTokens == ["customer-cccccccccccc"])
    }

    @Test("bad settings are refused, naming the setting", arguments: [
        (["--port", "80000"], "--port"), (["--rtp-ports", "30000"], "--rtp-ports"), (["--rtp-ports", "500-600"], "--rtp-ports"),
        (["--workers", "0"], "--workers"), (["--callback-timeout", "-1"], "--callback-timeout"),
        (["--retention-days", "x"], "--retention-days"), (["--registrar-token", "short"], "16 characters"),
        (["--codecs", "opus,g729"], "--codecs opus,g729: \"g729\" is not a codec"),
        (["--codecs", "pcmu,PCMU"], "pcmu is named twice"), (["--codecs", ""], "\"\" is not a codec"),
        (["--codecs", "opus,"], "\"\" is not a codec"), (["--opus-complexity", "11"], "--opus-complexity 11: 0 to 10"),
        (["--opus-bitrate", "5000"], "--opus-bitrate 5000"), (["--opus-rate", "44100"], "--opus-rate 44100"),
        (["--resampler-quality", "11"], "--resampler-quality 11: 0 to 10"),
        (["--opus-narrowband-complexity", "-1"], "--opus-narrowband-complexity -1: 0 to 10"),
        (["--bogus", "1"], "unknown option --bogus"), (["--port"], "needs a value"), (["stray"], "unexpected argument"),
    ])
    func refused(arguments: [String], words: String) {
        #expect {
            _ = try DaemonOptions.parse(arguments, environment: [:])
        } throws: { error in
            "\(error)".contains(words)
        }
    }

    @Test("a config file with an unknown setting or a bad line is refused with its line number")
    func badFile() throws {
        let dir = makeTemporaryDirectory(prefix: "sautid-options")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/bad.conf"
        try "port = 9000\nspeed = 11\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect { _ = try DaemonOptions.parse(["--config", file], environment: [:]) } throws: {
            "\($0)".contains("bad.conf:2: unknown setting speed")
        }
        try "port 9000\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect { _ = try DaemonOptions.parse(["--config", file], environment: [:]) } throws: {
            "\($0)".contains("bad.conf:1: expected name = value")
        }
        #expect { _ = try DaemonOptions.parse(["--config", dir + "/missing.conf"], environment: [:]) } throws: {
            "\($0)".contains("cannot read the config file")
        }
    }
}
