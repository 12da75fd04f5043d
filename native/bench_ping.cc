#include "bench_ping.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "addon_data.h"
#include "convert.h"
#include "dispatcher_binding.h"
#include "js_queue.h"

namespace vssb {
namespace {

// One benchmark loop's thread: the answer it waits for and the environment's teardown, which
// must never wait for a loop to finish its iterations.
struct LoopState {
  std::mutex mu;
  std::condition_variable cv;
  bool answered = false;
  bool stop = false;

  void Stop() {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
    cv.notify_all();
  }
  bool Stopped() {
    std::lock_guard<std::mutex> lock(mu);
    return stop;
  }
  // Between iterations, so that a loop samples the event loop over time rather than back to back.
  void Pause(std::chrono::microseconds gap) {
    if (gap.count() <= 0) return;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, gap, [this] { return stop; });
  }
};

// The loop's state, stopped at teardown; the hook is forgotten when the loop ends.
struct StoppableLoop {
  std::shared_ptr<LoopState> state = std::make_shared<LoopState>();
  std::shared_ptr<AddonData> data;
  uint64_t teardown_key = 0;

  explicit StoppableLoop(Napi::Env env) : data(AddonData::Get(env)) {
    std::weak_ptr<LoopState> weak = state;
    teardown_key = data->OnTeardown([weak] {
      if (auto s = weak.lock()) s->Stop();
    });
  }
  void Done() const { data->Forget(teardown_key); }
};

double Nanoseconds(Clock::duration d) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

Napi::Float64Array ToFloat64Array(Napi::Env env, const std::vector<double>& values) {
  auto array = Napi::Float64Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); i++) array[i] = values[i];
  return array;
}

ToJs ErrorToJs(const std::string& message) {
  return [message](Napi::Env env) -> Napi::Value { return Napi::Error::New(env, message).Value(); };
}

// The floor: a bare thread-safe function whose JS callback does nothing, and a condition
// variable the callback signals. This is what any native -> JS -> native hop costs on this
// machine; the Dispatcher's round trip is measured against it.
void CallPong(Napi::Env env, Napi::Function pong, LoopState* state, void*) {
  if (env != nullptr) {  // null when Node drops the call at teardown
    try {
      pong.Call({});
    } catch (const Napi::Error& e) {
      e.ThrowAsJavaScriptException();
    }
  }
  std::lock_guard<std::mutex> lock(state->mu);
  state->answered = true;
  state->cv.notify_one();
}
using PingFunction = Napi::TypedThreadSafeFunction<LoopState, void, CallPong>;

// pingFloor(pong, iterations, gapUs, timeoutMs, callback(Float64Array | Error)): per-iteration
// nanoseconds from posting the call to the native thread waking with the answer.
Napi::Value PingFloor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "pong must be a function");
  const uint32_t iterations = Uint(info[1], "iterations");
  const std::chrono::microseconds gap(Uint(info[2], "gapUs"));
  const std::chrono::milliseconds timeout(Uint(info[3], "timeoutMs"));
  Napi::Function callback = Callback(info[4], "callback");

  StoppableLoop loop(env);
  // Node may run a queued pong after the loop gave up on it: the state lives until finalize.
  auto* holder = new std::shared_ptr<LoopState>(loop.state);
  PingFunction ping = PingFunction::New(
      env, info[0].As<Napi::Function>(), "vss-bridge:bench-ping", 0, 1, loop.state.get(),
      [](Napi::Env, std::shared_ptr<LoopState>* h, LoopState*) { delete h; }, holder);

  RunOnThread(env, callback, [loop, ping, iterations, gap, timeout]() mutable -> ToJs {
    std::vector<double> ns;
    ns.reserve(iterations);
    std::string error;
    LoopState& s = *loop.state;
    for (uint32_t i = 0; i < iterations && !s.Stopped(); i++) {
      s.Pause(gap);
      std::unique_lock<std::mutex> lock(s.mu);
      s.answered = false;
      const auto start = Clock::now();
      if (ping.NonBlockingCall() != napi_ok) {
        error = "the ping function was closed";
        break;
      }
      if (!s.cv.wait_until(lock, start + timeout, [&] { return s.answered || s.stop; })) {
        error = "a ping got no answer within " + std::to_string(timeout.count()) + " ms";
        break;
      }
      if (s.stop) break;
      ns.push_back(Nanoseconds(Clock::now() - start));
    }
    ping.Release();
    loop.Done();
    if (!error.empty()) return ErrorToJs(error);
    return [ns](Napi::Env env) -> Napi::Value { return ToFloat64Array(env, ns); };
  });
  return env.Undefined();
}

// The floor of a fan-out: `n` events posted at once from one native thread, carried to JS the
// way the event queue carries a phase's events (the first post schedules one call of the JS
// router, the others join it while the event loop wakes, rows of numbers in one typed array),
// and answered the way dispatch.ts answers them (JS gathers the answers and gives them in one
// call). What JS does with each row is the caller's: the benchmark runs an empty async
// function and answers when its promise settles, as a writer's handler would be. Nothing of
// the Dispatcher, the simulator or a snapshot set is in it.
struct FanOutState {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<double> queued;  // row ids waiting for the next drain
  bool scheduled = false;      // a drain is on its way
  uint32_t answered = 0;
};

void DrainFanOut(const std::shared_ptr<FanOutState>& fan, Napi::Env env, Napi::Function router) {
  std::vector<double> rows;
  {
    std::lock_guard<std::mutex> lock(fan->mu);
    rows.swap(fan->queued);
    fan->scheduled = false;
  }
  auto rows_js = Napi::Float64Array::New(env, rows.size());
  std::copy(rows.begin(), rows.end(), rows_js.Data());
  router.Call({rows_js, Napi::Number::New(env, static_cast<double>(rows.size()))});
}

// fanOutFloor(router(rows, count), n, iterations, gapUs, timeoutMs, callback(Float64Array | Error))
// returns answer(count), which JS calls with how many rows it answers. Per iteration: nanoseconds
// from the first post to the native thread waking with all `n` answers.
Napi::Value FanOutFloor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "router must be a function");
  const uint32_t n = Uint(info[1], "n");
  const uint32_t iterations = Uint(info[2], "iterations");
  const std::chrono::microseconds gap(Uint(info[3], "gapUs"));
  const std::chrono::milliseconds timeout(Uint(info[4], "timeoutMs"));
  Napi::Function callback = Callback(info[5], "callback");
  if (n == 0) throw Napi::RangeError::New(env, "n must be at least 1");

  auto fan = std::make_shared<FanOutState>();
  std::shared_ptr<JsQueue> js = JsQueue::Create(env, info[0].As<Napi::Function>(), "vss-bridge:bench-fan-out");
  Napi::Function answer = Napi::Function::New(
      env,
      [fan](const Napi::CallbackInfo& call) -> Napi::Value {
        const uint32_t count = call[0].IsNumber() ? call[0].As<Napi::Number>().Uint32Value() : 0;
        std::lock_guard<std::mutex> lock(fan->mu);
        fan->answered += count;
        fan->cv.notify_one();
        return call.Env().Undefined();
      },
      "answer");

  StoppableLoop loop(env);
  RunOnThread(env, callback, [loop, fan, js, n, iterations, gap, timeout]() -> ToJs {
    std::vector<double> ns;
    ns.reserve(iterations);
    std::string error;
    LoopState& s = *loop.state;
    for (uint32_t i = 0; i < iterations && !s.Stopped() && error.empty(); i++) {
      s.Pause(gap);
      {
        std::lock_guard<std::mutex> lock(fan->mu);
        fan->answered = 0;
      }
      const auto start = Clock::now();
      for (uint32_t row = 0; row < n; row++) {
        bool schedule = false;
        {
          std::lock_guard<std::mutex> lock(fan->mu);
          fan->queued.push_back(row);
          schedule = !fan->scheduled;
          fan->scheduled = true;
        }
        if (schedule && !js->Post([fan](Napi::Env env, Napi::Function router) { DrainFanOut(fan, env, router); })) {
          error = "the fan-out queue was closed";
          break;
        }
      }
      if (!error.empty()) break;
      std::unique_lock<std::mutex> lock(fan->mu);
      // The loop's stop flag lives in another mutex: look at it between short waits.
      while (fan->answered < n && !s.Stopped()) {
        if (Clock::now() > start + timeout) {
          error = "a fan-out got " + std::to_string(fan->answered) + " of " + std::to_string(n) +
                  " answers within " + std::to_string(timeout.count()) + " ms";
          break;
        }
        fan->cv.wait_for(lock, std::chrono::milliseconds(10));
      }
      if (error.empty() && fan->answered >= n) ns.push_back(Nanoseconds(Clock::now() - start));
    }
    js->Close();
    loop.Done();
    if (!error.empty()) return ErrorToJs(error);
    return [ns](Napi::Env env) -> Napi::Value { return ToFloat64Array(env, ns); };
  });
  return answer;
}

// timedWaitFloor(iterations, timeoutMs, callback(Float64Array)): how late a bare
// condition_variable::wait_until wakes past its deadline on a native thread. Dispatch's own
// deadline wait is the same call; the difference is what the dispatcher adds.
Napi::Value TimedWaitFloor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t iterations = Uint(info[0], "iterations");
  const std::chrono::milliseconds timeout(Uint(info[1], "timeoutMs"));
  StoppableLoop loop(env);
  RunOnThread(env, Callback(info[2], "callback"), [loop, iterations, timeout]() -> ToJs {
    std::vector<double> late;
    late.reserve(iterations);
    LoopState& s = *loop.state;
    std::unique_lock<std::mutex> lock(s.mu);
    for (uint32_t i = 0; i < iterations && !s.stop; i++) {
      const auto deadline = Clock::now() + timeout;
      s.cv.wait_until(lock, deadline, [&] { return s.stop; });
      late.push_back(Nanoseconds(Clock::now() - deadline));
    }
    lock.unlock();
    loop.Done();
    return [late](Napi::Env env) -> Napi::Value { return ToFloat64Array(env, late); };
  });
  return env.Undefined();
}

// dispatchLoop(dispatcher, event, timeoutMs, iterations, gapUs, callback(result)): runs
// `iterations` events through the real Dispatcher from one native thread, one at a time, as
// VSS's RPC thread does. result: roundTripNs and pastDeadlineNs per iteration, and how many
// events ended in each outcome.
Napi::Value DispatchLoop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto dispatcher = DispatcherFromJs(info[0]);
  if (!info[1].IsString()) throw Napi::TypeError::New(env, "event must be a string");
  EventContext ctx;
  ctx.event = info[1].As<Napi::String>().Utf8Value();
  ctx.snapshot_set_id = "00000000-0000-0000-0000-00000000be0c";
  ctx.backup_type = "full";
  ctx.volumes = {"/var/lib/app"};
  const std::chrono::milliseconds timeout(Uint(info[2], "timeoutMs"));
  const uint32_t iterations = Uint(info[3], "iterations");
  const std::chrono::microseconds gap(Uint(info[4], "gapUs"));
  StoppableLoop loop(env);
  RunOnThread(env, Callback(info[5], "callback"), [loop, dispatcher, ctx, timeout, iterations, gap]() -> ToJs {
    std::vector<double> round_trip;
    std::vector<double> past_deadline;
    round_trip.reserve(iterations);
    past_deadline.reserve(iterations);
    uint32_t counts[4] = {0, 0, 0, 0};
    for (uint32_t i = 0; i < iterations && !loop.state->Stopped(); i++) {
      loop.state->Pause(gap);
      const auto start = Clock::now();
      const auto deadline = start + timeout;
      const Outcome outcome = dispatcher->Dispatch(ctx, deadline);
      const auto end = Clock::now();
      round_trip.push_back(Nanoseconds(end - start));
      past_deadline.push_back(Nanoseconds(end - deadline));
      counts[static_cast<int>(outcome.result)]++;
    }
    loop.Done();
    return [round_trip, past_deadline, counts](Napi::Env env) -> Napi::Value {
      auto o = Napi::Object::New(env);
      o.Set("roundTripNs", ToFloat64Array(env, round_trip));
      o.Set("pastDeadlineNs", ToFloat64Array(env, past_deadline));
      for (CallResult r : {CallResult::kSucceeded, CallResult::kFailed, CallResult::kTimedOut,
                           CallResult::kClosed}) {
        o.Set(CallResultName(r), counts[static_cast<int>(r)]);
      }
      return o;
    };
  });
  return env.Undefined();
}

}  // namespace

void AddBenchFunctions(Napi::Env env, Napi::Object testing) {
  testing.Set("pingFloor", Napi::Function::New(env, PingFloor, "pingFloor"));
  testing.Set("fanOutFloor", Napi::Function::New(env, FanOutFloor, "fanOutFloor"));
  testing.Set("timedWaitFloor", Napi::Function::New(env, TimedWaitFloor, "timedWaitFloor"));
  testing.Set("dispatchLoop", Napi::Function::New(env, DispatchLoop, "dispatchLoop"));
}

}  // namespace vssb
