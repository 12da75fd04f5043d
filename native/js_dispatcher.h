// Connects a Dispatcher to a JS router function through a JsQueue.
#pragma once
#include <napi.h>

#include <memory>

#include "dispatcher.h"
#include "js_queue.h"

namespace vssb {

struct JsDispatcher {
  std::shared_ptr<Dispatcher> dispatcher;
  std::shared_ptr<JsQueue> queue;  // for Ref/Unref of the event loop
};

// JS thread. router(callId, event, snapshotSetId, backupType, volumes, components,
// remainingMs) must not throw.
// `handled`: see Dispatcher.
JsDispatcher CreateJsDispatcher(Napi::Env env, Napi::Function router, std::string name,
                                std::optional<std::set<std::string>> handled);

}  // namespace vssb
