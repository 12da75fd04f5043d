// The Windows exports of the addon (exports.vss): a real CVssWriter per VssWriter and the
// IVssBackupComponents requester. addon.cc registers them on Windows builds only.
#pragma once
#include <napi.h>

#include <memory>

#include "../dispatcher.h"
#include "../snapshot_set.h"

namespace vssb {

// The conversions addon.cc already has, lent so that both backends speak the same shapes.
struct AddonHelpers {
  std::shared_ptr<Dispatcher> (*dispatcher_from)(const Napi::Value& value);
  WriterMetadata (*parse_metadata)(const Napi::Object& object);
  Napi::Object (*status_to_js)(Napi::Env env, const WriterStatus& status);
  Napi::Object (*metadata_to_js)(Napi::Env env, const WriterMetadata& metadata);
  Napi::Object (*result_to_js)(Napi::Env env, const SnapshotSetResult& result);
  Napi::Object (*progress_to_js)(Napi::Env env, const Progress& progress);
};

void RegisterWindowsExports(Napi::Env env, Napi::Object exports, const AddonHelpers& helpers);

}  // namespace vssb
