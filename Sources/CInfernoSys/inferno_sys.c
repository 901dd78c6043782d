#define _GNU_SOURCE
#include "inferno_sys.h"
#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>

_Static_assert(sizeof(inferno_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");

int inferno_sendmmsg(int fd, inferno_mmsghdr *msgs, unsigned int count, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)msgs, count, flags);
}

int inferno_recvmmsg(int fd, inferno_mmsghdr *msgs, unsigned int count, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)msgs, count, flags, NULL);
}

void inferno_set_thread_name(const char *name) {
    char buf[16];
    strncpy(buf, name, 15);
    buf[15] = 0;
    prctl(PR_SET_NAME, buf, 0, 0, 0);
}
