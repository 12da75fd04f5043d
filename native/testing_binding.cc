#include "testing_binding.h"

#ifdef _MSC_VER
#include <intrin.h>
#endif

#include <chrono>

#include "addon_data.h"
#include "bench_ping.h"
#include "convert.h"
#include "dispatcher_binding.h"

namespace vssb {
namespace {

// Stores 1 where JS reads it with Atomics.load, from any thread.
void SignalReturned(int32_t* flag) {
#ifdef _MSC_VER
  _InterlockedExchange(reinterpret_cast<volatile long*>(flag), 1);
#else
  __atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
#endif
}

// testing.dispatchFromThread(dispatcher, ctx, timeoutMs, callback, returned?): calls Dispatch
// from a fresh native thread, as VSS does from an RPC thread, and reports what that thread
// saw. `returned`, an Int32Array over a SharedArrayBuffer, gets 1 in element 0 the moment
// Dispatch returns: a test can see that while it keeps the event loop blocked.
Napi::Value DispatchFromThread(const Napi::CallbackInfo& info) {
  auto dispatcher = DispatcherFromJs(info[0]);
  auto c = Obj(info[1], "ctx");
  EventContext ctx;
  ctx.event = Str(c, "event");
  ctx.snapshot_set_id = Str(c, "snapshotSetId");
  ctx.backup_type = Str(c, "backupType");
  ctx.volumes = StrList(c, "volumes");
  ctx.components = StrList(c, "components");
  const double timeout_ms = info[2].As<Napi::Number>().DoubleValue();
  int32_t* returned = nullptr;
  napi_ref keep = nullptr;  // holds the array while the thread may write to it
  if (info[4].IsTypedArray() && info[4].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    auto flag = info[4].As<Napi::Int32Array>();
    if (flag.ElementLength() < 1) throw Napi::RangeError::New(info.Env(), "returned must hold one element");
    returned = flag.Data();
    if (napi_create_reference(info.Env(), flag, 1, &keep) != napi_ok) {
      throw Napi::Error::New(info.Env(), "could not hold the returned flag");
    }
  }
  RunOnThread(info.Env(), info[3].As<Napi::Function>(), [dispatcher, ctx, timeout_ms, returned, keep]() -> ToJs {
    const auto start = Clock::now();
    const auto deadline =
        start + std::chrono::microseconds(static_cast<int64_t>(timeout_ms * 1000));
    const Outcome outcome = dispatcher->Dispatch(ctx, deadline);
    if (returned != nullptr) SignalReturned(returned);
    const double elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    const double late = std::chrono::duration<double, std::milli>(Clock::now() - deadline).count();
    return [outcome, elapsed, late, keep](Napi::Env env) -> Napi::Value {
      if (keep != nullptr) napi_delete_reference(env, keep);
      auto o = Napi::Object::New(env);
      o.Set("outcome", CallResultName(outcome.result));
      o.Set("hresult", outcome.hr);
      o.Set("message", outcome.message);
      o.Set("elapsedMs", elapsed);
      o.Set("pastDeadlineMs", late);
      return o;
    };
  });
  return info.Env().Undefined();
}

}  // namespace

Napi::Object TestingExports(Napi::Env env) {
  auto testing = Napi::Object::New(env);
  testing.Set("dispatchFromThread", Napi::Function::New(env, DispatchFromThread, "dispatchFromThread"));
  AddBenchFunctions(env, testing);
  return testing;
}

}  // namespace vssb
