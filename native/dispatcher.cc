#include "dispatcher.h"

#include <algorithm>
#include <atomic>

namespace vssb {

namespace {
std::atomic<uint64_t> g_next_dispatcher_id{1};

std::optional<std::vector<std::string>> ToVector(std::optional<std::set<std::string>> handled) {
  if (!handled) return std::nullopt;
  return std::vector<std::string>(handled->begin(), handled->end());
}
}  // namespace

Dispatcher::Dispatcher(std::string name, std::optional<std::set<std::string>> handled)
    : id(g_next_dispatcher_id++), name_(std::move(name)), handled_(ToVector(std::move(handled))) {}

Dispatcher::~Dispatcher() { Close("the dispatcher was released"); }

std::shared_ptr<PendingCall> Dispatcher::Post(std::shared_ptr<const EventContext> ctx,
                                              Clock::time_point deadline,
                                              std::shared_ptr<Notifier> notifier,
                                              Clock::time_point posted) {
  const bool handled =
      !handled_ || std::find(handled_->begin(), handled_->end(), ctx->event) != handled_->end();
  std::shared_ptr<PendingCall> call;
  {
    std::lock_guard<std::mutex> lock(mu_);
    call = std::make_shared<PendingCall>(next_id_++, std::move(ctx), deadline,
                                         std::move(notifier), posted);
    if (!open_) {
      call->TrySettle(Outcome::Closed(close_reason_));
      return call;
    }
    if (!handled) {
      call->TrySettle(Outcome::Success());
      return call;
    }
    pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                  [](const std::shared_ptr<PendingCall>& c) { return c->IsSettled(); }),
                   pending_.end());
    pending_.push_back(call);
  }
  if (!channel_.deliver || !channel_.deliver(call)) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = Find(call->id);
      if (it != pending_.end()) pending_.erase(it);
    }
    call->TrySettle(Outcome::Closed("the dispatcher is closed"));
  }
  return call;
}

Outcome Dispatcher::Dispatch(EventContext ctx, Clock::time_point deadline) {
  return Post(std::make_shared<const EventContext>(std::move(ctx)), deadline)->Wait();
}

bool Dispatcher::Settle(uint64_t call_id, Outcome outcome, Clock::time_point at) {
  std::shared_ptr<PendingCall> call;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = Find(call_id);
    if (it == pending_.end()) return false;
    call = std::move(*it);
    pending_.erase(it);
  }
  return call->TrySettle(std::move(outcome), at);
}

std::vector<std::shared_ptr<PendingCall>>::iterator Dispatcher::Find(uint64_t call_id) {
  return std::find_if(pending_.begin(), pending_.end(),
                      [call_id](const std::shared_ptr<PendingCall>& call) { return call->id == call_id; });
}

void Dispatcher::Close(const std::string& reason) {
  std::vector<std::shared_ptr<PendingCall>> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_) return;
    open_ = false;
    close_reason_ = reason;
    pending.swap(pending_);
  }
  for (auto& call : pending) call->TrySettle(Outcome::Closed(reason));
}

bool Dispatcher::IsOpen() {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

}  // namespace vssb
