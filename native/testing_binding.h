// exports.testing: what the tests and the benchmarks drive the addon with, kept out of the
// production bindings' files. dispatchFromThread plays VSS's RPC thread; bench_ping.h adds
// the benchmarks' native halves.
#pragma once
#include <napi.h>

namespace vssb {

Napi::Object TestingExports(Napi::Env env);

}  // namespace vssb
