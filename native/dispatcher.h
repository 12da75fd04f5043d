// Dispatcher: carries a writer event from any native thread to a JS handler and the answer
// back, with a deadline the caller can rely on whatever the JS does.
//
//   native thread                          JS thread (event_queue.cc)
//   Post(ctx, deadline) ──deliver────────▶ route(callId, ctx, remainingMs)
//   Wait() blocks this thread only          handler runs (sync, Promise or throw)
//        ◀──── EventQueue::Settle (answers) or Settle(callId, outcome) (expire) ── JS
//
// A call settles exactly once: by JS, by its deadline passing (Wait wakes at the deadline
// even if the JS thread never ran the handler) or by Close. Whatever comes later is refused,
// so the JS side can log a late answer and drop it.
//
// The class is pure C++: how a call reaches JS is the `Channel` it is built with, so its
// threading can be driven natively (test/native) without Node.
#pragma once
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "call.h"

namespace vssb {

struct Channel {
  // Any thread: hand the call to the JS side. False when that side is gone.
  std::function<bool(const std::shared_ptr<PendingCall>&)> deliver;
};

class Dispatcher : public std::enable_shared_from_this<Dispatcher> {
 public:
  // `handled`: the events JS has a handler for; the others succeed at once in Post, on the
  // calling thread, without reaching JS (so they are answered even while the event loop is
  // blocked). Without it, every event goes to JS.
  explicit Dispatcher(std::string name, std::optional<std::set<std::string>> handled = std::nullopt);
  ~Dispatcher();
  // Set once, before the first Post.
  void SetChannel(Channel channel) { channel_ = std::move(channel); }

  // Any thread: queue the event for JS and return at once. `posted`: when, for the call's
  // record (a phase posting to every writer reads the clock once).
  std::shared_ptr<PendingCall> Post(std::shared_ptr<const EventContext> ctx,
                                    Clock::time_point deadline,
                                    std::shared_ptr<Notifier> notifier = nullptr,
                                    Clock::time_point posted = Clock::now());
  // Any thread: Post, then Wait.
  Outcome Dispatch(EventContext ctx, Clock::time_point deadline);

  // Settles a call still in flight by its id (JS expiring it at its deadline). False when
  // it had settled already. Answers do not come this way: the event queue, which routed the
  // call, settles it directly (EventQueue::Settle).
  bool Settle(uint64_t call_id, Outcome outcome, Clock::time_point at = Clock::now());

  // Any thread, idempotent: refuse new events and release every waiting thread with
  // `reason` (a failure).
  void Close(const std::string& reason);
  bool IsOpen();
  const std::string& name() const { return name_; }
  // Unique in the process: how JS tells the dispatchers of one batch apart.
  const uint64_t id;

 private:
  const std::string name_;
  // A handful of names, compared by length first: cheaper to search for each event than a
  // tree of strings.
  const std::optional<std::vector<std::string>> handled_;
  Channel channel_;
  std::mutex mu_;
  bool open_ = true;
  std::string close_reason_;
  uint64_t next_id_ = 1;
  // The calls Close must release. A writer has one event at a time in flight, rarely more: a
  // vector searched end to end beats a map that allocates a node for every event. Calls leave
  // it settled, at the next Post, rather than when JS answers them: the JS thread then never
  // takes this lock, and the dispatchers of a phase's writers stay in the posting thread's
  // cache instead of moving between the two threads for every event.
  std::vector<std::shared_ptr<PendingCall>> pending_;
  std::vector<std::shared_ptr<PendingCall>>::iterator Find(uint64_t call_id);  // under mu_
};

}  // namespace vssb
