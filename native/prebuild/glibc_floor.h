// Forced into every file of the Linux prebuilds (scripts/build-linux-prebuild.sh, -include),
// which compile against glibc 2.17's headers and libraries so that the result binds only to
// symbol versions every glibc since then has, and link Debian's libstdc++ and libgcc statically.
// That libstdc++'s configuration (c++config.h) was made for glibc 2.36. Its condition_variable
// waits on a steady_clock deadline with pthread_cond_clockwait (glibc 2.30), which 2.17's headers
// lack: declared here, and defined in glibc_floor.cc over glibc's own where there is one (on an
// older glibc it waits on CLOCK_REALTIME, as libstdc++ itself does there). Timed mutexes and
// rwlocks, which the addon does not use, fall back to libstdc++'s CLOCK_REALTIME code.
#pragma once
#include <bits/c++config.h>
#include <pthread.h>
#include <time.h>
#undef _GLIBCXX_USE_PTHREAD_MUTEX_CLOCKLOCK
#undef _GLIBCXX_USE_PTHREAD_RWLOCK_CLOCKLOCK

extern "C" __attribute__((visibility("hidden"))) int pthread_cond_clockwait(pthread_cond_t* cond,
                                                                           pthread_mutex_t* mutex,
                                                                           clockid_t clock,
                                                                           const struct timespec* abstime);
