// The Linux-guest part of the addon, as `linux` on the exports: file-system freeze, peer
// credentials of the coordinator socket, and the Hyper-V VSS channel.
#pragma once
#include <napi.h>

namespace vssb {

void RegisterLinux(Napi::Env env, Napi::Object exports);

}  // namespace vssb
