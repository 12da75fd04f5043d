#include "convert.h"

#include <unordered_map>
#include <utility>

namespace vssb {

Napi::Object Obj(const Napi::Value& v, const char* what) {
  if (!v.IsObject()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an object");
  return v.As<Napi::Object>();
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

uint32_t Uint(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a number");
  return v.As<Napi::Number>().Uint32Value();
}

uint32_t Uint(const Napi::Object& o, const char* key) {
  return Uint(Field(o, key), key);
}

uint32_t OptionalUint(const Napi::Object& o, const char* key, uint32_t fallback) {
  return o.Get(key).IsUndefined() ? fallback : Uint(o, key);
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

Napi::Function Callback(const Napi::Value& v, const char* what) {
  if (!v.IsFunction()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a function");
  return v.As<Napi::Function>();
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

Napi::Error HrError(Napi::Env env, hresult_t hr, const std::string& message) {
  auto error = Napi::Error::New(env, message);
  error.Set("hresult", Napi::Number::New(env, hr));
  return error;
}

Napi::Object StepResult(Napi::Env env, hresult_t hr, const std::string& message) {
  auto o = Napi::Object::New(env);
  o.Set("hresult", hr);
  o.Set("message", message);
  return o;
}

namespace {

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

}  // namespace

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
  const auto text = [](Napi::Env env, const std::string& s) { return Napi::String::New(env, s); };
  o.Set(k["deletedCopies"], ArrayToJs(env, r.deleted_copies, text));
  o.Set(k["undeletedCopies"], ArrayToJs(env, r.undeleted_copies, text));
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

}  // namespace vssb
