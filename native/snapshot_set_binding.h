// exports.runSnapshotSet: one snapshot set of the simulated VSS service (snapshot_set.h), run
// on the environment's snapshot-set thread.
#pragma once
#include <napi.h>

namespace vssb {

Napi::Value RunSnapshotSet(const Napi::CallbackInfo& info);

}  // namespace vssb
