// The native halves of the benchmarks (bench/): the physical floor of a native -> JS -> native
// round trip, and loops that time the real Dispatcher from a native thread. Timing is taken on
// the native side, as VSS would see it; the JS side only receives the per-iteration figures.
#pragma once
#include <napi.h>

#include <memory>

#include "dispatcher.h"

namespace vssb {

// How addon.cc turns a JS Dispatcher object into the native one (it owns the type tag).
using DispatcherFromJs = std::shared_ptr<Dispatcher> (*)(const Napi::Value&);

// Adds pingFloor, fanOutFloor, timedWaitFloor and dispatchLoop to `testing`.
void AddBenchFunctions(Napi::Env env, Napi::Object testing, DispatcherFromJs dispatcher_from);

}  // namespace vssb
