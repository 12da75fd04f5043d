// Dispatcher: carries a writer event from any native thread to a JS handler and the answer
// back, with a deadline the caller can rely on whatever the JS does.
//
//   native thread                         JS thread
//   Post(ctx, deadline) ──JsQueue──────▶ router(callId, ctx, remainingMs)
//   Wait() blocks this thread only         handler runs (sync, Promise or throw)
//        ◀───────────── Settle(callId, outcome) ── settle()/expire() from JS
//
// A call settles exactly once: by JS, by its deadline passing (Wait wakes at the deadline
// even if the JS thread never ran the handler) or by Close. Whatever comes later is refused,
// so the JS side can log a late answer and drop it.
#pragma once
#include <napi.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hresult.h"
#include "js_queue.h"

namespace vssb {

using Clock = std::chrono::steady_clock;

// What a handler is told about the event. Plain data, turned into a JS object on the JS thread.
struct EventContext {
  std::string event;  // prepareBackup, freeze, ...: the handler names of the TS API
  std::string snapshot_set_id;
  std::string backup_type;
  std::vector<std::string> volumes;
  std::vector<std::string> components;  // logical paths the requester selected
};

enum class CallResult { kSucceeded, kFailed, kTimedOut, kClosed };

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
struct Notifier {
  std::mutex mu;
  std::condition_variable cv;
  void Notify() {
    std::lock_guard<std::mutex> lock(mu);
    cv.notify_all();
  }
};

class PendingCall : public std::enable_shared_from_this<PendingCall> {
 public:
  PendingCall(uint64_t id, EventContext ctx, Clock::time_point deadline,
              std::shared_ptr<Notifier> notifier);

  // The first settlement wins; returns whether this one did.
  bool TrySettle(Outcome outcome);
  bool IsSettled();
  Outcome GetOutcome();  // meaningful once settled
  Clock::time_point SettledAt();
  // Blocks the calling native thread until the call settles, or its deadline passes
  // (then it settles as VSS_E_WRITERERROR_TIMEOUT).
  Outcome Wait();

  const uint64_t id;
  const EventContext ctx;
  const Clock::time_point deadline;
  const Clock::time_point posted = Clock::now();
  const std::shared_ptr<Notifier> notifier;

 private:
  std::mutex mu_;
  bool settled_ = false;
  Clock::time_point settled_at_;
  Outcome outcome_;
};

// Waits for every call to settle, expiring each at its own deadline. Returns early, with
// false, when `stop` becomes true (checked under the notifier's lock: whoever changes what it
// reads must call notifier->Notify()). `stop_deadline` bounds the wait as a whole.
bool WaitAll(const std::vector<std::shared_ptr<PendingCall>>& calls,
             const std::shared_ptr<Notifier>& notifier, const std::function<bool()>& stop,
             Clock::time_point stop_deadline = Clock::time_point::max());

class Dispatcher : public std::enable_shared_from_this<Dispatcher> {
 public:
  // JS thread. router(callId: number, ctx: object, remainingMs: number) must not throw.
  static std::shared_ptr<Dispatcher> Create(Napi::Env env, Napi::Function router,
                                            std::string name);
  ~Dispatcher();

  // Any thread: queue the event for JS and return at once.
  std::shared_ptr<PendingCall> Post(EventContext ctx, Clock::time_point deadline,
                                    std::shared_ptr<Notifier> notifier = nullptr);
  // Any thread: Post, then Wait.
  Outcome Dispatch(EventContext ctx, Clock::time_point deadline);

  // JS thread: the handler's answer. False when the call had already settled (late answer).
  bool Settle(uint64_t call_id, Outcome outcome);

  // Any thread, idempotent: refuse new events and release every waiting thread with
  // `reason` (a failure).
  void Close(const std::string& reason);
  bool IsOpen();
  const std::string& name() const { return name_; }

  // JS thread.
  void Ref(Napi::Env env) { queue_->Ref(env); }
  void Unref(Napi::Env env) { queue_->Unref(env); }

 private:
  explicit Dispatcher(std::string name) : name_(std::move(name)) {}
  void Invoke(Napi::Env env, Napi::Function router, const std::shared_ptr<PendingCall>& call);

  const std::string name_;
  std::shared_ptr<JsQueue> queue_;
  std::mutex mu_;
  bool open_ = true;
  std::string close_reason_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<PendingCall>> pending_;
};

}  // namespace vssb
