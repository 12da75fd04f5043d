// The native halves of the benchmarks (bench/): the physical floor of a native -> JS -> native
// round trip, and loops that time the real Dispatcher from a native thread. Timing is taken on
// the native side, as VSS would see it; the JS side only receives the per-iteration figures.
#pragma once
#include <napi.h>

namespace vssb {

// Adds pingFloor, fanOutFloor, timedWaitFloor and dispatchLoop to `testing`.
void AddBenchFunctions(Napi::Env env, Napi::Object testing);

}  // namespace vssb
