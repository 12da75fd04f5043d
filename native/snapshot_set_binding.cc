#include "snapshot_set_binding.h"

#include <memory>
#include <utility>
#include <vector>

#include "addon_data.h"
#include "convert.h"
#include "dispatcher_binding.h"
#include "js_queue.h"
#include "snapshot_set.h"

namespace vssb {

// runSnapshotSet(config, commitDispatcher | null, sink(kind, payload)) -> cancel()
// sink gets ('progress', progress) any number of times, then ('done', result) once.
Napi::Value RunSnapshotSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Obj(info[0], "config");
  if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "sink must be a function");
  SnapshotSetConfig config;
  config.restore = Field(o, "restore").ToBoolean();
  config.volumes = StrList(o, "volumes");
  config.backup_type = Str(o, "backupType");
  config.components = StrList(o, "components");
  config.timeout_ms = Uint(o, "timeoutMs");
  auto provider = Obj(Field(o, "provider"), "provider");
  config.provider.commit_delay_ms = Uint(provider, "commitDelayMs");
  config.provider.fail_with = Field(provider, "failWith").As<Napi::Number>().Int32Value();
  config.provider.hold_limit_ms = Uint(provider, "holdLimitMs");
  config.freeze_window_ms = OptionalUint(o, "freezeWindowMs", 0);
  config.external_commit = o.Get("externalCommit").ToBoolean();
  if (!o.Get("writerFailures").IsUndefined()) {
    auto failures = Field(o, "writerFailures");
    if (!failures.IsArray()) throw Napi::TypeError::New(env, "writerFailures must be an array");
    auto array = failures.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); i++) {
      auto f = Obj(array.Get(i), "writer failure");
      InjectedFailure failure;
      failure.writer_name = Str(f, "writer");
      failure.match_instance = !f.Get("instanceName").IsUndefined();
      if (failure.match_instance) failure.instance_name = Str(f, "instanceName");
      failure.event = Str(f, "event");
      failure.hr = Field(f, "hresult").As<Napi::Number>().Int32Value();
      config.writer_failures.push_back(std::move(failure));
    }
  }
  if (!info[1].IsNull() && !info[1].IsUndefined()) config.on_commit = DispatcherFromJs(info[1]);

  auto data = AddonData::Get(env);
  auto queue = JsQueue::Create(env, info[2].As<Napi::Function>(), "vss-bridge:snapshot-set");
  // Progress is built only for a caller who listens: for the others it would be one record a
  // writer a phase, all carried to the JS thread for nothing.
  SnapshotSet::ProgressSink progress;
  if (Field(o, "progress").ToBoolean()) {
    progress = [queue](std::vector<Progress> batch) {
      queue->Post([batch = std::move(batch)](Napi::Env env, Napi::Function sink) {
        for (const Progress& p : batch) {
          sink.Call({Napi::String::New(env, "progress"), ProgressToJs(env, p)});
        }
      });
    };
  }
  auto deliver = [queue](const SnapshotSetResult& r) {
    queue->Post([r](Napi::Env env, Napi::Function sink) {
      sink.Call({Napi::String::New(env, "done"), ResultToJs(env, r)});
    });
  };
  // Weak, and not make_shared (whose one block a weak_ptr keeps whole): the caller may keep
  // `cancel` long after the set ended, and V8, which frees it, does not know what a set weighs.
  // The set thread holds the set while it runs.
  std::shared_ptr<SnapshotSet> set(new SnapshotSet(std::move(config), progress, deliver));
  std::weak_ptr<SnapshotSet> weak = set;
  auto cancel = Napi::Function::New(
      env,
      [weak](const Napi::CallbackInfo&) {
        if (auto s = weak.lock()) s->Cancel();
      },
      "cancel");
  // Claimed here, on the JS thread, so that a set refused because another one runs is
  // answered at once, not after the one ahead of it on the set thread.
  if (!set->Begin()) {
    queue->Close();  // the refusal is queued; nothing follows it
    return cancel;
  }
  const uint64_t teardown_key = data->OnTeardown([weak] {
    if (auto s = weak.lock()) s->Abandon();
  });
  auto job = [data, queue, set, teardown_key] {
    set->Run();
    data->Forget(teardown_key);
    queue->Close();  // after the last message: what is queued still reaches JS
  };
  if (!data->RunOnSetThread(job)) {
    // The environment is going away: nobody will hear the result; release the service.
    set->Abandon();
    job();
  }
  return cancel;
}

}  // namespace vssb
