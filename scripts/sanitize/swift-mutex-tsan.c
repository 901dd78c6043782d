// Teaches ThreadSanitizer about the Swift runtime's Synchronization.Mutex on Linux (used by `make test-sanitize`,
// LD_PRELOADed into the TSan-built test runner and `inferno`; never part of a normal build).
//
// Why: Mutex's fast paths are inlined compare-and-swap operations TSan sees, but its contended paths
// (_lockSlow/_unlockSlow/_tryLockSlow in libswiftSynchronization.so, not instrumented) hand the lock over
// through a priority-inheritance futex in the kernel. TSan never sees that hand-over, so every access made
// under a contended Mutex is reported as a race (a 20-line program with two threads incrementing a counter
// under Mutex gets 4 reports). These wrappers call the real functions and tell TSan what they did: acquire
// after a slow lock, release before a slow unlock, on the lock word's address (the address the inlined fast
// paths use). Races on data not protected by the Mutex are still reported.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>

// Weak: in a process without the TSan runtime these are null and the wrappers only forward.
extern void __tsan_acquire(void *addr) __attribute__((weak));
extern void __tsan_release(void *addr) __attribute__((weak));

// Swift calling convention; `self` (the _MutexHandle, by address) travels in the swiftself register, which
// clang spells swift_context.
#define SWIFTCC __attribute__((swiftcall))
#define SELF __attribute__((swift_context))
#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"
#define TRYLOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"

typedef SWIFTCC void (*lock_fn)(uint32_t, SELF void *);
typedef SWIFTCC void (*unlock_fn)(SELF void *);
typedef SWIFTCC bool (*trylock_fn)(SELF void *);

SWIFTCC void inferno_lock_slow(uint32_t id, SELF void *handle) __asm__(LOCK_SLOW);
SWIFTCC void inferno_unlock_slow(SELF void *handle) __asm__(UNLOCK_SLOW);
SWIFTCC bool inferno_trylock_slow(SELF void *handle) __asm__(TRYLOCK_SLOW);

SWIFTCC void inferno_lock_slow(uint32_t id, SELF void *handle) {
    static lock_fn real;
    if (!real) real = (lock_fn)dlsym(RTLD_NEXT, LOCK_SLOW);
    real(id, handle);
    if (__tsan_acquire) __tsan_acquire(handle);
}

SWIFTCC void inferno_unlock_slow(SELF void *handle) {
    static unlock_fn real;
    if (!real) real = (unlock_fn)dlsym(RTLD_NEXT, UNLOCK_SLOW);
    if (__tsan_release) __tsan_release(handle);
    real(handle);
}

SWIFTCC bool inferno_trylock_slow(SELF void *handle) {
    static trylock_fn real;
    if (!real) real = (trylock_fn)dlsym(RTLD_NEXT, TRYLOCK_SLOW);
    bool ok = real(handle);
    if (ok && __tsan_acquire) __tsan_acquire(handle);
    return ok;
}
