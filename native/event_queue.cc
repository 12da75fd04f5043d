#include "event_queue.h"

#include <algorithm>
#include <cmath>

namespace vssb {

namespace {

Napi::Array ToArray(Napi::Env env, const std::vector<std::string>& items) {
  auto array = Napi::Array::New(env, items.size());
  for (uint32_t i = 0; i < items.size(); i++) array.Set(i, items[i]);
  return array;
}

// A context as five elements of `out` from `at`: event, snapshotSetId, backupType, volumes,
// components. JS makes the object: five named properties set through Node-API cost more than
// the rest of a one-event drain.
void ContextToJs(Napi::Env env, const EventContext& ctx, Napi::Array& out, uint32_t at) {
  out.Set(at, ctx.event);
  out.Set(at + 1, ctx.snapshot_set_id);
  out.Set(at + 2, ctx.backup_type);
  out.Set(at + 3, ToArray(env, ctx.volumes));
  out.Set(at + 4, ToArray(env, ctx.components));
}

// The numbers of a settle row, from JS: anything but a whole number in range is refused rather
// than converted (a double outside the target type's range is undefined behaviour to cast).
bool ToId(double value, uint64_t* out) {
  if (!(value >= 0 && value <= 9007199254740991.0) || value != std::floor(value)) return false;
  *out = static_cast<uint64_t>(value);
  return true;
}

// JS carries an HRESULT signed or unsigned; both mean the same 32 bits.
bool ToHresult(double value, hresult_t* out) {
  if (!(value >= -2147483648.0 && value <= 4294967295.0) || value != std::floor(value)) return false;
  *out = static_cast<hresult_t>(static_cast<uint32_t>(static_cast<int64_t>(value)));
  return true;
}

// One router's share of a drain.
struct RouterCall {
  uint64_t router_group;
  Napi::Function router;
  std::vector<double> rows;
  // Held here, not only by the calls: JS may close a dispatcher during an earlier send, and
  // its calls go with it.
  std::vector<std::shared_ptr<const EventContext>> contexts;

  void Add(uint64_t dispatcher_id, const PendingCall& call, Clock::time_point now) {
    auto found = std::find(contexts.begin(), contexts.end(), call.ctx);
    const auto index = static_cast<double>(found - contexts.begin());
    if (found == contexts.end()) contexts.push_back(call.ctx);
    // Time left rather than an instant: the steady clock has no JS equivalent. It is <= 0 when
    // the JS thread was blocked past the deadline; JS then skips the handler.
    const double remaining_ms = std::chrono::duration<double, std::milli>(call.deadline - now).count();
    rows.insert(rows.end(), {static_cast<double>(dispatcher_id), static_cast<double>(call.id),
                             remaining_ms, index});
  }

  // `buffer`: the queue's rows array, replaced by a larger one when these do not fit.
  void Send(Napi::Env env, Napi::Reference<Napi::Float64Array>& buffer) const {
    if (buffer.IsEmpty() || buffer.Value().ElementLength() < rows.size()) {
      buffer = Napi::Persistent(Napi::Float64Array::New(env, std::max<size_t>(rows.size(), 256)));
    }
    Napi::Float64Array rows_js = buffer.Value();
    std::copy(rows.begin(), rows.end(), rows_js.Data());
    auto contexts_js = Napi::Array::New(env, 5 * contexts.size());
    for (uint32_t i = 0; i < contexts.size(); i++) ContextToJs(env, *contexts[i], contexts_js, 5 * i);
    router.Call({rows_js, Napi::Number::New(env, static_cast<double>(rows.size() / 4)), contexts_js});
  }
};

}  // namespace

std::shared_ptr<EventQueue> EventQueue::Create(Napi::Env env) {
  std::shared_ptr<EventQueue> queue(new EventQueue());
  // No JS function of its own: each drain calls the routers of the events it carries.
  queue->js_ = JsQueue::Create(env, Napi::Function(), "vss-bridge:events");
  queue->js_->Unref(env);  // until a dispatcher is attached
  return queue;
}

void EventQueue::Attach(Napi::Env env, const std::shared_ptr<Dispatcher>& dispatcher,
                        Napi::Function router) {
  if (attached_.empty()) js_->Ref(env);
  uint64_t group = 0;
  for (const auto& entry : attached_) {
    if (entry.second.router.Value().StrictEquals(router)) {
      group = entry.second.router_group;
      break;
    }
  }
  if (group == 0) group = ++router_groups_;
  attached_[dispatcher->id] = Attached{Napi::Persistent(router), group, {}};
  std::weak_ptr<EventQueue> weak = shared_from_this();
  const uint64_t id = dispatcher->id;
  dispatcher->SetChannel(Channel{[weak, id](const std::shared_ptr<PendingCall>& call) {
    auto queue = weak.lock();
    if (!queue) return false;
    queue->Post(id, call);
    return true;
  }});
}

void EventQueue::Detach(Napi::Env env, uint64_t dispatcher_id) {
  if (attached_.erase(dispatcher_id) != 0 && attached_.empty()) js_->Unref(env);
}

void EventQueue::Settle(const double* rows, size_t count, const std::vector<std::string>& messages,
                        uint8_t* accepted) {
  // One reading of the clock for the batch: its answers were all given by this one call.
  const auto now = Clock::now();
  // The batch's settlements are counted on their notifiers together, once a run of answers
  // that share one (a phase's): its waiter then wakes once, not once an answer.
  std::shared_ptr<Notifier> notifier;
  uint64_t settled = 0;
  for (size_t i = 0; i < count; i++) {
    const double* row = rows + 4 * i;
    accepted[i] = 0;
    uint64_t dispatcher_id = 0;
    uint64_t call_id = 0;
    hresult_t hr = kS_OK;
    if (!ToId(row[0], &dispatcher_id) || !ToId(row[1], &call_id) || !ToHresult(row[2], &hr)) continue;
    auto it = attached_.find(dispatcher_id);
    auto call = it == attached_.end() ? nullptr : it->second.Answered(call_id);
    if (!call) continue;  // answered already, or its dispatcher closed
    uint64_t message = 0;
    const bool has_message = ToId(row[3], &message) && message < messages.size();
    const bool settles = call->TrySettle(
        hr == kS_OK ? Outcome::Success()
                    : Outcome::Failure(hr, has_message ? messages[message] : std::string()),
        now, /*notify=*/false);
    if (!settles) continue;
    accepted[i] = 1;
    if (call->notifier != notifier) {
      if (notifier) notifier->Settled(settled);
      notifier = call->notifier;
      settled = 0;
    }
    settled++;
  }
  if (notifier) notifier->Settled(settled);
}

void EventQueue::Post(uint64_t dispatcher_id, const std::shared_ptr<PendingCall>& call) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queued_.push_back(Item{dispatcher_id, call});
    if (scheduled_) return;
    scheduled_ = true;
  }
  Schedule();
}

void EventQueue::Schedule() {
  std::weak_ptr<EventQueue> weak = shared_from_this();
  const bool posted = js_->Post([weak](Napi::Env env, Napi::Function) {
    if (auto queue = weak.lock()) queue->Drain(env);
  });
  if (posted) return;
  // Node has finalized the queue (teardown): nobody will run these handlers.
  std::vector<Item> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    scheduled_ = false;
    dropped.swap(queued_);
  }
  // Settled here, not by the dispatcher: its Close, at the same teardown, finds them settled.
  for (const Item& item : dropped) item.call->TrySettle(Outcome::Closed("the Node.js environment is shutting down"));
}

void EventQueue::Drain(Napi::Env env) {
  // The queue gets the spare's room, so that a phase's posts do not grow it again each time.
  std::vector<Item> items;
  items.swap(spare_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    items.swap(queued_);
    scheduled_ = false;
  }
  const auto now = Clock::now();
  // Consecutive events for one router make one call. Every dispatcher of a loaded module
  // shares its router, so a batch is one call unless two copies of the module are loaded.
  std::vector<RouterCall> calls;
  for (Item& item : items) {
    if (!item.call->ShouldRoute()) continue;  // answered or closed meanwhile
    auto it = attached_.find(item.dispatcher_id);
    if (it == attached_.end()) continue;  // detached, which only a closed dispatcher is
    Attached& attached = it->second;
    if (calls.empty() || calls.back().router_group != attached.router_group) {
      calls.push_back(RouterCall{attached.router_group, attached.router.Value(), {}, {}});
      calls.back().rows.reserve(4 * items.size());
    }
    calls.back().Add(item.dispatcher_id, *item.call, now);
    attached.Routed(std::move(item.call));
  }
  for (const RouterCall& call : calls) call.Send(env, rows_);
  items.clear();
  spare_.swap(items);
}

void EventQueue::Attached::Routed(std::shared_ptr<PendingCall> call) {
  // Calls settled meanwhile (expired, closed) will get no answer: they leave now.
  routed.erase(std::remove_if(routed.begin(), routed.end(),
                              [](const std::shared_ptr<PendingCall>& c) { return c->IsSettled(); }),
               routed.end());
  routed.push_back(std::move(call));
}

std::shared_ptr<PendingCall> EventQueue::Attached::Answered(uint64_t call_id) {
  auto it = std::find_if(routed.begin(), routed.end(),
                         [call_id](const std::shared_ptr<PendingCall>& c) { return c->id == call_id; });
  if (it == routed.end()) return nullptr;
  auto call = std::move(*it);
  if (it != routed.end() - 1) *it = std::move(routed.back());
  routed.pop_back();
  return call;
}

}  // namespace vssb
