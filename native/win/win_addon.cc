// exports.vss:
//   new Writer(metadata)            one VssWriter's CVssWriter (vss_writer.h)
//     .subscribe(dispatcher, sink)  sink('subscribed', step) once, then, if that succeeded,
//                                   sink('unsubscribed', step) once; step = {hresult,
//                                   message, warnings}
//     .unsubscribe() -> boolean     false when not subscribed
//     .status() -> status | null
//   listWriters(timeoutMs, cb)      cb({hresult, message, writers})
//   runSnapshotSet(config, sink)    -> cancel(); sink('progress', p)..., sink('done', result)
//   queryShadowCopies(cb)           cb({hresult, message, copies})
//   deleteShadowCopies(id, wholeSet, cb)  cb({hresult, message, deleted})
// Every VSS call runs on an environment-owned thread, never on the JS thread.
#include "win_addon.h"

#include "../addon_data.h"
#include "../convert.h"
#include "../dispatcher_binding.h"
#include "../js_queue.h"
#include "../writer_holder.h"
#include "com.h"
#include "vss_requester.h"
#include "vss_writer.h"
#include "wide.h"

namespace vssb {
namespace {

Napi::Object StepToJs(Napi::Env env, const WriterStepResult& step) {
  auto o = StepResult(env, step.hr, step.message);
  auto warnings = Napi::Array::New(env, step.warnings.size());
  for (uint32_t i = 0; i < step.warnings.size(); i++) warnings.Set(i, step.warnings[i]);
  o.Set("warnings", warnings);
  return o;
}

std::string NewInstanceId() {
  GUID guid;
  if (FAILED(CoCreateGuid(&guid))) return std::string();
  return GuidString(guid);
}

class WriterWrap : public Napi::ObjectWrap<WriterWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Writer",
                       {InstanceMethod<&WriterWrap::Subscribe>("subscribe"),
                        InstanceMethod<&WriterWrap::Unsubscribe>("unsubscribe"),
                        InstanceMethod<&WriterWrap::Status>("status")});
  }

  explicit WriterWrap(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<WriterWrap>(info),
        writer_(info[0], NewInstanceId(), [](WindowsWriter& w) { w.Stop(); }) {}

 private:
  void Subscribe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (writer_.get() != nullptr) throw Napi::Error::New(env, "the writer is already subscribed");
    auto dispatcher = DispatcherFromJs(info[0]);
    auto queue = JsQueue::Create(env, Callback(info[1], "sink"), "vss-bridge:writer");
    auto writer = std::make_shared<WindowsWriter>(writer_.metadata, writer_.instance_id, dispatcher);
    writer_.Hold(writer);
    queue_ = queue;
    auto data = writer_.data;
    data->StartThread([data, queue, writer](uint64_t id) {
      auto report = [queue](const char* kind, const WriterStepResult& step) {
        queue->Post([queue, kind, step](Napi::Env env, Napi::Function sink) {
          // Subscribed, the writer keeps the process alive only as its dispatcher says.
          if (step.hr == kS_OK && std::string(kind) == "subscribed") queue->Unref(env);
          sink.Call({Napi::String::New(env, kind), StepToJs(env, step)});
        });
      };
      writer->Run([&](const WriterStepResult& s) { report("subscribed", s); },
                  [&](const WriterStepResult& s) { report("unsubscribed", s); });
      queue->Post([data, queue, id](Napi::Env, Napi::Function) {
        data->JoinThread(id);
        queue->Close();
      });
    });
  }

  // Asks the writer's thread to unsubscribe; the sink hears 'unsubscribed' when it has.
  Napi::Value Unsubscribe(const Napi::CallbackInfo& info) {
    if (writer_.get() == nullptr) return Napi::Boolean::New(info.Env(), false);
    queue_->Ref(info.Env());  // keep the process alive until the sink hears back
    writer_.Release();
    queue_.reset();
    return Napi::Boolean::New(info.Env(), true);
  }

  Napi::Value Status(const Napi::CallbackInfo& info) {
    if (writer_.get() == nullptr) return info.Env().Null();
    return StatusToJs(info.Env(), writer_.get()->Status());
  }

  // Declared first, so destroyed last: the writer stops before its sink is let go.
  std::shared_ptr<JsQueue> queue_;
  WriterHolder<WindowsWriter> writer_;
};

Napi::Value ListWritersJs(const Napi::CallbackInfo& info) {
  const uint32_t timeout_ms = Uint(info[0], "timeoutMs");
  RunOnThread(info.Env(), Callback(info[1], "callback"), [timeout_ms]() -> ToJs {
    WriterList list = ListWriters(timeout_ms);
    return [list](Napi::Env env) -> Napi::Value {
      auto o = StepResult(env, list.hr, list.message);
      auto writers = Napi::Array::New(env, list.writers.size());
      for (uint32_t i = 0; i < list.writers.size(); i++) {
        const WriterStatus& status = list.writers[i];
        auto w = StatusToJs(env, status);
        for (const auto& described : list.metadata) {
          if (described.first == status.instance_id) w.Set("metadata", MetadataToJs(env, described.second));
        }
        writers.Set(i, w);
      }
      o.Set("writers", writers);
      return o;
    };
  });
  return info.Env().Undefined();
}

// runSnapshotSet({volumes, backupType, components, timeoutMs}, sink) -> cancel()
Napi::Value RunSnapshotSetJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Obj(info[0], "config");
  BackupRequest request;
  request.volumes = StrList(o, "volumes");
  request.components = StrList(o, "components");
  request.backup_type = Str(o, "backupType");
  request.timeout_ms = Uint(o, "timeoutMs");

  auto data = AddonData::Get(env);
  auto queue = JsQueue::Create(env, Callback(info[1], "sink"), "vss-bridge:backup");
  auto cancel = std::make_shared<CancelToken>();
  const uint64_t teardown_key = data->OnTeardown([cancel] { cancel->Cancel(); });
  data->StartThread([data, queue, cancel, request, teardown_key](uint64_t id) {
    auto progress = [queue](const Progress& p) {
      queue->Post([p](Napi::Env env, Napi::Function sink) {
        sink.Call({Napi::String::New(env, "progress"), ProgressToJs(env, p)});
      });
    };
    const SnapshotSetResult result = RunBackup(request, cancel.get(), progress);
    data->Forget(teardown_key);
    queue->Post([data, queue, id, result](Napi::Env env, Napi::Function sink) {
      data->JoinThread(id);
      queue->Close();
      sink.Call({Napi::String::New(env, "done"), ResultToJs(env, result)});
    });
  });
  return Napi::Function::New(env, [cancel](const Napi::CallbackInfo&) { cancel->Cancel(); }, "cancel");
}

Napi::Value QueryShadowCopiesJs(const Napi::CallbackInfo& info) {
  RunOnThread(info.Env(), Callback(info[0], "callback"), []() -> ToJs {
    ShadowCopyList list = QueryShadowCopies();
    return [list](Napi::Env env) -> Napi::Value {
      auto o = StepResult(env, list.hr, list.message);
      auto copies = Napi::Array::New(env, list.copies.size());
      for (uint32_t i = 0; i < list.copies.size(); i++) {
        const ShadowCopy& c = list.copies[i];
        auto co = Napi::Object::New(env);
        co.Set("id", c.id);
        co.Set("snapshotSetId", c.set_id);
        co.Set("volume", c.volume);
        co.Set("deviceObject", c.device_object);
        co.Set("providerId", c.provider_id);
        co.Set("createdMs", c.created_ms);
        co.Set("attributes", c.attributes);
        copies.Set(i, co);
      }
      o.Set("copies", copies);
      return o;
    };
  });
  return info.Env().Undefined();
}

// Synchronous: two file-system calls, for ctx.isPathAffected on the JS thread.
Napi::Value VolumeOfJs(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "path must be a string");
  return Napi::String::New(info.Env(), Narrow(VolumeOf(Widen(info[0].As<Napi::String>().Utf8Value()))));
}

Napi::Value DeleteShadowCopiesJs(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "id must be a string");
  const std::string id = info[0].As<Napi::String>().Utf8Value();
  const bool whole_set = info[1].ToBoolean();
  RunOnThread(info.Env(), Callback(info[2], "callback"), [id, whole_set]() -> ToJs {
    DeleteResult r = DeleteShadowCopies(id, whole_set);
    return [r](Napi::Env env) -> Napi::Value {
      auto o = StepResult(env, r.hr, r.message);
      o.Set("deleted", r.deleted);
      return o;
    };
  });
  return info.Env().Undefined();
}

}  // namespace

void RegisterWindowsExports(Napi::Env env, Napi::Object exports) {
  auto vss = Napi::Object::New(env);
#if defined(_WIN64)
  vss.Set("Writer", WriterWrap::Init(env));
  vss.Set("listWriters", Napi::Function::New(env, ListWritersJs, "listWriters"));
  vss.Set("runSnapshotSet", Napi::Function::New(env, RunSnapshotSetJs, "runSnapshotSet"));
  vss.Set("queryShadowCopies", Napi::Function::New(env, QueryShadowCopiesJs, "queryShadowCopies"));
  vss.Set("deleteShadowCopies", Napi::Function::New(env, DeleteShadowCopiesJs, "deleteShadowCopies"));
  vss.Set("volumeOf", Napi::Function::New(env, VolumeOfJs, "volumeOf"));
#else
  // A 32-bit process on 64-bit Windows cannot take part in VSS (the service refuses WOW64
  // writers and requesters), so a 32-bit build offers nothing but the reason.
  vss.Set("unsupported", "VSS does not work from 32-bit processes on 64-bit Windows: use a 64-bit (x64 or arm64) Node.js");
#endif
  exports.Set("vss", vss);
}

}  // namespace vssb
