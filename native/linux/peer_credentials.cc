#include "peer_credentials.h"

#include <sys/socket.h>

#include <cerrno>

namespace vssb {

int GetPeerCredentials(int fd, PeerCredentials* out) {
  struct ucred cred {};
  socklen_t size = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) != 0) return errno;
  if (size != sizeof cred) return EPROTO;
  out->pid = cred.pid;
  out->uid = cred.uid;
  out->gid = cred.gid;
  return 0;
}

}  // namespace vssb
