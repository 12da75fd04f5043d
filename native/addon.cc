// The addon's JS surface. Each class here is a thin shell: the logic lives in dispatcher.cc,
// simulator.cc and snapshot_set.cc. The TypeScript layer (src/native.ts) validates every
// argument before it gets here; the checks below only keep a wrong call from being undefined
// behaviour.
#include <napi.h>

#include <unordered_map>
#include <vector>

#ifdef _MSC_VER
#include <intrin.h>
#endif

#include "addon_data.h"
#include "bench_ping.h"
#include "event_queue.h"
#include "simulator.h"
#include "snapshot_set.h"
#ifdef __linux__
#include "linux/linux_addon.h"
#endif
#ifdef _WIN32
#include "win/win_addon.h"
#endif

namespace vssb {
namespace {

const napi_type_tag kDispatcherTag = {0x6d3c2b1a9e8f4d70ull, 0xa1b2c3d4e5f60718ull};

Napi::Error HrError(Napi::Env env, hresult_t hr, const std::string& message) {
  auto error = Napi::Error::New(env, message);
  error.Set("hresult", Napi::Number::New(env, hr));
  return error;
}

Napi::Value Field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) throw Napi::TypeError::New(o.Env(), std::string("missing field ") + key);
  return v;
}
std::string Str(const Napi::Object& o, const char* key) {
  Napi::Value v = Field(o, key);
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}
uint32_t Uint(const Napi::Object& o, const char* key) {
  Napi::Value v = Field(o, key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().Uint32Value();
}
std::vector<std::string> StrList(const Napi::Object& o, const char* key) {
  Napi::Value v = Field(o, key);
  if (!v.IsArray()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be an array");
  auto array = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must hold strings");
    out.push_back(item.As<Napi::String>().Utf8Value());
  }
  return out;
}
// Fields newer callers pass; older ones may leave them out.
uint32_t OptionalUint(const Napi::Object& o, const char* key, uint32_t fallback) {
  return o.Get(key).IsUndefined() ? fallback : Uint(o, key);
}
Napi::Object Obj(const Napi::Value& v, const char* what) {
  if (!v.IsObject()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an object");
  return v.As<Napi::Object>();
}

WriterMetadata ParseMetadata(const Napi::Object& o) {
  WriterMetadata m;
  m.id = Str(o, "id");
  m.name = Str(o, "name");
  m.instance_name = Str(o, "instanceName");
  m.usage = Str(o, "usage");
  m.source_type = Str(o, "sourceType");
  m.freeze_timeout_ms = Uint(o, "freezeTimeoutMs");
  m.handler_timeout_ms = Uint(o, "handlerTimeoutMs");
  if (o.Has("restoreMethod")) m.restore_method = Str(o, "restoreMethod");
  auto components = Field(o, "components").As<Napi::Array>();
  for (uint32_t i = 0; i < components.Length(); i++) {
    auto c = Obj(components.Get(i), "component");
    Component component;
    component.logical_path = Str(c, "logicalPath");
    component.name = Str(c, "name");
    component.caption = Str(c, "caption");
    auto files = Field(c, "files").As<Napi::Array>();
    for (uint32_t j = 0; j < files.Length(); j++) {
      auto f = Obj(files.Get(j), "file group");
      component.files.push_back(
          FileGroup{Str(f, "path"), Str(f, "filespec"), Field(f, "recursive").ToBoolean()});
    }
    m.components.push_back(std::move(component));
  }
  return m;
}

// Property names made once for a whole conversion. Object::Set with a C string makes V8 look
// its key up in the string table on every call, which was most of the cost of turning a
// 64-writer result into JS. Literals are told apart by address: a literal that appears twice
// at most gets two entries.
class Keys {
 public:
  explicit Keys(Napi::Env env) : env_(env) {}
  napi_value operator[](const char* name) {
    for (const auto& key : keys_) {
      if (key.first == name) return key.second;
    }
    napi_value key = Napi::String::New(env_, name);
    keys_.emplace_back(name, key);
    return key;
  }

 private:
  Napi::Env env_;
  std::vector<std::pair<const char*, napi_value>> keys_;
};

Napi::Object StatusToJs(Keys& k, Napi::Env env, const WriterStatus& s) {
  auto o = Napi::Object::New(env);
  o.Set(k["id"], s.id);
  o.Set(k["instanceId"], s.instance_id);
  o.Set(k["name"], s.name);
  o.Set(k["instanceName"], s.instance_name);
  o.Set(k["state"], s.state);
  o.Set(k["lastError"], s.last_error);
  o.Set(k["lastErrorMessage"], s.last_error_message);
  return o;
}

Napi::Object StatusToJs(Napi::Env env, const WriterStatus& s) {
  Keys keys(env);
  return StatusToJs(keys, env, s);
}

Napi::Object MetadataToJs(Napi::Env env, const WriterMetadata& m) {
  auto o = Napi::Object::New(env);
  o.Set("id", m.id);
  o.Set("name", m.name);
  o.Set("instanceName", m.instance_name);
  o.Set("usage", m.usage);
  o.Set("sourceType", m.source_type);
  o.Set("freezeTimeoutMs", m.freeze_timeout_ms);
  o.Set("handlerTimeoutMs", m.handler_timeout_ms);
  auto components = Napi::Array::New(env, m.components.size());
  for (uint32_t i = 0; i < m.components.size(); i++) {
    const Component& c = m.components[i];
    auto co = Napi::Object::New(env);
    co.Set("logicalPath", c.logical_path);
    co.Set("name", c.name);
    co.Set("caption", c.caption);
    auto files = Napi::Array::New(env, c.files.size());
    for (uint32_t j = 0; j < c.files.size(); j++) {
      auto fo = Napi::Object::New(env);
      fo.Set("path", c.files[j].path);
      fo.Set("filespec", c.files[j].filespec);
      fo.Set("recursive", c.files[j].recursive);
      files.Set(j, fo);
    }
    co.Set("files", files);
    components.Set(i, co);
  }
  o.Set("components", components);
  return o;
}

template <typename T, typename F>
Napi::Array ArrayToJs(Napi::Env env, const std::vector<T>& items, F convert) {
  auto array = Napi::Array::New(env, items.size());
  for (uint32_t i = 0; i < items.size(); i++) array.Set(i, convert(env, items[i]));
  return array;
}

// The strings of a result's event records, each once: event names and outcomes repeat for
// every writer.
class StringTable {
 public:
  double Of(const std::string& s) {
    auto it = index_.find(s);
    if (it != index_.end()) return it->second;
    strings_.push_back(s);
    return index_[s] = static_cast<double>(strings_.size() - 1);
  }
  Napi::Array ToJs(Napi::Env env) const {
    return ArrayToJs(env, strings_, [](Napi::Env env, const std::string& s) { return Napi::String::New(env, s); });
  }

 private:
  std::vector<std::string> strings_;
  std::unordered_map<std::string, double> index_;
};

// A result's event records as numbers, six a record: event, startMs, durationMs, outcome,
// hresult and message, the strings as indexes into the result's `strings`; the phases' records
// first, then each writer's. JS makes the objects from them with literals: six property sets a
// record through Node-API cost more than the set, and one array a result costs one allocation
// outside the V8 heap, not one a writer.
Napi::Float64Array RecordsToJs(Napi::Env env, const SnapshotSetResult& r, StringTable& strings) {
  size_t count = r.phases.size();
  for (const WriterReport& w : r.writers) count += w.events.size();
  auto packed = Napi::Float64Array::New(env, count * 6);
  double* out = packed.Data();
  const auto add = [&out, &strings](const std::vector<EventRecord>& records) {
    for (const EventRecord& e : records) {
      *out++ = strings.Of(e.event);
      *out++ = e.start_ms;
      *out++ = e.duration_ms;
      *out++ = strings.Of(e.outcome);
      *out++ = e.hr;
      *out++ = strings.Of(e.message);
    }
  };
  add(r.phases);
  for (const WriterReport& w : r.writers) add(w.events);
  return packed;
}

Napi::Object ResultToJs(Napi::Env env, const SnapshotSetResult& r) {
  Keys k(env);
  StringTable strings;
  auto o = Napi::Object::New(env);
  o.Set(k["snapshotSetId"], r.snapshot_set_id);
  o.Set(k["hresult"], r.hr);
  o.Set(k["message"], r.message);
  o.Set(k["failedWriter"], r.failed_writer);
  o.Set(k["failedEvent"], r.failed_event);
  o.Set(k["durationMs"], r.duration_ms);
  o.Set(k["snapshots"], ArrayToJs(env, r.snapshots, [&k](Napi::Env env, const SnapshotRecord& s) {
          auto so = Napi::Object::New(env);
          so.Set(k["id"], s.id);
          so.Set(k["volume"], s.volume);
          so.Set(k["deviceObject"], s.device_object);
          return so;
        }));
  o.Set(k["records"], RecordsToJs(env, r, strings));
  o.Set(k["phases"], static_cast<double>(r.phases.size()));
  o.Set(k["writers"], ArrayToJs(env, r.writers, [&k](Napi::Env env, const WriterReport& w) {
          auto wo = StatusToJs(k, env, w.status);
          wo.Set(k["events"], static_cast<double>(w.events.size()));
          return wo;
        }));
  o.Set(k["strings"], strings.ToJs(env));
  return o;
}

Napi::Object ProgressToJs(Napi::Env env, const Progress& p) {
  auto o = Napi::Object::New(env);
  o.Set("phase", p.phase);
  o.Set("status", p.status);
  if (!p.writer_instance_id.empty()) {
    o.Set("writerInstanceId", p.writer_instance_id);
    o.Set("writerName", p.writer_name);
  }
  if (!p.outcome.empty()) o.Set("outcome", p.outcome);
  o.Set("elapsedMs", p.elapsed_ms);
  return o;
}

// new Dispatcher(name, router, handled?): see dispatcher.h and event_queue.h. `id` names it in
// the router's rows. Closed by close(), by GC or at teardown.
class DispatcherWrap : public Napi::ObjectWrap<DispatcherWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Dispatcher",
                       {StaticMethod<&DispatcherWrap::SettleAll>("settleAll"),
                        InstanceAccessor<&DispatcherWrap::Id>("id"),
                        InstanceMethod<&DispatcherWrap::Expire>("expire"),
                        InstanceMethod<&DispatcherWrap::Close>("close")});
  }

  static std::shared_ptr<Dispatcher> From(const Napi::Value& v) {
    if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kDispatcherTag)) {
      throw Napi::TypeError::New(v.Env(), "expected a Dispatcher");
    }
    return Unwrap(v.As<Napi::Object>())->dispatcher_;
  }

  explicit DispatcherWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DispatcherWrap>(info) {
    if (!info[0].IsString() || !info[1].IsFunction()) {
      throw Napi::TypeError::New(info.Env(), "Dispatcher(name: string, router: function, handled?: string[])");
    }
    std::optional<std::set<std::string>> handled;
    if (info[2].IsArray()) {
      auto events = info[2].As<Napi::Array>();
      handled.emplace();
      for (uint32_t i = 0; i < events.Length(); i++) handled->insert(events.Get(i).ToString().Utf8Value());
    }
    info.This().As<Napi::Object>().TypeTag(&kDispatcherTag);
    dispatcher_ = std::make_shared<Dispatcher>(info[0].As<Napi::String>().Utf8Value(), std::move(handled));
    data_ = AddonData::Get(info.Env());
    events_ = data_->Events(info.Env());
    events_->Attach(info.Env(), dispatcher_, info[1].As<Napi::Function>());
    std::weak_ptr<Dispatcher> weak = dispatcher_;
    teardown_key_ = data_->OnTeardown([weak] {
      if (auto d = weak.lock()) d->Close("the Node.js environment is shutting down");
    });
  }
  ~DispatcherWrap() override {
    data_->Forget(teardown_key_);
    dispatcher_->Close("the dispatcher was garbage-collected");
    events_->Detach(Env(), dispatcher_->id);
  }

 private:
  static uint64_t CallId(const Napi::CallbackInfo& info) {
    if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "callId must be a number");
    return static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  }
  Napi::Value Id(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(dispatcher_->id));
  }
  // Dispatcher.settleAll(rows: Float64Array, count, messages: string[], accepted: Uint8Array):
  // the answers of every dispatcher of this environment, gathered by JS; see
  // EventQueue::Settle. JS owns (and reuses) both arrays.
  static void SettleAll(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto is = [&info](size_t i, napi_typedarray_type type) {
      return info[i].IsTypedArray() && info[i].As<Napi::TypedArray>().TypedArrayType() == type;
    };
    if (!is(0, napi_float64_array) || !info[1].IsNumber() || !info[2].IsArray() || !is(3, napi_uint8_array)) {
      throw Napi::TypeError::New(env, "settleAll(rows: Float64Array, count: number, messages: string[], accepted: Uint8Array)");
    }
    auto rows = info[0].As<Napi::Float64Array>();
    auto accepted = info[3].As<Napi::Uint8Array>();
    const double count = info[1].As<Napi::Number>().DoubleValue();
    if (!(count >= 0 && count * 4 <= rows.ElementLength() && count <= accepted.ElementLength())) {
      throw Napi::RangeError::New(env, "settleAll: count exceeds rows or accepted");
    }
    auto list = info[2].As<Napi::Array>();
    std::vector<std::string> messages;
    for (uint32_t i = 0; i < list.Length(); i++) messages.push_back(list.Get(i).ToString().Utf8Value());
    AddonData::Get(env)->Events(env)->Settle(rows.Data(), static_cast<size_t>(count), messages,
                                              accepted.Data());
  }
  // expire(callId): the JS-side deadline timer fired first.
  Napi::Value Expire(const Napi::CallbackInfo& info) {
    const bool accepted = dispatcher_->Settle(
        CallId(info), Outcome::Timeout("the handler did not answer before its deadline"));
    return Napi::Boolean::New(info.Env(), accepted);
  }
  // Also lets the event loop end: a closed dispatcher has nothing left to route.
  void Close(const Napi::CallbackInfo& info) {
    dispatcher_->Close(info[0].IsString() ? info[0].As<Napi::String>().Utf8Value()
                                          : "the dispatcher was closed");
    events_->Detach(info.Env(), dispatcher_->id);
  }

  std::shared_ptr<Dispatcher> dispatcher_;
  std::shared_ptr<AddonData> data_;
  std::shared_ptr<EventQueue> events_;
  uint64_t teardown_key_ = 0;
};

// new SimulatedWriter(metadata): a writer of the simulated VSS service.
class SimulatedWriterWrap : public Napi::ObjectWrap<SimulatedWriterWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "SimulatedWriter",
                       {InstanceMethod<&SimulatedWriterWrap::Subscribe>("subscribe"),
                        InstanceMethod<&SimulatedWriterWrap::Unsubscribe>("unsubscribe"),
                        InstanceMethod<&SimulatedWriterWrap::Status>("status")});
  }

  explicit SimulatedWriterWrap(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<SimulatedWriterWrap>(info),
        metadata_(ParseMetadata(Obj(info[0], "metadata"))),
        instance_id_(NewGuid()),
        data_(AddonData::Get(info.Env())) {}
  ~SimulatedWriterWrap() override { Drop(); }

 private:
  // subscribe(dispatcher): throws an Error with .hresult when VSS would refuse.
  void Subscribe(const Napi::CallbackInfo& info) {
    if (writer_) throw HrError(info.Env(), kVSS_E_BAD_STATE, "the writer is already subscribed");
    auto writer =
        std::make_shared<SimulatedWriter>(metadata_, instance_id_, DispatcherWrap::From(info[0]));
    std::string message;
    const hresult_t hr = Simulator::Get().Subscribe(writer, &message);
    if (hr != kS_OK) throw HrError(info.Env(), hr, message);
    writer_ = writer;
    std::weak_ptr<SimulatedWriter> weak = writer_;
    teardown_key_ = data_->OnTeardown([weak] {
      if (auto w = weak.lock()) Simulator::Get().Unsubscribe(w.get());
    });
  }
  void Unsubscribe(const Napi::CallbackInfo&) { Drop(); }
  Napi::Value Status(const Napi::CallbackInfo& info) {
    WriterStatus status;
    if (!writer_ || !Simulator::Get().Status(writer_.get(), &status)) return info.Env().Null();
    return StatusToJs(info.Env(), status);
  }
  void Drop() {
    if (!writer_) return;
    data_->Forget(teardown_key_);
    Simulator::Get().Unsubscribe(writer_.get());
    writer_.reset();
  }

  const WriterMetadata metadata_;
  const std::string instance_id_;
  std::shared_ptr<AddonData> data_;
  std::shared_ptr<SimulatedWriter> writer_;
  uint64_t teardown_key_ = 0;
};

// listWriters(): each writer's status, with the metadata it registered as .metadata.
Napi::Value ListWriters(const Napi::CallbackInfo& info) {
  return ArrayToJs(info.Env(), Simulator::Get().ListWritersWithMetadata(),
                   [](Napi::Env env, const std::pair<WriterStatus, WriterMetadata>& w) {
                     auto o = StatusToJs(env, w.first);
                     o.Set("metadata", MetadataToJs(env, w.second));
                     return o;
                   });
}

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
  if (!info[1].IsNull() && !info[1].IsUndefined()) config.on_commit = DispatcherWrap::From(info[1]);

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
  auto dispatcher = DispatcherWrap::From(info[0]);
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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  AddonData::Install(env);
  exports.Set("Dispatcher", DispatcherWrap::Init(env));
  exports.Set("SimulatedWriter", SimulatedWriterWrap::Init(env));
  exports.Set("listWriters", Napi::Function::New(env, ListWriters, "listWriters"));
  exports.Set("runSnapshotSet", Napi::Function::New(env, RunSnapshotSet, "runSnapshotSet"));
  auto testing = Napi::Object::New(env);
  testing.Set("dispatchFromThread",
              Napi::Function::New(env, DispatchFromThread, "dispatchFromThread"));
  AddBenchFunctions(env, testing, &DispatcherWrap::From);
  exports.Set("testing", testing);
#ifdef __linux__
  RegisterLinux(env, exports);
#endif
#ifdef _WIN32
  RegisterWindowsExports(env, exports,
                         {&DispatcherWrap::From, &ParseMetadata, &StatusToJs, &MetadataToJs, &ResultToJs, &ProgressToJs});
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
