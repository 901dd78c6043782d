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
#endif
