// exports.Dispatcher: the JS object of a Dispatcher (dispatcher.h), through which a writer's or
// a commit's events reach JS (event_queue.h). Every binding that takes a dispatcher from JS
// turns it into the native one with DispatcherFromJs.
#pragma once
#include <napi.h>

#include <memory>

#include "dispatcher.h"

namespace vssb {

Napi::Function DefineDispatcherClass(Napi::Env env);

// The Dispatcher behind a JS Dispatcher object; a TypeError for anything else.
std::shared_ptr<Dispatcher> DispatcherFromJs(const Napi::Value& value);

}  // namespace vssb
