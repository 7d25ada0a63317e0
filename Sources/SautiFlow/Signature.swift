// Signing the engine's requests to a customer's app, so the app can tell they come from
// the engine: HMAC-SHA256 over the timestamp and the body, keyed with the number's
// voice_signing_secret (libcrypto).

import CCrypto
import Foundation

/// The signature headers of a callback request.
///
/// `X-Sautikit-Timestamp` is the Unix time in seconds when the request was made;
/// `X-Sautikit-Signature` is `v1=` and the lowercase hex HMAC-SHA256, keyed with the
/// secret, of the timestamp, a full stop, and the exact body bytes. An app recomputes it
/// and compares in constant time, and refuses timestamps more than five minutes old.
public enum CallbackSignature {
    public static let timestampHeader = "X-Sautikit-Timestamp"
    public static let signatureHeader = "X-Sautikit-Signature"

    /// `v1=<hex>` for `body` sent at `timestamp`.
    public static func sign(secret: String, timestamp: Int, body: Data) -> String {
        var message = Data("\(timestamp).".utf8)
        message.append(body)
        return "v1=" + hmacSHA256(key: Data(secret.utf8), message: message).map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `signature` is right for `body` at `timestamp` (constant-time comparison).
    public static func verify(signature: String, secret: String, timestamp: Int, body: Data) -> Bool {
        let expected = Array(sign(secret: secret, timestamp: timestamp, body: body).utf8)
        let given = Array(signature.utf8)
        guard expected.count == given.count else { return false }
        var difference: UInt8 = 0
        for i in expected.indices { difference |= expected[i] ^ given[i] }
        return difference == 0
    }

    /// HMAC-SHA256 of `message` keyed with `key` (OpenSSL's one-shot `HMAC`).
    public static func hmacSHA256(key: Data, message: Data) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                _ = HMAC(
                    EVP_sha256(), k.baseAddress, Int32(k.count), m.bindMemory(to: UInt8.self).baseAddress, m.count,
                    &out, &length)
            }
        }
        return Array(out.prefix(Int(length)))
    }

    /// `count` random bytes from OpenSSL's generator, as lowercase hex: ids for recordings.
    public static func randomHex(_ count: Int) -> String {
        var bytes = [UInt8](repeating: 0, count: count)
        if RAND_bytes(&bytes, Int32(count)) != 1 {
            for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }
}
