/* dnsload: a closed-loop DNS load generator for `make bench` (row 6). Keeps INFLIGHT TXT queries (EDNS0, 1232-byte UDP size) outstanding
 * against one UDP server, cycling through the names in NAMES_FILE (one per line), for SECONDS; prints one JSON
 * line: answered, per-rcode counts, truncated, lost (no answer within 1 s), queries/s and the answer-time
 * percentiles (ms) measured from send to receive on CLOCK_MONOTONIC.
 * Usage: dnsload SERVER_IP PORT NAMES_FILE SECONDS INFLIGHT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define MAX_NAMES 4096
#define MAX_INFLIGHT 1024
#define MAX_SAMPLES (1 << 23)


/* Encodes a TXT/IN question for `name` with id `id` into buf (RD clear: the server is authoritative). */
static int build_query(uint8_t *buf, const char *name, uint16_t id) {
    uint8_t *p = buf;
    *p++ = id >> 8; *p++ = id & 0xff;
    *p++ = 0; *p++ = 0;           /* flags */
    *p++ = 0; *p++ = 1;           /* QDCOUNT */
    *p++ = 0; *p++ = 0; *p++ = 0; *p++ = 0;
    *p++ = 0; *p++ = 1;           /* ARCOUNT: the OPT record below */
    const char *s = name;
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        if (len == 0 || len > 63) return -1;
        *p++ = (uint8_t)len;
        memcpy(p, s, len); p += len;
        s += len + (dot ? 1 : 0);
    }
    *p++ = 0;
    *p++ = 0; *p++ = 16;          /* TXT */
    *p++ = 0; *p++ = 1;           /* IN */
    /* EDNS0 OPT: root name, type 41, UDP payload 1232 (what resolvers send), no flags, no options. */
    *p++ = 0; *p++ = 0; *p++ = 41; *p++ = 1232 >> 8; *p++ = 1232 & 0xff;
    memset(p, 0, 6); p += 6;
    return (int)(p - buf);
}

struct slot { int64_t sent; uint16_t id; int name; int busy; };

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: dnsload SERVER_IP PORT NAMES_FILE SECONDS INFLIGHT\n"); return 2; }
    const char *ip = argv[1]; int port = atoi(argv[2]); double seconds = atof(argv[4]); int inflight = atoi(argv[5]);
    if (inflight < 1 || inflight > MAX_INFLIGHT || seconds <= 0) { fprintf(stderr, "dnsload: bad arguments\n"); return 2; }
    static char names[MAX_NAMES][256];
    static uint8_t queries[MAX_NAMES][300];
    static int qlen[MAX_NAMES];
    int n = 0;
    FILE *f = fopen(argv[3], "r");
    if (!f) { perror("dnsload: names file"); return 2; }
    while (n < MAX_NAMES && fgets(names[n], sizeof names[n], f)) {
        names[n][strcspn(names[n], "\r\n")] = 0;
        if (names[n][0]) n++;
    }
    fclose(f);
    if (n == 0) { fprintf(stderr, "dnsload: no names\n"); return 2; }
    for (int i = 0; i < n; i++) if ((qlen[i] = build_query(queries[i], names[i], 0)) < 0) { fprintf(stderr, "dnsload: bad name %s\n", names[i]); return 2; }

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int rcv = 4 << 20; setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, ip, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("dnsload: connect"); return 1; }

    static struct slot slots[65536];     /* indexed by query id */
    int64_t *lat = malloc(sizeof(int64_t) * MAX_SAMPLES);
    long nlat = 0, sent = 0, lost = 0, truncated = 0, rcodes[16] = {0}, nextname = 0;
    uint16_t nextid = 1;
    int outstanding = 0;
    int64_t start = now_ns(), end = start + (int64_t)(seconds * 1e9), last_sweep = start;
    uint8_t buf[4096];
    for (;;) {
        int64_t t = now_ns();
        if (t >= end) break;
        while (outstanding < inflight) {
            while (slots[nextid].busy) nextid++;
            int k = (int)(nextname++ % n);
            queries[k][0] = nextid >> 8; queries[k][1] = nextid & 0xff;
            if (send(fd, queries[k], qlen[k], 0) < 0) { if (errno == EAGAIN) break; perror("dnsload: send"); return 1; }
            slots[nextid] = (struct slot){ .sent = now_ns(), .id = nextid, .name = k, .busy = 1 };
            nextid++; outstanding++; sent++;
        }
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        poll(&pfd, 1, 10);
        for (;;) {
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r < 0) break;
            int64_t rt = now_ns();
            if (r < 12) continue;
            uint16_t id = (uint16_t)(buf[0] << 8 | buf[1]);
            if (!slots[id].busy) continue;
            slots[id].busy = 0; outstanding--;
            if (nlat < MAX_SAMPLES) lat[nlat++] = rt - slots[id].sent;
            rcodes[buf[3] & 15]++;
            if (buf[2] & 2) truncated++;
        }
        if (t - last_sweep > 100000000LL) {  /* give up on queries older than 1 s */
            last_sweep = t;
            for (int i = 0; i < 65536; i++)
                if (slots[i].busy && t - slots[i].sent > 1000000000LL) { slots[i].busy = 0; outstanding--; lost++; }
        }
    }
    double secs = (now_ns() - start) / 1e9;
    qsort(lat, nlat, sizeof *lat, cmp_i64);
#define PCT(p) (nlat ? lat[(long)((nlat - 1) * (p))] / 1e6 : -1.0)
    printf("{\"sent\": %ld, \"answered\": %ld, \"noerror\": %ld, \"nxdomain\": %ld, \"other_rcode\": %ld, \"truncated\": %ld, "
           "\"lost\": %ld, \"qps\": %.0f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, \"inflight\": %d, \"names\": %d}\n",
           sent, nlat, rcodes[0], rcodes[3], nlat - rcodes[0] - rcodes[3], truncated, lost, nlat / secs,
           PCT(0.5), PCT(0.99), PCT(1.0), inflight, n);
    return 0;
}
