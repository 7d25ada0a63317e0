#define _GNU_SOURCE
#include "CSautiLinux.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/sendfile.h>

const uint32_t SAUTI_EPOLLIN = EPOLLIN;
const uint32_t SAUTI_EPOLLERR = EPOLLERR;
const uint32_t SAUTI_EPOLLHUP = EPOLLHUP;

int sauti_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int sauti_epoll_add(int epfd, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int sauti_epoll_del(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

int sauti_epoll_wait(int epfd, struct sauti_epoll_event *events, int max, int timeout_ms) {
    struct epoll_event raw[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, raw, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        events[i].events = raw[i].events;
        events[i].data = raw[i].data.u64;
    }
    return n;
}

int sauti_timerfd_create(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); }

int sauti_timerfd_arm(int fd, int64_t first_ns, int64_t interval_ns) {
    struct itimerspec spec;
    spec.it_value.tv_sec = first_ns / 1000000000;
    spec.it_value.tv_nsec = first_ns % 1000000000;
    spec.it_interval.tv_sec = interval_ns / 1000000000;
    spec.it_interval.tv_nsec = interval_ns % 1000000000;
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

int64_t sauti_timerfd_read(int fd) {
    uint64_t expirations = 0;
    ssize_t r = read(fd, &expirations, sizeof expirations);
    if (r == (ssize_t)sizeof expirations) return (int64_t)expirations;
    if (r < 0 && errno == EAGAIN) return 0;
    return -1;
}

int sauti_eventfd_create(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int sauti_eventfd_signal(int fd) {
    uint64_t one = 1;
    return write(fd, &one, sizeof one) == (ssize_t)sizeof one ? 0 : -1;
}

uint64_t sauti_eventfd_drain(int fd) {
    uint64_t value = 0;
    if (read(fd, &value, sizeof value) != (ssize_t)sizeof value) return 0;
    return value;
}

int64_t sauti_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define SAUTI_BATCH_MAX 64

int sauti_enable_timestamps(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
}

int64_t sauti_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int sauti_recv_batch(int fd, struct sauti_datagram *datagrams, int count) {
    struct mmsghdr msgs[SAUTI_BATCH_MAX];
    struct iovec iov[SAUTI_BATCH_MAX];
    union { char buf[CMSG_SPACE(sizeof(struct timespec))]; struct cmsghdr align; } control[SAUTI_BATCH_MAX];
    if (count > SAUTI_BATCH_MAX) count = SAUTI_BATCH_MAX;
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)count);
    for (int i = 0; i < count; i++) {
        iov[i].iov_base = datagrams[i].buffer;
        iov[i].iov_len = datagrams[i].capacity;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &datagrams[i].address;
        msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
        msgs[i].msg_hdr.msg_control = control[i].buf;
        msgs[i].msg_hdr.msg_controllen = sizeof control[i].buf;
    }
    int n;
    do {
        n = recvmmsg(fd, msgs, (unsigned)count, MSG_DONTWAIT, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    for (int i = 0; i < n; i++) {
        datagrams[i].length = msgs[i].msg_len;
        datagrams[i].address_length = msgs[i].msg_hdr.msg_namelen;
        // A datagram longer than the buffer was cut: report it as such so it is dropped.
        if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) datagrams[i].length = datagrams[i].capacity + 1;
        datagrams[i].timestamp_ns = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(c), sizeof ts);
                datagrams[i].timestamp_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
            }
        }
    }
    return n;
}

int sauti_send_batch(int fd, struct sauti_datagram *datagrams, int count) {
    struct mmsghdr msgs[SAUTI_BATCH_MAX];
    struct iovec iov[SAUTI_BATCH_MAX];
    if (count > SAUTI_BATCH_MAX) count = SAUTI_BATCH_MAX;
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)count);
    for (int i = 0; i < count; i++) {
        iov[i].iov_base = datagrams[i].buffer;
        iov[i].iov_len = datagrams[i].length;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &datagrams[i].address;
        msgs[i].msg_hdr.msg_namelen = datagrams[i].address_length;
    }
    int n;
    do {
        n = sendmmsg(fd, msgs, (unsigned)count, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n;
}

int sauti_set_thread_nice(int nice) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}

const uint32_t SAUTI_EPOLLOUT = EPOLLOUT;
const uint32_t SAUTI_EPOLLRDHUP = EPOLLRDHUP;

int sauti_epoll_modify(int epfd, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

int sauti_accept_nonblocking(int fd, struct sockaddr_storage *address, socklen_t *address_length) {
    *address_length = sizeof(struct sockaddr_storage);
    return accept4(fd, (struct sockaddr *)address, address_length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

ssize_t sauti_sendfile(int out_fd, int in_fd, int64_t *offset, size_t count) {
    off_t off = (off_t)*offset;
    ssize_t n = sendfile(out_fd, in_fd, &off, count);
    *offset = (int64_t)off;
    return n;
}
