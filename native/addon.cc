// Module setup: what the addon exports, each from the file of its own binding. The logic lives
// in dispatcher.cc, simulator.cc, snapshot_set.cc, linux/ and win/; the JS shapes in convert.h.
#include <napi.h>

#include "addon_data.h"
#include "dispatcher_binding.h"
#include "simulated_writer_binding.h"
#include "snapshot_set_binding.h"
#include "testing_binding.h"
#ifdef __linux__
#include "linux/linux_addon.h"
#endif
#ifdef _WIN32
#include "win/win_addon.h"
#endif

namespace vssb {
namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  AddonData::Install(env);
  exports.Set("Dispatcher", DefineDispatcherClass(env));
  exports.Set("SimulatedWriter", DefineSimulatedWriterClass(env));
  exports.Set("listWriters", Napi::Function::New(env, ListSimulatedWriters, "listWriters"));
  exports.Set("runSnapshotSet", Napi::Function::New(env, RunSnapshotSet, "runSnapshotSet"));
  exports.Set("testing", TestingExports(env));
#ifdef __linux__
  RegisterLinux(env, exports);
#endif
#ifdef _WIN32
  RegisterWindowsExports(env, exports);
#endif
  // process.on('exit'): process.exit() skips the environment cleanup hooks, so JS calls this
  // to unsubscribe every writer and join every thread while it still can.
  exports.Set("closeAll", Napi::Function::New(
                              env, [](const Napi::CallbackInfo& info) { AddonData::Get(info.Env())->Close(); },
                              "closeAll"));
  exports.Set("napiVersion", NAPI_VERSION);
  return exports;
}

}  // namespace
}  // namespace vssb

static Napi::Object InitVssBridge(Napi::Env env, Napi::Object exports) {
  return vssb::Init(env, exports);
}

NODE_API_MODULE(vss_bridge, InitVssBridge)
