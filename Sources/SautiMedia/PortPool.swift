import SautiWire
import Synchronization

/// Why a leg could not get ports.
public enum PortPoolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Every even port of the range is taken (by legs, or by other programs).
    case exhausted(first: UInt16, last: UInt16)
    /// The range is not a valid even-start range of at least two ports.
    case badRange(first: UInt16, last: UInt16)

    public var description: String {
        switch self {
        case .exhausted(let f, let l): return "no free RTP port pair in \(f)-\(l)"
        case .badRange(let f, let l): return "RTP port range \(f)-\(l) must hold at least one even/odd pair"
        }
    }
}

/// Hands out RTP/RTCP port pairs (RTP on an even port, RTCP on the next) from a configured
/// range, bound on the given local address. A released pair returns to the pool. Safe to
/// use from any thread.
public final class PortPool: Sendable {
    /// The local address sockets bind to.
    public let address: IPAddress
    /// First and last port of the range.
    public let first: UInt16
    public let last: UInt16
    private let state: Mutex<(inUse: Set<UInt16>, next: UInt16)>

    /// A pool over `first ... last` on `address`.
    public init(address: IPAddress, first: UInt16, last: UInt16) throws(PortPoolError) {
        let even = first % 2 == 0 ? first : first + 1
        guard first <= last, Int(even) + 1 <= Int(last), even > 0 else { throw .badRange(first: first, last: last) }
        self.address = address
        self.first = even
        self.last = last
        state = Mutex((inUse: [], next: even))
    }

    /// Binds a free pair; returns the RTP and RTCP sockets.
    func allocate() throws(PortPoolError) -> (rtp: UDPSocket, rtcp: UDPSocket) {
        let pairs = (Int(last) - Int(first) + 1) / 2
        for _ in 0..<pairs {
            let port: UInt16? = state.withLock { s in
                var p = s.next
                for _ in 0..<pairs {
                    let candidate = p
                    p = Int(p) + 3 > Int(last) ? first : p + 2
                    if !s.inUse.contains(candidate) {
                        s.inUse.insert(candidate)
                        s.next = p
                        return candidate
                    }
                }
                return nil
            }
            guard let port else { break }
            do {
                let rtp = try UDPSocket(bindTo: Endpoint(address: address, port: port))
                let rtcp = try UDPSocket(bindTo: Endpoint(address: address, port: port + 1))
                return (rtp, rtcp)
            } catch {
                // Taken by someone else: leave it marked only while we try others.
                _ = state.withLock { $0.inUse.remove(port) }
                continue
            }
        }
        throw .exhausted(first: first, last: last)
    }

    /// Returns `rtpPort`'s pair to the pool (the sockets are closed by their owner).
    func release(_ rtpPort: UInt16) {
        _ = state.withLock { $0.inUse.remove(rtpPort) }
    }

    /// Pairs in use now.
    public var inUse: Int { state.withLock { $0.inUse.count } }
}
