#include "dispatcher.h"

#include <algorithm>

namespace vssb {

PendingCall::PendingCall(uint64_t id_, EventContext ctx_, Clock::time_point deadline_,
                         std::shared_ptr<Notifier> notifier_)
    : id(id_),
      ctx(std::move(ctx_)),
      deadline(deadline_),
      notifier(notifier_ ? std::move(notifier_) : std::make_shared<Notifier>()) {}

bool PendingCall::TrySettle(Outcome outcome) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (settled_) return false;
    settled_ = true;
    settled_at_ = Clock::now();
    outcome_ = std::move(outcome);
  }
  notifier->Notify();
  return true;
}

bool PendingCall::IsSettled() {
  std::lock_guard<std::mutex> lock(mu_);
  return settled_;
}

Outcome PendingCall::GetOutcome() {
  std::lock_guard<std::mutex> lock(mu_);
  return outcome_;
}

Clock::time_point PendingCall::SettledAt() {
  std::lock_guard<std::mutex> lock(mu_);
  return settled_at_;
}

Outcome PendingCall::Wait() {
  WaitAll({shared_from_this()}, notifier, [] { return false; });
  return GetOutcome();
}

bool WaitAll(const std::vector<std::shared_ptr<PendingCall>>& calls,
             const std::shared_ptr<Notifier>& notifier, const std::function<bool()>& stop,
             Clock::time_point stop_deadline) {
  std::unique_lock<std::mutex> lock(notifier->mu);
  for (;;) {
    if (stop()) return false;
    const auto now = Clock::now();
    if (now >= stop_deadline) return false;
    auto next_wake = stop_deadline;
    bool all_settled = true;
    for (const auto& call : calls) {
      if (call->IsSettled()) continue;
      if (now >= call->deadline) {
        // Settling notifies under notifier->mu, which we hold: release it around the call.
        lock.unlock();
        call->TrySettle(Outcome::Timeout("the handler did not answer before its deadline"));
        lock.lock();
        continue;
      }
      all_settled = false;
      next_wake = std::min(next_wake, call->deadline);
    }
    if (all_settled) return true;
    notifier->cv.wait_until(lock, next_wake);
  }
}

std::shared_ptr<Dispatcher> Dispatcher::Create(Napi::Env env, Napi::Function router,
                                               std::string name) {
  std::shared_ptr<Dispatcher> d(new Dispatcher(std::move(name)));
  std::weak_ptr<Dispatcher> weak = d;
  d->queue_ = JsQueue::Create(env, router, "vss-bridge:dispatcher", [weak] {
    // Node finalized the queue (teardown): nobody will ever answer the pending calls.
    if (auto self = weak.lock()) self->Close("the Node.js environment is shutting down");
  });
  return d;
}

Dispatcher::~Dispatcher() { Close("the dispatcher was released"); }

std::shared_ptr<PendingCall> Dispatcher::Post(EventContext ctx, Clock::time_point deadline,
                                              std::shared_ptr<Notifier> notifier) {
  std::shared_ptr<PendingCall> call;
  {
    std::lock_guard<std::mutex> lock(mu_);
    call = std::make_shared<PendingCall>(next_id_++, std::move(ctx), deadline,
                                         std::move(notifier));
    if (!open_) {
      call->TrySettle(Outcome::Closed(close_reason_));
      return call;
    }
    pending_.emplace(call->id, call);
  }
  std::weak_ptr<Dispatcher> weak = shared_from_this();
  const bool queued = queue_->Post([weak, call](Napi::Env env, Napi::Function router) {
    if (auto self = weak.lock()) self->Invoke(env, router, call);
  });
  if (!queued) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.erase(call->id);
    }
    call->TrySettle(Outcome::Closed("the dispatcher is closed"));
  }
  return call;
}

Outcome Dispatcher::Dispatch(EventContext ctx, Clock::time_point deadline) {
  return Post(std::move(ctx), deadline)->Wait();
}

static Napi::Array ToArray(Napi::Env env, const std::vector<std::string>& items) {
  auto array = Napi::Array::New(env, items.size());
  for (uint32_t i = 0; i < items.size(); i++) array.Set(i, items[i]);
  return array;
}

void Dispatcher::Invoke(Napi::Env env, Napi::Function router,
                        const std::shared_ptr<PendingCall>& call) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.find(call->id) == pending_.end()) return;  // closed meanwhile
  }
  auto ctx = Napi::Object::New(env);
  ctx.Set("event", call->ctx.event);
  ctx.Set("snapshotSetId", call->ctx.snapshot_set_id);
  ctx.Set("backupType", call->ctx.backup_type);
  ctx.Set("volumes", ToArray(env, call->ctx.volumes));
  ctx.Set("components", ToArray(env, call->ctx.components));
  // Remaining time rather than an absolute instant: the steady clock has no JS equivalent.
  // It may be <= 0 when the JS thread was blocked past the deadline; JS then skips the handler.
  const double remaining_ms =
      std::chrono::duration<double, std::milli>(call->deadline - Clock::now()).count();
  router.Call({Napi::Number::New(env, static_cast<double>(call->id)), ctx,
               Napi::Number::New(env, remaining_ms)});
}

bool Dispatcher::Settle(uint64_t call_id, Outcome outcome) {
  std::shared_ptr<PendingCall> call;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(call_id);
    if (it == pending_.end()) return false;
    call = it->second;
    pending_.erase(it);
  }
  return call->TrySettle(std::move(outcome));
}

void Dispatcher::Close(const std::string& reason) {
  std::map<uint64_t, std::shared_ptr<PendingCall>> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_) return;
    open_ = false;
    close_reason_ = reason;
    pending.swap(pending_);
  }
  if (queue_) queue_->Close();
  for (auto& entry : pending) entry.second->TrySettle(Outcome::Closed(reason));
}

bool Dispatcher::IsOpen() {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

}  // namespace vssb
