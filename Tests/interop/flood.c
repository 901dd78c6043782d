/* Control-plane flood generator for the flood test: paced UDP datagrams at a device's ARC port or mDNS responder,
 * valid requests and malformed ones, counting the replies.
 *
 *   flood arc|mdns HOST PORT SECONDS VALID_PER_S MALFORMED_PER_S
 *
 * arc:  valid = ARC 0x1002 (device name) with a fresh transaction id; malformed = truncated headers, wrong length
 *       fields, unknown protocol ids and random bytes.
 * mdns: valid = a PTR query for _netaudio-arc._udp.local (legacy unicast: answered to this port);
 *       malformed = broken DNS messages (bad counts, pointer loops, truncation, random bytes).
 * Sends in 1 ms ticks (absolute sleeps) and reads replies between them. Prints one JSON line: the rates reached,
 * replies in all and per second (min over the full seconds).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t rng = 0x9e3779b9u;
static uint32_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng; }

static int valid_arc(unsigned char *b, uint16_t txn) {
    unsigned char p[10] = {0x27, 0xff, 0x00, 0x0a, (unsigned char)(txn >> 8), (unsigned char)txn, 0x10, 0x02, 0, 0};
    memcpy(b, p, sizeof p);
    return sizeof p;
}

static int malformed_arc(unsigned char *b, uint16_t txn) {
    int n = valid_arc(b, txn);
    switch (rnd() % 5) {
    case 0: return 1 + (int)(rnd() % 7);                 /* truncated header */
    case 1: b[2] = 0xff; b[3] = 0xff; return n;          /* length field beyond the datagram */
    case 2: b[0] = 0x12; b[1] = 0x34; return n;          /* unknown protocol id */
    case 3: b[6] = 0x30; b[7] = 0x10; return n;          /* subscribe with no body */
    default: n = 1 + (int)(rnd() % 600); for (int i = 0; i < n; i++) b[i] = (unsigned char)rnd(); return n;
    }
}

static int put_name(unsigned char *b, const char *const *labels) {
    int n = 0;
    for (int i = 0; labels[i]; i++) {
        size_t l = strlen(labels[i]);
        b[n++] = (unsigned char)l;
        memcpy(b + n, labels[i], l);
        n += (int)l;
    }
    b[n++] = 0;
    return n;
}

static int valid_mdns(unsigned char *b, uint16_t id) {
    static const char *const name[] = {"_netaudio-arc", "_udp", "local", 0};
    unsigned char h[12] = {(unsigned char)(id >> 8), (unsigned char)id, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(b, h, 12);
    int n = 12 + put_name(b + 12, name);
    b[n++] = 0; b[n++] = 12;   /* PTR */
    b[n++] = 0; b[n++] = 1;    /* IN */
    return n;
}

static int malformed_mdns(unsigned char *b, uint16_t id) {
    int n = valid_mdns(b, id);
    switch (rnd() % 5) {
    case 0: return 1 + (int)(rnd() % 11);                /* shorter than a header */
    case 1: b[4] = 0xff; b[5] = 0xff; return n;          /* 65535 questions */
    case 2: b[12] = 0xc0; b[13] = 12; return n;          /* name pointing at itself */
    case 3: return n - 3;                                /* question cut short */
    default: n = 12 + (int)(rnd() % 500); for (int i = 2; i < n; i++) b[i] = (unsigned char)rnd(); return n;
    }
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: flood arc|mdns HOST PORT SECONDS VALID_PER_S MALFORMED_PER_S\n");
        return 2;
    }
    int mdns = strcmp(argv[1], "mdns") == 0;
    struct sockaddr_in to = {0};
    to.sin_family = AF_INET;
    to.sin_port = htons((uint16_t)atoi(argv[3]));
    if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) { fprintf(stderr, "flood: bad address %s\n", argv[2]); return 2; }
    int seconds = atoi(argv[4]);
    double valid_rate = atof(argv[5]), bad_rate = atof(argv[6]);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { perror("socket"); return 2; }
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0) { perror("connect"); return 2; }
    rng ^= (uint32_t)getpid();

    unsigned char buf[2048], in[9000];
    unsigned long long sent_valid = 0, sent_bad = 0, replies = 0, send_errors = 0;
    unsigned long long per_second[3600] = {0};
    uint64_t start = now_ns(), end = start + (uint64_t)seconds * 1000000000u;
    uint16_t txn = 1;
    struct timespec tick;
    clock_gettime(CLOCK_MONOTONIC, &tick);
    for (;;) {
        uint64_t t = now_ns();
        if (t >= end) break;
        double elapsed = (double)(t - start) / 1e9;
        /* Catch up to the schedule: how many of each should have been sent by now. */
        while (sent_valid < (unsigned long long)(elapsed * valid_rate)) {
            int n = mdns ? valid_mdns(buf, txn) : valid_arc(buf, txn);
            txn++;
            if (send(fd, buf, (size_t)n, MSG_DONTWAIT) < 0) send_errors++;
            sent_valid++;
        }
        while (sent_bad < (unsigned long long)(elapsed * bad_rate)) {
            int n = mdns ? malformed_mdns(buf, txn) : malformed_arc(buf, txn);
            txn++;
            if (send(fd, buf, (size_t)n, MSG_DONTWAIT) < 0) send_errors++;
            sent_bad++;
        }
        for (;;) {
            ssize_t r = recv(fd, in, sizeof in, MSG_DONTWAIT);
            if (r < 0) break;
            replies++;
            int s = (int)((now_ns() - start) / 1000000000u);
            if (s >= 0 && s < 3600) per_second[s]++;
        }
        tick.tv_nsec += 1000000;
        if (tick.tv_nsec >= 1000000000) { tick.tv_nsec -= 1000000000; tick.tv_sec++; }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick, 0);
    }
    /* Late replies for half a second. */
    uint64_t drain = now_ns() + 500000000u;
    while (now_ns() < drain) {
        ssize_t r = recv(fd, in, sizeof in, MSG_DONTWAIT);
        if (r >= 0) { replies++; continue; }
        usleep(1000);
    }
    double took = (double)(now_ns() - start - 500000000u) / 1e9;
    unsigned long long min_ps = ~0ull;
    for (int s = 0; s < seconds && s < 3600; s++) if (per_second[s] < min_ps) min_ps = per_second[s];
    printf("{\"mode\": \"%s\", \"seconds\": %.2f, \"sent_valid\": %llu, \"sent_malformed\": %llu, "
           "\"valid_per_s\": %.0f, \"malformed_per_s\": %.0f, \"send_errors\": %llu, \"replies\": %llu, "
           "\"replies_min_per_s\": %llu}\n",
           argv[1], took, sent_valid, sent_bad, sent_valid / took, sent_bad / took, send_errors, replies, min_ps);
    return 0;
}
