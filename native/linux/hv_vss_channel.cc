#include "hv_vss_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vssb {
namespace hv_vss {
namespace {

int OpenPath(const std::string& path, bool* stream, std::string* what) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    *what = "stat " + path;
    return -errno;
  }
  if (S_ISSOCK(st.st_mode)) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) {
      *what = "socket path too long";
      return -ENAMETOOLONG;
    }
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      *what = "socket";
      return -errno;
    }
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const int error = errno;
      close(fd);
      *what = "connect " + path;
      return -error;
    }
    *stream = true;
    return fd;
  }
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    *what = "open " + path;
    return -errno;
  }
  *stream = !S_ISCHR(st.st_mode);
  return fd;
}

}  // namespace

int Channel::Open(const std::string& path, std::unique_ptr<Channel>* out, std::string* what) {
  bool stream = false;
  const int fd = OpenPath(path, &stream, what);
  if (fd < 0) return -fd;
  const int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) {
    const int error = errno;
    close(fd);
    *what = "eventfd";
    return error;
  }
  std::unique_ptr<Channel> channel(new Channel(fd, stop_fd, stream));
  Message registration;
  registration.operation = kRegister1;
  const int error = channel->Write(Encode(registration));
  if (error != 0) {
    *what = "register (VSS_OP_REGISTER1)";
    return error;
  }
  *out = std::move(channel);
  return 0;
}

Channel::~Channel() {
  close(fd_);
  close(stop_fd_);
}

void Channel::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  stopped_ = true;
  const uint64_t one = 1;
  // An eventfd write of 1 cannot fail short of overflow; poll() sees it either way.
  (void)!write(stop_fd_, &one, sizeof one);
}

bool Channel::WaitReadable(int* error) {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      *error = errno;
      return false;
    }
    if (fds[1].revents != 0) return false;
    if (fds[0].revents != 0) return true;  // POLLHUP/POLLERR: read() reports it
  }
}

Channel::Read Channel::Next(bool handshake, Message* message, uint32_t* version, int* error) {
  *error = 0;
  uint8_t buffer[kMessageSize];
  const size_t want = handshake ? kVersionSize : kMessageSize;
  size_t have = 0;
  do {
    if (!WaitReadable(error)) return *error != 0 ? Read::kFailed : Read::kStopped;
    // The device answers a read with one whole message and refuses short buffers: always
    // offer it a full message's room. A stream gets exactly what is still missing.
    const size_t room = stream_ ? want - have : kMessageSize;
    const ssize_t n = read(fd_, buffer + have, room);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      *error = errno;
      return Read::kFailed;
    }
    if (n == 0) {
      *error = EPIPE;
      return Read::kFailed;
    }
    have += static_cast<size_t>(n);
  } while (stream_ && have < want);
  if (handshake ? DecodeVersion(buffer, have, version) : Decode(buffer, have, message)) {
    return handshake ? Read::kVersion : Read::kMessage;
  }
  *error = EPROTO;
  return Read::kFailed;
}

int Channel::Write(const Bytes& bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return EPIPE;
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    // The device takes a message whole or not at all: a short write there is an error.
    if (!stream_ && static_cast<size_t>(n) != bytes.size()) return EIO;
    done += static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace hv_vss
}  // namespace vssb
