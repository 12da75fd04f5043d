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

PendingCall::PendingCall(uint64_t id_, std::shared_ptr<const EventContext> ctx_, Clock::time_point deadline_,
                         std::shared_ptr<Notifier> notifier_, Clock::time_point posted_)
    : id(id_),
      ctx(std::move(ctx_)),
      deadline(deadline_),
      posted(posted_),
      notifier(notifier_ ? std::move(notifier_) : std::make_shared<Notifier>()) {}

bool PendingCall::TrySettle(Outcome outcome, Clock::time_point at, bool notify) {
  uint8_t unsettled = kUnsettled;
  if (!state_.compare_exchange_strong(unsettled, kClaimed, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
    return false;
  }
  settled_at_ = at;
  const auto state = StateOf(outcome.result);
  outcome_ = std::move(outcome);
  state_.store(state, std::memory_order_release);
  if (notify) notifier->Settled();
  return true;
}

Outcome PendingCall::GetOutcome() const {
  if (!IsSettled()) return Outcome::Failure(kE_UNEXPECTED, "the call has not settled");
  return outcome_;
}

bool PendingCall::Settled(Outcome* outcome, Clock::time_point* settled_at) const {
  if (!IsSettled()) return false;
  *outcome = outcome_;
  *settled_at = settled_at_;
  return true;
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
    // Read before the scan, with the lock held until the wait: a call seen unsettled below can
    // only count its settlement after this, so `wake_at` is never past the last one.
    const uint64_t settled_before = notifier->settled;
    auto next_wake = stop_deadline;
    uint64_t unsettled = 0;
    std::shared_ptr<PendingCall> expired;
    for (const auto& call : calls) {
      if (call->IsSettled()) continue;
      if (call->IsClaimed()) {  // its settler counts it on the notifier in a moment
        unsettled++;
        continue;
      }
      if (now >= call->deadline) {
        expired = call;
        break;
      }
      unsettled++;
      next_wake = std::min(next_wake, call->deadline);
    }
    if (expired) {
      // Settling takes notifier->mu, which we hold: release it around the call, then scan again
      // (what was read before no longer holds).
      lock.unlock();
      expired->TrySettle(Outcome::Timeout("the handler did not answer before its deadline"));
      lock.lock();
      continue;
    }
    if (unsettled == 0) return true;
    notifier->wake_at = settled_before + unsettled;
    notifier->cv.wait_until(lock, next_wake);
  }
}

}  // namespace vssb
