// JsQueue: the one way native threads reach the JS thread.
//
// It wraps a Napi::TypedThreadSafeFunction around one JS callback (or none, for tasks that
// call functions of their own) and carries closures to the JS thread. Closures capture plain C++ data only (never napi handles), so they can
// be dropped on any thread. The queue never blocks the poster (unbounded, NonBlockingCall)
// and never touches the thread-safe function after Node has finalized it: every call is
// made under the same mutex the finalizer takes to mark the queue closed.
#pragma once
#include <napi.h>

#include <functional>
#include <memory>
#include <mutex>

namespace vssb {

class JsQueue : public std::enable_shared_from_this<JsQueue> {
 public:
  // Runs on the JS thread with the queue's callback. May throw Napi::Error: the queue
  // catches it, so no exception ever reaches Node.
  using Task = std::function<void(Napi::Env, Napi::Function)>;

  // Must be called on the JS thread. `on_finalized` runs on the JS thread when Node
  // finalizes the queue (after Close, or at environment teardown).
  static std::shared_ptr<JsQueue> Create(Napi::Env env, Napi::Function callback,
                                         const char* name,
                                         std::function<void()> on_finalized = nullptr);

  // Any thread. False when the queue is closed: the task is dropped without running.
  bool Post(Task task);

  // Any thread, idempotent. Tasks already queued still run; later posts are refused.
  void Close();

  // JS thread only: whether the queue keeps the event loop alive.
  void Ref(Napi::Env env);
  void Unref(Napi::Env env);

  bool IsOpen();

 private:
  static void CallJs(Napi::Env env, Napi::Function callback, void* context, Task* task);

  std::mutex mu_;
  bool open_ = false;
  Napi::TypedThreadSafeFunction<void, Task, &JsQueue::CallJs> tsfn_;
  std::function<void()> on_finalized_;
};

}  // namespace vssb
