/*
 * baseline.c: the kernel's own cost for the packet I/O the engines do, and nothing else.
 *
 *   baseline tx HOST PORT FLOWS FPP CHANNELS SECONDS   FLOWS connected UDP sockets to PORT, PORT+1, …; a timerfd
 *                                                     ticking every FPP frames of 48 kHz; per tick one sendmmsg
 *                                                     per flow of one packet (13-byte header + FPP×CHANNELS×3 B)
 *   baseline rx PORT FLOWS SECONDS                    FLOWS bound sockets, poll + recvmmsg (batches of 16)
 *
 * Prints one JSON line: packets, seconds, cpu_seconds (user+sys from getrusage).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAXFLOWS 128

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int tx(const char *host, int port, int flows, int fpp, int channels, double seconds)
{
    int fds[MAXFLOWS];
    size_t bytes = 13 + (size_t)fpp * channels * 3;
    unsigned char *packet = calloc(1, bytes);
    for (int f = 0; f < flows; f++) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port + f) };
        inet_pton(AF_INET, host, &a.sin_addr);
        fds[f] = socket(AF_INET, SOCK_DGRAM, 0);
        if (fds[f] < 0 || connect(fds[f], (struct sockaddr *)&a, sizeof a) < 0) { perror("socket"); return 1; }
    }
    int timer = timerfd_create(CLOCK_MONOTONIC, 0);
    long period_ns = (long)fpp * 1000000000L / 48000;
    struct itimerspec its = { .it_interval = { 0, period_ns }, .it_value = { 0, period_ns } };
    timerfd_settime(timer, 0, &its, NULL);
    struct iovec iov = { packet, bytes };
    struct mmsghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_hdr.msg_iov = &iov;
    msg.msg_hdr.msg_iovlen = 1;
    uint64_t packets = 0, seq = 0;
    double start = now(), c0 = cpu();
    while (now() - start < seconds) {
        uint64_t ticks;
        if (read(timer, &ticks, sizeof ticks) != sizeof ticks) continue;
        for (uint64_t t = 0; t < ticks; t++) {
            seq++;
            memcpy(packet + 5, &seq, sizeof seq);   /* something changes per packet, like a timestamp */
            for (int f = 0; f < flows; f++)
                if (sendmmsg(fds[f], &msg, 1, 0) == 1) packets++;
        }
    }
    printf("{\"role\": \"tx\", \"packets\": %llu, \"seconds\": %.3f, \"cpu_seconds\": %.4f}\n",
           (unsigned long long)packets, now() - start, cpu() - c0);
    return 0;
}

static int rx(int port, int flows, double seconds)
{
    struct pollfd pfd[MAXFLOWS];
    for (int f = 0; f < flows; f++) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port + f), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        pfd[f].fd = socket(AF_INET, SOCK_DGRAM, 0);
        pfd[f].events = POLLIN;
        if (pfd[f].fd < 0 || bind(pfd[f].fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
    }
    enum { BATCH = 16, SIZE = 2048 };
    static unsigned char buffers[BATCH][SIZE];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = buffers[i];
        iov[i].iov_len = SIZE;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    uint64_t packets = 0;
    double start = now(), c0 = cpu();
    while (now() - start < seconds) {
        if (poll(pfd, flows, 100) <= 0) continue;
        for (int f = 0; f < flows; f++) {
            if (!(pfd[f].revents & POLLIN)) continue;
            int n = recvmmsg(pfd[f].fd, msgs, BATCH, MSG_DONTWAIT, NULL);
            if (n > 0) packets += n;
        }
    }
    printf("{\"role\": \"rx\", \"packets\": %llu, \"seconds\": %.3f, \"cpu_seconds\": %.4f}\n",
           (unsigned long long)packets, now() - start, cpu() - c0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 8 && strcmp(argv[1], "tx") == 0) {
        int flows = atoi(argv[4]);
        if (flows < 1 || flows > MAXFLOWS) return 2;
        return tx(argv[2], atoi(argv[3]), flows, atoi(argv[5]), atoi(argv[6]), atof(argv[7]));
    }
    if (argc == 5 && strcmp(argv[1], "rx") == 0) {
        int flows = atoi(argv[3]);
        if (flows < 1 || flows > MAXFLOWS) return 2;
        return rx(atoi(argv[2]), flows, atof(argv[4]));
    }
    fprintf(stderr, "usage: baseline tx HOST PORT FLOWS FPP CHANNELS SECONDS | baseline rx PORT FLOWS SECONDS\n");
    return 2;
}
