// Native test driver for the core's threading, without Node: native/call.cc, dispatcher.cc,
// simulator.cc and snapshot_set.cc, with each writer's "JS thread" played by a std::thread
// that answers events from a script. Built and run under ThreadSanitizer, AddressSanitizer +
// UndefinedBehaviorSanitizer and valgrind by scripts/native-checks.sh.
//
// Every wait here has a generous deadline and the checks are about outcomes, never about how
// fast something happened: the machines that run this are noisy.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "call.h"
#include "dispatcher.h"
#include "simulator.h"
#include "snapshot_set.h"

using namespace vssb;
using namespace std::chrono_literals;

namespace {

int g_check_failures = 0;
std::mutex g_check_mu;

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::lock_guard<std::mutex> check_lock(g_check_mu);                            \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_check_failures;                                                            \
    }                                                                                \
  } while (0)

Clock::time_point In(std::chrono::milliseconds ms) { return Clock::now() + ms; }
std::shared_ptr<const EventContext> NoContext() { return std::make_shared<const EventContext>(); }

// What a fake JS thread does with one event.
struct Answer {
  enum Kind { kSucceed, kFail, kNever } kind = kSucceed;
  std::chrono::milliseconds delay{0};
  hresult_t hr = kVSS_E_WRITERERROR_RETRYABLE;
};
using Script = std::function<Answer(const EventContext&)>;

Answer Succeed() { return Answer{}; }
Answer Fail(hresult_t hr = kVSS_E_WRITERERROR_RETRYABLE) { return Answer{Answer::kFail, 0ms, hr}; }
Answer Never() { return Answer{Answer::kNever, 0ms, kS_OK}; }

// The queue between the dispatcher's channel and the fake JS thread. Shared, because the
// dispatcher (held by the simulator's writers) may outlive the FakeJs that feeds it.
struct CallQueue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::shared_ptr<PendingCall>> calls;
  bool closed = false;
  std::vector<std::string> seen;  // events the "JS thread" ran, in order
  int late_answers = 0;           // answers the dispatcher refused (already settled)
};

// One writer's JS thread: runs events one at a time, as the event loop does.
class FakeJs {
 public:
  FakeJs(std::shared_ptr<Dispatcher> dispatcher, Script script)
      : dispatcher_(std::move(dispatcher)), queue_(std::make_shared<CallQueue>()) {
    auto q = queue_;
    dispatcher_->SetChannel(Channel{
        [q](const std::shared_ptr<PendingCall>& call) {
          std::lock_guard<std::mutex> lock(q->mu);
          if (q->closed) return false;
          q->calls.push_back(call);
          q->cv.notify_all();
          return true;
        }});
    std::weak_ptr<Dispatcher> weak = dispatcher_;
    thread_ = std::thread([q, weak, script = std::move(script)] { Loop(q, weak, script); });
  }
  ~FakeJs() {
    {
      std::lock_guard<std::mutex> lock(queue_->mu);
      queue_->closed = true;
      queue_->cv.notify_all();
    }
    thread_.join();
  }

  // Waits (10 s at most) until the JS thread has run `event` at least `times` times.
  bool WaitFor(const std::string& event, int times = 1) {
    std::unique_lock<std::mutex> lock(queue_->mu);
    return queue_->cv.wait_for(lock, 10s, [&] {
      return std::count(queue_->seen.begin(), queue_->seen.end(), event) >= times;
    });
  }
  std::vector<std::string> Seen() {
    std::lock_guard<std::mutex> lock(queue_->mu);
    return queue_->seen;
  }
  bool WaitForLateAnswers(int count) {
    std::unique_lock<std::mutex> lock(queue_->mu);
    return queue_->cv.wait_for(lock, 10s, [&] { return queue_->late_answers >= count; });
  }
  const std::shared_ptr<Dispatcher>& dispatcher() const { return dispatcher_; }

 private:
  static void Loop(std::shared_ptr<CallQueue> q, std::weak_ptr<Dispatcher> weak, Script script) {
    for (;;) {
      std::shared_ptr<PendingCall> call;
      {
        std::unique_lock<std::mutex> lock(q->mu);
        q->cv.wait(lock, [&] { return q->closed || !q->calls.empty(); });
        if (q->calls.empty()) return;
        call = q->calls.front();
        q->calls.pop_front();
      }
      auto d = weak.lock();
      if (!d || !call->ShouldRoute()) continue;  // as event_queue.cc: answered or closed meanwhile
      const Answer a = script(*call->ctx);
      {
        std::lock_guard<std::mutex> lock(q->mu);
        q->seen.push_back(call->ctx->event);
        q->cv.notify_all();
      }
      if (a.kind == Answer::kNever) continue;
      if (a.delay.count() > 0) std::this_thread::sleep_for(a.delay);
      // As event_queue.cc answers: on the call it routed, without the dispatcher.
      const bool accepted =
          call->TrySettle(a.kind == Answer::kSucceed ? Outcome::Success() : Outcome::Failure(a.hr, "scripted"));
      if (!accepted) {
        std::lock_guard<std::mutex> lock(q->mu);
        q->late_answers++;
        q->cv.notify_all();
      }
    }
  }

  std::shared_ptr<Dispatcher> dispatcher_;
  std::shared_ptr<CallQueue> queue_;
  std::thread thread_;
};

// A writer subscribed to the simulator, with its fake JS thread. Unsubscribes on scope exit.
class TestWriter {
 public:
  TestWriter(const std::string& name, Script script, uint32_t handler_timeout_ms = 2000,
             uint32_t freeze_timeout_ms = 5000) {
    WriterMetadata meta;
    meta.id = "00000000-0000-4000-8000-00000000000" + std::to_string(++count_ % 10);
    meta.name = name;
    meta.instance_name = name;
    meta.usage = "userData";
    meta.source_type = "other";
    meta.handler_timeout_ms = handler_timeout_ms;
    meta.freeze_timeout_ms = freeze_timeout_ms;
    js_ = std::make_unique<FakeJs>(std::make_shared<Dispatcher>(name), std::move(script));
    writer_ = std::make_shared<SimulatedWriter>(meta, NewGuid(), js_->dispatcher());
    std::string message;
    subscribed_ = Simulator::Get().Subscribe(writer_, &message) == kS_OK;
  }
  ~TestWriter() {
    Simulator::Get().Unsubscribe(writer_.get());
    js_->dispatcher()->Close("the test ended");
  }
  int State() { return Simulator::Get().State(writer_.get()); }
  FakeJs& js() { return *js_; }
  bool subscribed() const { return subscribed_; }
  const std::shared_ptr<SimulatedWriter>& writer() const { return writer_; }

 private:
  static inline int count_ = 0;
  std::unique_ptr<FakeJs> js_;
  std::shared_ptr<SimulatedWriter> writer_;
  bool subscribed_ = false;
};

// Runs a snapshot set on its own thread, as snapshot_set_binding.cc does, and collects what it
// delivers.
class SetRun {
 public:
  explicit SetRun(SnapshotSetConfig config) {
    config.volumes = config.volumes.empty() ? std::vector<std::string>{"/data"} : config.volumes;
    set_ = std::make_shared<SnapshotSet>(
        std::move(config), [](std::vector<Progress>) {},
        [this](const SnapshotSetResult& r) {
          std::lock_guard<std::mutex> lock(mu_);
          result_ = r;
          deliveries_++;
          cv_.notify_all();
        });
    thread_ = std::thread([set = set_] { set->Run(); });
  }
  ~SetRun() { Join(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  // Waits (10 s at most) for the result, which may come before Run returns.
  bool WaitDelivered() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return deliveries_ > 0; });
  }
  SnapshotSetResult Result() {
    std::lock_guard<std::mutex> lock(mu_);
    return result_;
  }
  int Deliveries() {
    std::lock_guard<std::mutex> lock(mu_);
    return deliveries_;
  }
  SnapshotSet& set() { return *set_; }

 private:
  std::shared_ptr<SnapshotSet> set_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  SnapshotSetResult result_;
  int deliveries_ = 0;
};

SnapshotSetResult RunToEnd(SnapshotSetConfig config = {}) {
  SetRun run(std::move(config));
  run.Join();
  CHECK(run.Deliveries() == 1);
  return run.Result();
}

int Count(const std::vector<std::string>& seen, const std::string& event) {
  return static_cast<int>(std::count(seen.begin(), seen.end(), event));
}

Script FailAt(const std::string& event, Answer answer = Fail()) {
  return [event, answer](const EventContext& ctx) { return ctx.event == event ? answer : Succeed(); };
}

const std::vector<std::string> kBackupSequence = {"prepareBackup", "prepareSnapshot", "freeze",
                                                  "thaw", "postSnapshot", "backupComplete",
                                                  "backupShutdown"};

// ---- PendingCall and WaitAll -------------------------------------------------------------

void TestCallSettlesOnce() {
  for (int round = 0; round < 200; round++) {
    auto call = std::make_shared<PendingCall>(1, NoContext(), In(10s), nullptr);
    std::atomic<int> wins{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; i++) {
      threads.emplace_back([&, i] {
        if (call->TrySettle(i % 2 ? Outcome::Success() : Outcome::Failure(kE_UNEXPECTED, "x"))) wins++;
      });
    }
    const Outcome o = call->Wait();
    for (auto& t : threads) t.join();
    CHECK(wins == 1);
    CHECK(call->IsSettled());
    CHECK(o.result == CallResult::kSucceeded || o.result == CallResult::kFailed);
  }
}

// A settlement and the waiter's expiry at the deadline race: one wins, the waiter returns with
// the winner's outcome, and the loser is refused. (A settlement in progress is waited for,
// not expired over: its outcome is being written.)
void TestSettleRacesExpiry() {
  for (int round = 0; round < 300; round++) {
    auto notifier = std::make_shared<Notifier>();
    auto call = std::make_shared<PendingCall>(1, NoContext(), In(std::chrono::milliseconds(round % 3)), notifier);
    std::atomic<bool> settled_by_js{false};
    std::thread js([&] { settled_by_js = call->TrySettle(Outcome::Failure(kE_UNEXPECTED, "answered")); });
    CHECK(WaitAll({call}, notifier, [] { return false; }));
    js.join();
    Outcome o;
    Clock::time_point at;
    CHECK(call->Settled(&o, &at));
    CHECK(o.result == (settled_by_js ? CallResult::kFailed : CallResult::kTimedOut));
    CHECK(!call->TrySettle(Outcome::Success()));
  }
}

void TestUnsettledCallHasNoOutcome() {
  auto call = std::make_shared<PendingCall>(1, NoContext(), In(60s), nullptr);
  Outcome o;
  Clock::time_point at;
  CHECK(!call->Settled(&o, &at));
  CHECK(!call->GetOutcome().ok());  // not a success it never had
  CHECK(call->TrySettle(Outcome::Success()));
  CHECK(call->GetOutcome().ok());
}

void TestCallWaitTimesOut() {
  auto call = std::make_shared<PendingCall>(1, NoContext(), In(20ms), nullptr);
  const Outcome o = call->Wait();
  CHECK(o.result == CallResult::kTimedOut);
  CHECK(o.hr == kVSS_E_WRITERERROR_TIMEOUT);
  CHECK(!call->TrySettle(Outcome::Success()));  // a late answer is refused
}

void TestWaitAllStops() {
  auto notifier = std::make_shared<Notifier>();
  std::vector<std::shared_ptr<PendingCall>> calls;
  for (int i = 0; i < 3; i++) calls.push_back(std::make_shared<PendingCall>(i, NoContext(), In(60s), notifier));
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(10ms);
    stop = true;
    notifier->Notify();
  });
  CHECK(!WaitAll(calls, notifier, [&] { return stop.load(); }));
  stopper.join();
  CHECK(!calls[0]->IsSettled());
}

// ---- Dispatcher ----------------------------------------------------------------------------

void TestDispatchFromManyThreads() {
  FakeJs js(std::make_shared<Dispatcher>("many"), [](const EventContext& ctx) {
    if (ctx.event == "fail") return Fail(kVSS_E_WRITERERROR_NONRETRYABLE);
    if (ctx.event == "never") return Never();
    return Succeed();
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; i++) {
        EventContext ctx;
        const int kind = (t + i) % 3;
        ctx.event = kind == 0 ? "ok" : kind == 1 ? "fail" : "never";
        const Outcome o = js.dispatcher()->Dispatch(ctx, In(kind == 2 ? 2ms : 10s));
        if (kind == 0) CHECK(o.result == CallResult::kSucceeded);
        if (kind == 1) CHECK(o.result == CallResult::kFailed && o.hr == kVSS_E_WRITERERROR_NONRETRYABLE);
        if (kind == 2) CHECK(o.result == CallResult::kTimedOut);
      }
    });
  }
  for (auto& t : threads) t.join();
}

void TestLateAnswerRefused() {
  FakeJs js(std::make_shared<Dispatcher>("late"), [](const EventContext&) {
    return Answer{Answer::kSucceed, 50ms, kS_OK};
  });
  EventContext ctx;
  ctx.event = "freeze";
  const Outcome o = js.dispatcher()->Dispatch(ctx, In(5ms));
  CHECK(o.result == CallResult::kTimedOut);
  CHECK(js.WaitForLateAnswers(1));  // the fake JS thread's answer came later and was refused
  CHECK(js.dispatcher()->Post(std::make_shared<const EventContext>(ctx), In(10s))->Wait().ok());  // and the dispatcher still works
}

// Settle by id, as JS expires a call at its deadline: once, and only a call in flight.
void TestSettleById() {
  auto d = std::make_shared<Dispatcher>("by-id");
  d->SetChannel(Channel{[](const std::shared_ptr<PendingCall>&) { return true; }});
  auto call = d->Post(NoContext(), In(60s));
  CHECK(!d->Settle(call->id + 1, Outcome::Timeout("expired")));
  CHECK(!call->IsSettled());
  CHECK(d->Settle(call->id, Outcome::Timeout("expired")));
  CHECK(call->GetOutcome().result == CallResult::kTimedOut);
  CHECK(!d->Settle(call->id, Outcome::Success()));
  // A call settled on its own (answered through the event queue) is not closed again later.
  auto answered = d->Post(NoContext(), In(60s));
  CHECK(answered->TrySettle(Outcome::Success()));
  d->Close("done");
  CHECK(answered->GetOutcome().ok());
  CHECK(!d->Settle(answered->id, Outcome::Timeout("expired")));
}

void TestCloseReleasesWaiters() {
  FakeJs js(std::make_shared<Dispatcher>("close"), [](const EventContext&) { return Never(); });
  std::vector<std::thread> threads;
  std::atomic<int> closed{0};
  for (int i = 0; i < 4; i++) {
    threads.emplace_back([&] {
      EventContext ctx;
      ctx.event = "freeze";
      const Outcome o = js.dispatcher()->Dispatch(ctx, In(60s));
      if (o.result == CallResult::kClosed && o.hr == kVSS_E_WRITERERROR_RETRYABLE) closed++;
    });
  }
  CHECK(js.WaitFor("freeze", 4));
  js.dispatcher()->Close("the writer unsubscribed");
  for (auto& t : threads) t.join();
  CHECK(closed == 4);
  // After Close a post settles at once, never reaching JS.
  const Outcome o = js.dispatcher()->Dispatch(EventContext{}, In(60s));
  CHECK(o.result == CallResult::kClosed);
  CHECK(!js.dispatcher()->IsOpen());
}

void TestCloseRacesSettle() {
  for (int round = 0; round < 100; round++) {
    FakeJs js(std::make_shared<Dispatcher>("race"), [](const EventContext&) { return Succeed(); });
    Outcome o;
    std::thread poster([&] { o = js.dispatcher()->Dispatch(EventContext{}, In(10s)); });
    std::thread closer([&] { js.dispatcher()->Close("race"); });
    poster.join();
    closer.join();
    CHECK(o.result == CallResult::kSucceeded || o.result == CallResult::kClosed);
  }
}

void TestDispatcherReleasedWithCallsInFlight() {
  std::shared_ptr<PendingCall> call;
  {
    auto d = std::make_shared<Dispatcher>("released");
    d->SetChannel(Channel{[](const std::shared_ptr<PendingCall>&) { return true; }});
    call = d->Post(NoContext(), In(60s));
  }  // the destructor closes: the call must be settled, not left for its deadline
  CHECK(call->IsSettled());
  CHECK(call->GetOutcome().result == CallResult::kClosed);
}

// ---- Simulator and snapshot sets ---------------------------------------------------------

void TestDuplicateSubscribeRefused() {
  TestWriter a("dup", [](const EventContext&) { return Succeed(); });
  WriterMetadata meta = a.writer()->meta;
  auto twin = std::make_shared<SimulatedWriter>(meta, NewGuid(), std::make_shared<Dispatcher>("twin"));
  std::string message;
  CHECK(Simulator::Get().Subscribe(twin, &message) == kVSS_E_WRITER_ALREADY_SUBSCRIBED);
  CHECK(!message.empty());
  CHECK(Simulator::Get().Subscribed().size() == 1);
}

void TestSuccessfulSet() {
  TestWriter a("a", [](const EventContext&) { return Succeed(); });
  TestWriter b("b", [](const EventContext&) { return Succeed(); });
  TestWriter c("c", [](const EventContext&) { return Answer{Answer::kSucceed, 1ms, kS_OK}; });
  SnapshotSetConfig config;
  config.volumes = {"/data", "/logs"};
  const auto r = RunToEnd(config);
  CHECK(r.hr == kS_OK);
  CHECK(r.snapshots.size() == 2);
  for (TestWriter* w : {&a, &b, &c}) {
    CHECK(w->js().Seen() == kBackupSequence);
    CHECK(w->State() == kWsStable);
  }
}

void TestWriterFailsFreeze() {
  TestWriter a("a", FailAt("freeze"));
  TestWriter b("b", [](const EventContext&) { return Succeed(); });
  const auto r = RunToEnd();
  CHECK(r.hr == kVSS_E_WRITERERROR_RETRYABLE);
  CHECK(r.failed_event == "freeze");
  CHECK(r.failed_writer == a.writer()->instance_id);
  CHECK(Count(a.js().Seen(), "abort") == 1);
  CHECK(Count(b.js().Seen(), "abort") == 1);
  CHECK(Count(b.js().Seen(), "thaw") == 0);
  CHECK(a.State() == kWsFailedAtFreeze);
  CHECK(b.State() == kWsStable);
}

void TestHandlerTimeoutWithoutAbort() {
  TestWriter a("a", FailAt("prepareSnapshot", Never()), /*handler_timeout_ms=*/30);
  TestWriter b("b", [](const EventContext&) { return Succeed(); });
  const auto r = RunToEnd();
  CHECK(r.hr == kVSS_E_WRITERERROR_TIMEOUT);
  CHECK(r.failed_event == "prepareSnapshot");
  CHECK(Count(a.js().Seen(), "abort") == 0);  // PrepareForSnapshot failures send no Abort
  CHECK(Count(b.js().Seen(), "backupShutdown") == 1);
  CHECK(a.State() == kWsFailedAtPrepareSnapshot);
}

void TestCancelFromAnotherThread() {
  TestWriter a("a", FailAt("freeze", Never()));
  TestWriter b("b", [](const EventContext&) { return Succeed(); });
  SetRun run(SnapshotSetConfig{});
  CHECK(a.js().WaitFor("freeze"));
  run.set().Cancel();
  CHECK(run.WaitDelivered());
  run.Join();
  CHECK(run.Deliveries() == 1);
  CHECK(run.Result().hr == kE_ABORT);
  CHECK(Count(a.js().Seen(), "abort") == 1);
  CHECK(Count(b.js().Seen(), "abort") == 1);
  CHECK(a.State() == kWsStable);
}

void TestCancelAfterPostSnapshotSendsNoAbort() {
  TestWriter a("a", FailAt("postSnapshot", Never()));
  SetRun run(SnapshotSetConfig{});
  CHECK(a.js().WaitFor("postSnapshot"));
  run.set().Cancel();
  run.Join();
  CHECK(run.Result().hr == kE_ABORT);
  CHECK(Count(a.js().Seen(), "abort") == 0);
  CHECK(Count(a.js().Seen(), "backupShutdown") == 1);
}

void TestDispatcherClosedMidFlight() {
  TestWriter a("a", [](const EventContext&) { return Succeed(); });
  TestWriter b("b", FailAt("prepareBackup", Never()));
  SetRun run(SnapshotSetConfig{});
  CHECK(b.js().WaitFor("prepareBackup"));
  b.js().dispatcher()->Close("the writer unsubscribed");
  run.Join();
  const auto r = run.Result();
  CHECK(r.hr == kVSS_E_WRITERERROR_RETRYABLE);
  CHECK(r.failed_writer == b.writer()->instance_id);
  CHECK(Count(a.js().Seen(), "abort") == 1);
  CHECK(Count(b.js().Seen(), "abort") == 0);  // closed: nothing more reaches its JS
}

void TestAbandonReleasesRun() {
  TestWriter a("a", [](const EventContext&) { return Never(); }, /*handler_timeout_ms=*/60000);
  SetRun run(SnapshotSetConfig{});
  CHECK(a.js().WaitFor("prepareBackup"));
  run.set().Abandon();
  run.Join();  // must not wait for the 60 s handler timeouts
  CHECK(run.Deliveries() == 1);
  CHECK(run.Result().hr == kE_ABORT);
  CHECK(Simulator::Get().TryBeginSnapshotSet());  // the set let go of the service
  Simulator::Get().EndSnapshotSet();
}

void TestSecondSetRefused() {
  TestWriter a("a", FailAt("freeze", Never()));
  SetRun first(SnapshotSetConfig{});
  CHECK(a.js().WaitFor("freeze"));
  const auto second = RunToEnd();
  CHECK(second.hr == kVSS_E_SNAPSHOT_SET_IN_PROGRESS);
  CHECK(Count(a.js().Seen(), "prepareBackup") == 1);  // the refused set sent nothing
  first.set().Cancel();
  first.Join();
  CHECK(first.Result().hr == kE_ABORT);
}

void TestProviderFailures() {
  TestWriter a("a", [](const EventContext&) { return Succeed(); });
  SnapshotSetConfig veto;
  veto.provider.fail_with = kVSS_E_PROVIDER_VETO;
  auto r = RunToEnd(veto);
  CHECK(r.hr == kVSS_E_PROVIDER_VETO);
  CHECK(Count(a.js().Seen(), "abort") == 1);
  CHECK(a.State() == kWsStable);

  SnapshotSetConfig hold;
  hold.provider.commit_delay_ms = 200;
  hold.provider.hold_limit_ms = 20;
  r = RunToEnd(hold);
  CHECK(r.hr == kVSS_E_HOLD_WRITES_TIMEOUT);
  CHECK(Count(a.js().Seen(), "abort") == 2);
  CHECK(r.snapshots.empty());
}

void TestSetDeadline() {
  TestWriter a("a", FailAt("prepareBackup", Never()), /*handler_timeout_ms=*/60000);
  SnapshotSetConfig config;
  config.timeout_ms = 30;
  const auto r = RunToEnd(config);
  CHECK(r.hr == kERROR_TIMEOUT);
  CHECK(Count(a.js().Seen(), "abort") == 1);
}

// Many sets with seeded random faults and a thread cancelling at random: every set delivers
// exactly once, Run always returns and the service is free afterwards.
void TestRandomFaults() {
  std::mt19937 rng(8);
  const std::vector<std::string> events = {"prepareBackup", "prepareSnapshot", "freeze",
                                           "thaw", "postSnapshot", "backupComplete",
                                           "abort", "backupShutdown"};
  auto random_script = [&](uint32_t seed) -> Script {
    return [seed, events](const EventContext& ctx) {
      std::mt19937 r(seed + static_cast<uint32_t>(std::hash<std::string>{}(ctx.event)));
      if (ctx.event != events[r() % events.size()]) return Succeed();
      switch (r() % 4) {
        case 0: return Fail();
        case 1: return Never();
        case 2: return Answer{Answer::kSucceed, 15ms, kS_OK};  // answers after its deadline
        default: return Succeed();
      }
    };
  };
  for (int round = 0; round < 40; round++) {
    TestWriter a("a", random_script(rng()), 10);
    TestWriter b("b", random_script(rng()), 10);
    TestWriter c("c", random_script(rng()), 10);
    SnapshotSetConfig config;
    if (rng() % 5 == 0) config.provider.fail_with = kVSS_E_UNEXPECTED_PROVIDER_ERROR;
    SetRun run(config);
    if (rng() % 3 == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
      run.set().Cancel();
    }
    run.Join();
    CHECK(run.Deliveries() == 1);
    for (TestWriter* w : {&a, &b, &c}) {
      // Posted to every writer; with 10 ms handler timeouts its JS thread may run it later.
      CHECK(w->js().WaitFor("backupShutdown"));
      CHECK(w->State() != kWsWaitingForThaw);  // nothing is left frozen
    }
    CHECK(Simulator::Get().TryBeginSnapshotSet());
    Simulator::Get().EndSnapshotSet();
  }
}

struct TestCase {
  const char* name;
  void (*run)();
};

}  // namespace

int main() {
  const TestCase tests[] = {
      {"call settles once", TestCallSettlesOnce},
      {"settle races expiry", TestSettleRacesExpiry},
      {"unsettled call has no outcome", TestUnsettledCallHasNoOutcome},
      {"call wait times out", TestCallWaitTimesOut},
      {"WaitAll stops when told", TestWaitAllStops},
      {"dispatch from many threads", TestDispatchFromManyThreads},
      {"late answer refused", TestLateAnswerRefused},
      {"settle by id", TestSettleById},
      {"close releases waiters", TestCloseReleasesWaiters},
      {"close races settle", TestCloseRacesSettle},
      {"dispatcher released with calls in flight", TestDispatcherReleasedWithCallsInFlight},
      {"duplicate subscribe refused", TestDuplicateSubscribeRefused},
      {"successful set", TestSuccessfulSet},
      {"writer fails freeze", TestWriterFailsFreeze},
      {"handler timeout without abort", TestHandlerTimeoutWithoutAbort},
      {"cancel from another thread", TestCancelFromAnotherThread},
      {"cancel after postSnapshot sends no abort", TestCancelAfterPostSnapshotSendsNoAbort},
      {"dispatcher closed mid-flight", TestDispatcherClosedMidFlight},
      {"abandon releases run", TestAbandonReleasesRun},
      {"second set refused", TestSecondSetRefused},
      {"provider failures", TestProviderFailures},
      {"set deadline", TestSetDeadline},
      {"random faults", TestRandomFaults},
  };
  int passed = 0, failed = 0;
  for (const auto& t : tests) {
    const int before = g_check_failures;
    t.run();
    const bool ok = g_check_failures == before;
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", t.name);
    (ok ? passed : failed)++;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
