/* A user-space stand-in for `tc netem`, for kernels built without sch_netem: an Ethernet forwarder between two
 * interfaces (AF_PACKET) that impairs one direction. Frames from IN go to OUT after random loss, duplication,
 * delay with jitter (which reorders by itself) and an extra reordering (a frame sent at once, ahead of the delayed
 * ones); frames from OUT go back to IN untouched. SIGUSR1 toggles a 100 % loss burst. SIGTERM/SIGINT print the
 * counters (one line of key=value) on stdout and exit 0.
 *
 *   impair IN OUT [loss% dup% reorder% delay_us jitter_us]
 *
 * UDP checksums of forwarded IPv4 frames are set to 0 ("not computed", valid for IPv4): veth leaves them to be
 * filled in by the sending "hardware", which a raw socket does not do.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXQ 8192
#define FRAME 2048

struct pending { uint64_t due; int len; unsigned char data[FRAME]; };
static struct pending *queue;
static int qlen;
static volatile sig_atomic_t stop_flag, blackhole;
static unsigned long long n_in, n_lost, n_burst, n_dup, n_reorder, n_sent, n_back, n_overflow;

static void on_stop(int s) { (void)s; stop_flag = 1; }
static void on_burst(int s) { (void)s; blackhole = !blackhole; }

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double rnd(void) { return (double)random() / 2147483648.0; }

static int open_if(const char *name) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) { perror("socket"); exit(2); }
    struct sockaddr_ll a = {0};
    a.sll_family = AF_PACKET;
    a.sll_protocol = htons(ETH_P_ALL);
    a.sll_ifindex = (int)if_nametoindex(name);
    if (!a.sll_ifindex) { fprintf(stderr, "impair: no interface %s\n", name); exit(2); }
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); exit(2); }
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    return fd;
}

/* Reads one frame that arrived on the interface (not one we sent); returns its length or -1. */
static int read_frame(int fd, unsigned char *buf) {
    struct sockaddr_ll from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fd, buf, FRAME, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
    if (n <= 0) return -1;
    if (from.sll_pkttype == PACKET_OUTGOING) return 0;
    return (int)n;
}

static void clear_udp_checksum(unsigned char *f, int len) {
    if (len < 14 + 20 + 8 || f[12] != 0x08 || f[13] != 0x00) return;
    unsigned char *ip = f + 14;
    int ihl = (ip[0] & 0x0f) * 4;
    if (ip[9] != 17 || len < 14 + ihl + 8) return;
    ip[ihl + 6] = 0; /* UDP checksum: bytes 6..7 of the UDP header */
    ip[ihl + 7] = 0;
}

static void enqueue(const unsigned char *f, int len, uint64_t due) {
    if (qlen >= MAXQ) { n_overflow++; return; }
    queue[qlen].due = due;
    queue[qlen].len = len;
    memcpy(queue[qlen].data, f, (size_t)len);
    qlen++;
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 8) {
        fprintf(stderr, "usage: impair IN OUT [loss%% dup%% reorder%% delay_us jitter_us]\n");
        return 2;
    }
    double loss = 0, dup = 0, reorder = 0;
    uint64_t delay = 0, jitter = 0;
    if (argc == 8) {
        loss = atof(argv[3]) / 100; dup = atof(argv[4]) / 100; reorder = atof(argv[5]) / 100;
        delay = strtoull(argv[6], 0, 10); jitter = strtoull(argv[7], 0, 10);
    }
    queue = calloc(MAXQ, sizeof *queue);
    if (!queue) return 2;
    srandom((unsigned)getpid() ^ (unsigned)now_us());
    int in = open_if(argv[1]), out = open_if(argv[2]);
    struct sigaction sa = {0};
    sa.sa_handler = on_stop; sigaction(SIGTERM, &sa, 0); sigaction(SIGINT, &sa, 0);
    sa.sa_handler = on_burst; sigaction(SIGUSR1, &sa, 0);
    unsigned char buf[FRAME];
    while (!stop_flag) {
        uint64_t t = now_us();
        /* Release every frame that is due, earliest first (delay + jitter reorders naturally). */
        for (;;) {
            int best = -1;
            for (int i = 0; i < qlen; i++) if (queue[i].due <= t && (best < 0 || queue[i].due < queue[best].due)) best = i;
            if (best < 0) break;
            if (send(out, queue[best].data, (size_t)queue[best].len, 0) > 0) n_sent++;
            queue[best] = queue[--qlen];
        }
        int timeout = 50;
        for (int i = 0; i < qlen; i++) {
            int ms = queue[i].due <= t ? 0 : (int)((queue[i].due - t + 999) / 1000);
            if (ms < timeout) timeout = ms;
        }
        struct pollfd p[2] = {{in, POLLIN, 0}, {out, POLLIN, 0}};
        if (poll(p, 2, timeout) < 0 && errno != EINTR) { perror("poll"); return 2; }
        if (p[0].revents & POLLIN) {
            int n;
            while ((n = read_frame(in, buf)) >= 0) {
                if (n == 0) continue;
                n_in++;
                if (blackhole) { n_burst++; continue; }
                if (rnd() < loss) { n_lost++; continue; }
                clear_udp_checksum(buf, n);
                int copies = 1;
                if (rnd() < dup) { copies = 2; n_dup++; }
                uint64_t now = now_us();
                for (int c = 0; c < copies; c++) {
                    if (rnd() < reorder) { n_reorder++; enqueue(buf, n, now); }
                    else enqueue(buf, n, now + delay + (jitter ? (uint64_t)(rnd() * (double)jitter) : 0));
                }
            }
        }
        if (p[1].revents & POLLIN) {
            int n;
            while ((n = read_frame(out, buf)) >= 0) {
                if (n == 0) continue;
                clear_udp_checksum(buf, n);
                if (send(in, buf, (size_t)n, 0) > 0) n_back++;
            }
        }
    }
    printf("in=%llu lost=%llu burst_dropped=%llu duplicated=%llu reordered=%llu sent=%llu back=%llu overflow=%llu\n",
           n_in, n_lost, n_burst, n_dup, n_reorder, n_sent, n_back, n_overflow);
    return 0;
}
