// FIFREEZE / FITHAW on one mounted file system: the kernel flushes it and blocks every new
// write until thaw. Pure C++; the caller runs these off the JS thread (a freeze syncs the
// file system first and may take seconds).
#pragma once
#include <string>

namespace vssb {

// 0 on success, else the errno: EBUSY from FIFREEZE means already frozen, EINVAL from
// FITHAW means not frozen, EOPNOTSUPP means the file system cannot freeze.
int FreezeFileSystem(const std::string& mount_point);
int ThawFileSystem(const std::string& mount_point);

}  // namespace vssb
