#define _GNU_SOURCE
#include "inferno_sys.h"
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>
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

extern char **environ;

int inferno_spawn_isolated(const char *path, char *const argv[], int keep_fd, int *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t defaults, none;
    int rc;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, keep_fd, 3);
    posix_spawn_file_actions_adddup2(&actions, 2, 1);
    posix_spawn_file_actions_addclosefrom_np(&actions, 4);
    posix_spawnattr_init(&attr);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGHUP);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    pid_t child = 0;
    rc = posix_spawn(&child, path, &actions, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    if (rc == 0) *pid = child;
    return rc;
}
