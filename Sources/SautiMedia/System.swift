import CSautiLinux
import SautiWire

#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which, and the errno it left.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The call, e.g. `bind`.
    public var call: String
    /// The errno value.
    public var errno: Int32

    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }

    /// The current errno for `call`.
    static func last(_ call: String) -> SystemError { SystemError(call: call, errno: Glibc.errno) }
}

/// Runs a system call, retrying on EINTR; a negative result throws with errno.
@discardableResult
func syscall(_ name: String, _ body: () -> Int32) throws(SystemError) -> Int32 {
    while true {
        let r = body()
        if r >= 0 { return r }
        if errno == EINTR { continue }
        throw SystemError.last(name)
    }
}

/// Monotonic time in nanoseconds (CLOCK_MONOTONIC).
@inline(__always)
public func monotonicNanoseconds() -> Int64 { sauti_monotonic_ns() }

/// A socket address for an endpoint, and back.
enum SocketAddress {
    static func make(_ e: Endpoint) -> (sockaddr_storage, socklen_t) {
        var storage = sockaddr_storage()
        switch e.address {
        case .v4(let a):
            withUnsafeMutableBytes(of: &storage) { raw in
                raw.withMemoryRebound(to: sockaddr_in.self) { sin in
                    sin[0].sin_family = sa_family_t(AF_INET)
                    sin[0].sin_port = e.port.bigEndian
                    sin[0].sin_addr.s_addr = a.bigEndian
                }
            }
            return (storage, socklen_t(MemoryLayout<sockaddr_in>.size))
        case .v6(let hi, let lo):
            withUnsafeMutableBytes(of: &storage) { raw in
                raw.withMemoryRebound(to: sockaddr_in6.self) { sin6 in
                    sin6[0].sin6_family = sa_family_t(AF_INET6)
                    sin6[0].sin6_port = e.port.bigEndian
                    withUnsafeMutableBytes(of: &sin6[0].sin6_addr) { b in
                        for i in 0..<8 { b[i] = UInt8(truncatingIfNeeded: hi >> UInt64(56 - 8 * i)) }
                        for i in 0..<8 { b[8 + i] = UInt8(truncatingIfNeeded: lo >> UInt64(56 - 8 * i)) }
                    }
                }
            }
            return (storage, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
    }

    static func endpoint(_ storage: UnsafePointer<sockaddr_storage>) -> Endpoint? {
        let raw = UnsafeRawPointer(storage)
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            let sin = raw.load(as: sockaddr_in.self)
            return Endpoint(address: .v4(UInt32(bigEndian: sin.sin_addr.s_addr)), port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            let sin6 = raw.load(as: sockaddr_in6.self)
            var hi: UInt64 = 0
            var lo: UInt64 = 0
            withUnsafeBytes(of: sin6.sin6_addr) { b in
                for i in 0..<8 { hi = hi << 8 | UInt64(b[i]) }
                for i in 0..<8 { lo = lo << 8 | UInt64(b[8 + i]) }
            }
            return Endpoint(address: .v6(hi, lo), port: UInt16(bigEndian: sin6.sin6_port))
        default:
            return nil
        }
    }

    /// True if `storage` holds exactly `endpoint` (no allocation: compares bytes).
    @inline(__always)
    static func matches(_ storage: UnsafePointer<sockaddr_storage>, _ endpoint: (sockaddr_storage, socklen_t)) -> Bool {
        var e = endpoint.0
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            guard Int32(e.ss_family) == AF_INET else { return false }
            let a = UnsafeRawPointer(storage).load(as: sockaddr_in.self)
            let b = withUnsafeBytes(of: &e) { $0.load(as: sockaddr_in.self) }
            return a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr
        case AF_INET6:
            guard Int32(e.ss_family) == AF_INET6 else { return false }
            let a = UnsafeRawPointer(storage).load(as: sockaddr_in6.self)
            let b = withUnsafeBytes(of: &e) { $0.load(as: sockaddr_in6.self) }
            return a.sin6_port == b.sin6_port
                && withUnsafeBytes(of: a.sin6_addr) { x in withUnsafeBytes(of: b.sin6_addr) { y in x.elementsEqual(y) } }
        default:
            return false
        }
    }
}

/// A non-blocking UDP socket bound to a local endpoint.
final class UDPSocket {
    let fd: Int32
    let local: Endpoint

    init(bindTo local: Endpoint) throws(SystemError) {
        let family = local.address.isV6 ? AF_INET6 : AF_INET
        let fd = try syscall("socket") { socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var (address, length) = SocketAddress.make(local)
        do {
            if family == AF_INET6 {
                var one: Int32 = 1
                _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            try withUnsafePointer(to: &address) { p throws(SystemError) in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(SystemError) in
                    _ = try syscall("bind") { bind(fd, sa, length) }
                }
            }
        } catch {
            Glibc.close(fd)
            throw error
        }
        self.fd = fd
        self.local = local
    }

    deinit { Glibc.close(fd) }

    /// Sends one datagram; false if the kernel refused it (counted by the caller, never thrown).
    @inline(__always)
    func send(_ bytes: UnsafeRawBufferPointer, to address: UnsafePointer<sockaddr_storage>, length: socklen_t) -> Bool {
        address.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
            sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), sa, length) == bytes.count
        }
    }
}
