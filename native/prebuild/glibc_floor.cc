// Linked only into the Linux prebuilds (scripts/build-linux-prebuild.sh). Debian's static
// libstdc++ and libgcc were built against glibc 2.36 and reference symbols that glibc 2.28 (the
// prebuilds' floor, and Node's) lacks. Each is defined here with glibc's meaning, hidden, so it
// serves this addon's own copy of libstdc++ and libgcc and nothing else in the process.
#include "glibc_floor.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define VSSB_HIDDEN __attribute__((visibility("hidden")))

// The sysroot's kernel headers predate getrandom(2) (Linux 3.17).
#ifndef SYS_getrandom
#if defined(__x86_64__)
#define SYS_getrandom 318
#elif defined(__aarch64__)
#define SYS_getrandom 278
#endif
#endif

namespace {

// getrandom(2) (Linux 3.17; glibc's wrapper came in 2.25), else /dev/urandom. True when `len`
// random bytes were written.
bool FillRandom(void* buf, size_t len) {
  unsigned char* p = static_cast<unsigned char*>(buf);
  while (len > 0) {
    long n = syscall(SYS_getrandom, p, len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    len -= static_cast<size_t>(n);
  }
  if (len == 0) return true;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    len -= static_cast<size_t>(n);
  }
  close(fd);
  return len == 0;
}

using ClockWait = int (*)(pthread_cond_t*, pthread_mutex_t*, clockid_t, const struct timespec*);

// glibc's own pthread_cond_clockwait (2.30 and later), or null. Looked up by version, so that
// the lookup cannot find anything but glibc's.
ClockWait GlibcClockWait() {
  static const ClockWait found = [] {
    void* sym = dlvsym(RTLD_DEFAULT, "pthread_cond_clockwait", "GLIBC_2.30");
    if (sym == nullptr) sym = dlvsym(RTLD_DEFAULT, "pthread_cond_clockwait", "GLIBC_2.34");
    return reinterpret_cast<ClockWait>(sym);
  }();
  return found;
}

}  // namespace

extern "C" {

// glibc 2.30, for condition_variable's steady_clock waits: glibc's own where there is one;
// otherwise the deadline moved onto CLOCK_REALTIME, as libstdc++ does on such a glibc (a step of
// the wall clock during the wait then lengthens or shortens it; libstdc++ rechecks its clock).
VSSB_HIDDEN int pthread_cond_clockwait(pthread_cond_t* cond, pthread_mutex_t* mutex, clockid_t clock,
                                       const struct timespec* abstime) {
  if (ClockWait glibc = GlibcClockWait()) return glibc(cond, mutex, clock, abstime);
  if (clock == CLOCK_REALTIME) return pthread_cond_timedwait(cond, mutex, abstime);
  struct timespec now_clock, now_real;
  if (clock_gettime(clock, &now_clock) != 0 || clock_gettime(CLOCK_REALTIME, &now_real) != 0) return EINVAL;
  long long ns = (abstime->tv_sec - now_clock.tv_sec) * 1000000000LL + (abstime->tv_nsec - now_clock.tv_nsec);
  if (ns < 0) ns = 0;
  ns += now_real.tv_nsec;
  struct timespec real_deadline;
  real_deadline.tv_sec = now_real.tv_sec + static_cast<time_t>(ns / 1000000000LL);
  real_deadline.tv_nsec = static_cast<long>(ns % 1000000000LL);
  return pthread_cond_timedwait(cond, mutex, &real_deadline);
}

// glibc 2.32: nonzero while the process is known to have a single thread, which lets
// libstdc++ skip atomic reference counts. Zero ("not known") keeps them atomic: always correct.
VSSB_HIDDEN char __libc_single_threaded = 0;

// glibc 2.25 and 2.36, for std::random_device (libstdc++'s random.o).
VSSB_HIDDEN int getentropy(void* buf, size_t len) {
  if (len > 256) {
    errno = EIO;
    return -1;
  }
  if (!FillRandom(buf, len)) {
    errno = EIO;
    return -1;
  }
  return 0;
}

VSSB_HIDDEN uint32_t arc4random(void) {
  uint32_t value;
  if (!FillRandom(&value, sizeof value)) abort();  // as glibc's does when it has no entropy
  return value;
}

// glibc 2.35's struct dl_find_object on x86_64 and aarch64 (no eh_dbase or eh_count member).
struct dl_find_object {
  unsigned long long dlfo_flags;
  void* dlfo_map_start;
  void* dlfo_map_end;
  struct link_map* dlfo_link_map;
  void* dlfo_eh_frame;
  unsigned long long dlfo_reserved[7];
};
static_assert(sizeof(dl_find_object) == 96, "glibc 2.35 layout");

// glibc 2.35: the loaded object containing `address` and its PT_GNU_EH_FRAME, for libgcc's
// unwinder (unwind-dw2-fde-dip.c), which without it found the same with dl_iterate_phdr, as
// here. Returns 0 when found, -1 otherwise.
VSSB_HIDDEN int _dl_find_object(void* address, struct dl_find_object* result) {
  struct Search {
    uintptr_t pc;
    dl_find_object* out;
    bool found;
  } search{reinterpret_cast<uintptr_t>(address), result, false};
  dl_iterate_phdr(
      [](struct dl_phdr_info* info, size_t, void* data) -> int {
        Search* s = static_cast<Search*>(data);
        uintptr_t low = UINTPTR_MAX, high = 0;
        bool contains = false;
        const ElfW(Phdr)* eh_frame = nullptr;
        for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type == PT_GNU_EH_FRAME) eh_frame = &ph;
          if (ph.p_type != PT_LOAD) continue;
          uintptr_t start = info->dlpi_addr + ph.p_vaddr;
          uintptr_t end = start + ph.p_memsz;
          if (start < low) low = start;
          if (end > high) high = end;
          if (s->pc >= start && s->pc < end) contains = true;
        }
        if (!contains) return 0;
        memset(s->out, 0, sizeof *s->out);
        s->out->dlfo_map_start = reinterpret_cast<void*>(low);
        s->out->dlfo_map_end = reinterpret_cast<void*>(high);
        if (eh_frame != nullptr) {
          s->out->dlfo_eh_frame = reinterpret_cast<void*>(info->dlpi_addr + eh_frame->p_vaddr);
        }
        s->found = true;
        return 1;  // stop iterating
      },
      &search);
  return search.found ? 0 : -1;
}

}  // extern "C"
