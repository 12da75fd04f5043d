// One writer event in flight: what the handler is told, how it ended, and the waits on it.
// Pure C++ (no Node-API), so the threading can be tested natively under ThreadSanitizer.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hresult.h"

namespace vssb {

using Clock = std::chrono::steady_clock;

// What a handler is told about the event. Plain data, turned into a JS object on the JS thread.
// Shared and immutable once posted: a phase's calls to every writer carry the same one.
struct EventContext {
  std::string event;  // prepareBackup, freeze, ...: the handler names of the TS API
  std::string snapshot_set_id;
  std::string backup_type;
  std::vector<std::string> volumes;
  std::vector<std::string> components;  // logical paths the requester selected
};

enum class CallResult { kSucceeded, kFailed, kTimedOut, kClosed };

const char* CallResultName(CallResult result);

struct Outcome {
  CallResult result = CallResult::kSucceeded;
  hresult_t hr = kS_OK;
  std::string message;
  bool ok() const { return result == CallResult::kSucceeded; }
  static Outcome Success() { return Outcome{}; }
  static Outcome Failure(hresult_t hr, std::string message) {
    return Outcome{CallResult::kFailed, hr, std::move(message)};
  }
  static Outcome Timeout(std::string message) {
    return Outcome{CallResult::kTimedOut, kVSS_E_WRITERERROR_TIMEOUT, std::move(message)};
  }
  static Outcome Closed(std::string message) {
    return Outcome{CallResult::kClosed, kVSS_E_WRITERERROR_RETRYABLE, std::move(message)};
  }
};

// Wakes whoever waits on a group of calls (one call, or one phase's fan-out).
//
// A settlement wakes the waiter only once it has seen as many as the waiter still expects
// (`wake_at`), not on every one: a phase of 64 writers then wakes its thread once instead of
// 64 times, each of which would rescan every call. Anything else a waiter checks (a stop
// flag) goes through Notify(), which always wakes. One thread waits on a notifier at a time.
struct Notifier {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t settled = 0;  // settlements of calls on this notifier, under mu
  uint64_t wake_at = 0;  // the waiter's target for `settled`, under mu
  void Notify() {
    std::lock_guard<std::mutex> lock(mu);
    cv.notify_all();
  }
  // `count` calls settled. Wakes the waiter after letting go of `mu`, so that it does not wake
  // only to wait for it.
  void Settled(uint64_t count = 1) {
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      settled += count;
      wake = settled >= wake_at;
    }
    if (wake) cv.notify_all();
  }
};

class PendingCall : public std::enable_shared_from_this<PendingCall> {
 public:
  PendingCall(uint64_t id, std::shared_ptr<const EventContext> ctx, Clock::time_point deadline,
              std::shared_ptr<Notifier> notifier, Clock::time_point posted = Clock::now());

  // The first settlement wins; returns whether this one did. `at`: when it settled (a batch of
  // answers shares one reading of the clock). `notify` false: the caller counts it on the
  // notifier itself (Notifier::Settled), once for a batch of answers.
  bool TrySettle(Outcome outcome, Clock::time_point at = Clock::now(), bool notify = true);
  // Without a lock: the JS thread asks for every event it drains, and a phase's wait scans
  // every writer's call.
  bool IsSettled() const { return IsFinal(state_.load(std::memory_order_acquire)); }
  // Whether JS is still to hear of the call: unsettled, or expired at its deadline while it
  // waited for the JS thread (JS then says the event reached it too late, and expires it).
  bool ShouldRoute() const {
    const uint8_t state = state_.load(std::memory_order_acquire);
    return state == kUnsettled || state == StateOf(CallResult::kTimedOut);
  }
  // Being settled by another thread, final in a moment: WaitAll waits for it (its settlement
  // is counted on the notifier) instead of expiring it.
  bool IsClaimed() const { return state_.load(std::memory_order_acquire) == kClaimed; }
  // The outcome once settled; before, a failure saying so.
  Outcome GetOutcome() const;
  // The outcome and when it settled: false (and nothing written) while unsettled.
  bool Settled(Outcome* outcome, Clock::time_point* settled_at) const;
  // Blocks the calling native thread until the call settles, or its deadline passes
  // (then it settles as VSS_E_WRITERERROR_TIMEOUT).
  Outcome Wait();

  const uint64_t id;
  const std::shared_ptr<const EventContext> ctx;
  const Clock::time_point deadline;
  const Clock::time_point posted;
  const std::shared_ptr<Notifier> notifier;

 private:
  // Settling takes no lock. The first settlement claims the call (kUnsettled to kClaimed, one
  // compare-and-swap), writes the outcome and publishes it (the final state, a release store):
  // whoever reads a final state reads the outcome written before it, which nothing changes
  // after. A lock here cost each writer of a phase two more exchanges of its call's memory
  // between the JS thread (which settles it) and the set thread (which reads it).
  static constexpr uint8_t kUnsettled = 0;
  static constexpr uint8_t kClaimed = 0xff;  // being settled: final in a moment
  static constexpr uint8_t StateOf(CallResult result) { return static_cast<uint8_t>(result) + 1; }
  static constexpr bool IsFinal(uint8_t state) { return state != kUnsettled && state != kClaimed; }

  std::atomic<uint8_t> state_{kUnsettled};
  // Written once, by the settlement that claimed the call, before its final state.
  Clock::time_point settled_at_;
  Outcome outcome_;
};

// Waits for every call to settle, expiring each at its own deadline. Returns early, with
// false, when `stop` becomes true (checked under the notifier's lock: whoever changes what it
// reads must call notifier->Notify()) or when `stop_deadline` passes.
bool WaitAll(const std::vector<std::shared_ptr<PendingCall>>& calls,
             const std::shared_ptr<Notifier>& notifier, const std::function<bool()>& stop,
             Clock::time_point stop_deadline = Clock::time_point::max());

}  // namespace vssb
