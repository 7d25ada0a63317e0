// The engine's requests to a customer's app (voice_url, getDigits and record callbacks,
// redirects): a signed JSON POST, a bounded reply, and a precise reason when it fails.

import Foundation
import SautiVoice

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension URLRequest {
    /// Sets `body` as the JSON body and signs it (`CallbackSignature`'s headers, now).
    public mutating func signJSON(_ body: Data, secret: String) {
        httpBody = body
        setValue("application/json", forHTTPHeaderField: "Content-Type")
        let timestamp = Int(Date().timeIntervalSince1970)
        setValue(String(timestamp), forHTTPHeaderField: CallbackSignature.timestampHeader)
        setValue(
            CallbackSignature.sign(secret: secret, timestamp: timestamp, body: body),
            forHTTPHeaderField: CallbackSignature.signatureHeader)
    }
}

/// Why a callback gave no usable document.
public enum CallbackFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not an absolute http(s) URL.
    case invalidURL(String)
    /// No reply within the timeout.
    case timeout(seconds: Double)
    /// The connection failed (refused, no such host, TLS, reset).
    case transport(String)
    /// A status other than 2xx.
    case httpStatus(Int)
    /// The reply body is over the limit.
    case tooLarge(limit: Int)
    /// The reply is not a valid voice-actions document: every problem, as the validator
    /// gives them.
    case invalidDocument([String])

    /// A short token for events: `invalid-url`, `timeout`, `transport`, `http-status`,
    /// `too-large`, `invalid-document`.
    public var reason: String {
        switch self {
        case .invalidURL: "invalid-url"
        case .timeout: "timeout"
        case .transport: "transport"
        case .httpStatus: "http-status"
        case .tooLarge: "too-large"
        case .invalidDocument: "invalid-document"
        }
    }

    public var description: String {
        switch self {
        case .invalidURL(let u): "not an absolute http(s) URL: \(u)"
        case .timeout(let s): "no reply within \(s) s"
        case .transport(let m): m
        case .httpStatus(let c): "HTTP \(c)"
        case .tooLarge(let l): "the reply is over \(l) bytes"
        case .invalidDocument(let problems): "the reply is not a valid document: " + problems.joined(separator: "; ")
        }
    }
}

/// Posts call state to a customer's app and parses the reply.
public final class CallbackClient: Sendable {
    /// Seconds to wait for a whole reply.
    public let timeoutSeconds: Double
    /// The largest reply body read, in bytes.
    public let maximumReplyBytes: Int
    private let session: URLSession

    public init(timeoutSeconds: Double = 10, maximumReplyBytes: Int = VoiceLimits.maxDocumentBytes) {
        self.timeoutSeconds = timeoutSeconds
        self.maximumReplyBytes = maximumReplyBytes
        let c = URLSessionConfiguration.ephemeral
        c.urlCache = nil
        c.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
        c.timeoutIntervalForRequest = timeoutSeconds
        c.timeoutIntervalForResource = timeoutSeconds
        c.httpShouldSetCookies = false
        session = URLSession(configuration: c)
    }

    deinit { session.invalidateAndCancel() }

    /// POSTs `body` (JSON) to `url`, signed with `secret`, and returns the reply parsed as a
    /// voice-actions document (JSON or XML, by its first character). An empty 2xx reply
    /// is an empty document.
    public func post(_ url: String, body: Data, secret: String) async -> Result<VoiceDocument, CallbackFailure> {
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https",
            u.host != nil
        else {
            return .failure(.invalidURL(url))
        }
        var request = URLRequest(url: u)
        request.httpMethod = "POST"
        request.timeoutInterval = timeoutSeconds
        request.setValue("application/json, application/xml;q=0.9, text/xml;q=0.9", forHTTPHeaderField: "Accept")
        request.signJSON(body, secret: secret)
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            let ns = error as NSError
            if ns.domain == NSURLErrorDomain && ns.code == NSURLErrorTimedOut {
                return .failure(.timeout(seconds: timeoutSeconds))
            }
            return .failure(.transport(error.localizedDescription))
        }
        guard let http = response as? HTTPURLResponse else { return .failure(.transport("not an HTTP response")) }
        guard (200..<300).contains(http.statusCode) else { return .failure(.httpStatus(http.statusCode)) }
        guard data.count <= maximumReplyBytes else { return .failure(.tooLarge(limit: maximumReplyBytes)) }
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            return .success(VoiceDocument(actions: []))
        }
        do {
            return .success(try VoiceDocument.parse([UInt8](data)))
        } catch {
            return .failure(.invalidDocument(error.issues.map(\.description)))
        }
    }
}
