// exports.SimulatedWriter, a writer of the simulated VSS service (simulator.h), and
// exports.listWriters, every writer that service knows.
#pragma once
#include <napi.h>

namespace vssb {

Napi::Function DefineSimulatedWriterClass(Napi::Env env);

// listWriters(): each writer's status, with the metadata it registered as .metadata.
Napi::Value ListSimulatedWriters(const Napi::CallbackInfo& info);

}  // namespace vssb
