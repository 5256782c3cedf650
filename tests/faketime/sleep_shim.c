/* Preloaded before libfaketime by tests/faketime/run.
 *
 * libfaketime 0.9.10 (Debian 12) rewrites absolute CLOCK_MONOTONIC deadlines even with
 * FAKETIME_DONT_FAKE_MONOTONIC=1, so Python's time.sleep() fails with EINVAL; and with the
 * monotonic clock faked, timed waits on locks (sem_clockwait, which it does not intercept)
 * wait for the whole offset. So the monotonic clock stays real and its sleeps go straight
 * to the kernel; only the wall clock is moved, which is all Outreach reads.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int clock_nanosleep(clockid_t clock_id, int flags, const struct timespec *request,
                    struct timespec *remain) {
    if (clock_id == CLOCK_MONOTONIC) {
        return syscall(SYS_clock_nanosleep, clock_id, flags, request, remain) == 0 ? 0 : errno;
    }
    static int (*next)(clockid_t, int, const struct timespec *, struct timespec *);
    if (next == NULL) {
        next = dlsym(RTLD_NEXT, "clock_nanosleep");
    }
    return next(clock_id, flags, request, remain);
}
