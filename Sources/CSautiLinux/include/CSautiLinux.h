// Linux system calls Swift's Glibc module does not expose: epoll, timerfd, eventfd,
// recvmmsg/sendmmsg. The wrappers use structs of their own layout so this header needs
// no _GNU_SOURCE (defining it here breaks SwiftGlibc's fd_set); shim.c defines it.
#ifndef C_SAUTI_LINUX_H
#define C_SAUTI_LINUX_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>

/// One epoll event: the ready events and the 64-bit cookie registered with the fd.
struct sauti_epoll_event {
    uint32_t events;
    uint64_t data;
};

/// EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP.
extern const uint32_t SAUTI_EPOLLIN;
extern const uint32_t SAUTI_EPOLLERR;
extern const uint32_t SAUTI_EPOLLHUP;

int sauti_epoll_create(void);
int sauti_epoll_add(int epfd, int fd, uint32_t events, uint64_t data);
int sauti_epoll_del(int epfd, int fd);
/// Waits for up to `max` events; returns the count, or -1 with errno.
int sauti_epoll_wait(int epfd, struct sauti_epoll_event *events, int max, int timeout_ms);

/// A CLOCK_MONOTONIC timerfd, non-blocking.
int sauti_timerfd_create(void);
/// Arms it to fire first at the absolute monotonic time `first_ns`, then every `interval_ns`.
int sauti_timerfd_arm(int fd, int64_t first_ns, int64_t interval_ns);
/// Expirations since the last read (0 if none, -1 with errno on error).
int64_t sauti_timerfd_read(int fd);

/// A non-blocking eventfd.
int sauti_eventfd_create(void);
int sauti_eventfd_signal(int fd);
/// Reads and clears the counter; 0 if it was not signalled.
uint64_t sauti_eventfd_drain(int fd);

/// CLOCK_MONOTONIC in nanoseconds.
int64_t sauti_monotonic_ns(void);

/// One datagram of a batch: the buffer, the peer address, and the length received.
struct sauti_datagram {
    void *buffer;
    size_t capacity;
    struct sockaddr_storage address;
    socklen_t address_length;
    size_t length;
    /// Kernel receive time (CLOCK_REALTIME, ns) when SO_TIMESTAMPNS is on; 0 otherwise.
    int64_t timestamp_ns;
};

/// Turns on kernel receive timestamps (SO_TIMESTAMPNS) for a socket.
int sauti_enable_timestamps(int fd);
/// CLOCK_REALTIME in nanoseconds.
int64_t sauti_realtime_ns(void);

/// Sets the calling thread's nice value (Linux: per thread); 0 or -1 with errno.
int sauti_set_thread_nice(int nice);

/// Receives up to `count` datagrams with one recvmmsg; returns how many, 0 when none wait, -1 with errno.
int sauti_recv_batch(int fd, struct sauti_datagram *datagrams, int count);
/// Sends `count` datagrams (each its buffer, `length` bytes, to its address) with one sendmmsg;
/// returns how many were sent, -1 with errno.
int sauti_send_batch(int fd, struct sauti_datagram *datagrams, int count);

/// EPOLLOUT and EPOLLRDHUP (for the HTTP server's connections).
extern const uint32_t SAUTI_EPOLLOUT;
extern const uint32_t SAUTI_EPOLLRDHUP;
/// Changes the events and cookie registered for `fd` (EPOLL_CTL_MOD).
int sauti_epoll_modify(int epfd, int fd, uint32_t events, uint64_t data);
/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC; the peer address goes to `address`.
int sauti_accept_nonblocking(int fd, struct sockaddr_storage *address, socklen_t *address_length);
/// sendfile(2): up to `count` bytes of `in_fd` from `*offset` to `out_fd`, advancing `*offset`;
/// bytes sent, or -1 with errno.
ssize_t sauti_sendfile(int out_fd, int in_fd, int64_t *offset, size_t count);

#endif
