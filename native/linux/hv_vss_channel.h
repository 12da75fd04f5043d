// The daemon's end of the Hyper-V VSS kernel channel (/dev/vmbus/hv_vss), or of a stand-in
// for it: a Unix stream socket or a FIFO speaking the same bytes, so the daemon can be tested
// without Hyper-V. Pure C++.
//
// The character device hands out one whole message per read(); a stream does not keep
// message boundaries, so on a stream the channel reads exactly the size the protocol expects
// next (the 4-byte version during the handshake, then 12-byte messages).
#pragma once
#include <memory>
#include <mutex>
#include <string>

#include "hv_vss_msg.h"

namespace vssb {
namespace hv_vss {

class Channel {
 public:
  // Opens `path` read-write (the device, or a FIFO) or connects to it (a Unix socket), then
  // registers (VSS_OP_REGISTER1). 0 or the errno; `what` names the step that failed.
  static int Open(const std::string& path, std::unique_ptr<Channel>* out, std::string* what);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  enum class Read { kVersion, kMessage, kStopped, kFailed };
  // Blocks until the next thing arrives or Stop(). On kFailed, *error is the errno (EPIPE
  // when the other end closed, EPROTO for a read of the wrong size).
  Read Next(bool handshake, Message* message, uint32_t* version, int* error);
  // 0 or the errno. EPIPE once stopped.
  int Write(const Bytes& bytes);
  // Any thread, idempotent: wakes Next() with kStopped; later writes fail.
  void Stop();

 private:
  Channel(int fd, int stop_fd, bool stream) : fd_(fd), stop_fd_(stop_fd), stream_(stream) {}
  // Waits until fd_ is readable; false when stopped or on a poll error (*error set).
  bool WaitReadable(int* error);

  const int fd_;
  const int stop_fd_;  // eventfd: written by Stop()
  const bool stream_;
  std::mutex mu_;
  bool stopped_ = false;
};

}  // namespace hv_vss
}  // namespace vssb
