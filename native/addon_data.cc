#include "addon_data.h"

#include <chrono>

#include "event_queue.h"
#include "js_queue.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace vssb {

std::shared_ptr<AddonData> AddonData::Get(Napi::Env env) {
  return *env.GetInstanceData<std::shared_ptr<AddonData>>();
}

void AddonData::Install(Napi::Env env) {
  auto* holder = new std::shared_ptr<AddonData>(std::make_shared<AddonData>());
  env.SetInstanceData<std::shared_ptr<AddonData>>(holder);  // deleted by Node at teardown
  std::weak_ptr<AddonData> weak = *holder;
  env.AddCleanupHook([weak] {
    if (auto data = weak.lock()) data->Teardown();
  });
}

std::shared_ptr<EventQueue> AddonData::Events(Napi::Env env) {
  if (!events_) events_ = EventQueue::Create(env);
  return events_;
}

uint64_t AddonData::OnTeardown(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t key = next_key_++;
  hooks_.emplace(key, std::move(hook));
  return key;
}

void AddonData::Forget(uint64_t key) {
  std::lock_guard<std::mutex> lock(mu_);
  hooks_.erase(key);
}

uint64_t AddonData::StartThread(std::function<void(uint64_t)> body) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_key_++;
  threads_.emplace(id, std::thread([body = std::move(body), id] { body(id); }));
  return id;
}

void AddonData::JoinThread(uint64_t id) {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = threads_.find(id);
    if (it == threads_.end()) return;
    thread = std::move(it->second);
    threads_.erase(it);
  }
  if (thread.joinable()) thread.join();
}

bool AddonData::RunOnSetThread(std::function<void()> job) {
  std::lock_guard<std::mutex> lock(mu_);
  if (torn_down_) return false;  // teardown has joined the thread, or is about to
  set_jobs_.push_back(std::move(job));
  if (!set_thread_.joinable()) set_thread_ = std::thread([this] { SetThreadLoop(); });
  set_cv_.notify_one();
  return true;
}

namespace {

// A snapshot set allocates on this thread and frees on the JS thread; with glibc the freed
// chunks stay in the process as fragmented free memory (about 20 MB over the first thousands
// of sets in docs/PERFORMANCE.md, flat after). Hand the free pages back to the system once the
// thread is idle, at most once a second: the pages handed back fault in again when the next
// set allocates, which for back-to-back sets cost more than the rest of a set's native work.
// (What the JS thread frees after a set's result is released with the next one.)
constexpr auto kReleaseInterval = std::chrono::seconds(1);

void ReleaseFreedMemory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace

void AddonData::SetThreadLoop() {
  using Clock = std::chrono::steady_clock;
  const auto has_work = [this] { return set_thread_stop_ || !set_jobs_.empty(); };
  std::unique_lock<std::mutex> lock(mu_);
  bool ran_since_release = false;
  auto next_release = Clock::now();
  for (;;) {
    if (ran_since_release && !has_work()) {
      // Idle with memory to give back: wait for work until it is time to release, no longer.
      if (Clock::now() < next_release) set_cv_.wait_until(lock, next_release, has_work);
      if (!has_work()) {
        lock.unlock();
        ReleaseFreedMemory();
        lock.lock();
        ran_since_release = false;
        next_release = Clock::now() + kReleaseInterval;
        continue;
      }
    }
    set_cv_.wait(lock, has_work);
    if (set_jobs_.empty()) return;  // stopping, and nothing left to run
    auto job = std::move(set_jobs_.front());
    set_jobs_.pop_front();
    lock.unlock();
    job();
    job = nullptr;  // what the job holds goes now, not when the next one arrives
    lock.lock();
    ran_since_release = true;
  }
}

void AddonData::Teardown() {
  std::map<uint64_t, std::function<void()>> hooks;
  std::map<uint64_t, std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (torn_down_) return;
    torn_down_ = true;
    hooks.swap(hooks_);
  }
  for (auto& hook : hooks) hook.second();
  std::thread set_thread;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(threads_);
    set_thread_stop_ = true;
    set_thread.swap(set_thread_);
  }
  set_cv_.notify_all();
  if (set_thread.joinable()) set_thread.join();
  for (auto& entry : threads) {
    if (entry.second.joinable()) entry.second.join();
  }
}

void RunOnThread(Napi::Env env, Napi::Function callback, std::function<ToJs()> body) {
  auto data = AddonData::Get(env);
  auto queue = JsQueue::Create(env, callback, "vss-bridge:thread");
  data->StartThread([data, queue, body = std::move(body)](uint64_t id) {
    ToJs to_js;
    try {
      to_js = body();
    } catch (const std::exception& e) {  // nothing may escape a thread: it would terminate
      std::string message = e.what();
      to_js = [message](Napi::Env env) { return Napi::Error::New(env, message).Value(); };
    }
    queue->Post([data, queue, to_js, id](Napi::Env env, Napi::Function callback) {
      data->JoinThread(id);
      queue->Close();
      callback.Call({to_js(env)});
    });
  });
}

}  // namespace vssb
