#include "simulated_writer_binding.h"

#include <memory>
#include <string>
#include <utility>

#include "convert.h"
#include "dispatcher_binding.h"
#include "simulator.h"
#include "writer_holder.h"

namespace vssb {
namespace {

// new SimulatedWriter(metadata)
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
        writer_(info[0], NewGuid(), [](SimulatedWriter& w) { Simulator::Get().Unsubscribe(&w); }) {}

 private:
  // subscribe(dispatcher): throws an Error with .hresult when VSS would refuse.
  void Subscribe(const Napi::CallbackInfo& info) {
    if (writer_.get() != nullptr) throw HrError(info.Env(), kVSS_E_BAD_STATE, "the writer is already subscribed");
    auto writer = std::make_shared<SimulatedWriter>(writer_.metadata, writer_.instance_id,
                                                    DispatcherFromJs(info[0]));
    std::string message;
    const hresult_t hr = Simulator::Get().Subscribe(writer, &message);
    if (hr != kS_OK) throw HrError(info.Env(), hr, message);
    writer_.Hold(std::move(writer));
  }
  void Unsubscribe(const Napi::CallbackInfo&) { writer_.Release(); }
  Napi::Value Status(const Napi::CallbackInfo& info) {
    WriterStatus status;
    if (writer_.get() == nullptr || !Simulator::Get().Status(writer_.get(), &status)) return info.Env().Null();
    return StatusToJs(info.Env(), status);
  }

  WriterHolder<SimulatedWriter> writer_;
};

}  // namespace

Napi::Function DefineSimulatedWriterClass(Napi::Env env) {
  return SimulatedWriterWrap::Init(env);
}

Napi::Value ListSimulatedWriters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto writers = Simulator::Get().ListWritersWithMetadata();
  auto array = Napi::Array::New(env, writers.size());
  for (uint32_t i = 0; i < writers.size(); i++) {
    auto o = StatusToJs(env, writers[i].first);
    o.Set("metadata", MetadataToJs(env, writers[i].second));
    array.Set(i, o);
  }
  return array;
}

}  // namespace vssb
