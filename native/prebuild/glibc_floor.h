// Forced into every file of the Linux prebuilds (scripts/build-linux-prebuild.sh, -include),
// which compile against glibc 2.17's headers and libraries so that the result binds only to
// symbol versions every glibc since then has, and link Debian's libstdc++ and libgcc statically.
// That libstdc++'s configuration (c++config.h) was made for a glibc with the pthread_*_clock*
// functions (2.30 and later); without them libstdc++ times its waits on a steady_clock deadline
// with CLOCK_REALTIME, as it did before GCC 10. See glibc_floor.cc for the link side.
#pragma once
#include <bits/c++config.h>
#undef _GLIBCXX_USE_PTHREAD_COND_CLOCKWAIT
#undef _GLIBCXX_USE_PTHREAD_MUTEX_CLOCKLOCK
#undef _GLIBCXX_USE_PTHREAD_RWLOCK_CLOCKLOCK
