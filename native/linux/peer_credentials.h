// Who is at the other end of a connected Unix socket (SO_PEERCRED): the kernel records the
// peer's pid, uid and gid at connect time, so they cannot be forged by the peer.
#pragma once
#include <sys/types.h>

namespace vssb {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// 0 on success, else the errno (ENOTSOCK, EBADF, ...).
int GetPeerCredentials(int fd, PeerCredentials* out);

}  // namespace vssb
