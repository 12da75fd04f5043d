#include "js_dispatcher.h"

namespace vssb {

namespace {

Napi::Array ToArray(Napi::Env env, const std::vector<std::string>& items) {
  auto array = Napi::Array::New(env, items.size());
  for (uint32_t i = 0; i < items.size(); i++) array.Set(i, items[i]);
  return array;
}

void Invoke(Napi::Env env, Napi::Function router, Dispatcher& dispatcher,
            const std::shared_ptr<PendingCall>& call) {
  if (!dispatcher.IsPending(call->id)) return;  // settled or closed meanwhile
  // Remaining time rather than an absolute instant: the steady clock has no JS equivalent.
  // It is <= 0 when the JS thread was blocked past the deadline; JS then skips the handler.
  const double remaining_ms =
      std::chrono::duration<double, std::milli>(call->deadline - Clock::now()).count();
  // The context's fields as arguments: JS builds the object faster than five property sets
  // through Node-API would.
  const EventContext& ctx = call->ctx;
  router.Call({Napi::Number::New(env, static_cast<double>(call->id)),
               Napi::String::New(env, ctx.event), Napi::String::New(env, ctx.snapshot_set_id),
               Napi::String::New(env, ctx.backup_type), ToArray(env, ctx.volumes),
               ToArray(env, ctx.components), Napi::Number::New(env, remaining_ms)});
}

}  // namespace

JsDispatcher CreateJsDispatcher(Napi::Env env, Napi::Function router, std::string name,
                                std::optional<std::set<std::string>> handled) {
  auto dispatcher = std::make_shared<Dispatcher>(std::move(name), std::move(handled));
  std::weak_ptr<Dispatcher> weak = dispatcher;
  auto queue = JsQueue::Create(env, router, "vss-bridge:dispatcher", [weak] {
    // Node finalized the queue (teardown): nobody will ever answer the pending calls.
    if (auto d = weak.lock()) d->Close("the Node.js environment is shutting down");
  });
  std::weak_ptr<JsQueue> weak_queue = queue;
  dispatcher->SetChannel(Channel{
      [weak, weak_queue](const std::shared_ptr<PendingCall>& call) {
        auto q = weak_queue.lock();
        return q && q->Post([weak, call](Napi::Env env, Napi::Function router) {
                 if (auto d = weak.lock()) Invoke(env, router, *d, call);
               });
      },
      [weak_queue] {
        if (auto q = weak_queue.lock()) q->Close();
      }});
  return JsDispatcher{dispatcher, queue};
}

}  // namespace vssb
