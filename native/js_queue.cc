#include "js_queue.h"

namespace vssb {

std::shared_ptr<JsQueue> JsQueue::Create(Napi::Env env, Napi::Function callback,
                                         const char* name,
                                         std::function<void()> on_finalized) {
  std::shared_ptr<JsQueue> queue(new JsQueue());
  queue->on_finalized_ = std::move(on_finalized);
  // The finalizer may run after the last shared_ptr is gone, so it holds a weak one.
  auto* weak = new std::weak_ptr<JsQueue>(queue);
  queue->tsfn_ = decltype(queue->tsfn_)::New(
      env, callback, name, 0 /* unbounded: posting never blocks */, 1, nullptr,
      [](Napi::Env, std::weak_ptr<JsQueue>* self, void*) {
        std::function<void()> notify;
        if (auto q = self->lock()) {
          std::lock_guard<std::mutex> lock(q->mu_);
          q->open_ = false;
          notify = std::move(q->on_finalized_);
        }
        delete self;
        if (notify) notify();
      },
      weak);
  queue->open_ = true;
  return queue;
}

void JsQueue::CallJs(Napi::Env env, Napi::Function callback, void*, Task* task) {
  // env is null when Node drops queued tasks at teardown: free them without running.
  if (env != nullptr && task != nullptr) {
    try {
      (*task)(env, callback);
    } catch (const Napi::Error& e) {
      // A JS exception thrown by the callback was captured here; it belongs to no caller.
      // Report it as Node reports any uncaught error rather than losing it.
      e.ThrowAsJavaScriptException();
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
    }
  }
  delete task;
}

bool JsQueue::Post(Task task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!open_) return false;
  auto* heap = new Task(std::move(task));
  if (tsfn_.NonBlockingCall(heap) != napi_ok) {
    delete heap;
    return false;
  }
  return true;
}

void JsQueue::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!open_) return;
  open_ = false;
  tsfn_.Release();
}

void JsQueue::Ref(Napi::Env env) {
  std::lock_guard<std::mutex> lock(mu_);
  if (open_) tsfn_.Ref(env);
}

void JsQueue::Unref(Napi::Env env) {
  std::lock_guard<std::mutex> lock(mu_);
  if (open_) tsfn_.Unref(env);
}

bool JsQueue::IsOpen() {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

}  // namespace vssb
