#include "addon_data.h"

#include "js_queue.h"

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
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(threads_);
  }
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
