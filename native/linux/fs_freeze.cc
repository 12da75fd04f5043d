#include "fs_freeze.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

namespace vssb {
namespace {

int Ioctl(const std::string& mount_point, unsigned long request) {
  // O_RDONLY on the directory is enough: the ioctl needs CAP_SYS_ADMIN, not write access.
  const int fd = open(mount_point.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  const int result = ioctl(fd, request, 0);
  const int error = result == 0 ? 0 : errno;
  close(fd);
  return error;
}

}  // namespace

int FreezeFileSystem(const std::string& mount_point) { return Ioctl(mount_point, FIFREEZE); }
int ThawFileSystem(const std::string& mount_point) { return Ioctl(mount_point, FITHAW); }

}  // namespace vssb
