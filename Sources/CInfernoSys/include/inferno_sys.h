// Linux system calls that Glibc's Swift module does not expose without _GNU_SOURCE: batched datagram I/O,
// thread names. Thin wrappers, no logic.
#ifndef INFERNO_SYS_H
#define INFERNO_SYS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

/// One datagram of a batch: mirrors `struct mmsghdr` (msghdr + received length).
typedef struct inferno_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
} inferno_mmsghdr;

/// sendmmsg(2); returns the number sent or -1 (errno set).
int inferno_sendmmsg(int fd, inferno_mmsghdr *msgs, unsigned int count, int flags);
/// recvmmsg(2) without a timeout; returns the number received or -1 (errno set).
int inferno_recvmmsg(int fd, inferno_mmsghdr *msgs, unsigned int count, int flags);
/// Names the calling thread (at most 15 characters are kept).
void inferno_set_thread_name(const char *name);
/// Starts `path` with `argv` (NULL-terminated) as a child that sees only stdin, stderr (also as its stdout) and
/// `keep_fd` as descriptor 3: every other descriptor of the caller stays behind. The child gets its own process
/// group and default SIGINT/SIGTERM/SIGPIPE/SIGHUP handling with nothing blocked. Returns 0 (pid in *pid) or an
/// errno value.
int inferno_spawn_isolated(const char *path, char *const argv[], int keep_fd, int *pid);

// PTP sockets (inferno_ptp.c).
#include <sys/types.h>
/// A UDP socket bound to `group_be`:`port`, joined on interface `ifindex` (address `ifaddr_be`), TTL 1, multicast
/// loop on or off, IP_MULTICAST_ALL off, IP_PKTINFO on, kernel timestamps requested (*stamping: 2 = RX and TX,
/// 1 = RX only, 0 = none). SO_BINDTODEVICE(ifname) is tried when ifname is not empty. Returns the fd or −errno.
int inferno_ptp_socket(uint16_t port, uint32_t group_be, uint32_t ifaddr_be, int ifindex, const char *ifname,
                       int loop, int *stamping);
/// One datagram (non-blocking): length, or −errno (−EAGAIN when none; −EMSGSIZE when truncated). *stamp_ns = the
/// kernel RX stamp (CLOCK_REALTIME ns) or 0; *ifindex = arrival interface; *src_be = source address.
ssize_t inferno_ptp_recv(int fd, void *buf, size_t len, int64_t *stamp_ns, int *ifindex, uint32_t *src_be);
/// Sends to `group_be`:`port` with IP TOS `tos` for this datagram. Bytes sent or −errno.
ssize_t inferno_ptp_send(int fd, const void *buf, size_t len, uint32_t group_be, uint16_t port, int tos);
/// One TX stamp from the error queue: 1 (with *id = the send's number on this socket from 0, *stamp_ns =
/// CLOCK_REALTIME ns), 2 (something else was dequeued), 0 (queue empty) or −errno.
int inferno_ptp_txstamp(int fd, uint32_t *id, int64_t *stamp_ns);
/// clock_a − clock_b in ns, from the tightest of three b/a/b readings.
int64_t inferno_clock_offset(int clock_a, int clock_b);
#endif
