#include "call.h"

#include <algorithm>

namespace vssb {

const char* CallResultName(CallResult result) {
  switch (result) {
    case CallResult::kSucceeded: return "succeeded";
    case CallResult::kFailed: return "failed";
    case CallResult::kTimedOut: return "timedOut";
    case CallResult::kClosed: return "closed";
  }
  return "failed";
}

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

}  // namespace vssb
