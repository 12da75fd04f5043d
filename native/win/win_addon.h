// The Windows exports of the addon (exports.vss): a real CVssWriter per VssWriter and the
// IVssBackupComponents requester. addon.cc registers them on Windows builds only; they speak
// the same JS shapes as the simulator's bindings (../convert.h).
#pragma once
#include <napi.h>

namespace vssb {

void RegisterWindowsExports(Napi::Env env, Napi::Object exports);

}  // namespace vssb
