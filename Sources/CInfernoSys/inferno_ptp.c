// PTP socket plumbing the Swift side cannot express without cmsg macros: multicast sockets with kernel
// timestamps (SO_TIMESTAMPING), reading RX stamps and the arrival interface, per-datagram TOS, and TX stamps
// from the error queue. Thin wrappers, no PTP logic (that lives in InfernoProtocol's PTPClockCore).
#define _GNU_SOURCE
#include "inferno_sys.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <sys/socket.h>
#include <time.h>

#ifndef SO_TIMESTAMPING
#define SO_TIMESTAMPING 37
#endif

int inferno_ptp_socket(uint16_t port, uint32_t group_be, uint32_t ifaddr_be, int ifindex, const char *ifname,
                       int loop, int *stamping) {
    *stamping = 0;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    int one = 1, zero = 0, ttl = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) goto fail;
    // Best effort: needs CAP_NET_RAW. The group binding, IP_MULTICAST_ALL 0 and the IP_PKTINFO check below keep
    // other interfaces out without it.
    if (ifname && ifname[0]) (void)setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname));
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = group_be;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) goto fail;
    struct ip_mreqn mr;
    memset(&mr, 0, sizeof mr);
    mr.imr_multiaddr.s_addr = group_be;
    mr.imr_address.s_addr = ifaddr_be;
    mr.imr_ifindex = ifindex;
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) goto fail;
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr) < 0) goto fail;
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) < 0) goto fail;
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, loop ? &one : &zero, sizeof one) < 0) goto fail;
    (void)setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
    if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0) goto fail;
    int flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
                SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) == 0) {
        *stamping = 2;  // kernel RX and TX stamps
    } else if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) == 0) {
        *stamping = 1;  // kernel RX stamps only
    }
    return fd;
fail:;
    int e = errno;
    close(fd);
    return -e;
}

static int64_t ts_ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec; }

ssize_t inferno_ptp_recv(int fd, void *buf, size_t len, int64_t *stamp_ns, int *ifindex, uint32_t *src_be) {
    char control[512];
    struct sockaddr_in from;
    struct iovec iov = {buf, len};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0) return -errno;
    *stamp_ns = 0;
    *ifindex = 0;
    *src_be = from.sin_addr.s_addr;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING) {
            struct timespec ts[3];
            memcpy(ts, CMSG_DATA(c), sizeof ts);
            if (ts[0].tv_sec || ts[0].tv_nsec) *stamp_ns = ts_ns(&ts[0]);
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            *stamp_ns = ts_ns(&ts);
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            *ifindex = pi.ipi_ifindex;
        }
    }
    if (msg.msg_flags & MSG_TRUNC) return -EMSGSIZE;
    return n;
}

ssize_t inferno_ptp_send(int fd, const void *buf, size_t len, uint32_t group_be, uint16_t port, int tos) {
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = group_be;
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = {(void *)buf, len};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &to;
    msg.msg_namelen = sizeof to;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_TOS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &tos, sizeof tos);
    ssize_t n = sendmsg(fd, &msg, MSG_DONTWAIT);
    return n < 0 ? -errno : n;
}

int inferno_ptp_txstamp(int fd, uint32_t *id, int64_t *stamp_ns) {
    char data[256], control[512];
    struct iovec iov = {data, sizeof data};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    int have_ts = 0, have_id = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING) {
            struct timespec ts[3];
            memcpy(ts, CMSG_DATA(c), sizeof ts);
            *stamp_ns = ts_ns(&ts[0]);
            have_ts = ts[0].tv_sec || ts[0].tv_nsec;
        } else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
                   (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR)) {
            struct sock_extended_err ee;
            memcpy(&ee, CMSG_DATA(c), sizeof ee);
            if (ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING) { *id = ee.ee_data; have_id = 1; }
        }
    }
    return have_ts && have_id ? 1 : 2;  // 2: something else came off the queue
}

int64_t inferno_clock_offset(int clock_a, int clock_b) {
    // a − b from the tightest of three b/a/b sandwiches.
    int64_t best = 0, width = INT64_MAX;
    for (int i = 0; i < 3; i++) {
        struct timespec b1, a, b2;
        clock_gettime(clock_b, &b1);
        clock_gettime(clock_a, &a);
        clock_gettime(clock_b, &b2);
        int64_t w = ts_ns(&b2) - ts_ns(&b1);
        if (w < width) { width = w; best = ts_ns(&a) - (ts_ns(&b1) + w / 2); }
    }
    return best;
}
