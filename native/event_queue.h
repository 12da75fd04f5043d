// EventQueue: carries the events of every Dispatcher of one Node environment to JS.
//
// One queue (one ThreadSafeFunction, through JsQueue) serves all the environment's
// dispatchers, and it hands JS whatever has gathered in one call of each router:
//
//   router(rows, count, contexts)
//     rows: Float64Array, four numbers an event, `count` events: dispatcher id, call id,
//           milliseconds left before the deadline, index into contexts. The queue reuses it
//           for the next call: the router reads it before it returns.
//     contexts: the batch's distinct EventContexts, five elements each: event,
//           snapshotSetId, backupType, volumes, components
//
// A snapshot set's phase posts an event to every writer at once. The first post wakes the
// event loop, and while it wakes (tens of microseconds) the others are queued: the drain
// takes them all. With a queue a dispatcher, 64 writers cost 64 wake-ups of the event loop
// and 64 calls into JS, each costing as much as one writer's whole round trip; here they
// cost one of each.
#pragma once
#include <napi.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "dispatcher.h"
#include "js_queue.h"

namespace vssb {

class EventQueue : public std::enable_shared_from_this<EventQueue> {
 public:
  // JS thread. Does not keep the event loop alive until a dispatcher is attached.
  static std::shared_ptr<EventQueue> Create(Napi::Env env);

  // JS thread: `dispatcher`'s events go to `router` (which must not throw), and the event
  // loop stays alive, until Detach.
  void Attach(Napi::Env env, const std::shared_ptr<Dispatcher>& dispatcher, Napi::Function router);
  // JS thread, idempotent. The dispatcher must be closed first: its calls are no longer routed.
  void Detach(Napi::Env env, uint64_t dispatcher_id);

  // JS thread: the answers JS gathered since its last call, in one go, as the router gets the
  // events. `rows`: four numbers an answer, `count` answers: dispatcher id, call id, HRESULT
  // (0: success), index into `messages` (-1: none). Only a call routed to JS and not yet
  // answered settles. Sets accepted[i] to whether answer i settled its call (0: settled
  // already, by its deadline or a close, or no such call).
  void Settle(const double* rows, size_t count, const std::vector<std::string>& messages,
              uint8_t* accepted);

 private:
  struct Attached {
    Napi::FunctionReference router;
    uint64_t router_group;  // equal for strictly equal routers, so a drain compares numbers
    // The calls routed to JS and not yet answered, which Settle finds here: JS-thread data,
    // so an answer takes no lock and touches no memory the posting thread uses (see
    // Dispatcher::pending_). Expired or closed ones leave when the next is routed.
    std::vector<std::shared_ptr<PendingCall>> routed;
    void Routed(std::shared_ptr<PendingCall> call);
    // The routed call `call_id`, no longer routed; nullptr when it is not (answered already).
    std::shared_ptr<PendingCall> Answered(uint64_t call_id);
  };
  struct Item {
    uint64_t dispatcher_id;  // an id, not a reference: the drain finds its router in attached_
    std::shared_ptr<PendingCall> call;
  };

  // Any thread: the Channel of every attached dispatcher. The first post since the last drain
  // schedules one; the others join it. If
  // Node has finalized the queue, the call is answered as closed at once.
  void Post(uint64_t dispatcher_id, const std::shared_ptr<PendingCall>& call);
  // Any thread, by the post that set scheduled_: has Drain run on the JS thread.
  void Schedule();
  // JS thread: hand everything queued to the routers.
  void Drain(Napi::Env env);

  std::shared_ptr<JsQueue> js_;
  std::mutex mu_;
  std::vector<Item> queued_;   // under mu_
  std::vector<Item> spare_;    // JS thread only: emptied, kept for its room (Drain)
  bool scheduled_ = false;     // a Drain is on its way, under mu_
  std::unordered_map<uint64_t, Attached> attached_;  // by dispatcher id, JS thread only
  // The router's rows, kept from one drain to the next: a fresh typed array each drain is an
  // allocation outside the V8 heap, freed only by a later GC. JS thread only.
  Napi::Reference<Napi::Float64Array> rows_;
  uint64_t router_groups_ = 0;             // JS thread only
};

}  // namespace vssb
