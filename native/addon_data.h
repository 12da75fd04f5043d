// Per Node environment (main thread or worker) bookkeeping, so that process exit or a worker's
// end while VSS events are in flight releases every waiting native thread and joins every
// thread the addon started, before Node frees what they use.
#pragma once
#include <napi.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace vssb {

class EventQueue;

class AddonData {
 public:
  static std::shared_ptr<AddonData> Get(Napi::Env env);
  static void Install(Napi::Env env);  // once, at module init

  // Run at teardown, before the threads are joined: close, cancel, unsubscribe.
  uint64_t OnTeardown(std::function<void()> hook);
  void Forget(uint64_t key);

  // A thread owned by this environment. Its body gets its own id; once it has posted its
  // last message to JS, JS calls JoinThread(id). Teardown joins whatever is left.
  uint64_t StartThread(std::function<void(uint64_t id)> body);
  void JoinThread(uint64_t id);

  // Runs `job` on the environment's snapshot-set thread, after the jobs queued before it.
  // Snapshot sets run one at a time, so one long-lived thread serves them all instead of a
  // thread created for each; when idle, it returns freed memory to the system (at most once a
  // second).
  // A job must not wait for a later one. At teardown the queued jobs still run (the hooks
  // have abandoned them, so they end at once), then the thread is joined. False, and `job`
  // is not kept, once teardown has begun.
  bool RunOnSetThread(std::function<void()> job);

  // JS thread: the queue that carries every dispatcher's events to JS, made on first use.
  std::shared_ptr<EventQueue> Events(Napi::Env env);

  // What environment teardown does (close, cancel, unsubscribe, join), now: for
  // process.on('exit'), since process.exit() skips the cleanup hooks. Once only.
  void Close() { Teardown(); }

 private:
  void Teardown();
  void SetThreadLoop();

  std::mutex mu_;
  uint64_t next_key_ = 1;
  bool torn_down_ = false;
  std::map<uint64_t, std::function<void()>> hooks_;
  std::map<uint64_t, std::thread> threads_;
  std::thread set_thread_;
  std::condition_variable set_cv_;
  std::deque<std::function<void()>> set_jobs_;
  bool set_thread_stop_ = false;
  std::shared_ptr<EventQueue> events_;  // JS thread only
};

// Runs `body` on an environment-owned thread (never the libuv pool: VSS waits are long and
// would starve fs and dns) and calls `callback(value)` on the JS thread with what the
// converter `body` returns builds.
using ToJs = std::function<Napi::Value(Napi::Env)>;
void RunOnThread(Napi::Env env, Napi::Function callback, std::function<ToJs()> body);

}  // namespace vssb
