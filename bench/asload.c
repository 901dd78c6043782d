/* asload: CALLS concurrent fake Asterisk calls against an AudioSocket server, for `make bench` (row 6).
 * Each call connects, sends its UUID (kind 0x01), then one 20 ms frame of 8 kHz audio (kind 0x10, 320 bytes) every
 * 20 ms from one timer, and reads what the server sends. For every audio frame received it notes the arrival
 * time (CLOCK_MONOTONIC); after WARMUP seconds, the gaps between consecutive frames of a call give the pacing
 * jitter |gap - 20 ms|. Ends every call with a hangup (kind 0x00). Prints one JSON line.
 * Usage: asload HOST PORT CALLS SECONDS */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define MAX_CALLS 1024
#define WARMUP_NS 1000000000LL
#define FRAME_NS 20000000LL

struct call { int fd; int open; uint8_t buf[8192]; int have; int64_t last; long frames; };


int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: asload HOST PORT CALLS SECONDS\n"); return 2; }
    int ncalls = atoi(argv[3]); double seconds = atof(argv[4]);
    if (ncalls < 1 || ncalls > MAX_CALLS || seconds <= 1) { fprintf(stderr, "asload: bad arguments\n"); return 2; }
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) { fprintf(stderr, "asload: bad host\n"); return 2; }
    static struct call calls[MAX_CALLS];
    int ep = epoll_create1(0), connected = 0;
    for (int i = 0; i < ncalls; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { close(fd); calls[i].fd = -1; continue; }
        int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        uint8_t hello[19] = { 0x01, 0x00, 0x10 };
        for (int k = 0; k < 16; k++) hello[3 + k] = (uint8_t)(k == 6 ? 0x40 : k == 8 ? 0x80 : (i * 7 + k) & 0xff);
        if (write(fd, hello, sizeof hello) != sizeof hello) { close(fd); calls[i].fd = -1; continue; }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        calls[i] = (struct call){ .fd = fd, .open = 1 };
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        connected++;
    }
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = { .it_interval = { 0, FRAME_NS }, .it_value = { 0, 1000000 } };
    timerfd_settime(tfd, 0, &its, NULL);
    struct epoll_event tev = { .events = EPOLLIN, .data.u32 = 0xffffffffu };
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

    uint8_t frame[3 + 320] = { 0x10, 0x01, 0x40 };   /* 160 samples of a quiet 500 Hz square wave */
    for (int k = 0; k < 160; k++) { int16_t v = (k / 8) % 2 ? 1000 : -1000; frame[3 + 2 * k] = v & 0xff; frame[4 + 2 * k] = (v >> 8) & 0xff; }
    long cap = (long)ncalls * (long)(seconds * 60) + 1024, ngaps = 0, closed_early = 0, sent = 0, send_short = 0;
    int64_t *gaps = malloc(sizeof(int64_t) * cap);
    int64_t start = now_ns(), end = start + (int64_t)(seconds * 1e9);
    struct epoll_event evs[256];
    while (now_ns() < end) {
        int n = epoll_wait(ep, evs, 256, 50);
        for (int e = 0; e < n; e++) {
            uint32_t id = evs[e].data.u32;
            if (id == 0xffffffffu) {
                uint64_t ticks; if (read(tfd, &ticks, sizeof ticks) < 0) continue;
                for (uint64_t k = 0; k < ticks && k < 5; k++)      /* a late wake-up catches up, like Asterisk */
                    for (int i = 0; i < ncalls; i++) {
                        if (!calls[i].open) continue;
                        ssize_t w = write(calls[i].fd, frame, sizeof frame);
                        if (w == (ssize_t)sizeof frame) sent++; else send_short++;
                    }
                continue;
            }
            struct call *c = &calls[id];
            for (;;) {
                ssize_t r = read(c->fd, c->buf + c->have, sizeof c->buf - c->have);
                if (r == 0 || (r < 0 && errno != EAGAIN)) { c->open = 0; closed_early++; epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); break; }
                if (r < 0) break;
                int64_t t = now_ns();
                c->have += (int)r;
                int off = 0;
                while (c->have - off >= 3) {
                    int len = c->buf[off + 1] << 8 | c->buf[off + 2];
                    if (c->have - off < 3 + len) break;
                    if (c->buf[off] >= 0x10 && c->buf[off] <= 0x18) {
                        if (c->last && t - start > WARMUP_NS && ngaps < cap) {
                            int64_t g = t - c->last - FRAME_NS;
                            gaps[ngaps++] = g < 0 ? -g : g;
                        }
                        c->last = t; c->frames++;
                    }
                    off += 3 + len;
                }
                memmove(c->buf, c->buf + off, c->have - off);
                c->have -= off;
            }
        }
    }
    long frames = 0;
    uint8_t bye[3] = { 0x00, 0x00, 0x00 };
    for (int i = 0; i < ncalls; i++) {
        if (calls[i].fd < 0) continue;
        frames += calls[i].frames;
        if (calls[i].open) { ssize_t w = write(calls[i].fd, bye, 3); (void)w; }
        close(calls[i].fd);
    }
    qsort(gaps, ngaps, sizeof *gaps, cmp_i64);
#define PCT(p) (ngaps ? gaps[(long)((ngaps - 1) * (p))] / 1e6 : -1.0)
    printf("{\"calls\": %d, \"connected\": %d, \"closed_by_server\": %ld, \"frames_received\": %ld, \"frames_expected\": %ld, "
           "\"frames_sent\": %ld, \"send_short\": %ld, \"jitter_p50_ms\": %.3f, \"jitter_p99_ms\": %.3f, \"jitter_max_ms\": %.3f}\n",
           ncalls, connected, closed_early, frames, (long)(connected * seconds * 50), sent, send_short,
           PCT(0.5), PCT(0.99), PCT(1.0));
    return 0;
}
