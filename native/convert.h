// The JS shapes of the addon's values, both ways, for every binding of both backends (the
// simulator's and native/win/'s): arguments read with a TypeError naming the field when they
// are not what src/backends/native.ts promises, and results built as it describes them. The
// TypeScript layer validates every option first; the checks here only keep a wrong call from
// being undefined behaviour.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "hresult.h"
#include "snapshot_set_result.h"
#include "writer_metadata.h"

namespace vssb {

// Reading arguments: each throws a Napi::TypeError naming `key` (or `what`).
Napi::Object Obj(const Napi::Value& v, const char* what);
Napi::Value Field(const Napi::Object& o, const char* key);
std::string Str(const Napi::Object& o, const char* key);
uint32_t Uint(const Napi::Object& o, const char* key);
uint32_t Uint(const Napi::Value& v, const char* what);
// Fields newer callers pass; older ones may leave them out.
uint32_t OptionalUint(const Napi::Object& o, const char* key, uint32_t fallback);
std::vector<std::string> StrList(const Napi::Object& o, const char* key);
Napi::Function Callback(const Napi::Value& v, const char* what);
WriterMetadata ParseMetadata(const Napi::Object& o);

// An Error with .hresult, as VSS would refuse the call.
Napi::Error HrError(Napi::Env env, hresult_t hr, const std::string& message);
// {hresult, message}: how a callback hears whether a native step worked.
Napi::Object StepResult(Napi::Env env, hresult_t hr, const std::string& message);

Napi::Object StatusToJs(Napi::Env env, const WriterStatus& status);
Napi::Object MetadataToJs(Napi::Env env, const WriterMetadata& metadata);
Napi::Object ResultToJs(Napi::Env env, const SnapshotSetResult& result);
Napi::Object ProgressToJs(Napi::Env env, const Progress& progress);

}  // namespace vssb
