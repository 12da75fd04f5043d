#include "dispatcher_binding.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "addon_data.h"
#include "event_queue.h"

namespace vssb {
namespace {

const napi_type_tag kDispatcherTag = {0x6d3c2b1a9e8f4d70ull, 0xa1b2c3d4e5f60718ull};

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

}  // namespace

Napi::Function DefineDispatcherClass(Napi::Env env) {
  return DispatcherWrap::Init(env);
}

std::shared_ptr<Dispatcher> DispatcherFromJs(const Napi::Value& value) {
  return DispatcherWrap::From(value);
}

}  // namespace vssb
